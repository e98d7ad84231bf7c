"""Resuming a replay from a state file (``darkpool-verify --state``) without trusting the ledger.

A state file records the genesis hash and the hash (``verifier.ledger.chain.
entry_hash``) of every verified entry, genesis first (``ReplayState.
entry_hashes``). Before continuing, the ledger must still be the one verified
before: same genesis, at least as many entries, and every verified entry
unchanged. ``rewritten_entry`` hashes each verified entry of the published
ledger again and returns the first one that differs, so a rewritten past is a
failure *at the rewritten entry*, whether the operator re-chained and
re-signed everything after it or replaced one file only (which then no longer
belongs to the chain a fresh verifier walks). Hashing is cheap next to the
proof checks a resume skips: no entry is parsed or replayed again.

A state written before per-entry hashes existed only has the last entry's
hash (which commits to the whole chain through ``prev_hash``): then a change
is reported at the last verified entry.
"""

from collections.abc import Callable, Sequence
from dataclasses import replace

from verifier.ledger.genesis import Genesis
from verifier.ledger.parse import canonical_json_hash
from verifier.ledger.report import LedgerFailure
from verifier.ledger.state import ReplayState

__all__ = ["resume", "rewritten_entry"]

Lookup = Callable[[int], object | None]


def _hash(entries: Lookup, index: int) -> str | None:
    obj = entries(index)
    return None if obj is None else canonical_json_hash(obj)


def rewritten_entry(
    entries: Lookup, last_index: int, last_hash: str, hashes: Sequence[str]
) -> int | None:
    """The first verified entry (1..last_index) that differs from the state, or None.

    ``entries(i)`` returns entry ``i`` or None when missing (a missing entry
    counts as changed). ``hashes`` is the state's per-entry hash list: empty
    (an older state) or ``last_index + 1`` long ending with ``last_hash``
    (``ReplayState.from_dict`` checks that). Genesis is checked by ledger id.
    """
    if not hashes:
        return None if _hash(entries, last_index) == last_hash else last_index
    for index in range(1, last_index + 1):
        if _hash(entries, index) != hashes[index]:
            return index
    return None


def resume(
    state: ReplayState,
    genesis: Genesis,
    count: int,
    entry: Lookup,
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
    changed = rewritten_entry(entry, state.last_index, state.last_entry_hash, state.entry_hashes)
    if changed is not None:
        return LedgerFailure(
            changed,
            "this entry changed since it was verified (the ledger must be append-only)",
        )
    return replace(
        state,
        order_commitments=list(state.order_commitments),
        entry_hashes=list(state.entry_hashes),
        risk=state.risk.copy(),
        pending_cancels=list(state.pending_cancels),
        unplaced_orders=dict(state.unplaced_orders),
    )
