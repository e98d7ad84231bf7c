"""The risk domain: margin health, liquidation, funding and auto-deleveraging.

Boundary tests pin the exact integer edges (equity exactly at MMR is healthy,
one quote unit less is liquidatable; a partial liquidation lands on IMR
exactly; funding's truncation and clamp). Hypothesis properties check the
conservation laws on random books hit by random price shocks: sum of
positions per market = 0, sum of balances = total collateral (plus unsettled
funding), fund equity >= 0 unless auto-deleveraging ran, every liquidated
account ends above IMR or flat, and each partial liquidation is minimal.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain import adl, funding, margin
from exchange.domain.liquidation import (
    LiquidationError,
    liquidate,
    liquidate_all,
    liquidation_fee,
    step_quantity,
)
from exchange.domain.margin import MarginError, RiskParams
from exchange.domain.matching import AccountEntry
from verifier import accounting
from verifier.params import BPS_DENOM

# One market: IMR 10%, MMR 5%, liquidation fee 1%.
ONE = RiskParams(imf_bps=(1000,), mmf_bps=(500,), liquidation_fee_bps=(100,))
TWO = RiskParams(imf_bps=(1000, 2000), mmf_bps=(500, 1000), liquidation_fee_bps=(100, 0))


# ---------------------------------------------------------------- margin


def test_params_order_is_enforced() -> None:
    with pytest.raises(MarginError):
        RiskParams(imf_bps=(500,), mmf_bps=(500,), liquidation_fee_bps=(0,))
    with pytest.raises(MarginError):
        RiskParams(imf_bps=(1000,), mmf_bps=(500,), liquidation_fee_bps=(500,))
    with pytest.raises(MarginError):
        RiskParams(imf_bps=(1000,), mmf_bps=(500,), liquidation_fee_bps=(100, 100))


def test_equity_exactly_at_mmr_is_not_liquidatable_one_below_is() -> None:
    # 10 lots long at 1000: notional 10_000, MMR = 500 exactly.
    positions, marks = (10,), (1000,)
    at_mmr = 500 - 10 * 1000
    h = margin.health(at_mmr, positions, marks, ONE)
    assert h.equity == 500 and h.maintenance_slack == 0
    assert not h.liquidatable
    assert margin.is_liquidatable(at_mmr - 1, positions, marks, ONE)
    # Short side: same boundary.
    assert not margin.is_liquidatable(500 + 10 * 1000, (-10,), marks, ONE)
    assert margin.is_liquidatable(499 + 10 * 1000, (-10,), marks, ONE)


def test_health_rejects_bad_vectors() -> None:
    with pytest.raises(MarginError):
        margin.health(0, (1, 2), (1,), ONE)
    with pytest.raises(MarginError):
        margin.health(0, (1,), (0,), ONE)


def test_risk_reducing_fill_below_initial_margin() -> None:
    # Equity 600 on notional 10_000: below IMR (1000), above MMR (500).
    before = (600 - 10_000, (10,))
    # Sell 4 at the mark with a 3-unit fee: still below IMR, reduces, equity - MMR rises.
    after = (before[0] + 4000 - 3, (6,))
    assert not margin.health(after[0], after[1], (1000,), ONE).meets_initial
    assert margin.fill_allowed(before, after, 0, (1000,), ONE)
    # Flipping to short is not "only reduces".
    flipped = (before[0] + 12_000 - 3, (-2,))
    assert not margin.only_reduces(before[1], flipped[1], 0)
    # Adding to the position below IMR is refused.
    more = (before[0] - 1000, (11,))
    assert not margin.fill_allowed(before, more, 0, (1000,), ONE)
    # A reduction whose fee lowers equity - MMR is refused: sell 1 lot paying 60.
    costly = (before[0] + 1000 - 60, (9,))
    assert not margin.fill_allowed(before, costly, 0, (1000,), ONE)
    # ... and the fee that exactly offsets the released MMR (50) is allowed.
    exact = (before[0] + 1000 - 50, (9,))
    assert margin.fill_allowed(before, exact, 0, (1000,), ONE)


# ---------------------------------------------------------------- liquidation


def book(*entries: tuple[int, tuple[int, ...]]) -> dict[int, AccountEntry]:
    return {i: AccountEntry(b, p) for i, (b, p) in enumerate(entries)}


def test_partial_liquidation_lands_exactly_on_initial_margin() -> None:
    # Account 1: 100 long at 100 (notional 10_000), equity 400 < MMR 500.
    # Moving q lots: fee = ceil(q * 100 * 100 / 1e4) = q; IMR after = (100 - q) * 10.
    # 400 - q >= 1000 - 10 q  <=>  q >= 66.67 -> q = 67: equity 333 vs IMR 330.
    # Tune the balance so that q = 60 is exact: 400 + d - 60 = 400 <=> d = 60.
    b = book((10**6, (-100,)), (460 - 10_000, (100,)))
    marks = (100,)
    assert step_quantity(b[1], 0, marks, ONE) == 60
    new, rec = liquidate(b, 1, marks, ONE)
    assert rec.steps[0].lots == 60 and rec.steps[0].fee == 60 and rec.partial
    h = margin.health(new[1].balance, new[1].positions, marks, ONE)
    assert h.initial_slack == 0  # exactly at IMR
    assert new[1].positions == (40,) and new[0].positions == (-40,)
    # One lot fewer would not have restored IMR.
    fewer = AccountEntry(b[1].balance + 59 * 100 - 59, (41,))
    assert not margin.health(fewer.balance, fewer.positions, marks, ONE).meets_initial
    # Conservation.
    assert sum(e.balance for e in new.values()) == sum(e.balance for e in b.values())
    assert new[0].balance == b[0].balance - 60 * 100 + 60


def test_not_liquidatable_at_mmr_is_refused() -> None:
    b = book((10**6, (-10,)), (500 - 10_000, (10,)))
    with pytest.raises(LiquidationError, match="at or above maintenance"):
        liquidate(b, 1, (1000,), ONE)
    with pytest.raises(LiquidationError, match="never liquidated"):
        liquidate(b, 0, (1000,), ONE)


def test_fee_is_capped_at_remaining_equity() -> None:
    assert liquidation_fee(10, 1000, 100, 5) == 5
    assert liquidation_fee(10, 1000, 100, -7) == 0
    assert liquidation_fee(10, 1000, 100, 10**9) == 100
    assert liquidation_fee(3, 7, 100, 10**9) == 1  # ceil(0.21)


def test_bad_debt_covered_by_fund() -> None:
    # Account 1 long 10 at 100 with balance -1050: equity -50. Fund equity 10_000.
    b = book((10_000, (0,)), (-1050, (10,)), (5000, (-10,)))
    new, rec = liquidate(b, 1, (100,), ONE)
    assert rec.covered == 50 and rec.shortfall == 0 and not rec.deleveraging
    assert new[1] == AccountEntry(0, (0,))
    assert new[0] == AccountEntry(10_000 - 50 - 1000, (10,))
    assert rec.fee_total == 0


def test_shortfall_is_deleveraged_at_the_bankruptcy_price() -> None:
    # Fund equity 20 covers 20 of 50; 30 left. Two shorts: account 2 more levered.
    b = book((20, (0,)), (-1050, (10,)), (700, (-4,)), (5000, (-6,)))
    marks = (100,)
    assert adl.ranking(b, 1, 0, marks) == [2, 3]
    new, rec = liquidate(b, 1, marks, ONE)
    assert rec.covered == 20 and rec.shortfall == 30
    price = adl.bankruptcy_price(10, 100, 30)
    assert price == 103
    assert [(d.counterparty, d.lots, d.price, d.rank) for d in rec.deleveraging] == [
        (2, 4, 103, 0),
        (3, 6, 103, 1),
    ]
    assert new[1] == AccountEntry(0, (0,))  # exactly bankrupt, no dust here
    assert new[0] == AccountEntry(0, (0,))
    assert new[2] == AccountEntry(700 - 4 * 103, (0,))
    assert sum(e.balance for e in new.values()) == sum(e.balance for e in b.values())


def test_bankruptcy_price_rounds_toward_dust_not_debt() -> None:
    assert adl.bankruptcy_price(3, 100, 10) == 104  # ceil(10/3) = 4
    assert adl.bankruptcy_price(-3, 100, 10) == 96
    assert adl.bankruptcy_price(-3, 2, 10) == 0
    assert adl.split_shortfall(10, (3, -1), (10, 30)) == (5, 5)
    assert adl.split_shortfall(7, (2, 0), (10, 30)) == (7, 0)
    assert sum(adl.split_shortfall(1001, (3, -7), (13, 29))) == 1001


# ---------------------------------------------------------------- funding

FP = funding.FundingParams(premium_divisor=8, clamp_bps=50, mark_band_bps=100)


def test_funding_delta_truncates_toward_zero_and_clamps() -> None:
    # index 10_000: cap = 50, band = 100.
    assert funding.funding_delta(10_000 + 8 * 3 + 7, 10_000, FP) == 3
    assert funding.funding_delta(10_000 - 8 * 3 - 7, 10_000, FP) == -3
    assert funding.funding_delta(10_000 + 7, 10_000, FP) == 0
    assert funding.funding_delta(10_000 + 8 * 50, 10_000, FP) == 50  # exactly at the cap
    assert funding.funding_delta(10_000 + 8 * 51, 10_000, FP) == 50
    assert funding.funding_delta(10_000 - 8 * 51, 10_000, FP) == -50
    assert funding.mark_price(10_000, 250, FP) == 10_100
    assert funding.mark_price(10_000, -37, FP) == 9_963


def test_funding_settlement_moves_money_from_longs_to_shorts() -> None:
    indices = funding.next_indices((0, 5), (10_080, 50), (10_000, 50), FP)
    assert indices == (10, 5)
    long = funding.settle(1000, (3, 1), (0, 5), indices)
    short = funding.settle(1000, (-3, -1), (0, 5), indices)
    assert long.paid == 30 and long.balance == 970 and long.checkpoints == (10, 5)
    assert short.paid == -30 and short.balance == 1030
    with pytest.raises(funding.FundingError):
        funding.FundingParams(premium_divisor=0)


# ---------------------------------------------------------------- properties


@st.composite
def shocked_books(draw: st.DrawFn) -> tuple[dict[int, AccountEntry], tuple[int, ...], RiskParams]:
    """A book built from fills at old marks (so both invariants hold), then new marks."""
    n_markets = draw(st.integers(1, 2))
    imf = [draw(st.integers(3, 3000)) for _ in range(n_markets)]
    mmf = [draw(st.integers(2, i - 1)) for i in imf]
    lf = [draw(st.integers(0, m - 1)) for m in mmf]
    params = RiskParams(tuple(imf), tuple(mmf), tuple(lf))
    n_accounts = draw(st.integers(2, 6))
    old = [draw(st.integers(1, 500)) for _ in range(n_markets)]
    balances = [draw(st.integers(0, 20_000)) for _ in range(n_accounts)]
    positions = [[0] * n_markets for _ in range(n_accounts)]
    for _ in range(draw(st.integers(0, 12))):
        buyer = draw(st.integers(0, n_accounts - 1))
        seller = draw(st.integers(0, n_accounts - 1))
        m = draw(st.integers(0, n_markets - 1))
        q = draw(st.integers(1, 60))
        positions[buyer][m] += q
        positions[seller][m] -= q
        balances[buyer] -= q * old[m]
        balances[seller] += q * old[m]
    new_marks = tuple(max(1, p + draw(st.integers(-p + 1, p))) for p in old)
    entries = {i: AccountEntry(balances[i], tuple(positions[i])) for i in range(n_accounts)}
    return entries, new_marks, params


@settings(max_examples=300, deadline=None)
@given(shocked_books())
def test_liquidation_conserves_and_restores(
    case: tuple[dict[int, AccountEntry], tuple[int, ...], RiskParams],
) -> None:
    entries, marks, params = case
    collateral = sum(e.balance for e in entries.values())
    fund_before = accounting.equity(entries[0].balance, entries[0].positions, marks)
    after, records = liquidate_all(entries, marks, params)
    for m in range(params.markets):
        assert sum(e.positions[m] for e in after.values()) == 0
    assert sum(e.balance for e in after.values()) == collateral
    ran_adl = any(r.deleveraging for r in records)
    fund_after = accounting.equity(after[0].balance, after[0].positions, marks)
    for i, e in after.items():
        if i != 0 and margin.is_liquidatable(e.balance, e.positions, marks, params):
            # Only unrecoverable bad debt is left: a flat account and an exhausted fund.
            assert not any(e.positions) and fund_after <= 0
    assert fund_after >= 0 or ran_adl or fund_before < 0
    for r in records:
        # Each step before the last moved the whole position; the last one is minimal.
        if r.partial:
            last = r.steps[-1]
            assert last.lots >= 1
            assert r.covered == 0 and r.shortfall == 0


@settings(max_examples=200, deadline=None)
@given(shocked_books())
def test_step_quantity_is_the_smallest_that_restores(
    case: tuple[dict[int, AccountEntry], tuple[int, ...], RiskParams],
) -> None:
    entries, marks, params = case
    for i, e in entries.items():
        h = margin.health(e.balance, e.positions, marks, params)
        if i == 0 or not h.liquidatable or h.equity < 0:
            continue
        for m, s in enumerate(e.positions):
            if s == 0 or abs(s) > 200:
                continue
            q = step_quantity(e, m, marks, params)

            def restores(
                k: int, e: AccountEntry = e, m: int = m, s: int = s, eq: int = h.equity
            ) -> bool:
                fee = liquidation_fee(k, marks[m], params.liquidation_fee_bps[m], eq)
                sign = 1 if s > 0 else -1
                pos = list(e.positions)
                pos[m] -= sign * k
                return margin.health(
                    e.balance + sign * k * marks[m] - fee, pos, marks, params
                ).meets_initial

            brute = next((k for k in range(1, abs(s) + 1) if restores(k)), abs(s))
            assert q == brute


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-50, 50), min_size=2, max_size=6),
    st.lists(st.tuples(st.integers(1, 5000), st.integers(1, 5000)), min_size=1, max_size=6),
    st.data(),
)
def test_funding_is_zero_sum_with_lazy_settlement(
    raw: list[int], prices: list[tuple[int, int]], data: st.DataObject
) -> None:
    positions = [*raw, -sum(raw)]  # one market, sum of positions 0
    balances = [10_000] * len(positions)
    checkpoints = [0] * len(positions)
    index = 0
    collateral = sum(balances)
    for mark, idx in prices:
        index = funding.next_indices((index,), (mark,), (idx,), FP)[0]
        # Settle a random subset (lazy settlement: only touched accounts settle).
        for i in data.draw(st.sets(st.integers(0, len(positions) - 1))):
            s = funding.settle(balances[i], (positions[i],), (checkpoints[i],), (index,))
            balances[i], checkpoints[i] = s.balance, s.checkpoints[0]
        pending = sum(
            funding.owed((p,), (c,), (index,)) for p, c in zip(positions, checkpoints, strict=True)
        )
        # sum balances + sum unsettled funding (what accounts still owe) = collateral.
        assert sum(balances) - pending == collateral
    assert BPS_DENOM == 10_000
