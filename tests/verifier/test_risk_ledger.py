"""Cheating-ledger tests for the risk engine on the recycling-order ("slots") ledger (issue 11).

ONE honest slots ledger is built per module by
``exchange.operator.slots.SlotsOperator`` with real Groth16 proofs
(account_update, order_ops, settle_fills, health_sweep, liquidate):

    0 genesis (state slots; risk: sweep every 2 batches; funding: 10 s, premium/2, clamp 10%)
    1-3 open (fund 10000, alice 100, bob) | 4-5 orders | 6 batch at marks (100, 50):
        alice long 10 BTC at 100
    7 funding  (report 2: marks (94, 50), index (90, 52) -> indices (2, -1))
    8 sweep    (report 2: alice's equity is 39 >= MMR 28.2 before funding but
                19 after paying 20 of it -> flagged [1])
    9 liquidation of alice (9 of 10 lots to the fund, partial; funding settled first)
    10 batch   (report 2, no orders)
    11 funding (report 3: index (70, 50): the BTC premium is clamped -> (9, -1))
    12 batch   (report 3, no orders)

The late-funding tests continue a deep copy of the operator with one funding
entry (no proof) and replay without proof checks.

It must replay VALID with the risk counts in ``darkpool-verify --json``. Each
cheat is what a dishonest operator holding its signing key could publish:
the export edited, re-linked and re-signed (``tests.verifier.ledger_files``),
or a deep copy of the operator (at the sweep, or before the first funding
update) that drops its own guard and proves one more batch. Each must fail
at the named entry with the named reason.
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
    no_proof_checks,
    read,
    remove_entry,
    replay,
    run_cli,
    structural_failure,
)

pytestmark = pytest.mark.slow

Json = Any
MARKS = (100, 50)
SHOCKED = (94, 50)
FUNDING_1, SWEEP, LIQUIDATION, BATCH_2, FUNDING_2, BATCH_3 = 7, 8, 9, 10, 11, 12
NOW = 1000


@dataclass(frozen=True)
class RiskLedger:
    export: Path
    before_funding: Any  # a deep copy of the operator right after the first batch
    at_sweep: Any  # a deep copy of the operator right after the sweep entry
    operator: Any  # the honest operator after the export


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> RiskLedger:
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
    before_funding = copy.deepcopy(op)
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
    later = op.oracle.sign(3, NOW + 20, SHOCKED, (70, 50))
    assert not op.sweep_due()  # one batch since the sweep, interval 2
    assert op.funding_due(later)
    assert op.update_funding(later).body["indices"] == ["9", "-1"]
    op.run_batch(later)
    export = op.export(tmp_path_factory.mktemp("slots-risk") / "export")
    kinds = [read(entry_path(export, i))["kind"] for i in range(FUNDING_1, BATCH_3 + 1)]
    assert kinds == ["funding", "sweep", "liquidation", "batch", "funding", "batch"]
    return RiskLedger(export, before_funding, at_sweep, op)


def test_honest_risk_ledger_verifies_with_counts(honest: RiskLedger) -> None:
    assert read(entry_path(honest.export, SWEEP))["flagged"] == [1]
    report = replay(honest.export)
    assert report.ok, report.failures
    counts = {s: n for s, n in report.proofs_this_run.items() if n}
    assert counts["health_sweep"] == 1 and counts["liquidate"] == 1
    assert report.to_dict()["risk"] == {
        "health_sweeps": 1,
        "liquidations": 1,
        "liquidation_steps": 1,
        "funding_updates": 2,
        "adl_events": 0,
        "adl_trades": 0,
        "batches_since_sweep": 2,
    }
    rc, out, err = run_cli(str(honest.export), "--quiet")
    assert rc == 0 and "RESULT: VALID" in out, err
    assert "a health sweep at least every 2 batches" in out
    assert "one index update every 10 s" in out
    assert "NOT enforced" not in out


def test_removed_liquidation_entry_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    """Issue 11: a copy with its liquidation entry removed (chain re-linked) is rejected."""
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
    failure = first(replay(op.export(tmp_path / "export")))
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
    edit(export, SWEEP, lambda e: e.update(flagged=[]))  # re-linked and re-signed
    failure = first(replay(export))
    assert failure.entry_index == SWEEP
    assert failure.reason == "flagged lists [], but the proofs flag [1]"


def test_sweep_before_the_funding_update_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    # Without the funding entry the sweep (exactly one interval after the first
    # batch) is funding overdue; and with the genesis interval 1 s longer, so the
    # deadline rule passes it, the replay's indices are (0, 0): the sweep's proofs
    # (at (2, -1)) no longer match, so a dropped funding update cannot hide the
    # payment that put alice below maintenance margin.
    export = copy_export(honest, tmp_path)
    remove_entry(export, FUNDING_1)
    failure = first(replay(export))
    assert failure.entry_index == FUNDING_1  # the sweep, now at the funding entry's index
    assert failure.reason == (
        "funding overdue: 10 s of oracle time since the first batch "
        "(genesis requires a funding update every 10 s)"
    )
    edit(export, 0, lambda g: g["funding"].update(interval_s=g["funding"]["interval_s"] + 1))
    failure = first(replay(export))
    assert failure.entry_index == FUNDING_1
    assert "funding indices differ from the ledger's" in failure.reason


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
    failure = first(replay(export))
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
    """A batch 20 s of oracle time after the first batch with no funding update between
    (genesis interval 10 s). The honest operator refuses it; one that drops its guard
    proves it (real proofs) and the ledger fails at that batch.

    (Dropping the honest ledger's funding entries instead is caught earlier on
    slots: test_sweep_before_the_funding_update_is_rejected.)"""
    from exchange.operator import OperatorError

    op = copy.deepcopy(honest.before_funding)
    late = op.oracle.sign(2, NOW + 20, MARKS)
    assert op.funding_due(late)
    with pytest.raises(OperatorError, match="funding overdue"):
        op.run_batch(late)
    op.funding_clock = late.timestamp  # the dishonest operator's clock, not the ledger's
    op.run_batch(late)
    export = op.export(tmp_path / "export")
    failure = first(replay(export))
    assert failure.entry_index == FUNDING_1  # the second batch, where the update should be
    assert read(entry_path(export, failure.entry_index))["kind"] == "batch"
    assert failure.reason == (
        "funding overdue: 20 s of oracle time since the first batch "
        "(genesis requires a funding update every 10 s)"
    )


def test_funding_overdue_counts_from_the_last_update(honest: RiskLedger, tmp_path: Path) -> None:
    """Dropping only the second update: the last batch (1020) is exactly one interval after
    the update of entry 7 (1010): an interval has ended, so it is overdue (the boundary);
    so is it with a 6 s interval (6 s, not 5: at 5 s the first update, 10 s after the
    first batch, owes 2 intervals and fails first:
    test_update_paying_fewer_intervals_than_elapsed_is_rejected).

    On slots the batch's proofs settle funding at public indices, so with an 11 s
    interval (the time rule passes) the dropped update is caught at that batch anyway,
    by its funding public input."""
    export = copy_export(honest, tmp_path)
    remove_entry(export, FUNDING_2)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH_3 - 1
    assert failure.reason == (
        "funding overdue: 10 s of oracle time since the funding update of entry 7 "
        "(genesis requires a funding update every 10 s)"
    )

    def every_11_s(g: Json) -> None:
        g["funding"]["interval_s"] = 11

    edit(export, 0, every_11_s)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH_3 - 1
    assert failure.reason == (
        "batch proof 0 (settle_fills): public signal 6 is 9, but the ledger data give 2"
    )

    def every_6_s(g: Json) -> None:
        g["funding"]["interval_s"] = 6

    edit(export, 0, every_6_s)
    failure = structural_failure(export)
    # Batch 10 (report 1010, the update's own report) is on time; the last one is not.
    assert failure.entry_index == BATCH_3 - 1
    assert failure.reason == (
        "funding overdue: 10 s of oracle time since the funding update of entry 7 "
        "(genesis requires a funding update every 6 s)"
    )


def test_operator_refuses_an_overdue_batch(honest: RiskLedger) -> None:
    """The honest operator refuses a batch the verifier would fail: a sweep is due
    (2 batches since entry 8, interval 2) and the report (1031) is more than an
    interval after the last funding update (1020)."""
    from exchange.operator import OperatorError

    op = copy.deepcopy(honest.operator)
    late = op.oracle.sign(4, NOW + 31, SHOCKED, (90, 52))
    assert op.funding_due(late) and op.sweep_due()
    length = len(op.ledger)
    with pytest.raises(OperatorError, match="a health sweep is due"):
        op.run_batch(late)
    assert len(op.ledger) == length
    op.batches_since_sweep = 0
    with pytest.raises(OperatorError, match="funding overdue"):
        op.run_batch(late)
    assert len(op.ledger) == length


def test_restart_keeps_risk_progress(honest: RiskLedger) -> None:
    """A restarted operator knows the funding indices, the sweep it owes and a pending
    liquidation from what a service stores (no proof is made here)."""
    from exchange.operator import OperatorError
    from tests.exchange.test_slots_restore import restore, stored

    op = copy.deepcopy(honest.operator)
    again = restore(op, stored(op))
    assert again.risk_rules == op.risk_rules
    assert again.funding_rules == op.funding_rules
    assert again.funding_indices == (9, -1)
    assert again.funding_timestamp == again.funding_clock == NOW + 20
    assert again.batches_since_sweep == 2 and again.sweep_due()
    assert again.pending_liquidations == []
    at_sweep = copy.deepcopy(honest.at_sweep)
    back = restore(at_sweep, stored(at_sweep))
    assert back.pending_liquidations == [1]
    with pytest.raises(OperatorError, match="account 1 was flagged by the last health sweep"):
        back.run_batch(back.latest_report)


def test_operator_state_matches_the_ledger(honest: RiskLedger) -> None:
    op = honest.operator
    assert op.funding_indices == (9, -1)
    assert op.pending_liquidations == []
    liquidation = read(entry_path(honest.export, LIQUIDATION))
    assert liquidation["roots_after"] == read(entry_path(honest.export, BATCH_2))["roots_before"]


def _late_report(op: Any) -> Any:
    """Report 4 at 1055: 35 s after the update of entry 11 (1020), 3 whole 10 s intervals."""
    return op.oracle.sign(4, NOW + 55, SHOCKED, (90, 52))


def test_late_funding_update_pays_every_elapsed_interval(
    honest: RiskLedger, tmp_path: Path
) -> None:
    """Nobody trades for 35 s: the next update pays all 3 intervals at its report's
    premium (each clamped), the schedule stays anchored at 1020 + k * 10, and a restart
    replays the same clock."""
    from tests.exchange.test_slots_restore import restore, stored

    op = copy.deepcopy(honest.operator)
    late = _late_report(op)
    assert op.funding_intervals(late) == 3
    assert op.update_funding(late).body["indices"] == ["15", "-4"]  # (9, -1) + 3 * (2, -1)
    assert (op.funding_timestamp, op.funding_clock) == (NOW + 55, NOW + 50)
    assert not op.funding_due(late)
    assert op.funding_due_at(NOW + 60) and not op.funding_due_at(NOW + 59)
    assert replay(op.export(tmp_path / "export"), checker=no_proof_checks).ok
    back = restore(op, stored(op))
    assert (back.funding_indices, back.funding_timestamp, back.funding_clock) == (
        (15, -4),
        NOW + 55,
        NOW + 50,
    )


def test_update_paying_fewer_intervals_than_elapsed_is_rejected(
    honest: RiskLedger, tmp_path: Path
) -> None:
    """A dishonest operator runs no batch for 3 intervals, then publishes ONE interval's
    funding (what the verifier accepted before updates paid every elapsed interval):
    the longs, who owe it, skip two payments. The replay recomputes 3 intervals."""
    op = copy.deepcopy(honest.operator)
    late = _late_report(op)
    roots = op.roots
    body = {"oracle": late.to_json(), "indices": ["11", "-2"]}  # (9, -1) + 1 * (2, -1)
    entry = op.ledger.append("funding", roots, roots, body, time=op._entry_time(late))
    failure = structural_failure(op.export(tmp_path / "export"))
    assert failure.entry_index == entry.index
    assert failure.reason == (
        "funding index of market 0 is 11, but the signed report gives 15 "
        "(previous 9, mark 94, index price 90, 3 elapsed intervals)"
    )


def test_sweep_at_stale_funding_is_rejected(honest: RiskLedger, tmp_path: Path) -> None:
    """Without the first update, the sweep (report 1010) would judge alice at funding 10 s
    after the first batch: a 5 s genesis interval makes that overdue, at the sweep itself
    (the operator let the premium she owes go unpublished while it swept)."""
    from exchange.operator import OperatorError

    export = copy_export(honest, tmp_path)
    remove_entry(export, FUNDING_1)

    def every_5_s(g: Json) -> None:
        g["funding"]["interval_s"] = 5

    edit(export, 0, every_5_s)
    failure = structural_failure(export)
    assert failure.entry_index == SWEEP - 1  # renumbered: the sweep
    assert read(entry_path(export, failure.entry_index))["kind"] == "sweep"
    assert failure.reason == (
        "funding overdue: 10 s of oracle time since the first batch "
        "(genesis requires a funding update every 5 s)"
    )
    # The honest operator refuses such a sweep (and liquidation) before proving anything.
    op = copy.deepcopy(honest.operator)
    late = op.oracle.sign(4, NOW + 31, SHOCKED, (90, 52))  # 11 s after the update at 1020
    length = len(op.ledger)
    with pytest.raises(OperatorError, match="funding overdue"):
        op.health_sweep(late)
    with pytest.raises(OperatorError, match="funding overdue"):
        op.liquidate(1, late)
    assert len(op.ledger) == length
