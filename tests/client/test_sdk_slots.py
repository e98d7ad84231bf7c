"""The SDK on a recycling-order ("slots") exchange, against an in-memory stand-in server.

The stand-in (``FakeSlotsServer``, an ``httpx.MockTransport``) opens every
sealed order with the operator's box key, checks the owner's signature over
``h`` and the intake's slot rule (an id enters slot ``id mod 4^slot_levels``
only above the slot's newest id and when that one is finished), checks cancel
signatures over ``Poseidon(TAG(cancel), h)``, and lists the account's orders.
No proofs, no database: cheap (the inclusion test builds its opening with prover.account_book.slots_opening).
"""

import base64
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from nacl.public import PrivateKey as BoxKey
from nacl.public import SealedBox

from client.sdk import ClientError, DarkpoolClient, UnsupportedExchange
from client.slots import OrderIds, SlotsBusy, verify_slots_inclusion
from prover.account_book import AccountBook, slots_opening
from prover.circuits import load_params
from verifier import auth
from verifier.account_state import (
    SlottedOrder,
    cancel_order_message,
    order_hash,
    slot_index,
)
from verifier.eddsa import PrivateKey, SignatureError, check_signature, signature_from_dict
from verifier.encoding import Order
from verifier.protocol import STATEMENTS, Tags

TAGS = Tags.for_exchange("darkpool-dev")
KEY = PrivateKey(b"\x05" * 32)
NOW = 1_900_000_000
SLOT_LEVELS = 1  # the test profile: 4 slots per account


class FakeSlotsServer:
    """The slots wire of /v1/info, /v1/orders(/batch), cancel and the account view."""

    def __init__(self, state: str | None = "slots") -> None:
        self.box = BoxKey.generate()
        self.state = state
        self.orders: dict[int, tuple[SlottedOrder, str]] = {}  # h -> (terms, status)
        self.slot_newest: dict[tuple[int, int], int] = {}  # (account, slot) -> h
        self.requests: list[str] = []
        self.holds_slot = False  # list OrderView.holds_slot (a batch executed the cancels)

    def info(self) -> dict[str, Any]:
        return {
            "exchange_id": "darkpool-dev",
            "operator_box_public_key": bytes(self.box.public_key).hex(),
            "state": self.state,
            "params": {"slot_levels": SLOT_LEVELS, "account_depth": 4},
            "vkey_hashes": {s: "00" for s in STATEMENTS},
        }

    def accept(self, item: dict[str, str]) -> tuple[int, str]:
        plaintext = SealedBox(self.box).decrypt(base64.b64decode(item["ciphertext"]))
        order, sig = auth.parse_slotted_order_plaintext(plaintext)
        h = order_hash(TAGS.order, order)
        if str(h) != item["commitment"]:
            return 422, "commitment does not match"
        try:
            check_signature(h, sig, KEY.public_key())
        except SignatureError:
            return 422, "signature rejected"
        slot = (order.account, slot_index(order.order_id, SLOT_LEVELS))
        held = self.slot_newest.get(slot)
        if held is not None:
            old, status = self.orders[held]
            if order.order_id <= old.order_id:
                return 422, f"the older id {order.order_id} can never enter slot {slot[1]}"
            if status == "open":
                return 422, f"slot {slot[1]} still holds live order id {old.order_id}"
        self.orders[h] = (order, "open")
        self.slot_newest[slot] = h
        return 202, str(h)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append(f"{request.method} {path}")
        if path == "/v1/info":
            return httpx.Response(200, json=self.info())
        if path == "/v1/orders":
            code, detail = self.accept(json.loads(request.content))
            if code != 202:
                return httpx.Response(code, json={"detail": detail})
            return httpx.Response(
                202, json={"commitment": detail, "status": "pending", "order_index": None}
            )
        if path == "/v1/orders/batch":
            results = []
            for item in json.loads(request.content)["orders"]:
                code, detail = self.accept(item)
                results.append(
                    {
                        "commitment": item["commitment"],
                        "code": code,
                        "status": "pending" if code == 202 else "refused",
                        "detail": None if code == 202 else detail,
                    }
                )
            return httpx.Response(200, json={"results": results})
        if path.endswith("/cancel"):
            h = int(path.split("/")[3])
            sig = signature_from_dict(json.loads(request.content)["signature"])
            try:
                check_signature(cancel_order_message(TAGS.cancel, h), sig, KEY.public_key())
            except SignatureError:
                return httpx.Response(401, json={"detail": "cancel signature rejected"})
            order, _ = self.orders[h]
            self.orders[h] = (order, "cancelled")
            return httpx.Response(
                200, json={"commitment": str(h), "order_index": 0, "status": "cancelled"}
            )
        if path.startswith("/v1/accounts/"):
            account = int(path.split("/")[3])
            views = [
                {"commitment": str(h), "order_id": o.order_id, "status": st, "expiry": o.expiry}
                | ({"holds_slot": st == "open"} if self.holds_slot else {})
                for h, (o, st) in self.orders.items()
                if o.account == account
            ]
            return httpx.Response(200, json={"account": account, "orders": views})
        return httpx.Response(404, json={"detail": "no such route"})


def client_for(server: FakeSlotsServer) -> DarkpoolClient:
    client = DarkpoolClient(
        http=httpx.Client(base_url="http://x", transport=httpx.MockTransport(server))
    )
    client._order_ids = OrderIds(SLOT_LEVELS, clock=lambda: NOW)
    return client


def test_order_ids_increase_skip_live_slots_and_recycle() -> None:
    ids = OrderIds(SLOT_LEVELS, clock=lambda: NOW)
    first = ids.next(1)
    assert first == NOW  # a fresh account starts at the unix second
    for i in range(4):  # fill the 4 slots with live orders
        order_id = ids.next(1)
        assert order_id == NOW + i
        ids.used(1, order_id, expiry=NOW + 60)
    with pytest.raises(SlotsBusy, match="all 4 order slots of account 1"):
        ids.next(1)
    ids.released(1, NOW + 2)  # cancelled: its slot takes the next id that maps there
    assert ids.next(1) == NOW + 6
    assert slot_index(NOW + 6, SLOT_LEVELS) == slot_index(NOW + 2, SLOT_LEVELS)
    ids.used(1, NOW + 6, expiry=NOW - 1)  # expired already: not live
    # NOW+7..9 map to slots 3, 0, 1 (live); NOW+10 to slot 2, whose order expired
    assert ids.next(1) == NOW + 10
    # ids only grow past what the server lists, and the server's live orders hold slots
    ids.seen(2, [{"order_id": NOW + 100, "status": "open", "expiry": NOW + 60}])
    assert ids.next(2) == NOW + 101
    ids.seen(2, [{"order_id": NOW + 100, "status": "filled", "expiry": NOW + 60}])
    assert ids.next(2) == NOW + 101
    assert ids.next(3) == NOW  # other accounts are independent


def test_sdk_submits_slotted_orders_with_fresh_ids_and_cancels_them() -> None:
    server = FakeSlotsServer()
    client = client_for(server)
    assert client.state == "slots"
    server.orders[123] = (
        SlottedOrder(1, NOW + 50, 0, 0, 1, 10, NOW + 1),
        "filled",
    )  # an older session
    results = [client.submit_order(KEY, 1, 0, 0, 2, 60_000, NOW + 60) for _ in range(4)]
    assert [r["order_id"] for r in results] == [NOW + 51, NOW + 52, NOW + 53, NOW + 54]
    assert server.requests.count("GET /v1/accounts/1") == 1  # read once, then local
    terms = [server.orders[int(r["commitment"])][0] for r in results]
    assert all(t.size == 2 and t.limit_price == 60_000 and not t.reduce_only for t in terms)
    # every slot is live: the SDK re-reads the account, then refuses locally (nothing sent)
    sent = len(server.requests)
    with pytest.raises(SlotsBusy):
        client.submit_order(KEY, 1, 0, 0, 1, 60_000, NOW + 60)
    assert server.requests[sent:] == ["GET /v1/accounts/1"]
    # a cancel is signed over P(TAG(cancel), h); the exchange frees its slot only when a
    # batch executes it, so the client keeps it busy while the server only says "cancelled"
    h = int(results[1]["commitment"])
    assert client.cancel(KEY, h)["status"] == "cancelled"
    with pytest.raises(SlotsBusy):
        client.submit_order(KEY, 1, 0, 0, 1, 60_000, NOW + 60)
    server.holds_slot = True  # the server now says which orders hold a slot: not that one
    again = client.submit_order(KEY, 1, 1, 1, 1, 3_000, NOW + 60, reduce_only=True)
    assert slot_index(again["order_id"], SLOT_LEVELS) == slot_index(NOW + 52, SLOT_LEVELS)
    assert server.orders[int(again["commitment"])][0].reduce_only
    # an explicit id below the slot's newest is the server's refusal, one line
    with pytest.raises(ClientError, match="can never enter"):
        client.submit_order(KEY, 1, 0, 0, 1, 60_000, NOW + 60, order_id=NOW + 52)


def test_sdk_batch_submit_gives_each_order_its_own_id() -> None:
    server = FakeSlotsServer()
    client = client_for(server)
    orders = [(KEY, Order(2, 0, i % 2, 1, 60_000, NOW + 60, salt=i + 1)) for i in range(5)]
    result = client.submit_orders(orders)
    codes = [r["code"] for r in result["results"]]
    assert codes == [202, 202, 202, 202, 422]  # 4 slots; the 5th id reuses a live slot
    ids = [r["order_id"] for r in result["results"]]
    assert ids == sorted(set(ids))
    assert result["results"][4]["detail"].startswith("slot 0 still holds live order")


def test_a_server_not_on_the_slots_state_is_refused_in_one_line() -> None:
    """A server on the retired list state (``state`` "list", or none: older servers) is
    refused before anything is signed or sent: one line naming the state."""
    for state in ("list", None):
        server = FakeSlotsServer(state=state)
        client = client_for(server)
        with pytest.raises(UnsupportedExchange) as err:
            client.submit_order(KEY, 1, 0, 0, 1, 60_000, NOW + 60)
        message = str(err.value)
        assert "\n" not in message and "'list' ledger state" in message
        assert "list-state ledgers are no longer supported" in message
        assert server.requests == ["GET /v1/info"]  # nothing else was sent


def test_slots_inclusion_is_checked_on_the_quaternary_tree() -> None:
    pub = KEY.public_key()
    book = AccountBook(load_params("test"))  # 2 quaternary levels, 2 markets
    for i in range(1, 4):
        opened = book.open(
            i, pub=(pub.x, pub.y), balance=1_000 * i, funding=(0, 0), blinding=77 + i
        )
        book.put(i, replace(opened, positions=(i, -i), nonce=i))
    incl = slots_opening(book, 2)
    assert verify_slots_inclusion(incl, 2, pub)
    assert not verify_slots_inclusion(incl, 3, pub)  # depth the genesis does not have
    assert not verify_slots_inclusion(incl, 2, PrivateKey(b"\x06" * 32).public_key())
    for change in (
        {"account": 1},
        {"root": str(book.root + 1)},
        {"leaf": "5"},
        {"opening": {**incl["opening"], "balance": "2001"}},
        {"opening": {**incl["opening"], "order_root": "0"}},
        {"opening": {**incl["opening"], "checkpoints": ["1", "0"]}},
        {"siblings": "nope"},
    ):
        assert not verify_slots_inclusion({**incl, **change}, 2, pub), change
    # the client picks the slots check and the depth from /v1/info
    client = client_for(FakeSlotsServer())
    assert client.check_inclusion(incl, pub)
    assert not client.check_inclusion({**incl, "account": 3}, pub)
    assert client.statements() == list(STATEMENTS)
