"""Intake of the slots operator: orders and signed cancels, each one ledger entry.

An accepted order gets an ``order`` entry (its sequence number and
commitment ``h``; no root changes) and waits to be placed in its slot by the
next batch's ORDER OPS proofs. An accepted cancel gets a ``cancel`` entry and
stops the order from matching at once; the next batch executes it (the
order's slot is set to filled = size) before any fill, which the verifier
checks (``verifier.batch_chain``).

Slot rule at intake (so that every ORDER OPS place of the next batch can be
proven): order ``id`` enters slot ``id mod 4^slot_levels`` of its account only
if the slot is free, or holds an older id that is finished — fully filled,
cancelled by an executed cancel, or expired. An id equal to or older than the
slot's newest id can never enter (HTTP 422, like any refused order).

Nothing here proves; every check is the one the circuit or the verifier makes
later, so an accepted order or cancel never halts a batch.
"""

import re
from collections.abc import Sequence

from exchange.domain import AccountEntry, RestingOrder, intake_range_problem, pre_trade_margin_ok
from exchange.operator.common import (
    DuplicateOrder,
    RejectedOrder,
    SignatureRejected,
    UnknownAccount,
)
from exchange.operator.slots.state import (
    AcceptedOrder,
    OrderConflict,
    SlotsState,
    domain_order,
)
from verifier.account_state import (
    AccountRecord,
    SlottedOrder,
    cancel_order_message,
    order_hash,
)
from verifier.babyjub import Point
from verifier.eddsa import Signature, SignatureError, check_signature
from verifier.field import FieldError
from verifier.protocol import FEE_ACCOUNT, is_expired

__all__ = ["SlotsIntake", "op_number"]


def op_number(message: str) -> int | None:
    """The op a witness builder's one-line error names (``"op 3: ..."``), if any."""
    found = re.match(r"op (\d+)\b", message)
    return int(found.group(1)) if found else None


class SlotsIntake(SlotsState):
    """``validate_order`` / ``append_order`` / ``submit_order`` and signed cancels."""

    def settled_entry(self, record: AccountRecord) -> AccountEntry:
        """Balance after funding to the current indices, and positions: what margin reads."""
        return AccountEntry(
            record.balance - record.funding_payment(self.funding_indices), record.positions
        )

    def submit_order(self, order: SlottedOrder, signature: Signature) -> int:
        """Validate and accept an order (owner's signature over ``h``); returns its sequence number.

        Raises UnknownAccount, DuplicateOrder or RejectedOrder (one-line
        reason) and then changes nothing.
        """
        commitment = self.validate_order(order, signature)
        return self.append_order(order, signature, commitment)

    def validate_order(
        self,
        order: SlottedOrder,
        signature: Signature,
        *,
        pending: Sequence[tuple[SlottedOrder, int]] = (),
    ) -> int:
        """Every intake check of ``submit_order`` without changing anything; returns ``h``.

        ``pending`` are (order, commitment) pairs accepted but not yet appended
        (the service queues them while a batch proves), in acceptance order:
        they count for duplicates, for the slot rule (the newest order for a
        slot, appended or pending, must be finished) and for the account's
        open orders in the margin check.
        """
        p = self.params
        account = order.account
        record = None
        if isinstance(account, int) and not isinstance(account, bool):
            record = self.book.records.get(account)
        if record is None:
            raise UnknownAccount(f"account {account} does not exist")
        if account == FEE_ACCOUNT:
            raise RejectedOrder("the insurance account does not trade")
        try:
            order.check_ranges(p.markets, p.account_depth)
            commitment = order_hash(self.tags.order, order)
        except (FieldError, TypeError) as exc:
            raise RejectedOrder(str(exc)) from None
        now = self._clock()
        if is_expired(order.expiry, now):
            raise RejectedOrder(f"order expired at {order.expiry} (now {now})")
        try:
            check_signature(commitment, signature, Point(record.pub_x, record.pub_y))
        except SignatureError as exc:
            raise RejectedOrder(f"signature rejected: {exc}") from None
        if commitment in self._by_commitment or any(h == commitment for _, h in pending):
            raise DuplicateOrder("duplicate order: this commitment was already accepted")
        problem = self._slot_problem(order, now, pending)
        if problem is not None:
            raise RejectedOrder(problem)
        if self.latest_report is not None:
            marks = list(self.latest_report.prices)
        else:
            # Before the first report nobody holds a position: only this order's
            # market needs a price, and its limit is the worst it can trade at.
            marks = [0] * p.markets
            marks[order.market] = order.limit_price
        # An expired order never trades again, so it holds no margin.
        own = [r for r in self.orders.open_orders(account) if not is_expired(r.order.expiry, now)]
        # Queued orders get the sequence numbers they will have (only their terms matter).
        own += [
            RestingOrder(index=len(self.accepted) + k, order=domain_order(o), commitment=h)
            for k, (o, h) in enumerate(pending)
            if o.account == account
        ]
        entry = self.settled_entry(record)
        as_domain = domain_order(order)
        problem = intake_range_problem(entry, as_domain, self.markets, open_orders=own)
        if problem is not None:
            raise RejectedOrder(problem)
        if not pre_trade_margin_ok(entry, as_domain, marks, self.markets, open_orders=own):
            raise RejectedOrder(
                f"insufficient margin: account {account} would be below initial margin "
                "if its open orders filled"
            )
        return commitment

    def append_order(self, order: SlottedOrder, signature: Signature, commitment: int) -> int:
        """Append an order ``validate_order`` accepted: its ``order`` entry; returns its sequence number.

        Only uniqueness and the slot rule (against appended orders) are
        checked again: an order the service accepted while a batch was
        proving is appended after it even if the batch moved the marks (every
        fill re-checks margin). Raises DuplicateOrder or RejectedOrder.
        """
        if commitment in self._by_commitment:
            raise DuplicateOrder("duplicate order: this commitment was already accepted")
        problem = self._slot_problem(order, self._clock())
        if problem is not None:
            raise RejectedOrder(problem)
        index = len(self.accepted)
        roots = self.roots
        self.ledger.append(
            "order",
            roots,
            roots,
            {"order_index": index, "commitment": str(commitment)},
            time=self._entry_time(None),
        )
        self._accept(AcceptedOrder(index, order, commitment, signature))
        self.pending_places.append(index)
        return index

    def _accept(self, held: AcceptedOrder) -> None:
        """Index an accepted order (its ``order`` entry exists): by commitment, slot, domain book."""
        self.accepted.append(held)
        self._by_commitment[held.commitment] = held.index
        owners = self._slot_owner.setdefault(held.order.account, {})
        owners[self.slot_number(held.order)] = held.index
        self.orders.add(domain_order(held.order), held.commitment)

    def _slot_problem(
        self, order: SlottedOrder, now: int, pending: Sequence[tuple[SlottedOrder, int]] = ()
    ) -> str | None:
        """Why ``order`` cannot enter its slot (None if it can).

        The slot's newest order is the last pending one for it, else the
        newest appended one; a pending order is finished only once expired.
        """
        slot = self.slot_number(order)
        key = (order.account, slot)
        queued = [o for o, _ in pending if (o.account, self.slot_number(o)) == key]
        if queued:
            held_id, finished = queued[-1].order_id, is_expired(queued[-1].expiry, now)
        else:
            owner = self._slot_owner.get(order.account, {}).get(slot)
            if owner is None:
                return None
            held = self.accepted[owner]
            held_id, finished = held.order.order_id, self._finished(held, now)
            if not finished and held.cancel_accepted and order.order_id > held_id:
                return (
                    f"slot {slot} holds order id {held_id}, whose cancel waits for the next "
                    "batch to execute it: retry after that batch (or use an id in another slot)"
                )
        if order.order_id == held_id:
            return f"order id {held_id} is already used by this account (slot {slot})"
        if order.order_id < held_id:
            return (
                f"slot {slot} holds order id {held_id}: the older id {order.order_id} "
                "can never enter it (use a larger order id)"
            )
        if not finished:
            return (
                f"slot {slot} still holds live order id {held_id}: cancel it, or wait until "
                "it fills or expires (or use an id in another slot)"
            )
        return None

    def _open_orders(self, account: int, now: int) -> list[RestingOrder]:
        """The account's orders that could still trade, in time priority: O(its slots).

        Each is its slot's newest order (a newer id enters a slot only once
        the older order is finished); an expired order never trades again,
        so it holds no margin.
        """
        newest = sorted(self._slot_owner.get(account, {}).values())
        return [
            r
            for r in (self.orders.get(i) for i in newest)
            if r.is_open and not is_expired(r.order.expiry, now)
        ]

    def live_orders(self, now: int) -> list[SlottedOrder]:
        """Every accepted order that could still trade at unix time ``now``: O(used slots).

        Live = not cancelled (cancel accepted), not finished unplaced, not
        fully filled, not expired. Each live order is its slot's newest
        accepted order: a newer id enters a slot only once the older order
        is finished (filled, expired, cancelled or unplaced), and finished
        orders stay finished. So the scan reads one order per used slot, not
        every order ever accepted (the batcher asks every tick:
        ``exchange.service.jobs``), in time priority.
        """
        live: list[SlottedOrder] = []
        for index in sorted(i for owners in self._slot_owner.values() for i in owners.values()):
            held = self.accepted[index]
            if held.cancel_accepted or held.unplaced or is_expired(held.order.expiry, now):
                continue
            if self.orders.get(index).is_open:
                live.append(held.order)
        return live

    def _owner_of_slot(self, held: AcceptedOrder) -> int | None:
        """Sequence number of the newest order accepted for ``held``'s slot."""
        return self._slot_owner.get(held.order.account, {}).get(self.slot_number(held.order))

    def holds_slot(self, order_index: int) -> bool:
        """Order ``order_index`` still keeps its slot from a newer id (not finished now).

        True while it is live or its cancel waits for the next batch; False
        once filled, expired, cancelled by a batch, replaced or never placed.
        UnknownOrder if there is no such order.
        """
        return not self._finished(self.held(order_index), self._clock())

    def _finished(self, held: AcceptedOrder, now: int) -> bool:
        """The slot's order can be replaced: cancel executed, or (no cancel waiting) filled or expired.

        A cancel accepted but not yet executed keeps the slot busy: the next
        batch places new orders before it executes cancels.
        """
        if held.cancelled or held.unplaced:
            return True
        if held.cancel_accepted:
            return False
        r = self.orders.get(held.index)
        return r.remaining == 0 or is_expired(held.order.expiry, now)

    def check_cancel_signature(self, order_index: int, signature: Signature) -> None:
        """Raise SignatureRejected unless the owner signed Poseidon(CANCEL_TAG, h) of the order.

        UnknownOrder (404) if no order has this sequence number.
        """
        held = self.held(order_index)
        record = self.account_state(held.order.account)
        message = cancel_order_message(self.tags.cancel, held.commitment)
        try:
            check_signature(message, signature, Point(record.pub_x, record.pub_y))
        except SignatureError as exc:
            raise SignatureRejected(f"cancel signature rejected: {exc}") from None

    def cancel(self, commitment: int, signature: Signature) -> None:
        """``cancel_index`` of the accepted order with commitment ``h`` (UnknownOrder if none)."""
        self.cancel_index(self.accepted_order(commitment).index, signature)

    def cancel_index(
        self, order_index: int, signature: Signature, *, checked: bool = False
    ) -> None:
        """Accept the owner's cancel of order ``order_index``; one ``cancel`` entry.

        The signature is over Poseidon(CANCEL_TAG, h); ``checked=True``: the
        caller has just run ``check_cancel_signature`` under the same lock.
        Raises UnknownOrder (404), SignatureRejected, or OrderConflict (409:
        already cancelled, filled, expired, finished unplaced, or its slot was
        taken by a newer order); then nothing changes. The order stops
        matching at once; the next batch executes the cancel.
        """
        if not checked:
            self.check_cancel_signature(order_index, signature)
        held = self.held(order_index)
        if held.cancel_accepted:
            raise OrderConflict(f"order {held.index} is already cancelled")
        if self.orders.get(held.index).remaining == 0:
            raise OrderConflict(f"order {held.index} is already filled")
        if held.unplaced:
            raise OrderConflict(f"order {held.index} is finished: it was never placed")
        if self._owner_of_slot(held) != held.index:
            raise OrderConflict(f"order {held.index} is finished: a newer order took its slot")
        now = self._clock()
        if is_expired(held.order.expiry, now):
            raise OrderConflict(f"order {held.index} expired at {held.order.expiry} (now {now})")
        roots = self.roots
        self.ledger.append(
            "cancel",
            roots,
            roots,
            {"commitment": str(held.commitment)},
            time=self._entry_time(None),
        )
        held.cancel_accepted = True
        held.cancel_signature = signature
        self.orders.cancel(held.index)
        self.pending_cancels.append(held.index)
