"""Resuming a replay from a state file (``darkpool-verify --state``) without trusting the ledger.

A state file records the genesis hash and the hash of the last verified
entry. Before continuing, the ledger must still be the one verified before:
same genesis, at least as many entries, and the last verified entry
unchanged (the hash chain then covers every earlier entry).
"""

from collections.abc import Callable
from dataclasses import replace

from verifier.ledger.genesis import Genesis
from verifier.ledger.parse import canonical_json_hash
from verifier.ledger.report import LedgerFailure
from verifier.ledger.state import ReplayState

__all__ = ["resume"]


def resume(
    state: ReplayState,
    genesis: Genesis,
    count: int,
    entry: Callable[[int], object | None],
) -> ReplayState | LedgerFailure:
    """The state to continue from, or the failure (naming the entry) that forbids it.

    ``count`` is the manifest's entry count (genesis included); ``entry(i)``
    returns entry ``i``'s parsed JSON (``entry(0)`` is genesis) or None when
    the export lacks it. The returned state is a copy the replay may mutate.
    """
    if state.ledger_id != genesis.ledger_id:
        return LedgerFailure(
            0,
            f"the state file was verified against genesis {state.ledger_id}, but this "
            f"ledger's genesis is {genesis.ledger_id} (another ledger, or genesis was rewritten)",
        )
    if state.last_index >= count:
        return LedgerFailure(
            count,
            f"the ledger has {count} entries but entry {state.last_index} "
            "was verified before: entries were removed",
        )
    earlier = entry(state.last_index)
    if earlier is None or canonical_json_hash(earlier) != state.last_entry_hash:
        return LedgerFailure(
            state.last_index,
            "this entry changed since it was verified (the ledger must be append-only)",
        )
    return replace(state, order_commitments=list(state.order_commitments))
