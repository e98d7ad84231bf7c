"""The trader's side of the recycling-order ("slots") state: order ids and inclusion openings.

On an exchange whose genesis ``state`` is ``"slots"`` (``GET /v1/info``), an
order carries an ``order_id`` the trader picks. It lives in slot
``order_id mod 4^slot_levels`` of the account leaf and enters it only if the
slot is free or holds an *older* id that is finished (filled, cancelled or
expired); an id at or below the slot's newest id can never enter
(``exchange.operator.slots.intake``). ``OrderIds`` picks ids that obey this:
per account, strictly increasing, skipping slots that an order this client
placed still holds live.

``verify_slots_inclusion`` checks an account opening of the quaternary
account tree (``GET /v1/accounts/{i}/inclusion`` on a slots exchange) locally:
the 8-field leaf and its path to the stated root, and the key. Pure: no I/O.
"""

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier.account_state import account_state_leaf, slot_index
from verifier.babyjub import Point
from verifier.field import FieldError
from verifier.inclusion import InclusionInputError
from verifier.inclusion_slots import parse_slots_opening
from verifier.params import ORDER_ID_BITS
from verifier.protocol import is_expired
from verifier.quadtree import QuadTreeError, quad_root

__all__ = ["SLOTS_STATE", "OrderIds", "SlotsBusy", "verify_slots_inclusion"]

#: ``GET /v1/info`` ``state`` of a recycling-order exchange (the only one the SDK speaks).
SLOTS_STATE = "slots"

#: Order statuses (``OrderView.status``) of an order that still holds its slot.
LIVE_STATUSES = frozenset({"pending", "open", "listed"})


class SlotsBusy(ValueError):
    """Every order slot of the account holds a live order of this client; one line."""


#: Expiry of a slot held by a cancel that no batch has executed yet: until the server says.
UNTIL_EXECUTED = 1 << 62


@dataclass
class _Account:
    last: int = 0  # the largest id this client used or saw for the account
    live: dict[int, tuple[int, int]] = field(default_factory=dict)  # slot -> (order id, expiry)


class OrderIds:
    """Order ids a client picks per account: increasing, in slots no live order of its own holds.

    ``slot_levels`` is the genesis parameter (4^slot_levels slots per account).
    A fresh account's first id is at least the current unix second, so a new
    client (a restarted process, another machine) starts above the ids an
    earlier session used unless that session averaged more than one order per
    second; ``seen`` raises the floor further from the server's order list.
    Not thread-safe: one per client.
    """

    def __init__(self, slot_levels: int, *, clock: Any = time.time) -> None:
        self.slots = 1 << (2 * slot_levels)
        self.slot_levels = slot_levels
        self._clock = clock
        self._accounts: dict[int, _Account] = {}

    def _account(self, account: int) -> _Account:
        a = self._accounts.get(account)
        if a is None:
            a = self._accounts[account] = _Account(last=int(self._clock()) - 1)
        return a

    def seen(self, account: int, orders: Iterable[Mapping[str, Any]]) -> None:
        """Take in the account's orders as the server lists them (``order_id``, ``status``,
        ``expiry``, ``holds_slot``): ids only grow past them; those holding a slot keep it.

        ``holds_slot`` (when the server gives it) is exact; without it a live
        status holds the slot, and so does an order this client cancelled
        (``cancelled``) until the server says it no longer holds it.
        """
        a = self._account(account)
        pending = {s: v for s, v in a.live.items() if v[1] == UNTIL_EXECUTED}
        a.live.clear()
        for view in orders:
            if view.get("order_id") is None:
                continue
            order_id = int(view["order_id"])
            a.last = max(a.last, order_id)
            slot = slot_index(order_id, self.slot_levels)
            holds = view.get("holds_slot")
            if holds is None:
                if pending.get(slot, (None, 0))[0] == order_id:
                    a.live[slot] = pending[slot]
                elif view.get("status") in LIVE_STATUSES:
                    a.live[slot] = (order_id, int(view["expiry"]))
            elif holds:
                a.live[slot] = (order_id, UNTIL_EXECUTED)

    def next(self, account: int) -> int:
        """The next id for ``account``: above every id used, in a slot no live order holds.

        Raises SlotsBusy when each slot holds an unexpired order this client
        placed (cancel one, or wait until one fills or expires, then ``seen``).
        """
        a = self._account(account)
        now = int(self._clock())
        candidate = a.last + 1
        for _ in range(self.slots):
            held = a.live.get(slot_index(candidate, self.slot_levels))
            if held is None or is_expired(held[1], now):
                if candidate >= 1 << ORDER_ID_BITS:
                    raise SlotsBusy(f"account {account} has used every order id below 2^32")
                return candidate
            candidate += 1
        raise SlotsBusy(
            f"all {self.slots} order slots of account {account} hold live orders: cancel one, "
            "or wait until one fills or expires"
        )

    def used(self, account: int, order_id: int, expiry: int) -> None:
        """Record an accepted order: its id is spent and its slot is held until ``expiry``."""
        a = self._account(account)
        a.last = max(a.last, order_id)
        a.live[slot_index(order_id, self.slot_levels)] = (order_id, expiry)

    def cancelled(self, account: int, order_id: int) -> None:
        """A cancel was accepted: the slot stays busy until a batch executes it (the
        exchange's rule), so this client skips it until ``seen`` says otherwise."""
        a = self._account(account)
        a.live[slot_index(order_id, self.slot_levels)] = (order_id, UNTIL_EXECUTED)

    def released(self, account: int, order_id: int) -> None:
        """The order is finished (cancelled or filled): its slot is free for a newer id."""
        a = self._account(account)
        slot = slot_index(order_id, self.slot_levels)
        if a.live.get(slot, (None, 0))[0] == order_id:
            del a.live[slot]


def verify_slots_inclusion(
    inclusion: Mapping[str, Any], account_levels: int, expected_pubkey: Point | None = None
) -> bool:
    """True if the opening's leaf, hashed up its quaternary path, gives its stated ``root``.

    ``account_levels`` = genesis ``account_depth // 2``. Also checks the stated
    ``leaf`` (when given) and, when ``expected_pubkey`` is given, that the leaf
    holds that key. False for a malformed opening. That the root is one the
    exchange published is the caller's check (``GET /v1/roots``, or
    ``darkpool-verify`` with ``verifier.inclusion_slots``).
    """
    try:
        opening = parse_slots_opening(dict(inclusion))
        leaf = account_state_leaf(opening.record)
        if len(opening.siblings) != account_levels or opening.account >= 1 << (2 * account_levels):
            return False
        if opening.stated_leaf is not None and opening.stated_leaf != leaf:
            return False
        if expected_pubkey is not None and opening.pubkey != expected_pubkey:
            return False
        return quad_root(leaf, opening.account, opening.siblings) == opening.root
    except (InclusionInputError, FieldError, QuadTreeError, TypeError, ValueError):
        return False
