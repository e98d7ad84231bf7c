"""Margin and fee arithmetic, one implementation for exchange, prover and verifier.

Integers only: balances in quote units, positions in lots, prices in ticks,
fractions in basis points. The comparisons are the circuits' comparisons
(``circuits/lib/margin.circom``): equity >= IMR is checked as
``BPS_DENOM * equity >= sum |s| * P * imf_bps``, with no division. No I/O.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from verifier.params import BALANCE_BITS, BPS_DENOM, POSITION_BITS


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
    cover), so the fee never turns into bad debt. ``circuits/lib/liquidation.circom``
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


def apply_fill(
    balance: int, positions: Sequence[int], market: int, lots: int, balance_delta: int
) -> tuple[int, tuple[int, ...]]:
    """An account after one fill: ``lots`` signed (+q bought, -q sold) in ``market``.

    ``balance_delta`` is the side's delta from ``fill_effect`` (quote units).
    The one way every component applies a fill: the matcher, the settlement
    witness builder and the verifier's inclusion check. Pure; no range check
    (see ``representable``).
    """
    moved = list(positions)
    moved[market] += lots
    return balance + balance_delta, tuple(moved)


def representable(balance: int, positions: Sequence[int]) -> bool:
    """True iff the circuits can hold this account: a signed BALANCE_BITS balance and
    signed POSITION_BITS positions (``[-2^(b-1), 2^(b-1))``, as ``verifier.field.signed_to_field``).

    A fill that would leave either side (or the fee account) outside these
    ranges can never be proven, so the operator must not make it.
    """
    return _fits(balance, BALANCE_BITS) and all(_fits(s, POSITION_BITS) for s in positions)


def _fits(x: int, bits: int) -> bool:
    half = 1 << (bits - 1)
    return -half <= x < half


def deficit(balance: int, positions: Sequence[int], prices: Sequence[int]) -> int:
    """max(-equity, 0): what the insurance fund must cover for this account."""
    return max(-equity(balance, positions, prices), 0)


def _same_length(a: Sequence[int], b: Sequence[int]) -> None:
    if len(a) != len(b):
        raise ValueError("one value per market is required")
