"""What the per-chunk statements share: the account chunks.

SOLVENCY WALK and HEALTH SWEEP walk the quaternary account tree of an
``AccountBook`` in chunks of ``4^chunk_levels`` accounts (``None`` = empty
leaf; ``split_record_chunks`` / ``record_chunk_inputs``). Each statement
opens every slot of a chunk with the same private inputs. Pure: never runs node.
"""

from collections.abc import Sequence

from prover.account_book import AccountBook
from verifier.account_state import AccountRecord
from verifier.encoding import to_field

__all__ = ["record_chunk_inputs", "split_record_chunks"]


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
