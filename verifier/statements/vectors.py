"""Per-market public-input vectors the statements share (SETTLE BATCH, SETTLE FILLS, decoding).

Pure, no I/O.
"""

from collections.abc import Sequence

from verifier.field import is_canonical, unsigned_in_range
from verifier.params import BPS_BITS, BPS_DENOM

__all__ = ["fractions_bps", "market_vectors", "require_per_market", "require_signals"]


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


def require_signals(signals: Sequence[int], expected: int, error: type[ValueError]) -> None:
    """Raise ``error`` unless ``signals`` holds ``expected`` canonical field elements."""
    if len(signals) != expected:
        raise error(f"expected {expected} public signals, got {len(signals)}")
    if not all(is_canonical(s) for s in signals):
        raise error("a public signal is not a field element")


def market_vectors(
    signals: Sequence[int], base: int, markets: int, count: int
) -> list[tuple[int, ...]]:
    """The ``count`` per-market vectors (``markets`` entries each) laid out from ``signals[base]``."""
    return [tuple(signals[base + k * markets : base + (k + 1) * markets]) for k in range(count)]
