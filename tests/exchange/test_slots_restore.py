"""The slots operator's service interface: intake with a pending queue, views, dead unplaced orders.

Everything runs on deep copies of the session's honest slots ledger
(tests/exchange/slots_ledger.py, real proofs). Tests that only need the
operator's logic prove with a stand-in (public signals read back from the
witness, no Groth16 proof); the restore tests prove the next batch for real
and replay the exported ledger with ``verifier.ledger``.
"""

import copy
import json
from typing import Any

import pytest

from exchange.operator import DuplicateOrder, OperatorError, RejectedOrder, SignatureRejected
from exchange.operator.slots import OrderConflict, UnknownOrder
from tests.exchange.slots_ledger import NOW, SOLVENCY, SlotsLedger, stand_in_prover
from tests.verifier.ledger_files import OPERATOR_KEY, replay
from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
from verifier.encoding import BUY, SELL
from verifier.inclusion_slots import parse_slots_opening
from verifier.quadtree import quad_root

pytestmark = pytest.mark.slow

ALICE, BOB, CAROL = 1, 2, 3


def copied(built: SlotsLedger) -> Any:
    """A deep copy of the ledger's operator that proves with the stand-in."""
    op = copy.deepcopy(built.operator)
    op._prove_fn = stand_in_prover
    return op


def signed(built: SlotsLedger, order: SlottedOrder) -> tuple[SlottedOrder, Any]:
    owner = {ALICE: "alice", BOB: "bob", CAROL: "carol"}[order.account]
    return order, built.keys[owner].sign(order_hash(built.tags.order, order))


def cancel_signature(built: SlotsLedger, name: str, order: SlottedOrder) -> Any:
    h = order_hash(built.tags.order, order)
    return built.keys[name].sign(cancel_order_message(built.tags.cancel, h))


# ---------------------------------------------------------------- intake


def test_pending_orders_count_for_duplicates_slots_and_margin(slots_ledger: SlotsLedger) -> None:
    op = copied(slots_ledger)
    length = len(op.ledger)
    first = SlottedOrder(ALICE, 6, 0, BUY, 1, 90, 10**6, salt=60)  # slot 2
    h = op.validate_order(*signed(slots_ledger, first))
    queue = [(first, h)]
    with pytest.raises(DuplicateOrder):
        op.validate_order(*signed(slots_ledger, first), pending=queue)
    # Id 10 is slot 2 as well: free on the ledger, taken by the queued id 6.
    same_slot = SlottedOrder(ALICE, 10, 0, BUY, 1, 90, 10**6, salt=61)
    op.validate_order(*signed(slots_ledger, same_slot))
    with pytest.raises(RejectedOrder, match="still holds live order id 6"):
        op.validate_order(*signed(slots_ledger, same_slot), pending=queue)
    # Two big buys: each fits alice's margin alone, not with the other queued.
    big = [SlottedOrder(ALICE, i, 0, BUY, 12_000, 100, 10**6, salt=70 + i) for i in (7, 8)]
    h7 = op.validate_order(*signed(slots_ledger, big[0]))
    op.validate_order(*signed(slots_ledger, big[1]))
    with pytest.raises(RejectedOrder, match="insufficient margin"):
        op.validate_order(*signed(slots_ledger, big[1]), pending=[*queue, (big[0], h7)])
    # Another account's queued order does not count for alice.
    bob = SlottedOrder(BOB, 7, 0, SELL, 1, 90, 10**6, salt=62)
    op.validate_order(*signed(slots_ledger, bob), pending=[(big[0], h7)])
    assert len(op.ledger) == length  # validation changes nothing

    index = op.append_order(first, signed(slots_ledger, first)[1], h)
    assert index == len(op.accepted) - 1 == 4 and op.commitments[index] == h
    entry = op.ledger.entries[-1]
    assert (entry.kind, entry.body["order_index"], entry.body["commitment"]) == (
        "order",
        4,
        str(h),
    )
    with pytest.raises(DuplicateOrder):
        op.append_order(first, signed(slots_ledger, first)[1], h)
    # append re-checks the slot against appended orders.
    h10 = order_hash(slots_ledger.tags.order, same_slot)
    with pytest.raises(RejectedOrder, match="still holds live order id 6"):
        op.append_order(same_slot, signed(slots_ledger, same_slot)[1], h10)
    assert len(op.ledger) == length + 1
    # Appended, the big buy holds margin as an open order of alice's.
    op.append_order(big[0], signed(slots_ledger, big[0])[1], h7)
    with pytest.raises(RejectedOrder, match="insufficient margin"):
        op.validate_order(*signed(slots_ledger, big[1]))


def test_views(slots_ledger: SlotsLedger) -> None:
    op = slots_ledger.operator
    tags = slots_ledger.tags
    names = ("alice_buy", "bob_sell", "carol_sell", "carol_cancelled")
    published = [int(slots_ledger.entry(6 + i)["commitment"]) for i in range(4)]
    assert op.commitments == published
    assert published == [order_hash(tags.order, slots_ledger.orders[n]) for n in names]
    assert [op.order_terms(i) for i in range(4)] == [slots_ledger.orders[n] for n in names]
    for bad in (4, -1, True):
        with pytest.raises(UnknownOrder):
            op.order_terms(bad)
    assert op.account_root == int(slots_ledger.entry(SOLVENCY)["account_root"])
    assert op.accounts[ALICE] == op.account_state(ALICE)
    with pytest.raises(TypeError):
        op.accounts[ALICE] = op.accounts[BOB]
    opening = parse_slots_opening(op.inclusion_opening(CAROL))
    assert opening.record == op.account_state(CAROL) and opening.root == op.account_root
    leaf = op.account_state(CAROL).leaf()
    assert quad_root(leaf, CAROL, opening.siblings) == op.account_root


def test_cancel_by_index(slots_ledger: SlotsLedger) -> None:
    op = copied(slots_ledger)
    order = SlottedOrder(ALICE, 6, 0, BUY, 1, 90, 10**6, salt=63)
    index = op.submit_order(*signed(slots_ledger, order))
    length = len(op.ledger)
    with pytest.raises(SignatureRejected):
        op.check_cancel_signature(index, cancel_signature(slots_ledger, "bob", order))
    with pytest.raises(UnknownOrder):
        op.check_cancel_signature(99, cancel_signature(slots_ledger, "alice", order))
    good = cancel_signature(slots_ledger, "alice", order)
    op.check_cancel_signature(index, good)
    assert len(op.ledger) == length
    op.cancel_index(index, good, checked=True)
    assert op.ledger.entries[-1].kind == "cancel" and op.order_status(index) == (0, True)
    assert op.holds_slot(index)  # until a batch executes the cancel
    assert not any(op.holds_slot(i) for i in range(4))  # filled, filled, filled, cancelled
    assert op.pending_cancels == [index]
    with pytest.raises(OrderConflict, match="already cancelled"):
        op.cancel_index(index, good)


# ---------------------------------------------------------------- dead unplaced orders


def test_orders_that_die_before_a_batch_cost_no_proof_and_free_their_slot(
    slots_ledger: SlotsLedger,
) -> None:
    """Short-lived orders recycle one slot between batches: expired ones are never placed,
    a cancelled one is executed by its cancel op alone (the verifier requires the cancel)."""
    op = copied(slots_ledger)
    clock = [NOW]
    op._clock = lambda: clock[0]
    # Alice's slot 2: ids 6, 10, 14, 18, each live 5 s; the next enters once the last expired.
    short = []
    for n, order_id in enumerate((6, 10, 14, 18)):
        order = SlottedOrder(ALICE, order_id, 0, BUY, 1, 90, NOW + 10 * n + 5, salt=80 + n)
        short.append(op.submit_order(*signed(slots_ledger, order)))
        clock[0] += 10
    with pytest.raises(OrderConflict, match="expired"):
        op.cancel_index(
            short[-1], cancel_signature(slots_ledger, "alice", op.order_terms(short[-1]))
        )
    # Bob's order cancelled before any batch placed it.
    assert not op.has_order_ops()  # every order expired before a batch: nothing to prove
    bob = SlottedOrder(BOB, 6, 1, SELL, 1, 70, 10**6, salt=90)
    bob_index = op.submit_order(*signed(slots_ledger, bob))
    assert op.has_order_ops()
    op.cancel_index(bob_index, cancel_signature(slots_ledger, "bob", bob))
    summary = op.run_batch(op.oracle.report(2, clock[0]))
    proofs = summary.entry.body["proofs"]
    h_bob = str(order_hash(slots_ledger.tags.order, bob))
    # One ORDER OPS proof: bob's cancel (no place of it, none of alice's expired orders).
    assert [p["statement"] for p in proofs] == ["order_ops"]
    assert proofs[0]["cancels"] == [h_bob, "0"]
    assert all(op.accepted[i].unplaced and not op.accepted[i].placed for i in short)
    assert not op.holds_slot(bob_index) and not op.holds_slot(short[-1])
    assert op.accepted[bob_index].cancelled and not op.accepted[bob_index].placed
    _, content = op.book.slot_of(ALICE, 6)
    assert content is None  # slot 2 of alice was never written
    _, content = op.book.slot_of(BOB, 6)
    assert content is not None and (content.order_id, content.filled) == (6, 1)  # size 1
    # The freed slot takes a newer id at once; a dead order cannot be cancelled.
    op.submit_order(*signed(slots_ledger, SlottedOrder(ALICE, 22, 0, BUY, 1, 90, 10**6, salt=99)))
    with pytest.raises(OrderConflict, match="never placed"):
        op.cancel_index(
            short[-1], cancel_signature(slots_ledger, "alice", op.order_terms(short[-1]))
        )
    # Carol's short-lived sells in her slot 3 all expire before the next batch: it
    # places only alice's live id 22.
    clock[0] += 10
    for n in range(3):
        order = SlottedOrder(CAROL, 7 + 4 * n, 0, SELL, 1, 500, clock[0] + 5, salt=100 + n)
        op.submit_order(*signed(slots_ledger, order))
        clock[0] += 10
    summary = op.run_batch(op.oracle.report(3, clock[0]))
    statements = [p["statement"] for p in summary.entry.body["proofs"]]
    assert statements == ["order_ops"] and summary.order_ops == 1 and not summary.fills
    assert [h.placed for h in op.accepted[-4:]] == [True, False, False, False]


# ---------------------------------------------------------------- persistence


def stored(op: Any) -> dict[str, Any]:
    """What a service stores for ``op``: entries, the newest row per account, private state,
    orders (the rows as the union of every ``take_dirty`` since genesis would hold them)."""
    from prover.account_book import account_row

    return {
        "entries": [e.to_dict() for e in op.ledger.entries],
        "rows": {i: json.loads(json.dumps(account_row(op.book, i))) for i in op.accounts},
        "private_state": json.loads(json.dumps(op.private_state())),  # stored as JSON
        "orders": {a.commitment: (a.order, a.signature) for a in op.accepted},
    }


def restore(op: Any, pieces: dict[str, Any], **wiring: Any) -> Any:
    from exchange.operator.slots import SlotsOperator

    options: dict[str, Any] = {
        "markets": op.markets,
        "oracle": op.oracle,
        "clock": lambda: NOW,
        "operator_key": OPERATOR_KEY,
        **wiring,
    }
    return SlotsOperator.restore(**options, **pieces)


def order_flags(op: Any) -> list[tuple[Any, ...]]:
    return [
        (a.placed, a.cancel_accepted, a.cancelled, a.replaced, a.unplaced, op.order_status(a.index))
        for a in op.accepted
    ]


@pytest.fixture(scope="module")
def restored(slots_ledger: SlotsLedger) -> tuple[Any, Any]:
    """(original copy, operator restored from what a service stores for it)."""
    op = copy.deepcopy(slots_ledger.operator)
    rows = op.take_dirty()  # never taken: every account
    pieces = stored(op)
    assert pieces["rows"] == rows
    return op, restore(op, pieces)


def test_restore_reproduces_the_operator(restored: tuple[Any, Any]) -> None:
    """After account ops, orders, a cancel, a batch with fills, funding, a withdrawal, solvency."""
    op, back = restored
    assert back.roots == op.roots == back.ledger.roots
    assert dict(back.accounts) == dict(op.accounts)
    assert back.book.slots == op.book.slots
    assert order_flags(back) == order_flags(op)
    assert order_flags(back)[3] == (False, True, True, False, False, (0, True))
    assert back.commitments == op.commitments and back.finished_fills == op.finished_fills
    assert back._in_slot == op._in_slot and back._slot_owner == op._slot_owner
    assert (back.pending_places, back.pending_cancels) == ([], [])
    for name in (
        "funding_indices",
        "funding_timestamp",
        "funding_clock",
        "batches_since_sweep",
        "sweep_clock",
        "last_batch_timestamp",
        "next_batch_id",
        "total_collateral",
        "latest_report",
        "min_deposit",
        "limits",
        "funding_rules",
        "risk_rules",
    ):
        assert getattr(back, name) == getattr(op, name), name
    assert back.take_dirty() == {}  # the rows it came from are stored already


def test_restored_operator_runs_the_next_batch_and_the_ledger_replays(
    restored: tuple[Any, Any], slots_ledger: SlotsLedger, tmp_path: Any
) -> None:
    back = copy.deepcopy(restored[1])
    alice = SlottedOrder(ALICE, 5, 0, BUY, 2, 120, 10**6, salt=51)  # slot 1: replaces id 1
    carol = SlottedOrder(CAROL, 6, 0, SELL, 1, 85, 10**6, salt=53)  # slot 2: replaces id 2
    first = back.submit_order(*signed(slots_ledger, alice))
    back.submit_order(*signed(slots_ledger, carol))
    summary = back.run_batch(back.oracle.report(2, NOW + 10))
    assert [(f.buy_index, f.sell_index, f.quantity) for f in summary.fills] == [
        (first, first + 1, 1)
    ]
    assert back.accepted[0].replaced and back.accepted[2].replaced
    assert set(back.take_dirty()) == {0, ALICE, CAROL}  # fee account, the two traders
    report = replay(back.export(tmp_path / "export"))
    assert report.ok, report.failures
    assert report.checked_to == len(back.ledger) - 1


def test_restore_accepts_orders_appended_after_the_private_state(slots_ledger: SlotsLedger) -> None:
    op = copy.deepcopy(slots_ledger.operator)
    pieces = stored(op)
    index = op.submit_order(*signed(slots_ledger, SlottedOrder(BOB, 6, 0, SELL, 1, 90, 10**6)))
    pieces["entries"] = [e.to_dict() for e in op.ledger.entries]
    pieces["orders"] = {a.commitment: (a.order, a.signature) for a in op.accepted}
    back = restore(op, pieces)
    assert back.pending_places == [index] and back.order_terms(index) == op.order_terms(index)


def test_take_dirty_names_the_touched_accounts(slots_ledger: SlotsLedger) -> None:
    from prover.account_book import account_row

    op = copied(slots_ledger)
    assert set(op.take_dirty()) == {0, ALICE, BOB, CAROL}  # never taken: every account
    assert op.take_dirty() == {}
    op.deposit(CAROL, 10)
    assert op.take_dirty() == {CAROL: account_row(op.book, CAROL)}
    op.submit_order(*signed(slots_ledger, SlottedOrder(BOB, 6, 0, SELL, 1, 90, 10**6)))
    assert op.take_dirty() == {}  # intake changes no account


def test_restore_refusals(slots_ledger: SlotsLedger) -> None:
    from oracle.signer import OracleSigner
    from verifier.eddsa import PrivateKey

    op = copy.deepcopy(slots_ledger.operator)
    good = stored(op)

    def refused(match: str, pieces: dict[str, Any] | None = None, **wiring: Any) -> None:
        with pytest.raises(OperatorError, match=match) as info:
            restore(op, good if pieces is None else pieces, **wiring)
        assert "\n" not in str(info.value)

    tampered = copy.deepcopy(good)
    tampered["rows"][BOB]["balance"] = str(int(tampered["rows"][BOB]["balance"]) + 1)
    refused("rebuilt account root is not the expected root", tampered)
    missing = copy.deepcopy(good)
    del missing["rows"][CAROL]
    refused("rebuilt account root is not the expected root", missing)
    refused("not signed by this operator's key", operator_key=PrivateKey(b"\x07" * 32))
    other = OracleSigner(op.oracle.feed, slots_ledger.tags.oracle, key=PrivateKey(b"\x08" * 32))
    refused("oracle key differs", oracle=other)
    no_order = copy.deepcopy(good)
    del no_order["orders"][op.commitments[2]]
    refused("order entry 8 has no stored order", no_order)
    stale = copy.deepcopy(good)
    stale["private_state"]["ledger_index"] = 12  # before the withdrawal (entry 13)
    refused(r"entry 13 \(account_op\) is newer than the private state", stale)
    # A pending cancel needs its signature (the next batch executes it).
    live = copy.deepcopy(op)
    order = SlottedOrder(BOB, 6, 0, SELL, 1, 90, 10**6)
    index = live.submit_order(*signed(slots_ledger, order))
    live.cancel_index(index, cancel_signature(slots_ledger, "bob", order))
    unsigned = stored(live)
    assert restore(live, copy.deepcopy(unsigned)).pending_cancels == [index]
    unsigned["private_state"]["cancel_signatures"] = {}
    refused(f"pending cancel of order {index} has no stored signature", unsigned)
