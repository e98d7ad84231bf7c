"""Margin and fee arithmetic, one implementation for exchange, prover and verifier.

Integers only: balances in quote units, positions in lots, prices in ticks,
fractions in basis points. The comparisons are the circuits' comparisons
(``circuits/lib/margin.circom``): equity >= IMR is checked as
``BPS_DENOM * equity >= sum |s| * P * imf_bps``, with no division. No I/O.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from verifier.params import BPS_DENOM


def equity(balance: int, positions: Sequence[int], prices: Sequence[int]) -> int:
    """balance + sum_m s_m * P_m (may be negative)."""
    _same_length(positions, prices)
    return balance + sum(s * p for s, p in zip(positions, prices, strict=True))


def weighted_notional(positions: Sequence[int], prices: Sequence[int], bps: Sequence[int]) -> int:
    """sum_m |s_m| * P_m * bps_m, the margin requirement scaled by BPS_DENOM."""
    _same_length(positions, prices)
    _same_length(positions, bps)
    return sum(abs(s) * p * f for s, p, f in zip(positions, prices, bps, strict=True))


def margin_slack(
    balance: int, positions: Sequence[int], prices: Sequence[int], bps: Sequence[int]
) -> int:
    """BPS_DENOM * equity - sum |s| * P * bps; the account meets the margin iff >= 0."""
    return BPS_DENOM * equity(balance, positions, prices) - weighted_notional(
        positions, prices, bps
    )


def meets_margin(
    balance: int, positions: Sequence[int], prices: Sequence[int], bps: Sequence[int]
) -> bool:
    """True iff equity >= requirement at fractions ``bps`` (IMR with imf, MMR with mmf)."""
    return margin_slack(balance, positions, prices, bps) >= 0


def fee(quantity: int, price: int, fee_bps: int) -> int:
    """Fee charged to each side of a fill: ceil(q * P * fee_bps / BPS_DENOM).

    Rounded up, so that splitting a trade into many small fills can never
    pay less than the fee on the whole (with floor, small fills paid nothing).
    """
    if quantity < 0 or price < 0 or fee_bps < 0:
        raise ValueError("fee inputs must be non-negative")
    return -((-quantity * price * fee_bps) // BPS_DENOM)


def liquidation_fee(lots: int, price: int, fee_bps: int, equity: int) -> int:
    """Liquidation fee to the fund: min(ceil(lots * price * fee_bps / 10^4), max(equity, 0)).

    Capped at the liquidated account's remaining equity (after any insurance
    cover), so the fee never turns into bad debt. ``circuits/liquidate.circom``
    proves the same value (CeilFee then MinOf).
    """
    return min(fee(lots, price, fee_bps), max(equity, 0))


@dataclass(frozen=True)
class FillEffect:
    """Balance and position changes of one fill of ``quantity`` lots at ``price``."""

    buyer_balance_delta: int
    seller_balance_delta: int
    fee_each: int

    @property
    def fee_total(self) -> int:
        return 2 * self.fee_each


def fill_effect(quantity: int, price: int, fee_bps: int) -> FillEffect:
    """Buyer pays q*P + fee, seller receives q*P - fee, fee account gets both fees."""
    f = fee(quantity, price, fee_bps)
    notional = quantity * price
    return FillEffect(
        buyer_balance_delta=-notional - f, seller_balance_delta=notional - f, fee_each=f
    )


def deficit(balance: int, positions: Sequence[int], prices: Sequence[int]) -> int:
    """max(-equity, 0): what the insurance fund must cover for this account."""
    return max(-equity(balance, positions, prices), 0)


def _same_length(a: Sequence[int], b: Sequence[int]) -> None:
    if len(a) != len(b):
        raise ValueError("one value per market is required")
