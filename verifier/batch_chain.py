"""Replay rules for a batch of the recycling-order design: a chain of ORDER OPS and SETTLE FILLS proofs.

A batch is proven as a chain: first ORDER OPS proofs (cancels, then places),
then SETTLE FILLS groups; each proof's old account root is the previous one's
new root, the first starts at the batch's old root and the last ends at its
new root. ``check_batch_chain`` enforces, from public data only:

* the chain of roots is unbroken and starts / ends at the batch's roots;
* every ORDER OPS proof comes before every SETTLE FILLS group, so a cancel
  is executed before any fill of the batch (a cancelled order has
  filled = size in its slot: the circuit then refuses any fill of it);
* the commitments cancelled by the batch's ORDER OPS proofs are exactly the
  cancel entries accepted since the previous batch, in acceptance order — a
  cancel not executed by the next batch, or a cancel the ledger never
  recorded, fails naming it;
* every order the batch's ORDER OPS proofs place (their public ``places``)
  was published by an ``order`` entry before the batch and never placed
  before — an order the operator kept off the public record (no time
  priority, no cancel possible), or one placed twice, fails naming it.
  Published orders need not all be placed (an order that expired before
  its first batch stays unplaced).

The Groth16 checks of each proof (against the public inputs from
``verifier.statements.order_ops`` / ``settle_fills``) are the caller's; this
module only checks how the proofs fit together. Pure; never imports prover
or exchange.
"""

from collections.abc import Container, Sequence
from dataclasses import dataclass

__all__ = ["BatchChainError", "ChainLink", "check_batch_chain"]

ORDER_OPS = "order_ops"
SETTLE_FILLS = "settle_fills"


class BatchChainError(ValueError):
    """The batch's proofs do not form a valid chain; the message names the proof or cancel."""


@dataclass(frozen=True)
class ChainLink:
    """One proof of a batch, by its public data: statement, roots, cancelled and placed commitments."""

    statement: str
    old_root: int
    new_root: int
    cancels: tuple[int, ...] = ()
    places: tuple[int, ...] = ()


def check_batch_chain(
    *,
    old_root: int,
    new_root: int,
    links: Sequence[ChainLink],
    pending_cancels: Sequence[int],
    published: Container[int] = frozenset(),
    unplaced: Container[int] = frozenset(),
) -> list[int]:
    """Raise BatchChainError unless ``links`` is a valid proof chain for the batch.

    ``pending_cancels`` are the order commitments of the cancel entries
    accepted since the previous batch, in ledger order; ``published`` the
    commitments of every ``order`` entry before the batch and ``unplaced``
    those of them no earlier batch placed. Returns the commitments the batch
    places, in chain order (the caller removes them from ``unplaced``).
    """
    root = old_root
    seen_fills = False
    executed: list[int] = []
    placed: list[int] = []
    for number, link in enumerate(links):
        where = f"proof {number} ({link.statement})"
        if link.statement not in (ORDER_OPS, SETTLE_FILLS):
            raise BatchChainError(f"{where}: not a batch statement")
        if link.old_root != root:
            raise BatchChainError(f"{where}: old account root does not continue the chain")
        if link.statement == ORDER_OPS:
            if seen_fills:
                raise BatchChainError(f"{where}: order ops after a fill group")
            executed.extend(h for h in link.cancels if h)
            for j, h in enumerate(link.places):
                if h:
                    _check_place(f"{where} op {j}", h, published, unplaced, placed)
                    placed.append(h)
        else:
            if link.cancels or link.places:
                raise BatchChainError(f"{where}: a fill group cancels and places nothing")
            seen_fills = True
        root = link.new_root
    if root != new_root:
        raise BatchChainError("the last proof does not end at the batch's new account root")
    pending = list(pending_cancels)
    for i, h in enumerate(pending):
        if i >= len(executed) or executed[i] != h:
            raise BatchChainError(
                f"cancel {i} of order {h:#x} was not executed by this batch"[:120]
            )
    if len(executed) > len(pending):
        extra = executed[len(pending)]
        raise BatchChainError(f"the batch cancels order {extra:#x} without a cancel entry"[:120])
    return placed


def _check_place(
    where: str,
    h: int,
    published: Container[int],
    unplaced: Container[int],
    placed: Sequence[int],
) -> None:
    if h not in published:
        raise BatchChainError(
            f"{where} places order {h:#x}, which no earlier order entry published"
        )
    if h not in unplaced or h in placed:
        raise BatchChainError(f"{where} places order {h:#x} again (it was placed before)")
