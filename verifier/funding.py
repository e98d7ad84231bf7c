"""Funding index arithmetic: the one definition the operator, the domain and the replay share.

Each market m has a cumulative funding index ``F_m``: a signed integer number
of quote units per lot (``FUNDING_BITS`` wide, the width the
``settle_fills``/``order_ops`` circuits take as public ``funding[M]``). An
account holding ``s_m`` lots owes ``s_m * (F_m - F_last_m)`` on settlement, so
funding is exactly zero-sum (positions net to zero per market).

One funding interval moves the index by

    dF = clamp(trunc((mark - index) / premium_divisor), -cap, +cap),
    cap = floor(index * clamp_bps / 10^4)

with ``trunc`` toward zero (the payer never pays more than the exact premium
share) and ``mark`` / ``index`` the oracle-signed mark and index (spot) prices
of a real report. Longs pay when the mark trades above the index. The ledger's
``funding`` entries publish every new index; the replay recomputes each one
from the signed report (``next_indices``) and fails the entry on any
difference.

Every elapsed interval is paid (``elapsed_intervals``): intervals are
anchored at the first update's report time, and an update at report time
``t`` moves F by ``k * dF`` (each interval clamped on its own), where ``k``
is the number of whole intervals since the schedule's clock, which then
advances by ``k * interval_s``. An update after a quiet stretch (no batch for
several intervals) pays for all of them at its report's premium, the only
signed premium there is; skipping updates never skips payments.

Index range (``index_horizon_s``): F is a signed ``FUNDING_BITS`` integer and
one interval moves it by at most ``min(floor((2^PRICE_BITS - 1) * clamp_bps /
10^4), (2^PRICE_BITS - 2) // premium_divisor)`` (the clamp at the largest
signable index price). Since every elapsed interval is paid, whether by one
update per interval or by one late update after an outage (``k * dF`` is the
sum of ``k`` updates), F stays in range for at least ``index_horizon_s``
seconds of ledger life, outage or not. Past it an update that would leave the
range is refused (operator and replay alike), never saturated: a saturated
index would silently stop paying funding. So the bound is a genesis choice:
production (3600 s, clamp 50 bps) lasts at least 191,389 years, the demo
(60 s) 3,189 years, at the worst price; docs/ledger.md ``funding``.

Pure integers, no I/O; never imports prover or exchange.
"""

from collections.abc import Sequence

from verifier.params import BPS_DENOM, FUNDING_BITS, PRICE_BITS

__all__ = [
    "SECONDS_PER_YEAR",
    "FundingMathError",
    "elapsed_intervals",
    "funding_delta",
    "index_horizon_s",
    "index_in_range",
    "max_interval_delta",
    "next_indices",
]

#: A Julian year (365.25 days), for index horizons in years.
SECONDS_PER_YEAR = 31_557_600


class FundingMathError(ValueError):
    """Funding inputs out of range (non-positive prices, bad parameters, index overflow)."""


def _trunc_div(a: int, b: int) -> int:
    """a / b rounded toward zero (b > 0)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def funding_delta(mark: int, index: int, *, premium_divisor: int, clamp_bps: int) -> int:
    """One interval's change of F for one market, quote units per lot (see the module rule)."""
    if mark < 1 or index < 1:
        raise FundingMathError("mark and index prices must be positive")
    if premium_divisor < 1:
        raise FundingMathError("premium_divisor must be at least 1")
    if not 0 <= clamp_bps <= BPS_DENOM:
        raise FundingMathError(f"clamp_bps must be in [0, {BPS_DENOM}]")
    cap = index * clamp_bps // BPS_DENOM
    return max(-cap, min(cap, _trunc_div(mark - index, premium_divisor)))


def index_in_range(value: int) -> bool:
    """True iff ``value`` fits the circuits' signed ``FUNDING_BITS`` funding index."""
    return -(1 << (FUNDING_BITS - 1)) <= value < 1 << (FUNDING_BITS - 1)


def max_interval_delta(*, premium_divisor: int, clamp_bps: int) -> int:
    """The largest ``|funding_delta|`` any signed report can give (quote units per lot).

    Attained at index price ``2^PRICE_BITS - 1`` and mark 1: the clamp there,
    or the whole premium share if the divisor bounds it first.
    """
    top = (1 << PRICE_BITS) - 1
    return min(top * clamp_bps // BPS_DENOM, (top - 1) // premium_divisor)


def index_horizon_s(*, interval_s: int, premium_divisor: int, clamp_bps: int) -> int | None:
    """Seconds of ledger life during which no funding index can leave its signed range.

    ``floor((2^(FUNDING_BITS-1) - 1) / max_interval_delta) * interval_s``,
    counted from F = 0 with every interval paid at the worst delta (an
    outage changes nothing: the late update pays every interval). None when
    no delta is possible (``clamp_bps`` 0): the index never moves.
    """
    worst = max_interval_delta(premium_divisor=premium_divisor, clamp_bps=clamp_bps)
    if worst == 0:
        return None
    return ((1 << (FUNDING_BITS - 1)) - 1) // worst * interval_s


def next_indices(
    indices: Sequence[int],
    marks: Sequence[int],
    index_prices: Sequence[int],
    *,
    premium_divisor: int,
    clamp_bps: int,
    intervals: int = 1,
) -> tuple[int, ...]:
    """F after ``intervals`` funding intervals at one report, per market.

    Each market moves by ``intervals * funding_delta(...)`` (the clamp holds
    per interval). FundingMathError on bad input, ``intervals < 1`` or overflow.
    """
    if not len(indices) == len(marks) == len(index_prices):
        raise FundingMathError("one funding index, mark and index price per market is required")
    if intervals < 1:
        raise FundingMathError("a funding update covers at least one interval")
    out = tuple(
        f + intervals * funding_delta(p, i, premium_divisor=premium_divisor, clamp_bps=clamp_bps)
        for f, p, i in zip(indices, marks, index_prices, strict=True)
    )
    if not all(index_in_range(f) for f in out):
        raise FundingMathError(f"a funding index leaves the signed {FUNDING_BITS}-bit range")
    return out


def elapsed_intervals(
    report_time: int, clock: int | None, updated: bool, interval_s: int
) -> tuple[int, int]:
    """``(k, new_clock)`` for a funding update at ``report_time``: intervals paid, next clock.

    ``clock`` is the funding schedule's clock (seconds of oracle time: the
    end of the last paid interval, or the first batch's report time before
    any update; None before both) and ``updated`` whether an update was
    already published. The first update pays ``max(1, whole intervals since
    the first batch)`` (one if no batch ran: nobody holds a position yet)
    and starts the schedule at its report time. Every later one pays the
    whole intervals since ``clock``, ``k = (report_time - clock) //
    interval_s``, and advances the clock by ``k * interval_s`` (no drift: a
    late update does not delay the next interval). ``k == 0`` means no
    update is due yet (the caller refuses it). Pure integers.
    """
    if interval_s < 1:
        raise FundingMathError("interval_s must be at least 1")
    if not updated:
        k = 1 if clock is None else max(1, (report_time - clock) // interval_s)
        return k, report_time
    if clock is None:
        raise FundingMathError("a published funding update always sets the funding clock")
    k = max(0, (report_time - clock) // interval_s)
    return k, clock + k * interval_s
