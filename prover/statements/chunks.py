"""What the per-chunk statements (HEALTH SWEEP, SOLVENCY CHUNK) share: the account chunks.

Both walk the used prefix of the account tree in chunks of ``2^chunk_height``
accounts (``None`` = empty leaf) and open each slot of a chunk with the same
private inputs. Pure: never runs node.
"""

from collections.abc import Sequence

from verifier.encoding import AccountState, to_field
from verifier.params import CircuitParams

__all__ = ["chunk_account_inputs", "split_chunks"]


def split_chunks(
    accounts: Sequence[AccountState | None], params: CircuitParams, error: type[Exception]
) -> list[tuple[AccountState | None, ...]]:
    """The used prefix of ``accounts`` (trailing ``None`` dropped) in ``params.chunk_size`` chunks.

    At least one chunk; the last is padded with ``None``. Raises ``error`` if
    the prefix does not fit in a tree of depth ``params.account_depth``.
    """
    used = len(accounts)
    while used and accounts[used - 1] is None:
        used -= 1
    if used > 1 << params.account_depth:
        raise error(f"{used} accounts do not fit in depth {params.account_depth}")
    k = params.chunk_size
    count = max(1, -(-used // k))
    padded = list(accounts[:used]) + [None] * (count * k - used)
    return [tuple(padded[c * k : (c + 1) * k]) for c in range(count)]


def chunk_account_inputs(
    accounts: Sequence[AccountState | None], markets: int
) -> dict[str, list[object]]:
    """Circuit inputs opening every slot of a chunk (empty slots as zero accounts, isEmpty = 1)."""
    empty = AccountState(pub_x=0, pub_y=0, balance=0, positions=(0,) * markets)
    slots = [acc if acc is not None else empty for acc in accounts]
    return {
        "isEmpty": [int(acc is None) for acc in accounts],
        "pubX": [a.pub_x for a in slots],
        "pubY": [a.pub_y for a in slots],
        "balance": [to_field(a.balance) for a in slots],
        "positions": [[to_field(s) for s in a.positions] for a in slots],
        "nonce": [a.nonce for a in slots],
        "blinding": [a.blinding for a in slots],
    }
