"""Cheating-ledger tests for health sweeps and liquidations on the recycling-order ("slots") ledger.

ONE honest slots ledger is built by ``exchange.operator.slots.SlotsOperator``
with real Groth16 proofs (account_update, order_ops, settle_fills,
health_sweep_staged, liquidate_staged):

    0 genesis (state slots; risk: sweep every 2 batches; funding: 10 s, premium/2, clamp 10%)
    1-3 open (fund 10000, alice 100, bob) | 4-5 orders | 6 batch at marks (100, 50):
        alice long 10 BTC at 100
    7 funding  (report 2: marks (94, 50), index (90, 52) -> indices (2, -1))
    8 sweep    (report 2: alice's equity is 39 >= MMR 28.2 before funding but
                19 after paying 20 of it -> flagged [1])
    9 liquidation of alice (9 of 10 lots to the fund, partial; funding settled first)
    10 batch   (report 2, no orders)

It must replay VALID. Each cheat is what a dishonest operator holding its
signing key could publish (edited, re-linked and re-signed,
``tests.verifier.ledger_files``, or a deep copy of the operator at the
sweep that skips the liquidation) and must fail at the named entry with the
named reason.
"""

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.exchange.slots_ledger import slots_operator
from tests.verifier.ledger_files import (
    copy_export,
    edit,
    entry_path,
    first,
    read,
    remove_entry,
    replay,
)

pytestmark = pytest.mark.slow

MARKS = (100, 50)
SHOCKED = (94, 50)
FUNDING, SWEEP, LIQUIDATION, BATCH_2 = 7, 8, 9, 10
NOW = 1000


@dataclass(frozen=True)
class SlotsRiskLedger:
    export: Path
    at_sweep: Any  # a deep copy of the operator right after the sweep entry
    operator: Any


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> SlotsRiskLedger:
    from verifier.account_state import SlottedOrder, order_hash
    from verifier.encoding import BUY, SELL
    from verifier.ledger import FundingRules, RiskRules

    op, tags, keys = slots_operator(
        risk=RiskRules(
            sweep_interval_batches=2, sweep_interval_s=0, liquidation_fee_bps=(150, 250)
        ),
        funding=FundingRules(interval_s=10, premium_divisor=2, clamp_bps=1000),
        insurance_fund=10_000,
    )
    a = op.open_account(keys["alice"].public_key(), 100)
    b = op.open_account(keys["bob"].public_key(), 100_000)
    report = op.oracle.sign(1, NOW, MARKS)
    op.observe(report)
    buy = SlottedOrder(a, 1, 0, BUY, 10, 100, 10**6, salt=11)
    sell = SlottedOrder(b, 1, 0, SELL, 10, 90, 10**6, salt=22)
    op.submit_order(buy, keys["alice"].sign(order_hash(tags.order, buy)))
    op.submit_order(sell, keys["bob"].sign(order_hash(tags.order, sell)))
    assert len(op.run_batch(report).fills) == 1
    assert op.account_state(a).balance == 100 - 1000 - 1  # fee ceil(1000 * 5 / 10^4)
    shocked = op.oracle.sign(2, NOW + 10, SHOCKED, (90, 52))
    assert op.update_funding(shocked).body["indices"] == ["2", "-1"]
    _, flagged = op.health_sweep(shocked)
    assert flagged == (a,)
    at_sweep = copy.deepcopy(op)
    op.liquidate(a, shocked)
    (record,) = op.liquidations
    assert [(s.market, s.lots, s.fee) for s in record.steps] == [(0, 9, 13)]
    alice = op.account_state(a)
    # -901 - 20 (funding) + 9 * 94 - 13 (fee); checkpoints = the funding indices.
    assert (alice.balance, alice.positions, alice.checkpoints) == (-88, (1, 0), (2, -1))
    assert op.account_state(0).positions == (9, 0)
    op.run_batch(shocked)
    export = op.export(tmp_path_factory.mktemp("slots-risk") / "export")
    return SlotsRiskLedger(export=export, at_sweep=at_sweep, operator=op)


def test_honest_slots_risk_ledger_verifies(honest: SlotsRiskLedger) -> None:
    report = replay(honest.export)
    assert report.ok, report.failures
    counts = {s: n for s, n in report.proofs_this_run.items() if n}
    assert counts["health_sweep_staged"] == 1 and counts["liquidate_staged"] == 1
    assert report.to_dict()["risk"]["liquidations"] == 1
    assert read(entry_path(honest.export, SWEEP))["flagged"] == [1]


def test_skipped_liquidation_is_rejected(honest: SlotsRiskLedger, tmp_path: Path) -> None:
    # The operator sweeps, sees alice flagged, and runs the next batch anyway.
    op = copy.deepcopy(honest.at_sweep)
    op.pending_liquidations = []  # the guard a dishonest operator removes
    op.run_batch(op.latest_report)
    out = op.export(tmp_path / "export")
    failure = first(replay(out))
    assert failure.entry_index == LIQUIDATION  # the batch right after the sweep
    assert "account 1 was below maintenance margin at the health sweep of entry 8" in (
        failure.reason
    )


def test_sweep_hiding_the_flagged_account_is_rejected(
    honest: SlotsRiskLedger, tmp_path: Path
) -> None:
    out = copy_export(honest, tmp_path)
    edit(out, SWEEP, lambda e: e.update(flagged=[]))  # re-linked and re-signed
    failure = first(replay(out))
    assert failure.entry_index == SWEEP
    assert "flagged lists [], but the proofs flag [1]" in failure.reason


def test_sweep_before_the_funding_update_is_rejected(
    honest: SlotsRiskLedger, tmp_path: Path
) -> None:
    # Without the funding entry the replay's indices are (0, 0): the sweep's
    # proofs (at (2, -1)) no longer match, so a dropped funding update cannot
    # hide the payment that put alice below maintenance margin.
    out = copy_export(honest, tmp_path)
    remove_entry(out, FUNDING)
    failure = first(replay(out))
    assert failure.entry_index == FUNDING  # the sweep, now at the funding entry's index
    assert "funding indices differ from the ledger's" in failure.reason


def test_operator_state_matches_the_ledger(honest: SlotsRiskLedger) -> None:
    op = honest.operator
    assert op.funding_indices == (2, -1)
    assert op.pending_liquidations == []
    liquidation = read(entry_path(honest.export, LIQUIDATION))
    assert liquidation["roots_after"] == read(entry_path(honest.export, BATCH_2))["roots_before"]
