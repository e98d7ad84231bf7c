"""The slots operator's service interface: intake with a pending queue, views, dead unplaced orders.

Everything runs on deep copies of the session's honest slots ledger
(tests/exchange/slots_ledger.py, real proofs). Tests that only need the
operator's logic prove with a stand-in (public signals read back from the
witness, no Groth16 proof); the restore tests prove the next batch for real
and replay the exported ledger with ``verifier.ledger``.
"""

import copy
from typing import Any

import pytest

from exchange.operator import DuplicateOrder, RejectedOrder, SignatureRejected
from exchange.operator.slots import OrderConflict, UnknownOrder
from tests.exchange.slots_ledger import NOW, SOLVENCY, SlotsLedger, stand_in_prover
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
    bob = SlottedOrder(BOB, 6, 1, SELL, 1, 70, 10**6, salt=90)
    bob_index = op.submit_order(*signed(slots_ledger, bob))
    op.cancel_index(bob_index, cancel_signature(slots_ledger, "bob", bob))
    summary = op.run_batch(op.oracle.report(2, clock[0]))
    proofs = summary.entry.body["proofs"]
    h_bob = str(order_hash(slots_ledger.tags.order, bob))
    # One ORDER OPS proof: bob's cancel (no place of it, none of alice's expired orders).
    assert [p["statement"] for p in proofs] == ["order_ops"]
    assert proofs[0]["cancels"] == [h_bob, "0"]
    assert all(op.accepted[i].unplaced and not op.accepted[i].placed for i in short)
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
