"""The slots operator (exchange.operator.slots): an honest ledger that replays VALID, and refusals.

One session-scoped ledger with real proofs (tests/exchange/slots_ledger.py:
opens, a deposit, four orders, a cancel, a batch of three ORDER OPS proofs
and one SETTLE FILLS group, a withdrawal, a solvency report) is replayed by
``verifier.ledger.replay`` exactly as ``darkpool-verify`` does. Refusal tests
run on a deep copy of the operator and check that a refused request leaves
the ledger and the account root untouched.
"""

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from exchange.operator import OperatorError, RejectedOrder, SignatureRejected
from exchange.operator.slots import OrderConflict, UnknownOrder
from tests.exchange.slots_ledger import (
    BATCH,
    BATCH_STATEMENTS,
    CANCEL,
    FUNDING,
    NOW,
    ORDERS,
    SOLVENCY,
    SlotsLedger,
    stand_in_prover,
)
from tests.verifier.ledger_files import replay
from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
from verifier.encoding import BUY, withdraw_message
from verifier.protocol import STATEMENTS

pytestmark = pytest.mark.slow


def test_honest_slots_ledger_replays_valid(slots_ledger: SlotsLedger) -> None:
    report = replay(slots_ledger.export, checker=None)  # every proof checked
    assert report.ok, report.failures
    assert report.checked_to == SOLVENCY
    counts = {s: n for s, n in report.proofs_this_run.items() if n}
    assert counts == {"account_update": 6, "order_ops": 3, "settle_fills": 1, "solvency_walk": 1}
    state = report.state
    assert state is not None
    # 1000 (insurance) + 100000 + 100000 + 50000 + 5000 deposited - 1000 withdrawn
    assert state.total_collateral == 255_000
    assert state.roots.to_dict() == slots_ledger.entry(SOLVENCY)["roots_after"]
    # Carol's id 3 (sequence number 3) was cancelled before any batch placed it.
    assert list(state.unplaced_orders.values()) == [3]
    solvency = state.latest_solvency
    assert solvency is not None and solvency.solvent and solvency.positions == (0, 0)


def test_genesis_and_batch_layout(slots_ledger: SlotsLedger) -> None:
    genesis = slots_ledger.entry(0)
    assert genesis["state"] == "slots"
    assert sorted(genesis["vkey_hashes"]) == sorted(STATEMENTS)
    assert genesis["roots_after"]["order"] == genesis["roots_after"]["fill"] == "0"
    h = str(order_hash(slots_ledger.tags.order, slots_ledger.orders["carol_cancelled"]))
    assert slots_ledger.entry(CANCEL)["commitment"] == h
    batch = slots_ledger.entry(BATCH)
    assert [p["statement"] for p in batch["proofs"]] == BATCH_STATEMENTS
    # Places first (two proofs, no public cancels), then the cancel, then the fill group.
    assert [p.get("cancels") for p in batch["proofs"][:3]] == [["0", "0"], ["0", "0"], [h, "0"]]
    # Every place is public (places[j]): the published orders in acceptance order,
    # except carol's id 3, cancelled before any batch placed it (it stays unplaced).
    published = [slots_ledger.entry(i)["commitment"] for i in ORDERS]
    places = [p.get("places") for p in batch["proofs"][:3]]
    assert places == [published[:2], [published[2], "0"], ["0", "0"]]
    assert batch["proofs"][3]["volume"] == ["5", "0"] == batch["volume"]
    for before, after in zip(batch["proofs"], batch["proofs"][1:], strict=False):
        assert before["roots_after"] == after["roots_before"]
    assert batch["proofs"][-1]["roots_after"] == batch["roots_after"]


def test_operator_state_after_the_batch(slots_ledger: SlotsLedger) -> None:
    op = slots_ledger.operator
    alice, bob, carol = (op.account_state(i) for i in (1, 2, 3))
    assert (alice.positions, bob.positions, carol.positions) == ((5, 0), (-3, 0), (-2, 0))
    assert alice.nonce == 1  # one withdrawal
    # The funding entry's indices are what every later statement settled to.
    indices = tuple(int(f) for f in slots_ledger.entry(FUNDING)["indices"])
    assert indices == op.funding_indices and min(indices) > 0
    # Alice's withdrawal settled her funding (checkpoints = indices); bob and
    # carol were not touched since: their payment is still owed (received).
    assert alice.checkpoints == indices
    assert bob.checkpoints == carol.checkpoints == (0, 0)
    assert bob.funding_payment(indices) == -3 * indices[0]
    assert carol.funding_payment(indices) == -2 * indices[0]
    settled = sum(r.balance - r.funding_payment(indices) for r in op.book.records.values())
    assert settled == op.total_collateral == 255_000  # funding moves money, never creates it
    statuses = [op.order_status(i) for i in range(4)]
    assert statuses == [(5, False), (3, False), (2, False), (0, True)]
    held = op.accepted[3]
    # Cancelled before any batch placed it: the batch executed only the cancel (no place op).
    assert held.cancelled and not held.placed
    # The book's slot holds the cancelled order with filled = size: it can never fill.
    _, content = op.book.slot_of(3, 3)
    assert content is not None and content.filled == 1
    assert op.roots.account == int(slots_ledger.entry(SOLVENCY)["account_root"])


@pytest.fixture
def fresh(slots_ledger: SlotsLedger) -> Iterator[tuple[Any, SlotsLedger]]:
    """A deep copy of the operator (refusals must leave the account root as it was)."""
    op = copy.deepcopy(slots_ledger.operator)
    root = op.roots
    yield op, slots_ledger
    assert op.roots == root


def _signed(built: SlotsLedger, name: str, order: SlottedOrder) -> tuple[SlottedOrder, Any]:
    return order, built.keys[name].sign(order_hash(built.tags.order, order))


def test_order_with_a_bad_signature_is_refused(fresh: tuple[Any, SlotsLedger]) -> None:
    op, built = fresh
    order = SlottedOrder(1, 2, 0, BUY, 1, 90, 10**6, salt=5)
    length = len(op.ledger)
    with pytest.raises(RejectedOrder, match="signature rejected"):
        op.submit_order(order, built.keys["bob"].sign(order_hash(built.tags.order, order)))
    assert len(op.ledger) == length


def test_cancel_refusals(fresh: tuple[Any, SlotsLedger]) -> None:
    op, built = fresh
    tags, keys = built.tags, built.keys
    length = len(op.ledger)

    def cancel(name: str, order: str, signer: str | None = None) -> None:
        h = order_hash(tags.order, built.orders[order])
        op.cancel(h, keys[signer or name].sign(cancel_order_message(tags.cancel, h)))

    with pytest.raises(UnknownOrder):
        op.cancel(12345, keys["alice"].sign(cancel_order_message(tags.cancel, 12345)))
    with pytest.raises(OrderConflict, match="already filled"):
        cancel("bob", "bob_sell")
    with pytest.raises(OrderConflict, match="already cancelled"):
        cancel("carol", "carol_cancelled")
    with pytest.raises(SignatureRejected):
        cancel("alice", "alice_buy", signer="bob")
    assert len(op.ledger) == length


def test_order_ids_that_cannot_enter_their_slot(fresh: tuple[Any, SlotsLedger]) -> None:
    op, built = fresh
    length = len(op.ledger)
    # Slot 1 of alice holds id 1 (filled): the same id can never be used again.
    with pytest.raises(RejectedOrder, match="already used"):
        op.submit_order(*_signed(built, "alice", SlottedOrder(1, 1, 0, BUY, 1, 90, 10**6, salt=7)))
    # A newer id may replace the finished order (5 mod 4 = slot 1): intake accepts it.
    op.validate_order(*_signed(built, "alice", SlottedOrder(1, 5, 0, BUY, 1, 90, 10**6, salt=8)))
    assert len(op.ledger) == length
    # Slot 2: id 6 is live; then the older id 2 can never enter, a newer id 10 must wait.
    op.submit_order(*_signed(built, "alice", SlottedOrder(1, 6, 0, BUY, 1, 90, 10**6, salt=9)))
    assert len(op.ledger) == length + 1
    with pytest.raises(RejectedOrder, match="older id 2 can never enter"):
        op.submit_order(*_signed(built, "alice", SlottedOrder(1, 2, 0, BUY, 1, 90, 10**6, salt=1)))
    with pytest.raises(RejectedOrder, match="still holds live order id 6"):
        op.submit_order(*_signed(built, "alice", SlottedOrder(1, 10, 0, BUY, 1, 90, 10**6, salt=2)))
    assert len(op.ledger) == length + 1


def test_cancel_of_an_order_a_newer_accepted_order_replaces(fresh: tuple[Any, SlotsLedger]) -> None:
    """Once a newer id is accepted for the slot, the old order's cancel is 409: the next batch
    places the newer order first, so the cancel could never be executed (every batch would halt)."""
    op, built = fresh
    key = built.keys["alice"]
    old = SlottedOrder(1, 2, 0, BUY, 1, 90, 2000, salt=3)
    op.submit_order(*_signed(built, "alice", old))
    op._clock = lambda: 3000  # the old order expired: its slot may take a newer id
    op.submit_order(*_signed(built, "alice", SlottedOrder(1, 6, 0, BUY, 1, 90, 10**6, salt=4)))
    length = len(op.ledger)
    h = order_hash(built.tags.order, old)
    with pytest.raises(OrderConflict, match="newer order took its slot"):
        op.cancel(h, key.sign(cancel_order_message(built.tags.cancel, h)))
    assert len(op.ledger) == length and op.pending_cancels == []


def test_withdraw_with_a_bad_signature_changes_nothing(fresh: tuple[Any, SlotsLedger]) -> None:
    op, built = fresh
    length = len(op.ledger)
    nonce = op.account_state(1).nonce
    bad = built.keys["bob"].sign(withdraw_message(built.tags.withdraw, 1, 10, nonce))
    with pytest.raises(SignatureRejected):
        op.withdraw(1, 10, bad)
    assert len(op.ledger) == length


def test_funding_rules_are_kept(fresh: tuple[Any, SlotsLedger]) -> None:
    op, _ = fresh
    length = len(op.ledger)
    report = op.latest_report
    with pytest.raises(OperatorError, match="less than 3600 s ago"):
        op.update_funding(report)
    late = op.oracle.report(2, NOW + 3601)
    with pytest.raises(OperatorError, match="funding overdue"):
        op.run_batch(late)
    assert len(op.ledger) == length


def test_second_batch_replaces_slots_and_sits_out_a_refused_fill(
    slots_ledger: SlotsLedger,
) -> None:
    """Operator logic of a later batch without proving (stand-in prover): a newer id takes
    a finished order's slot, a reduce-only order that would grow a position sits the
    batch out with the builder's reason, and the batch still fills the others."""
    from verifier.encoding import SELL

    built = slots_ledger
    op = copy.deepcopy(built.operator)
    op._prove_fn = stand_in_prover
    alice_new = SlottedOrder(1, 5, 0, BUY, 2, 120, 10**6, salt=51)  # slot 1: replaces id 1
    bob_grow = SlottedOrder(2, 2, 0, SELL, 1, 80, 10**6, reduce_only=True, salt=52)
    carol_sell = SlottedOrder(3, 6, 0, SELL, 1, 85, 10**6, salt=53)  # slot 2: replaces id 2
    first = len(op.accepted)
    for name, order in (("alice", alice_new), ("bob", bob_grow), ("carol", carol_sell)):
        op.submit_order(*_signed(built, name, order))
    summary = op.run_batch(op.oracle.report(2, NOW + 10))
    # Bob is short 3: a reduce-only sell would grow that, so only carol's lot trades.
    assert [(f.buy_index, f.sell_index, f.quantity) for f in summary.fills] == [
        (first, first + 2, 1)
    ]
    assert "reduce-only" in op.order_reasons[first + 1]
    assert [p["statement"] for p in summary.entry.body["proofs"]] == [
        "order_ops",
        "order_ops",
        "settle_fills",
    ]
    assert op.accepted[0].replaced and op.accepted[2].replaced  # ids 1 and 2 left their slots
    _, content = op.book.slot_of(1, 5)
    assert content is not None and (content.order_id, content.filled) == (5, 1)
    assert op.account_state(2).positions == (-3, 0)  # bob did not trade
    assert op.order_status(first + 1) == (0, False)  # still open for a later batch
