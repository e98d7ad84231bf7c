"""The batcher's live orders under slots: read from the used slots, O(used slots) per tick.

``SlotsOperator.live_orders(now)`` (what ``Jobs._live_orders`` asks every
batcher tick) must equal the old definition, a scan of every order ever
accepted (not cancelled, not finished unplaced, not filled, not expired),
while inspecting only one order per used slot. The operator runs with the
stand-in prover (public signals, no proof): operator logic only, no key or
proof work.
"""

import copy
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.domain.matching import may_cross
from tests.clock import ManualClock
from tests.exchange.slots_ledger import NOW, slots_operator, stand_in_prover
from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
from verifier.encoding import BUY, SELL
from verifier.protocol import is_expired

BATCH_AT = NOW + 10


def every_order_scan(op: Any, now: int) -> list[SlottedOrder]:
    """The old definition: every order ever accepted, in acceptance order."""
    return [
        held.order
        for held in op.accepted
        if not held.cancel_accepted
        and not held.unplaced
        and op.orders.get(held.index).filled < held.order.size
        and not is_expired(held.order.expiry, now)
    ]


class World:
    """An operator after one stand-in batch, and what submits / cancels its orders."""

    def __init__(self) -> None:
        op, tags, keys = slots_operator(prove=stand_in_prover)
        op._clock = self.clock = ManualClock(NOW)
        self.op, self.tags, self.keys = op, tags, keys
        self.owner = {}
        for name in ("alice", "bob", "carol"):
            self.owner[op.open_account(keys[name].public_key(), 100_000)] = name
        self.next_id = dict.fromkeys(self.owner, 1)

    def submit(self, account: int, side: int, size: int, limit: int, expiry: int) -> int | None:
        """Submit the account's next order id; the sequence number, or None if refused."""
        order = SlottedOrder(account, self.next_id[account], 0, side, size, limit, expiry, salt=7)
        self.next_id[account] += 1
        h = order_hash(self.tags.order, order)
        try:
            return int(self.op.submit_order(order, self.keys[self.owner[account]].sign(h)))
        except Exception as exc:  # refused at intake (slot busy, margin): nothing changed
            assert type(exc).__name__ in ("RejectedOrder", "DuplicateOrder"), exc
            return None

    def cancel(self, index: int) -> bool:
        held = self.op.accepted[index]
        message = cancel_order_message(self.tags.cancel, held.commitment)
        try:
            self.op.cancel_index(index, self.keys[self.owner[held.order.account]].sign(message))
        except Exception as exc:  # already cancelled / filled / finished
            assert type(exc).__name__ == "OrderConflict", exc
            return False
        return True


@pytest.fixture(scope="module")
def world() -> World:
    """alice buys 5 @ 100 (3 fill: 2 left), bob sells 3 @ 90 (filled), alice buys 1 @ 50
    until 1050, carol sells 1 @ 200 then cancels it (executed by the batch), carol buys
    1 @ 10 until 1005 (expired unplaced at the batch)."""
    w = World()
    a, b, c = sorted(w.owner)
    w.submit(a, BUY, 5, 100, 10**6)
    w.submit(b, SELL, 3, 90, 10**6)
    w.submit(a, BUY, 1, 50, NOW + 50)
    cancelled = w.submit(c, SELL, 1, 200, 10**6)
    assert cancelled is not None and w.cancel(cancelled)
    w.submit(c, BUY, 1, 10, NOW + 5)
    w.clock.now = BATCH_AT
    report = w.op.oracle.sign(1, BATCH_AT, (100, 50))
    w.op.observe(report)
    assert [f.quantity for f in w.op.run_batch(report).fills] == [3]
    return w


def test_live_orders_after_fills_cancels_and_expiry(world: World) -> None:
    op = world.op
    a, _, _ = sorted(world.owner)
    held = {h.index: h for h in op.accepted}
    assert held[3].cancelled and held[4].unplaced  # the cancel ran; the expired one never placed
    live = op.live_orders(BATCH_AT)
    assert [(o.account, o.order_id, o.limit_price) for o in live] == [(a, 1, 100), (a, 2, 50)]
    assert live == every_order_scan(op, BATCH_AT)
    assert not may_cross(live)  # alice's own buys: no batch is due
    assert [o.order_id for o in op.live_orders(NOW + 51)] == [1]  # alice's id 2 expired


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    actions=st.lists(
        st.tuples(
            st.sampled_from(["order", "cancel", "wait"]),
            st.integers(0, 2),  # account
            st.sampled_from([BUY, SELL]),
            st.integers(1, 120),  # limit price / seconds to wait / order to cancel
            st.integers(1, 60),  # time to live
        ),
        max_size=30,
    )
)
def test_live_orders_equal_the_every_order_scan(
    world: World, actions: list[tuple[str, int, int, int, int]]
) -> None:
    """Orders, cancels and time passing (expiry, slot reuse): the slot read and the scan
    of every order ever accepted agree at every step."""
    w = copy.deepcopy(world)
    accounts = sorted(w.owner)
    for kind, account, side, n, ttl in actions:
        if kind == "order":
            w.submit(accounts[account], side, 1, n, w.clock.now + ttl)
        elif kind == "cancel":
            w.cancel(n % len(w.op.accepted))
        else:
            w.clock.now += n
        assert w.op.live_orders(w.clock.now) == every_order_scan(w.op, w.clock.now)


class CountingList(list[Any]):
    """``op.accepted`` that counts the orders read from it (by index or by iteration)."""

    reads = 0

    def __getitem__(self, i: Any) -> Any:
        self.reads += 1
        return super().__getitem__(i)

    def __iter__(self) -> Any:
        self.reads += len(self)
        return super().__iter__()


def test_live_orders_read_one_order_per_used_slot(world: World) -> None:
    """60 more orders of bob and carol over time, each expiring before its slot's next id:
    the tick reads one order per used slot (at most 3 accounts x 4 slots), not the 65
    ever accepted."""
    w = copy.deepcopy(world)
    accounts = sorted(w.owner)[1:]  # (alice's id 1 keeps slot 1 live)
    rng = random.Random(5)
    for _ in range(60):
        w.clock.now += 31
        assert w.submit(rng.choice(accounts), BUY, 1, 10, w.clock.now + 30) is not None
    op = w.op
    used_slots = sum(len(owners) for owners in op._slot_owner.values())
    assert used_slots <= 12 < len(op.accepted) == 65
    op.accepted = CountingList(op.accepted)
    live = op.live_orders(w.clock.now)
    assert op.accepted.reads == used_slots
    assert live == every_order_scan(op, w.clock.now)  # (the scan reads all 65)
    assert len(live) == 2  # alice's 2 lots left at 100, and the order just submitted
