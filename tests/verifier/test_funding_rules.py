"""Funding index formula and genesis risk/funding rules (verifier.funding, verifier.ledger.rules).

Pure and fast: no proofs. The ledger-level behaviour (a wrong or unclamped
index, funding too often, overdue sweeps) is in test_risk_ledger.py.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.funding import (
    SECONDS_PER_YEAR,
    FundingMathError,
    elapsed_intervals,
    funding_delta,
    index_horizon_s,
    index_in_range,
    max_interval_delta,
    next_indices,
)
from verifier.ledger import EntryError, FundingRules, RiskProgress, RiskRules
from verifier.params import FUNDING_BITS, PRICE_BITS


def test_delta_truncates_toward_zero_and_clamps_at_exactly_the_cap() -> None:
    rules = {"premium_divisor": 8, "clamp_bps": 50}  # cap = floor(10_000 * 50 / 10^4) = 50
    assert funding_delta(10_000 + 8 * 3 + 7, 10_000, **rules) == 3
    assert funding_delta(10_000 - 8 * 3 - 7, 10_000, **rules) == -3  # toward zero, not floor
    assert funding_delta(10_000 + 7, 10_000, **rules) == 0
    assert funding_delta(10_000 + 8 * 50, 10_000, **rules) == 50  # at the cap
    assert funding_delta(10_000 + 8 * 51, 10_000, **rules) == 50
    assert funding_delta(10_000 - 8 * 51, 10_000, **rules) == -50


@given(
    mark=st.integers(1, 10**12),
    index=st.integers(1, 10**12),
    divisor=st.integers(1, 1_000),
    clamp=st.integers(0, 10_000),
)
def test_delta_never_exceeds_the_premium_share_or_the_cap(
    mark: int, index: int, divisor: int, clamp: int
) -> None:
    d = funding_delta(mark, index, premium_divisor=divisor, clamp_bps=clamp)
    assert abs(d) <= index * clamp // 10_000
    assert abs(d) * divisor <= abs(mark - index)  # the payer never pays more than its share
    assert d == 0 or (d > 0) == (mark > index)  # longs pay when the mark is above the index


def test_next_indices_refuses_bad_input_and_overflow() -> None:
    assert next_indices((5, -1), (94, 50), (90, 52), premium_divisor=2, clamp_bps=1000) == (7, -2)
    with pytest.raises(FundingMathError, match="one funding index"):
        next_indices((0,), (1, 2), (1, 2), premium_divisor=1, clamp_bps=0)
    with pytest.raises(FundingMathError, match="positive"):
        next_indices((0,), (0,), (1,), premium_divisor=1, clamp_bps=0)
    top = (1 << (FUNDING_BITS - 1)) - 1
    assert index_in_range(top) and not index_in_range(top + 1)
    with pytest.raises(FundingMathError, match="64-bit"):
        next_indices((top,), (3,), (1,), premium_divisor=1, clamp_bps=10_000)


def test_index_horizon_is_exact_and_the_shipped_genesis_lasts_millennia() -> None:
    """After ``index_horizon_s`` of worst-case funding (every interval at the clamp, at the
    largest signable index price) the index is still in range, one interval more is
    refused; whether paid per interval or by one update after an outage is the same.
    The production genesis (hourly, clamp 50 bps) and the demo's (60 s) last at
    least 191,389 and 3,189 years (docs/ledger.md, README)."""
    from pathlib import Path

    from exchange.operator.common import DEFAULT_FUNDING_RULES

    top = (1 << PRICE_BITS) - 1
    rules = {"premium_divisor": 8, "clamp_bps": 50}
    worst = max_interval_delta(**rules)
    assert worst == top * 50 // 10_000 == -funding_delta(1, top, **rules)
    horizon = index_horizon_s(interval_s=3600, **rules)
    assert horizon is not None and horizon % 3600 == 0
    n = horizon // 3600
    after = next_indices((0,), (1,), (top,), **rules, intervals=n)  # one late update
    assert after == (-n * worst,) and index_in_range(after[0])
    with pytest.raises(FundingMathError, match="64-bit"):
        next_indices(after, (1,), (top,), **rules)
    with pytest.raises(FundingMathError, match="64-bit"):
        next_indices((0,), (1,), (top,), **rules, intervals=n + 1)
    # The premium share can bind before the clamp; no clamp, no movement, no horizon.
    assert max_interval_delta(premium_divisor=10**12, clamp_bps=10_000) == 1
    assert index_horizon_s(interval_s=1, premium_divisor=1, clamp_bps=0) is None

    def years(interval_s: int) -> int:
        f = DEFAULT_FUNDING_RULES
        h = index_horizon_s(
            interval_s=interval_s, premium_divisor=f.premium_divisor, clamp_bps=f.clamp_bps
        )
        assert h is not None
        return h // SECONDS_PER_YEAR

    assert DEFAULT_FUNDING_RULES.interval_s == 3600
    assert (years(3600), years(60)) == (191_389, 3_189)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text()
    assert "191,389 years" in doc and "3,189 years" in doc


def test_an_update_pays_every_elapsed_interval_each_clamped() -> None:
    rules = {"premium_divisor": 2, "clamp_bps": 1000}  # market 0: delta 2; market 1: -1
    assert next_indices((2, -1), (94, 50), (90, 52), **rules, intervals=3) == (8, -4)
    # The clamp holds per interval: 3 intervals at the cap move F by 3 caps, no more.
    assert next_indices((0,), (200,), (100,), premium_divisor=1, clamp_bps=500, intervals=3) == (
        15,
    )
    with pytest.raises(FundingMathError, match="at least one interval"):
        next_indices((0,), (94,), (90,), **rules, intervals=0)


def test_elapsed_intervals_anchor_the_schedule() -> None:
    # The first update: one interval before any batch, else the whole ones since the first batch.
    assert elapsed_intervals(1000, None, False, 10) == (1, 1000)
    assert elapsed_intervals(1003, 1000, False, 10) == (1, 1003)
    assert elapsed_intervals(1035, 1000, False, 10) == (3, 1035)
    # Later ones: whole intervals since the clock; the clock moves by exactly that many.
    assert elapsed_intervals(1009, 1000, True, 10) == (0, 1000)
    assert elapsed_intervals(1010, 1000, True, 10) == (1, 1010)
    assert elapsed_intervals(1047, 1000, True, 10) == (4, 1040)  # 7 s carried, not lost


@given(
    interval=st.integers(1, 100),
    start=st.integers(0, 10**6),
    gaps=st.lists(st.integers(0, 500), min_size=1, max_size=20),
)
def test_no_interval_is_lost_or_paid_twice_whatever_the_update_times(
    interval: int, start: int, gaps: list[int]
) -> None:
    """However late or irregular the updates, the intervals paid after the first update
    are exactly the whole intervals between its report time and the last update's."""
    k, clock = elapsed_intervals(start, None, False, interval)
    assert k == 1
    t, paid = start, 0
    for gap in gaps:
        t += gap
        k, new_clock = elapsed_intervals(t, clock, True, interval)
        if k:  # an operator publishes an update only when one is due
            paid, clock = paid + k, new_clock
        assert clock <= t < clock + interval
    assert paid == (t - start) // interval


def test_genesis_rules_are_parsed_strictly() -> None:
    rules = RiskRules.from_json(
        {"sweep_interval_batches": 2, "liquidation_fee_bps": [150, 250]}, [300, 500]
    )
    assert rules == RiskRules(2, 0, (150, 250))  # sweep_interval_s defaults to 0
    with pytest.raises(EntryError, match=r"liquidation_fee_bps\[1\] must be below mmf_bps 500"):
        RiskRules.from_json(
            {"sweep_interval_batches": 0, "liquidation_fee_bps": [1, 500]}, [300, 500]
        )
    with pytest.raises(EntryError, match="has 1 entries"):
        RiskRules.from_json({"sweep_interval_batches": 0, "liquidation_fee_bps": [1]}, [300, 500])
    funding = {"interval_s": 3600, "premium_divisor": 8, "clamp_bps": 50}
    assert FundingRules.from_json(funding).to_json() == funding
    with pytest.raises(EntryError, match="interval_s must be at least 1"):
        FundingRules.from_json({**funding, "interval_s": 0})
    with pytest.raises(EntryError, match="clamp_bps exceeds"):
        FundingRules.from_json({**funding, "clamp_bps": 10_001})


def test_risk_progress_survives_the_state_file() -> None:
    progress = RiskProgress(
        batches_since_sweep=1,
        sweep_clock=1010,
        sweep_entry=8,
        pending=[3],
        sweeps=1,
        liquidations=2,
        liquidation_steps=3,
        funding_updates=2,
        adl_events=1,
        adl_trades=2,
        funding_indices=[9, -1],
        funding_timestamp=1020,
        funding_entry=11,
    )
    assert RiskProgress.from_dict(progress.to_dict()) == progress
    assert RiskProgress.from_dict({}) == RiskProgress()  # states written before issue 11
    copy = progress.copy()
    copy.pending.append(4)
    assert progress.pending == [3]
