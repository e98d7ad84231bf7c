"""Account margin: equity, initial and maintenance requirements, health, risk-reducing fills.

The one place where the operator decides whether an account is healthy; the
matcher, the liquidation engine and the witness builders all call it (in the
style of dYdX v4 ``x/subaccounts``: one margin function for the order path and
the liquidation path). The arithmetic itself is ``verifier.accounting`` — the
circuits' comparison ``BPS_DENOM * equity >= sum |s| * P * bps`` with no
division — so nothing here can drift from what is proven.

Units: balances and equity in quote units, positions in lots (signed, long >
0), marks in quote units per lot, fractions in basis points (``BPS_DENOM =
10^4``). Requirements are kept *scaled* by ``BPS_DENOM`` (exact integers);
``IMR = initial_scaled / 10^4`` only for display. Integers only, no I/O; never
imports the service layer or the prover.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from exchange.domain.markets import MarketError, MarketSpec, check_markets
from verifier import accounting
from verifier.params import BPS_DENOM


class MarginError(ValueError):
    """Margin inputs are inconsistent (vector lengths, non-positive marks)."""


@dataclass(frozen=True)
class RiskParams:
    """Per-market margin fractions in market id order.

    ``imf_bps[m] > mmf_bps[m] > liquidation_fee_bps[m] >= 0``: the liquidation
    fee is below the maintenance fraction, so liquidating at or below MMR can
    always pay its fee out of the margin it releases.
    """

    imf_bps: tuple[int, ...]
    mmf_bps: tuple[int, ...]
    liquidation_fee_bps: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.imf_bps)
        if n == 0 or len(self.mmf_bps) != n or len(self.liquidation_fee_bps) != n:
            raise MarginError("one imf, mmf and liquidation fee per market is required")
        for m, (imf, mmf, lf) in enumerate(
            zip(self.imf_bps, self.mmf_bps, self.liquidation_fee_bps, strict=True)
        ):
            if not BPS_DENOM >= imf > mmf > lf >= 0:
                raise MarginError(
                    f"market {m}: need {BPS_DENOM} >= imf {imf} > mmf {mmf} > liquidation fee {lf} >= 0"
                )

    @property
    def markets(self) -> int:
        return len(self.imf_bps)

    @classmethod
    def of(
        cls, markets: Sequence[MarketSpec], liquidation_fee_bps: int | None = None
    ) -> "RiskParams":
        """From market specs; the liquidation fee defaults to half the maintenance fraction."""
        try:
            check_markets(markets)
        except MarketError as exc:
            raise MarginError(str(exc)) from None
        fees = tuple(
            (m.mmf_bps // 2 if liquidation_fee_bps is None else liquidation_fee_bps)
            for m in markets
        )
        return cls(
            imf_bps=tuple(m.imf_bps for m in markets),
            mmf_bps=tuple(m.mmf_bps for m in markets),
            liquidation_fee_bps=fees,
        )


@dataclass(frozen=True)
class Health:
    """An account's margin state at some marks (all exact integers).

    ``initial_scaled`` = sum |s| * P * imf_bps = BPS_DENOM * IMR, likewise
    ``maintenance_scaled`` with mmf_bps. Slacks are ``BPS_DENOM * equity``
    minus the scaled requirement.
    """

    equity: int
    initial_scaled: int
    maintenance_scaled: int

    @property
    def initial_slack(self) -> int:
        return BPS_DENOM * self.equity - self.initial_scaled

    @property
    def maintenance_slack(self) -> int:
        """BPS_DENOM * (equity - MMR): what a risk-reducing fill must not lower."""
        return BPS_DENOM * self.equity - self.maintenance_scaled

    @property
    def meets_initial(self) -> bool:
        return self.initial_slack >= 0

    @property
    def liquidatable(self) -> bool:
        """equity < MMR. Equity exactly at MMR is healthy (the circuits' ``>=``)."""
        return self.maintenance_slack < 0


def _check(positions: Sequence[int], marks: Sequence[int], params: RiskParams) -> None:
    if len(positions) != params.markets or len(marks) != params.markets:
        raise MarginError(f"expected {params.markets} positions and marks")
    for m, p in enumerate(marks):
        if p < 1:
            raise MarginError(f"mark of market {m} must be positive, got {p}")


def health(
    balance: int, positions: Sequence[int], marks: Sequence[int], params: RiskParams
) -> Health:
    """Equity and scaled requirements of ``(balance, positions)`` at ``marks``."""
    _check(positions, marks, params)
    return Health(
        equity=accounting.equity(balance, positions, marks),
        initial_scaled=accounting.weighted_notional(positions, marks, params.imf_bps),
        maintenance_scaled=accounting.weighted_notional(positions, marks, params.mmf_bps),
    )


def is_liquidatable(
    balance: int, positions: Sequence[int], marks: Sequence[int], params: RiskParams
) -> bool:
    """True iff equity < MMR at ``marks`` (``BPS_DENOM * equity < sum |s| P mmf``)."""
    return health(balance, positions, marks, params).liquidatable


def only_reduces(before: Sequence[int], after: Sequence[int], market: int) -> bool:
    """The change touches only ``market`` and shrinks |position| there without flipping sign."""
    if len(before) != len(after):
        raise MarginError("position vectors differ in length")
    for m, (b, a) in enumerate(zip(before, after, strict=True)):
        if m != market and a != b:
            return False
    b, a = before[market], after[market]
    return b != a and abs(a) < abs(b) and (a == 0 or (a > 0) == (b > 0))


def fill_allowed(
    before: tuple[int, Sequence[int]],
    after: tuple[int, Sequence[int]],
    market: int,
    marks: Sequence[int],
    params: RiskParams,
) -> bool:
    """The risk rule of a fill (DESIGN.md section 4; issue 11 item 5).

    ``before`` / ``after`` are ``(balance, positions)``. Allowed iff the
    account ends at or above initial margin, **or** the fill only reduces
    |position| in ``market`` (no flip) and does not lower ``equity - MMR``.
    The second branch lets an account below IMR (even below MMR) close out.
    """
    h_after = health(after[0], after[1], marks, params)
    if h_after.meets_initial:
        return True
    if not only_reduces(before[1], after[1], market):
        return False
    h_before = health(before[0], before[1], marks, params)
    return h_after.maintenance_slack >= h_before.maintenance_slack
