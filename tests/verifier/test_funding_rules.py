"""Funding index formula and genesis risk/funding rules (verifier.funding, verifier.ledger.rules).

Pure and fast: no proofs. The ledger-level behaviour (a wrong or unclamped
index, funding too often, overdue sweeps) is in test_risk_ledger.py.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.funding import FundingMathError, funding_delta, index_in_range, next_indices
from verifier.ledger import EntryError, FundingRules, RiskProgress, RiskRules
from verifier.params import FUNDING_BITS


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
