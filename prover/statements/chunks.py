"""What the per-chunk statements share: the account chunks.

HEALTH SWEEP and SOLVENCY CHUNK walk the used prefix of the binary account
tree in chunks of ``2^chunk_height`` accounts (``None`` = empty leaf); their
recycling-order versions (SOLVENCY WALK, ...) walk the quaternary tree of an
``AccountBook`` in chunks of ``4^chunk_levels`` accounts
(``split_record_chunks`` / ``record_chunk_inputs``). Each statement opens
every slot of a chunk with the same private inputs. Pure: never runs node.
"""

from collections.abc import Sequence

from prover.account_book import AccountBook
from verifier.account_state import AccountRecord
from verifier.encoding import AccountState, to_field
from verifier.params import CircuitParams

__all__ = ["chunk_account_inputs", "record_chunk_inputs", "split_chunks", "split_record_chunks"]


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


def split_record_chunks(book: AccountBook) -> list[tuple[AccountRecord | None, ...]]:
    """The used prefix of ``book``'s account tree in chunks of ``4^chunk_levels`` accounts.

    Covers indices ``0 .. highest open index`` (at least one chunk; the last
    is padded with ``None`` = empty leaf); trailing empty chunks are left out
    (the verifier rebuilds them as empty subtrees).
    """
    k = 1 << (2 * book.params.chunk_levels)
    used = max(book.records, default=-1) + 1
    count = max(1, -(-used // k))
    slots = [book.records.get(i) for i in range(count * k)]
    return [tuple(slots[c * k : (c + 1) * k]) for c in range(count)]


def record_chunk_inputs(
    records: Sequence[AccountRecord | None], markets: int
) -> dict[str, list[object]]:
    """Circuit inputs opening every slot of a recycling-order chunk: isEmpty, pubX, pubY,
    balance, positions, checkpoints, orderRoot, nonce, blinding (empty slots all zero)."""
    zeros = [0] * markets
    return {
        "isEmpty": [int(r is None) for r in records],
        "pubX": [0 if r is None else r.pub_x for r in records],
        "pubY": [0 if r is None else r.pub_y for r in records],
        "balance": [0 if r is None else to_field(r.balance) for r in records],
        "positions": [zeros if r is None else [to_field(s) for s in r.positions] for r in records],
        "checkpoints": [
            zeros if r is None else [to_field(c) for c in r.checkpoints] for r in records
        ],
        "orderRoot": [0 if r is None else r.order_root for r in records],
        "nonce": [0 if r is None else r.nonce for r in records],
        "blinding": [0 if r is None else r.blinding for r in records],
    }
