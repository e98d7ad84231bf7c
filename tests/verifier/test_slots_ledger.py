"""Cheating-ledger tests for the recycling-order ledger (genesis ``"state": "slots"``, issue 12).

The honest slots ledger is the one of tests/exchange/slots_ledger.py (the
session fixture ``slots_ledger``, built once per test session by ``exchange.operator.slots.SlotsOperator`` with real
Groth16 proofs: account_update, order_ops, settle_fills, solvency_walk):

    0 genesis (state slots; funding: premium / 1, clamp 10%)
    1-4 open (fund 0, alice 1, bob 2, carol 3) | 5 deposit (carol)
    6-9 orders: alice buys 5 BTC, bob sells 3, carol sells 2, carol buys 1 ETH (cancelled)
    10 cancel of carol's ETH order
    11 batch: order_ops [place alice, bob], order_ops [place carol's sell],
       order_ops [cancel carol's ETH order, never placed], settle_fills [alice 3 from bob, 2 from carol]
    12 funding | 13 withdraw (alice) | 14 solvency (solvency_walk at the funding indices)

It must replay VALID. Each cheat is derived from it the way a dishonest
operator holding its signing key would publish it (edited, re-linked and
re-signed, ``tests.verifier.ledger_files``) and must fail at the named entry
with the named reason. One cheat needs two extra real proofs (a batch whose
cancel is proven after its fill group).
"""

import copy
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.exchange.slots_ledger import (
    BATCH,
    CANCEL,
    ENTRY_KINDS,
    FUNDING,
    ORDERS,
    SOLVENCY,
    WITHDRAW,
    SlotsLedger,
)
from tests.verifier.ledger_files import (
    copy_export,
    edit,
    entry_path,
    first,
    insert_entry,
    no_proof_checks,
    read,
    remove_entry,
    replay,
    resign,
    run_cli,
    structural_failure,
)
from verifier.oracle import OracleReport
from verifier.protocol import STATEMENTS

pytestmark = pytest.mark.slow

Json = Any
ORDER_ALICE, ORDER_BOB = ORDERS[:2]
#: The scenario's orders by order_index (``SlotsLedger.orders`` names).
ORDER_NAMES = ("alice_buy", "bob_sell", "carol_sell", "carol_cancelled")


def commitment(honest: SlotsLedger, name: str) -> int:
    """The order commitment of the scenario's order ``name`` (``SlotsLedger.orders``)."""
    from verifier.account_state import order_hash

    return order_hash(honest.tags.order, honest.orders[name])


@pytest.fixture(scope="module")
def honest(slots_ledger: SlotsLedger) -> SlotsLedger:
    return slots_ledger


@pytest.fixture(scope="module")
def late_cancel_batch(slots_ledger: SlotsLedger) -> Json:
    """Entry BATCH with the cancel proven after the fill group: real proofs, roots chained.

    A deep copy of the operator before its batch rebuilds the two place
    proofs' witnesses exactly (seeded blindings), so those proofs are the
    honest ones; the fill group and then the cancel are built on top and proven.
    """
    from prover.backends import prove_inputs
    from prover.circuits import build_statement
    from prover.statements.order_ops import OrderOp, build_order_ops
    from prover.statements.settle_fills import GroupFill, build_settle_fills
    from verifier.account_state import cancel_order_message
    from verifier.ledger import Roots

    op = copy.deepcopy(slots_ledger.at_batch)
    report = op.latest_report
    plan = op.plan_batch(report)
    honest = slots_ledger.entry(BATCH)
    places = honest["proofs"][:2]
    assert str(plan.ops[1].book.root) == places[-1]["roots_after"]["account"]
    rng = random.Random(7)
    orders = slots_ledger.orders
    group = build_settle_fills(
        plan.ops[1].book,
        [
            GroupFill(orders["alice_buy"], orders["bob_sell"], 3),
            GroupFill(orders["alice_buy"], orders["carol_sell"], 2),
        ],
        tags=op.tags,
        batch_id=1,
        timestamp=report.timestamp,
        prices=report.prices,
        funding=op.funding_indices,
        fee_bps=op.fee_bps,
        imf_bps=op.imf_bps,
        mmf_bps=op.mmf_bps,
        new_blinding=lambda: rng.randrange(1, 1 << 200),
    )
    h = commitment(slots_ledger, "carol_cancelled")
    cancel = build_order_ops(
        group.book,
        [
            OrderOp(
                orders["carol_cancelled"],
                slots_ledger.keys["carol"].sign(cancel_order_message(op.tags.cancel, h)),
                cancel=True,
            )
        ],
        tags=op.tags,
        batch_id=1,
        funding=op.funding_indices,
        new_blinding=lambda: rng.randrange(1, 1 << 200),
    )

    def proved(statement: str, out: Any, before: int, **extra: Any) -> Json:
        proof, signals = prove_inputs(build_statement(statement, "test"), out.inputs)
        assert [int(x) for x in signals] == out.public_inputs
        return {
            "statement": statement,
            "proof": proof,
            "public_signals": signals,
            "roots_before": Roots(before, 0, 0).to_json(),
            "roots_after": Roots(out.book.root, 0, 0).to_json(),
            **extra,
        }

    proofs = [
        *places,
        proved("settle_fills", group, plan.ops[1].book.root, volume=[str(v) for v in group.volume]),
        proved(
            "order_ops",
            cancel,
            group.book.root,
            cancels=[str(c) for c in cancel.cancel_signals],
            places=[str(c) for c in cancel.place_signals],
        ),
    ]
    return {**honest, "proofs": proofs, "roots_after": proofs[-1]["roots_after"]}


# ---------------------------------------------------------------- honest ledger


def test_honest_slots_ledger_verifies(honest: SlotsLedger) -> None:
    """Every proof verifies and darkpool-verify says VALID, counting the slots statements."""
    genesis = read(honest.export / "genesis.json")
    assert genesis["state"] == "slots"
    assert sorted(genesis["vkey_hashes"]) == sorted(STATEMENTS)
    assert genesis["roots_after"]["order"] == genesis["roots_after"]["fill"] == "0"
    rc, out, err = run_cli(str(honest.export), "--json", "--quiet")
    assert rc == 0, (out, err)
    data = json.loads(out)
    assert data["ok"] is True, data["failures"]
    assert data["first_failure"] is None and err == ""
    assert data["entries"] == len(ENTRY_KINDS) and data["latest_solvency"]["solvent"] is True
    assert data["state"] == "slots" and data["pending_cancels"] == []
    # Carol's ETH order was cancelled before any batch placed it: published, never placed.
    assert data["unplaced_orders"] == [3]
    counts = {s: n for s, n in data["proofs_verified_this_run"].items() if n}
    assert counts == {"order_ops": 3, "settle_fills": 1, "account_update": 6, "solvency_walk": 1}


def test_docs_name_every_slots_field(honest: SlotsLedger) -> None:
    """docs/ledger.md documents the slots genesis field, the cancel kind and the slots batch proofs."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text()
    sections = {part.split("\n", 1)[0].strip(): part for part in doc.split("\n## ")[1:]}
    common = sections["Common fields of every entry"]
    slots = sections['The slots ledger (`"state": "slots"`)']
    for key in read(honest.export / "genesis.json"):
        assert f"`{key}`" in common or f'"{key}"' in sections["genesis"], key
    for key in read(entry_path(honest.export, CANCEL)):
        assert f"`{key}`" in common or f'"{key}"' in sections["cancel"], key
    for proof in read(entry_path(honest.export, BATCH))["proofs"]:
        for key in proof:
            assert f'"{key}"' in slots, key


# ---------------------------------------------------------------- cheats


def test_cancelled_order_filled_fails_at_the_batch(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 8 / Deliver 7: the operator accepts bob's cancel, then fills bob's order.

    The batch does not execute the cancel (its order_ops cancel only carol's
    ETH order), so the replay fails the batch naming the unexecuted cancel.
    """
    export = copy_export(honest, tmp_path)
    cancel = read(entry_path(export, CANCEL))
    h = commitment(honest, "bob_sell")
    insert_entry(export, CANCEL + 1, {**cancel, "commitment": str(h)})
    failure = structural_failure(export)
    assert failure.entry_index == BATCH + 1
    assert failure.reason == f"cancel 1 of order {h:#x} was not executed by this batch"[:120]


def test_batch_cancel_without_cancel_entry_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """A batch that cancels an order no cancel entry announced fails (the cancels are exactly the entries)."""
    export = copy_export(honest, tmp_path)
    remove_entry(export, CANCEL)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH - 1
    h = commitment(honest, "carol_cancelled")
    assert failure.reason == f"the batch cancels order {h:#x} without a cancel entry"[:120]


def test_cancel_of_an_unpublished_order_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, CANCEL, lambda e: e.__setitem__("commitment", "12345"))
    failure = structural_failure(export)
    assert failure.entry_index == CANCEL
    assert failure.reason == "cancel of order 0x3039, which no order entry published"


def test_cancel_executed_after_a_fill_group_fails(
    honest: SlotsLedger, late_cancel_batch: Json, tmp_path: Path
) -> None:
    """Real proofs (built, not re-verified here), roots chained: order_ops (place) x2,
    settle_fills, order_ops (cancel).

    The cancelled order could have filled in the group before its cancel was
    proven; the replay requires every order_ops proof before the fill groups.
    """
    export = copy_export(honest, tmp_path)
    entry_path(export, BATCH).write_text(json.dumps(late_cancel_batch))
    resign(export)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH
    assert failure.reason == "proof 3 (order_ops): order ops after a fill group"


def renumber_orders_after_dropping_bob(export: Path) -> None:
    """After ``remove_entry(export, ORDER_BOB)``: carol's two orders become order_index 1, 2."""
    for i in (ORDER_BOB, ORDER_BOB + 1):
        edit(export, i, lambda e, at=i - ORDER_ALICE: e.__setitem__("order_index", at))


def test_privately_placed_order_fails_at_the_batch(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 12 / issue 10: an order placed (and filled) without its public ``order`` entry.

    The operator drops bob's order entry (renumbering the later orders) but
    keeps the batch, whose real proofs place and fill bob's signed order:
    every proof still verifies, and darkpool-verify fails the batch naming
    the order no earlier entry published (its ``order_ops`` proof places it
    publicly, ``places[1]``).
    """
    export = copy_export(honest, tmp_path)
    remove_entry(export, ORDER_BOB)
    renumber_orders_after_dropping_bob(export)
    rc, out, err = run_cli(str(export), "--json", "--quiet")
    assert rc != 0, (out, err)
    data = json.loads(out)
    h = commitment(honest, "bob_sell")
    assert data["first_failure"] == {
        "entry": BATCH - 1,
        "reason": f"proof 0 (order_ops) op 1 places order {h:#x}, "
        "which no earlier order entry published",
    }


def test_order_published_after_its_batch_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """Publishing the order only after the batch that placed it (no time priority) fails too."""
    export = copy_export(honest, tmp_path)
    bob = read(entry_path(export, ORDER_BOB))
    remove_entry(export, ORDER_BOB)
    renumber_orders_after_dropping_bob(export)
    insert_entry(export, BATCH, {**bob, "order_index": 3})
    failure = structural_failure(export)
    assert failure.entry_index == BATCH - 1
    assert failure.reason.endswith("which no earlier order entry published")


def test_order_placed_twice_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """A batch placing alice's BTC order a second time fails naming it.

    The circuit refuses such a proof (a slot holding the order's own id
    only accepts a cancel: tests/circuits/test_order_ops.py), so the cheat
    is the batch's second place proof with ``places[1]`` (an unused op) and
    the matching public signal set to alice's order, proofs not re-verified:
    the replay names the second placement before any proof matters.
    """
    export = copy_export(honest, tmp_path)
    h = commitment(honest, "alice_buy")

    def place_again(batch: Json) -> None:
        proof = batch["proofs"][1]
        proof["places"][1] = str(h)
        proof["public_signals"][-1] = str(h)

    edit(export, BATCH, place_again)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH
    assert (
        failure.reason
        == f"proof 1 (order_ops) op 1 places order {h:#x} again (it was placed before)"
    )


@pytest.mark.parametrize(
    ("index", "root", "got"),
    [(ORDER_ALICE, "order", "order 7, fill 0"), (BATCH, "fill", "order 0, fill 7")],
)
def test_nonzero_order_or_fill_root_fails(
    honest: SlotsLedger, tmp_path: Path, index: int, root: str, got: str
) -> None:
    """Under slots there is no order list or fill tree: a root set anyway fails that entry."""
    export = copy_export(honest, tmp_path)
    edit(export, index, lambda e: e["roots_after"].__setitem__(root, "7"))
    failure = structural_failure(export)
    assert failure.entry_index == index
    assert failure.reason == (
        f"roots_after: the order and fill roots of a slots ledger are 0 (got {got})"
    )


def test_proofs_at_other_funding_indices_fail(honest: SlotsLedger, tmp_path: Path) -> None:
    """The funding indices are public inputs from the replay, never from the operator.

    The same funding update published before the batch instead of after it
    puts the replay's indices at the update's, while the batch's proofs
    settled every account at (0, 0): its first proof fails naming the
    funding signal.
    """
    export = copy_export(honest, tmp_path)
    funding = read(entry_path(export, FUNDING))
    roots = read(entry_path(export, CANCEL))["roots_after"]
    insert_entry(export, BATCH, {**funding, "roots_before": roots, "roots_after": roots})
    index = int(funding["indices"][0])
    assert index != 0
    failure = structural_failure(export)
    assert failure.entry_index == BATCH + 1
    assert failure.reason == (
        f"batch proof 0 (order_ops): public signal 3 is 0, but the ledger data give {index}"
    )


OVERDUE = (
    "funding overdue: 3600 s of oracle time since the funding update of entry 12 "
    "(genesis requires a funding update every 3600 s)"
)


def _at_the_funding_deadline(honest: SlotsLedger, export: Path) -> tuple[int, OracleReport]:
    """(genesis funding interval, a real report signed exactly at entry 12's update's
    deadline with the latest report's marks): an interval has ended there (the boundary:
    ``elapsed_intervals`` pays it), so entries moved to it fail with ``OVERDUE``."""
    interval = read(export / "genesis.json")["funding"]["interval_s"]
    assert read(entry_path(export, FUNDING))["oracle"]["timestamp"] == 1000
    report = honest.operator.latest_report
    late = honest.operator.oracle.sign(report.seq + 1, 1000 + interval, report.marks, report.index)
    return interval, late


def test_withdrawal_at_overdue_funding_is_rejected(honest: SlotsLedger, tmp_path: Path) -> None:
    """Alice's withdrawal (entry 13) moved to a real report exactly at the funding
    deadline (the update of entry 12 at 1000, genesis interval 3600 s), no update between.

    Her proof settles funding at entry 12's indices, so the interval she owes since is
    not charged before her margin check: the entry fails "funding overdue", while its
    proof (the marks' prices are unchanged) still verifies: the genesis edited to a
    3601 s interval moves the first failure past it. The honest operator refuses it.
    """
    from exchange.operator import OperatorError
    from verifier.encoding import withdraw_message

    export = copy_export(honest, tmp_path)
    interval, late = _at_the_funding_deadline(honest, export)
    op = honest.operator

    def later(e: Json) -> None:
        e.update(marks=late.to_json(), time=late.timestamp)

    edit(export, WITHDRAW, later)
    failures = replay(export).failures  # every proof before it checked and valid
    assert [(f.entry_index, f.reason) for f in failures] == [(WITHDRAW, OVERDUE)]

    edit(export, 0, lambda g: g["funding"].update(interval_s=interval + 1))
    failures = replay(export).failures
    assert [f.entry_index for f in failures] == [SOLVENCY]  # its proof verified at 13
    assert failures[0].reason.startswith("time 1000 is before the previous entry's")

    cheat = copy.deepcopy(op, {id(op._prove_fn): op._prove_fn})
    cheat.observe(late)
    nonce = cheat.account_state(1).nonce
    sig = honest.keys["alice"].sign(withdraw_message(honest.tags.withdraw, 1, 1000, nonce))
    length = len(cheat.ledger)
    with pytest.raises(OperatorError, match="funding overdue"):
        cheat.withdraw(1, 1000, sig)
    assert len(cheat.ledger) == length


def test_solvency_at_overdue_funding_is_rejected(honest: SlotsLedger, tmp_path: Path) -> None:
    """The solvency entry (14) moved to a real report exactly at the funding
    deadline (the update of entry 12 at 1000, genesis interval 3600 s), no update between.

    Its chunks count equity at entry 12's indices, so the interval longs owe since is
    missing from the deficit: the entry fails "funding overdue", while its proofs (the
    marks' prices are unchanged) still verify: the genesis edited to a 3601 s interval
    leaves no failure. A stress entry at that report fails the same way (the rule comes
    before its shock vector and its proofs). The honest operator refuses both.
    """
    from exchange.operator import OperatorError

    export = copy_export(honest, tmp_path)
    interval, late = _at_the_funding_deadline(honest, export)
    op = honest.operator

    def later(e: Json) -> None:
        e.update(oracle=late.to_json(), time=late.timestamp)

    edit(export, SOLVENCY, later)
    failures = replay(export).failures  # every proof before it checked and valid
    assert [(f.entry_index, f.reason) for f in failures] == [(SOLVENCY, OVERDUE)]
    edit(export, SOLVENCY, lambda e: e.update(stress={"shock_bps": [-1000, -1000]}))
    failure = structural_failure(export)
    assert (failure.entry_index, failure.reason) == (SOLVENCY, OVERDUE)

    edit(export, 0, lambda g: g["funding"].update(interval_s=interval + 1))
    edit(export, SOLVENCY, lambda e: e.update(stress=None))
    assert replay(export).failures == []  # its proofs verify at the late report

    cheat = copy.deepcopy(op, {id(op._prove_fn): op._prove_fn})
    cheat.observe(late)
    length = len(cheat.ledger)
    for shock in (None, [-1000, -1000]):
        with pytest.raises(OperatorError, match="funding overdue"):
            cheat.prove_solvency(late, shock_bps=shock)
    assert len(cheat.ledger) == length


def test_insurance_fund_withdrawal_is_rejected(honest: SlotsLedger, tmp_path: Path) -> None:
    """An operator that takes the insurance fund: account 0's key is the operator's, so it
    can sign a withdrawal from it, and the account_update proof is a real one (built
    past the operator's own refusal, at the latest marks, the fund has no position).
    Replayed, the ledger fails at that entry "the insurance fund cannot be withdrawn"
    (the fund covers bankrupt accounts before ADL does: docs/ledger.md). The honest
    operator refuses it and writes nothing.
    """
    from exchange.operator import OperatorError
    from prover.statements.account_update import OpKind
    from verifier.babyjub import Point
    from verifier.encoding import withdraw_message

    op = copy.deepcopy(honest.operator, {id(honest.operator._prove_fn): honest.operator._prove_fn})
    fund = op.account_state(0)
    assert fund.balance >= 500 and not any(fund.positions)
    key = honest.keys["insurance"]
    assert Point(fund.pub_x, fund.pub_y) == key.public_key()
    sig = key.sign(withdraw_message(honest.tags.withdraw, 0, 500, fund.nonce))
    length = len(op.ledger)
    with pytest.raises(OperatorError, match=r"insurance fund \(account 0\) cannot be withdrawn"):
        op.withdraw(0, 500, sig)
    assert len(op.ledger) == length and op.account_state(0) == fund
    # the dishonest operator: the same op past the refusal (a real proof)
    op._account_op(OpKind.WITHDRAW, 0, 500, key.public_key(), signature=sig, marks=op.latest_report)
    op.total_collateral -= 500
    export = op.export(tmp_path / "export")
    assert read(entry_path(export, length))["account"] == 0
    failures = replay(export).failures  # every earlier proof checked and valid
    reason = "withdraw from account 0: the insurance fund cannot be withdrawn"
    assert [(f.entry_index, f.reason) for f in failures] == [(length, reason)]
    rc, out, err = run_cli(str(export), "--quiet")
    assert rc == 1, err
    assert out.splitlines()[-1].startswith(f"RESULT: INVALID at entry {length}: {reason}")


def test_list_state_genesis_is_refused(honest: SlotsLedger, tmp_path: Path) -> None:
    """The retired list state: a genesis saying "state": "list", or no state at all (the
    list format), is refused in one line naming it, before any entry is checked."""
    export = copy_export(honest, tmp_path)
    refused = "list-state ledgers are no longer supported"
    edit(export, 0, lambda g: g.update(state="list"))
    failure = structural_failure(export)
    assert failure.entry_index == 0
    assert failure.reason == f"genesis state 'list': {refused}"
    edit(export, 0, lambda g: g.pop("state"))
    failure = structural_failure(export)
    assert failure.entry_index == 0
    assert failure.reason == f"genesis has no state (a list-state ledger): {refused}"
    rc, out, err = run_cli(str(export), "--quiet")
    assert rc == 1, err
    assert out.splitlines()[-1].startswith(
        f"RESULT: INVALID at entry 0: genesis has no state (a list-state ledger): {refused}"
    )


def test_slots_genesis_with_risk_rules_is_accepted(honest: SlotsLedger, tmp_path: Path) -> None:
    # Genesis risk rules are allowed under slots: sweeps and liquidations are
    # health_sweep / liquidate (verifier/ledger/risk_slots.py;
    # their cheats: tests/verifier/test_risk_ledger.py). One batch
    # since genesis is within "a sweep every 2 batches".
    export = copy_export(honest, tmp_path)
    risk = {"sweep_interval_batches": 2, "sweep_interval_s": 0, "liquidation_fee_bps": [100, 100]}
    edit(export, 0, lambda g: g.__setitem__("risk", risk))
    report = replay(export, checker=no_proof_checks)
    assert report.ok, report.failures


def test_resumed_replay_keeps_pending_cancels(honest: SlotsLedger, tmp_path: Path) -> None:
    """--state after the cancel entry: the resumed run still requires the batch to execute it.

    A ledger that ends with a cancel not yet executed is VALID, and says so
    (``pending_cancels`` in --json, a note in the human summary).
    """
    from verifier.cli import _human_summary
    from verifier.ledger import ReplayState

    export = copy_export(honest, tmp_path)
    full = read(export / "ledger.json")
    (export / "ledger.json").write_text(json.dumps({**full, "entries": CANCEL + 1}))
    moved: list[tuple[Path, str]] = []
    for i in range(CANCEL + 1, full["entries"]):
        moved.append((entry_path(export, i), entry_path(export, i).read_text()))
        entry_path(export, i).unlink()
    head = replay(export, checker=no_proof_checks)
    assert head.ok and head.state is not None, head.failures
    assert head.to_dict()["pending_cancels"] == [str(commitment(honest, "carol_cancelled"))]
    summary = _human_summary("head", head, 0.0)
    assert "state slots" in summary
    assert "1 accepted cancel(s) not executed yet" in summary
    state = ReplayState.from_dict(json.loads(json.dumps(head.state.to_dict())))
    assert state.pending_cancels == [commitment(honest, "carol_cancelled")]
    assert head.to_dict()["unplaced_orders"] == [0, 1, 2, 3]
    assert list(state.unplaced_orders.values()) == [0, 1, 2, 3]
    for path, text in moved:
        path.write_text(text)
    (export / "ledger.json").write_text(json.dumps(full))
    resumed = replay(export, state=state, checker=no_proof_checks)
    assert resumed.ok and resumed.to_dict()["unplaced_orders"] == [3]
    # A state in which bob's order was already placed: the batch places it again.
    placed = replace(
        state, unplaced_orders={commitment(honest, ORDER_NAMES[i]): i for i in (0, 2, 3)}
    )
    failure = first(replay(export, state=placed, checker=no_proof_checks))
    assert failure.entry_index == BATCH and failure.reason.endswith("again (it was placed before)")
    # The same state, but the batch no longer executes the cancel: the resumed run fails it.
    state.pending_cancels = [commitment(honest, "bob_sell")]
    failure = first(replay(export, state=state, checker=no_proof_checks))
    assert failure.entry_index == BATCH


def test_darkpool_verify_inclusion_checks_a_slots_opening_against_the_ledger(
    honest: SlotsLedger, tmp_path: Path
) -> None:
    """`darkpool-verify inclusion` on a slots ledger: the service's own opening is INCLUDED;
    an opening with a raised balance whose root the operator recomputed (what a trader's
    path-only check accepts) is NOT INCLUDED, because no verified entry has that root."""
    from verifier.account_state import account_state_leaf
    from verifier.inclusion_slots import parse_slots_opening
    from verifier.quadtree import quad_root

    opening = honest.operator.inclusion_opening(1)
    good = tmp_path / "opening.json"
    good.write_text(json.dumps(opening))
    code, out, err = run_cli("inclusion", "--ledger", str(honest.export), "--opening", str(good))
    assert code == 0 and "RESULT: INCLUDED" in out, out + err

    forged = copy.deepcopy(opening)
    forged["opening"]["balance"] = str(int(forged["opening"]["balance"]) + 1_000_000)
    forged.pop("leaf", None)
    parsed = parse_slots_opening(forged)
    forged["root"] = str(
        quad_root(account_state_leaf(parsed.record), parsed.account, parsed.siblings)
    )
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(forged))
    code, out, err = run_cli("inclusion", "--ledger", str(honest.export), "--opening", str(bad))
    assert code == 1 and "RESULT: NOT INCLUDED: root" in out, out + err

    fills = tmp_path / "fills.json"
    fills.write_text("[]")
    code, out, err = run_cli(
        "inclusion", "--ledger", str(honest.export), "--opening", str(good), "--fills", str(fills)
    )
    assert code == 2 and "--fills is for list ledgers" in err, out + err
