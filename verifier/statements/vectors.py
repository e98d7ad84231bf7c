"""Per-market public-input vectors the batch statements share (SETTLE BATCH, SETTLE FILLS).

Pure, no I/O.
"""

from collections.abc import Sequence

from verifier.field import unsigned_in_range
from verifier.params import BPS_BITS, BPS_DENOM

__all__ = ["fractions_bps", "require_per_market"]


def require_per_market(
    markets: int, error: type[ValueError], vectors: Sequence[tuple[str, Sequence[int]]]
) -> None:
    """Raise ``error`` unless every (name, values) vector has ``markets`` entries."""
    for name, values in vectors:
        if len(values) != markets:
            raise error(f"{name} has {len(values)} entries, expected one per market ({markets})")


def fractions_bps(vectors: Sequence[tuple[str, Sequence[int]]]) -> list[list[int]]:
    """Each (name, fractions) vector checked: BPS_BITS wide and at most BPS_DENOM.

    Raises ValueError (a FieldError naming the vector for a width problem).
    """
    checked = [[unsigned_in_range(f, BPS_BITS, name) for f in values] for name, values in vectors]
    if any(f > BPS_DENOM for values in checked for f in values):
        raise ValueError(f"fee and margin fractions must be at most {BPS_DENOM} bps")
    return checked
