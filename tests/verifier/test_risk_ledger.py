"""Cheating-ledger tests for the risk engine: health sweeps, liquidations, funding (issue 11).

ONE honest ledger is built per module by the in-process operator with real
Groth16 proofs (account_op, settle_batch, health_sweep, liquidate):

    0 genesis (risk: sweep every 2 batches; funding: 10 s, premium/2, clamp 10%)
    1-3 open (fund, alice 80, bob) | 4-5 orders | 6 batch at marks (100, 50):
        alice long 10 BTC at 100
    7 funding  (report 2: marks (94, 50), index (90, 52) -> indices (2, -1))
    8 sweep    (report 2: alice below maintenance margin -> flagged [1])
    9 liquidation of alice (9 of 10 lots to the fund, partial)
    10 batch   (report 2)
    11 funding (report 3: index (70, 50): the BTC premium is clamped -> (9, -1))
    12 batch   (report 3)

It must replay VALID with the risk counts in ``darkpool-verify --json``. Each
cheat is derived from it the way a dishonest operator holding its signing key
would publish it (edited, re-linked and re-signed, ``test_ledger.resign``), or
from a deep copy of the operator at the sweep (a batch run without the
liquidation), and must fail at the named entry with the named reason.
"""

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.verifier.ledger_files import (
    copy_export,
    edit,
    entry_path,
    no_proof_checks,
    read,
    remove_entry,
    replay,
    run_cli,
    structural_failure,
)
from tests.verifier.operator_world import small_operator

pytestmark = pytest.mark.slow

Json = Any
MARKS = (100, 50)
SHOCKED = (94, 50)
FUNDING_1, SWEEP, LIQUIDATION, BATCH_2, FUNDING_2, BATCH_3 = 7, 8, 9, 10, 11, 12


@dataclass(frozen=True)
class RiskLedger:
    export: Path
    at_sweep: Any  # a deep copy of the operator right after the sweep entry
    operator: Any  # the honest operator after the export


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> RiskLedger:
    from verifier.encoding import BUY, SELL, Order, order_commitment
    from verifier.ledger import FundingRules, RiskRules

    op, tags, alice, bob = small_operator(
        risk=RiskRules(
            sweep_interval_batches=2, sweep_interval_s=0, liquidation_fee_bps=(150, 250)
        ),
        funding=FundingRules(interval_s=10, premium_divisor=2, clamp_bps=1000),
    )
    a = op.open_account(alice.public_key(), 80)
    b = op.open_account(bob.public_key(), 100_000)
    report = op.oracle.sign(1, 1000, MARKS)
    op.observe(report)
    buy = Order(account=a, market=0, side=BUY, size=10, limit_price=100, expiry=10**6, salt=11)
    sell = Order(account=b, market=0, side=SELL, size=10, limit_price=90, expiry=10**6, salt=22)
    op.submit_order(buy, alice.sign(order_commitment(tags.order, buy)))
    op.submit_order(sell, bob.sign(order_commitment(tags.order, sell)))
    assert len(op.run_batch(report).fills) == 1
    # Alice: balance 80 - 1000 - 1 (fee) = -921; at 94 equity 19 < MMR 28.2.
    assert op.account_state(a).balance == -921
    shocked = op.oracle.sign(2, 1010, SHOCKED, (90, 52))
    assert op.update_funding(shocked).body["indices"] == ["2", "-1"]
    _, flagged = op.health_sweep(shocked)
    assert flagged == (a,)
    at_sweep = copy.deepcopy(op)
    op.liquidate(a, shocked)
    (record,) = op.liquidations
    # Partial: 9 of 10 lots move to the fund at the mark (fee 13), alice keeps 1 lot.
    assert [(s.market, s.lots, s.fee) for s in record.steps] == [(0, 9, 13)]
    assert op.account_state(a).positions == (1, 0)
    assert op.account_state(0).positions == (9, 0)
    op.run_batch(shocked)
    later = op.oracle.sign(3, 1020, SHOCKED, (70, 50))
    assert not op.sweep_due()  # one batch since the sweep, interval 2
    assert op.funding_due(later)
    assert op.update_funding(later).body["indices"] == ["9", "-1"]
    op.run_batch(later)
    export = Path(op.export(tmp_path_factory.mktemp("risk") / "export"))
    kinds = [read(entry_path(export, i))["kind"] for i in range(FUNDING_1, BATCH_3 + 1)]
    assert kinds == ["funding", "sweep", "liquidation", "batch", "funding", "batch"]
    return RiskLedger(export, at_sweep, op)


def test_honest_risk_ledger_verifies_with_counts(honest: RiskLedger) -> None:
    assert read(entry_path(honest.export, SWEEP))["flagged"] == [1]
    rc, out, err = run_cli(str(honest.export), "--json", "--quiet")
    assert rc == 0, err
    data = json.loads(out)
    assert data["ok"] is True, data["failures"]
    assert data["risk"] == {
        "health_sweeps": 1,
        "liquidations": 1,
        "liquidation_steps": 1,
        "funding_updates": 2,
        "adl_events": 0,
        "adl_trades": 0,
        "batches_since_sweep": 2,
    }
    assert data["proofs_verified_this_run"]["health_sweep"] == 1
    assert data["proofs_verified_this_run"]["liquidate"] == 1
    rc, out, err = run_cli(str(honest.export), "--quiet")
    assert rc == 0 and "RESULT: VALID" in out, err
    assert "a health sweep at least every 2 batches" in out
    assert "one index update every 10 s" in out
    assert "NOT enforced" not in out


def test_removed_liquidation_entry_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    remove_entry(export, LIQUIDATION)
    failure = structural_failure(export)
    # The batch now sits where the liquidation was; its proofs start from the
    # liquidated account root, which no published entry produced.
    assert failure.entry_index == LIQUIDATION
    assert failure.reason == "roots_before (account) differ from the previous entry's roots_after"


def test_skipped_liquidation_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    """The sweep flags alice, the operator runs the next batch without liquidating her:
    every root chains and every proof is real; only the completeness rule catches it."""
    from exchange.operator import OperatorError

    op = copy.deepcopy(honest.at_sweep)
    with pytest.raises(OperatorError, match="account 1 was flagged by the last health sweep"):
        op.run_batch(op.latest_report)  # the honest operator refuses
    op.pending_liquidations = []  # a dishonest one drops its own guard
    op.run_batch(op.latest_report)
    export = Path(op.export(tmp_path / "export"))
    failure = structural_failure(export)
    assert failure.entry_index == SWEEP + 1
    assert failure.reason == (
        "account 1 was below maintenance margin at the health sweep of entry 8 "
        "and was not liquidated before this batch"
    )


def test_removed_sweep_makes_a_batch_overdue(honest: RiskLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    remove_entry(export, SWEEP)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH_3 - 1  # renumbered: the third batch
    assert failure.reason == (
        "health sweep overdue: 2 batches since genesis (genesis requires one every 2)"
    )


def test_sweep_hiding_a_flagged_account_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)

    def hide(e: Json) -> None:
        e["flagged"] = []

    edit(export, SWEEP, hide)
    failure = structural_failure(export)
    assert failure.entry_index == SWEEP
    assert failure.reason == "flagged lists [], but the proofs flag [1]"


def test_wrong_funding_index_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)

    def inflate(e: Json) -> None:
        e["indices"][0] = "3"

    edit(export, FUNDING_1, inflate)
    failure = structural_failure(export)
    assert failure.entry_index == FUNDING_1
    assert failure.reason == (
        "funding index of market 0 is 3, but the signed report gives 2 "
        "(previous 0, mark 94, index price 90)"
    )


def test_unclamped_funding_index_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    """(94 - 70) / 2 = 12, but the clamp is 10% of the index 70 = 7: 2 + 12 = 14 is refused."""
    export = copy_export(honest, tmp_path)

    def unclamped(e: Json) -> None:
        e["indices"][0] = "14"

    edit(export, FUNDING_2, unclamped)
    failure = structural_failure(export)
    assert failure.entry_index == FUNDING_2
    assert failure.reason.startswith(
        "funding index of market 0 is 14, but the signed report gives 9"
    )


def test_funding_more_often_than_genesis_allows(honest: RiskLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)

    def slower(g: Json) -> None:
        g["funding"]["interval_s"] = 20

    edit(export, 0, slower)
    failure = structural_failure(export)
    assert failure.entry_index == FUNDING_2
    assert failure.reason == (
        "funding update at report time 1020, 10 s after the update of entry 7 "
        "(genesis interval 20 s)"
    )


def test_liquidation_at_another_fee_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    """Genesis says a lower liquidation fee than the one proven: the step's public inputs differ."""
    export = copy_export(honest, tmp_path)

    def cheaper(g: Json) -> None:
        g["risk"]["liquidation_fee_bps"] = [100, 250]

    edit(export, 0, cheaper)
    failure = structural_failure(export)
    assert failure.entry_index == LIQUIDATION
    assert "margin or fee fractions differ from genesis" in failure.reason


def test_docs_name_every_risk_field(honest: RiskLedger) -> None:
    """docs/ledger.md documents every field the sweep, liquidation and funding entries write."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text()
    sections = {part.split("\n", 1)[0].strip(): part for part in doc.split("\n## ")[1:]}
    common = sections["Common fields of every entry"]
    genesis = read(honest.export / "genesis.json")
    for key in ("risk", "funding"):
        for field in genesis[key]:
            assert f'"{field}"' in sections["genesis"], (key, field)
    for index in (FUNDING_1, SWEEP, LIQUIDATION):
        obj = read(entry_path(honest.export, index))
        for key in obj:
            assert f"`{key}`" in common or f'"{key}"' in sections[obj["kind"]], (obj["kind"], key)


def test_sweep_overdue_in_seconds(honest: RiskLedger, tmp_path: Path) -> None:
    """Genesis asks for a sweep every 5 s: the last batch (time 1020) comes 10 s after
    the sweep of entry 8 (time 1010) with no sweep in between."""
    export = copy_export(honest, tmp_path)

    def every_5_s(g: Json) -> None:
        g["risk"]["sweep_interval_s"] = 5

    edit(export, 0, every_5_s)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH_3
    assert failure.reason == (
        "health sweep overdue: 10 s since the sweep of entry 8 (genesis requires one every 5 s)"
    )


def test_dropped_funding_entries_make_a_batch_funding_overdue(
    honest: RiskLedger, tmp_path: Path
) -> None:
    """Without its funding entries the ledger's batches run at report times 1000, 1010,
    1020: the last is 20 s after the first batch, beyond the 10 s genesis interval."""
    export = copy_export(honest, tmp_path)
    remove_entry(export, FUNDING_2)
    remove_entry(export, FUNDING_1)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH_3 - 2  # renumbered: the third batch
    assert read(entry_path(export, failure.entry_index))["kind"] == "batch"
    assert failure.reason == (
        "funding overdue: 20 s of oracle time since the first batch "
        "(genesis requires a funding update every 10 s)"
    )


def test_funding_overdue_counts_from_the_last_update(honest: RiskLedger, tmp_path: Path) -> None:
    """Dropping only the second update: the last batch (1020) is exactly one interval after
    the update of entry 7 (1010), which the rule allows; a 5 s interval does not."""
    export = copy_export(honest, tmp_path)
    remove_entry(export, FUNDING_2)
    assert replay(export, checker=no_proof_checks).ok

    def every_5_s(g: Json) -> None:
        g["funding"]["interval_s"] = 5

    edit(export, 0, every_5_s)
    failure = structural_failure(export)
    # Batch 10 (report 1010, the update's own report) is on time; the last one is not.
    assert failure.entry_index == BATCH_3 - 1
    assert failure.reason == (
        "funding overdue: 10 s of oracle time since the funding update of entry 7 "
        "(genesis requires a funding update every 5 s)"
    )


def test_operator_refuses_a_funding_overdue_batch(honest: RiskLedger) -> None:
    """The honest operator publishes funding before a batch more than an interval after
    the last update (1020) rather than append a batch the verifier would fail."""
    from exchange.operator import OperatorError

    op = copy.deepcopy(honest.operator)
    late = op.oracle.sign(4, 1031, SHOCKED, (90, 52))
    assert op.funding_due(late)
    length = len(op.ledger)
    with pytest.raises(OperatorError, match="funding overdue"):
        op.run_batch(late)
    assert len(op.ledger) == length
    # It also owes a sweep (2 batches since entry 8, interval 2): refused for that too.
    op.funding_clock = late.timestamp
    with pytest.raises(OperatorError, match="health sweep overdue"):
        op.run_batch(late)
    assert len(op.ledger) == length


def restored(op: Any) -> Any:
    """The operator rebuilt from its own ledger and snapshot (what a restart does)."""
    from exchange.operator import Operator
    from tests.verifier.operator_world import OPERATOR_KEY

    return Operator.restore(
        markets=op.markets,
        oracle=op.oracle,
        entries=[e.to_dict() for e in op.ledger.entries],
        snapshot=op.snapshot(),
        orders={r.commitment: (r.order, op.signed_order(r.index).signature) for r in op.book},
        clock=lambda: 1000,
        operator_key=OPERATOR_KEY,
    )


def test_restart_keeps_risk_progress(honest: RiskLedger) -> None:
    """A restarted operator knows the funding indices, the sweep it owes and a pending
    liquidation from its ledger alone (no proof is made here)."""
    from exchange.operator import OperatorError

    again = restored(honest.operator)
    assert again.risk_rules == honest.operator.risk_rules
    assert again.funding_rules == honest.operator.funding_rules
    assert again.funding_indices == (9, -1)
    assert again.funding_timestamp == again.funding_clock == 1020
    assert again.batches_since_sweep == 2 and again.sweep_due()
    assert again.pending_liquidations == []
    at_sweep = restored(copy.deepcopy(honest.at_sweep))
    assert at_sweep.pending_liquidations == [1]
    with pytest.raises(OperatorError, match="account 1 was flagged by the last health sweep"):
        at_sweep.run_batch(at_sweep.latest_report)
