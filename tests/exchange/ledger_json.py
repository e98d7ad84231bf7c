"""Compare ledger entries across runs: everything but what proving randomises must be equal."""

from typing import Any

__all__ = ["RANDOMISED", "without_proofs"]

#: Proofs are randomised, and the operator signature and the next entry's prev_hash cover them.
RANDOMISED = ("proof", "signature", "prev_hash")


def without_proofs(obj: Any) -> Any:
    """``obj`` (an entry's JSON) with every ``RANDOMISED`` key dropped, at any depth."""
    if isinstance(obj, dict):
        return {k: without_proofs(v) for k, v in obj.items() if k not in RANDOMISED}
    if isinstance(obj, list):
        return [without_proofs(v) for v in obj]
    return obj
