"""Perpetual funding: mark from index, the per-market cumulative funding index, settlement.

In the style of dYdX v4 ``x/perpetuals``: each market m has a cumulative
funding index ``F_m`` and every account keeps ``F_last_m``, the index at its
last settlement. Settling moves ``s_m * (F_m - F_last_m)`` quote units out of
the account's balance (longs pay when F rises) and sets ``F_last_m = F_m``.

Units and rounding rule (the one place it is written down):

- ``F_m`` is an **integer number of quote units per lot** (signed).
  Settlement is then exact integer arithmetic: no per-account rounding, so
  funding is exactly zero-sum over all accounts (sum of positions per market
  is 0, the insurance account included) and the rounding residual paid to the
  fund is identically 0. Nothing is ever divided in-circuit.
- Rounding happens once, publicly, in the index update: one interval's
  ``dF = clamp(trunc((mark - index) / premium_divisor), -cap, +cap)`` with
  ``trunc`` toward zero (so the payer never pays more than the exact premium
  share, whatever its side) and ``cap = floor(index * clamp_bps / 10^4)``.
  The verifier recomputes every index from the signed report.
- Mark used for margin: ``mark = index + clamp(premium, -band, +band)``,
  ``band = floor(index * mark_band_bps / 10^4)``; the oracle report carries
  index prices and the (impact) premium. With premium 0 the mark is the index.

Integers only, no I/O; never imports the service layer or the prover.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from verifier import funding as vfunding
from verifier.params import BPS_DENOM


class FundingError(ValueError):
    """Funding inputs are inconsistent (lengths, non-positive prices, bad parameters)."""


@dataclass(frozen=True)
class FundingParams:
    """Genesis parameters of funding (one set for every market).

    ``interval_seconds``: how often the index moves; ``premium_divisor``:
    one interval pays ``1 / premium_divisor`` of the mark-index premium
    (8 = an 8-interval convergence, as 8-hour funding paid hourly);
    ``clamp_bps``: the largest |dF| per interval as a fraction of the index;
    ``mark_band_bps``: the largest |mark - index| as a fraction of the index.
    """

    interval_seconds: int = 3600
    premium_divisor: int = 8
    clamp_bps: int = 50
    mark_band_bps: int = 100

    def __post_init__(self) -> None:
        if self.interval_seconds < 1:
            raise FundingError("interval_seconds must be at least 1")
        if self.premium_divisor < 1:
            raise FundingError("premium_divisor must be at least 1")
        for name in ("clamp_bps", "mark_band_bps"):
            v = getattr(self, name)
            if not 0 <= v <= BPS_DENOM:
                raise FundingError(f"{name} must be in [0, {BPS_DENOM}], got {v}")


def _clamp(x: int, bound: int) -> int:
    return max(-bound, min(bound, x))


def mark_price(index: int, premium: int, params: FundingParams) -> int:
    """index + premium clamped to the band; quote units per lot, >= 1."""
    if index < 1:
        raise FundingError(f"index price must be positive, got {index}")
    band = index * params.mark_band_bps // BPS_DENOM
    return max(1, index + _clamp(premium, band))


def funding_delta(mark: int, index: int, params: FundingParams) -> int:
    """One interval's change of F for one market (``verifier.funding``: the replay's rule)."""
    try:
        return vfunding.funding_delta(
            mark, index, premium_divisor=params.premium_divisor, clamp_bps=params.clamp_bps
        )
    except vfunding.FundingMathError as exc:
        raise FundingError(str(exc)) from None


def next_indices(
    indices: Sequence[int], marks: Sequence[int], index_prices: Sequence[int], params: FundingParams
) -> tuple[int, ...]:
    """F after one funding interval, per market (``verifier.funding.next_indices``)."""
    try:
        return vfunding.next_indices(
            indices,
            marks,
            index_prices,
            premium_divisor=params.premium_divisor,
            clamp_bps=params.clamp_bps,
        )
    except vfunding.FundingMathError as exc:
        raise FundingError(str(exc)) from None


def owed(positions: Sequence[int], checkpoints: Sequence[int], indices: Sequence[int]) -> int:
    """sum_m s_m * (F_m - F_last_m): what the account pays on settlement (< 0: receives)."""
    if not len(positions) == len(checkpoints) == len(indices):
        raise FundingError("one position, checkpoint and index per market is required")
    return sum(s * (f - last) for s, last, f in zip(positions, checkpoints, indices, strict=True))


@dataclass(frozen=True)
class Settled:
    """An account after funding settlement: new balance, new checkpoints, amount paid."""

    balance: int
    checkpoints: tuple[int, ...]
    paid: int


def settle(
    balance: int, positions: Sequence[int], checkpoints: Sequence[int], indices: Sequence[int]
) -> Settled:
    """Settle funding before any change of positions (every statement does this first)."""
    paid = owed(positions, checkpoints, indices)
    return Settled(balance=balance - paid, checkpoints=tuple(indices), paid=paid)
