"""``DarkpoolClient``: the trader / auditor SDK for the REST API.

Builds and signs everything on the client side: orders get a random salt,
are signed (EdDSA-Poseidon over the commitment) and sealed to the operator's
X25519 key, so the plaintext never travels or rests in clear; requests for an
account are signed with ``verifier.auth``. Inclusion paths are checked locally
(``client.slots.verify_slots_inclusion``), and ``export_ledger`` writes the
docs/ledger.md layout so ``darkpool-verify DIR`` can replay what the server
published.

The exchange runs the recycling-order ("slots") state (``GET /v1/info``
``state``; a server that names another state is refused with
``UnsupportedExchange``: list-state ledgers are no longer supported). Orders
are ``SlottedOrder`` s with an ``order_id`` (default: ``client.slots.OrderIds``,
per account increasing, in a slot no live order of this client holds) and
``reduce_only``; cancels are signed over ``Poseidon(TAG(cancel), h)``;
inclusion openings are checked on the quaternary account tree
(``client.slots.verify_slots_inclusion``).

Never sends a private key; an ``httpx.Client`` (or FastAPI's TestClient) can be
passed in for tests.
"""

import base64
import json
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from nacl.public import PublicKey, SealedBox

from client.slots import SLOTS_STATE, OrderIds, SlotsBusy, verify_slots_inclusion
from verifier import auth
from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
from verifier.babyjub import Point
from verifier.eddsa import PrivateKey, public_key_to_dict, signature_to_dict
from verifier.encoding import Order, withdraw_message
from verifier.export import write_export as _write_export
from verifier.field import R
from verifier.protocol import STATEMENTS, Tags


class ClientError(RuntimeError):
    """The server refused a request; ``status`` and the server's one-line ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class UnsupportedExchange(RuntimeError):
    """The server runs a ledger state this client does not speak (only "slots" is)."""


class DarkpoolClient:
    def __init__(self, base_url: str = "", *, http: httpx.Client | None = None) -> None:
        self.http = http if http is not None else httpx.Client(base_url=base_url, timeout=300)
        self._info: dict[str, Any] | None = None
        self._last_ms = 0  # the last X-Darkpool-Timestamp this client signed
        self._order_ids: OrderIds | None = None
        self._seeded: set[int] = set()  # accounts whose server order list OrderIds has seen
        self._slotted: dict[int, SlottedOrder] = {}  # h -> terms, of slotted orders sent here

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ plumbing

    def _check(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            try:
                detail = str(r.json().get("detail"))
            except (ValueError, AttributeError):
                detail = r.text[:200]
            raise ClientError(r.status_code, detail)
        return r.json()

    def _signed(
        self,
        method: str,
        path: str,
        key: PrivateKey,
        account: int,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        raw = json.dumps(body).encode() if body is not None else b""
        target = path + ("?" + str(httpx.QueryParams(params)) if params else "")
        # Unix milliseconds, strictly increasing per client: also the request's nonce,
        # so the same request sent twice in one millisecond is still two messages.
        ts_ms = max(time.time_ns() // 1_000_000, self._last_ms + 1)
        self._last_ms = ts_ms
        headers = auth.sign_request(key, self.tags.auth, account, method, target, raw, ts_ms)
        if body is not None:
            headers["content-type"] = "application/json"
        r = self.http.request(method, target, content=raw, headers=headers)
        return self._check(r)

    @property
    def tags(self) -> Tags:
        return Tags.for_exchange(self.info()["exchange_id"])

    def info(self, *, refresh: bool = False) -> dict[str, Any]:
        """``GET /v1/info`` (cached); UnsupportedExchange unless its ``state`` is "slots"."""
        if self._info is None or refresh:
            info: dict[str, Any] = self._check(self.http.get("/v1/info"))
            state = info.get("state") or "list"  # absent: a server from before the slots state
            if state != SLOTS_STATE:
                raise UnsupportedExchange(
                    f"the exchange runs the {state!r} ledger state: this client needs the "
                    f"recycling-order ({SLOTS_STATE!r}) state (list-state ledgers are no "
                    "longer supported)"
                )
            self._info = info
        return self._info

    @property
    def state(self) -> str:
        """The exchange's ledger state (genesis ``state``): always ``"slots"`` (see ``info``)."""
        return str(self.info()["state"])

    @property
    def order_ids(self) -> OrderIds:
        """The per-account order-id picker of a slots exchange (genesis ``slot_levels``)."""
        if self._order_ids is None:
            self._order_ids = OrderIds(int(self.info()["params"]["slot_levels"]))
        return self._order_ids

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self.http.get("/v1/health"))
        return result

    # ------------------------------------------------------------ accounts

    def open_account(self, key: PrivateKey, amount: int) -> int:
        pub = key.public_key()
        ts = int(time.time())
        msg = auth.open_account_message(self.tags.auth, pub, amount, ts)
        body = {
            "pubkey": public_key_to_dict(pub),
            "amount": str(amount),
            "timestamp": ts,
            "signature": signature_to_dict(key.sign(msg)),
        }
        return int(self._check(self.http.post("/v1/accounts", json=body))["account"])

    def deposit(self, key: PrivateKey, account: int, amount: int) -> dict[str, Any]:
        path = f"/v1/accounts/{account}/deposit"
        result: dict[str, Any] = self._signed("POST", path, key, account, {"amount": str(amount)})
        return result

    def withdraw(self, key: PrivateKey, account: int, amount: int) -> dict[str, Any]:
        nonce = int(self.account(key, account)["nonce"])
        sig = key.sign(withdraw_message(self.tags.withdraw, account, amount, nonce))
        body = {"amount": str(amount), "signature": signature_to_dict(sig)}
        result: dict[str, Any] = self._signed(
            "POST", f"/v1/accounts/{account}/withdraw", key, account, body
        )
        return result

    def account(self, key: PrivateKey, account: int) -> dict[str, Any]:
        result: dict[str, Any] = self._signed("GET", f"/v1/accounts/{account}", key, account)
        return result

    def inclusion(self, key: PrivateKey, account: int, root: int | None = None) -> dict[str, Any]:
        params = {"root": str(root)} if root is not None else None
        result: dict[str, Any] = self._signed(
            "GET", f"/v1/accounts/{account}/inclusion", key, account, params=params
        )
        return result

    # ------------------------------------------------------------ orders

    def _seal(self, plaintext: bytes) -> str:
        """Base64 of ``plaintext`` sealed to the operator's X25519 key (``/v1/info``)."""
        box = SealedBox(PublicKey(bytes.fromhex(self.info()["operator_box_public_key"])))
        return base64.b64encode(box.encrypt(plaintext)).decode()

    def seal_slotted(self, order: SlottedOrder, key: PrivateKey) -> tuple[int, str]:
        """(h, base64 sealed box) of a signed slotted order, for an exchange on the
        recycling-order ("slots") state: docs/wire-protocol.md section 5.1."""
        h = order_hash(self.tags.order, order)
        return h, self._seal(auth.slotted_order_plaintext(order, key.sign(h)))

    def slotted_cancel_signature(self, key: PrivateKey, commitment: int) -> dict[str, Any]:
        """The JSON signature cancelling slotted order ``commitment``: over P(TAG(cancel), h)."""
        return signature_to_dict(key.sign(cancel_order_message(self.tags.cancel, commitment)))

    def submit_sealed(self, commitment: int, ciphertext: str) -> dict[str, Any]:
        body = {"commitment": str(commitment), "ciphertext": ciphertext}
        result: dict[str, Any] = self._check(self.http.post("/v1/orders", json=body))
        return result

    def submit_order(
        self,
        key: PrivateKey,
        account: int,
        market: int,
        side: int,
        size: int,
        limit: int,
        expiry: int,
        *,
        order_id: int | None = None,
        reduce_only: bool = False,
    ) -> dict[str, Any]:
        """Sign, seal and submit one order; the answer of ``POST /v1/orders``.

        The order gets ``order_id`` (default: the next id of ``order_ids`` for
        the account, after reading the account's orders once) and
        ``reduce_only``; the answer also has ``order_id``. SlotsBusy when every
        slot of the account holds a live order of this client.
        """
        salt = secrets.randbelow(R)
        if order_id is None:
            order_id = self.next_order_id(key, account)
        slotted = SlottedOrder(
            account, order_id, market, side, size, limit, expiry, reduce_only, salt=salt
        )
        result = self.submit_sealed(*self.seal_slotted(slotted, key))
        self._accepted(slotted, int(result["commitment"]))
        return {**result, "order_id": order_id}

    def next_order_id(self, key: PrivateKey, account: int) -> int:
        """The order id ``submit_order`` would use next for ``account`` (slots state).

        Reads the account's orders from the server the first time (ids only grow
        past them) and again when every slot looks busy; SlotsBusy if they are.
        """
        ids = self.order_ids
        if account not in self._seeded:
            self.refresh_orders(key, account)
        try:
            return ids.next(account)
        except SlotsBusy:
            self.refresh_orders(key, account)
            return ids.next(account)

    def refresh_orders(self, key: PrivateKey, account: int) -> None:
        """Tell ``order_ids`` which ids the account used and which of its orders are live."""
        self.order_ids.seen(account, self.account(key, account).get("orders", []))
        self._seeded.add(account)

    def _accepted(self, order: SlottedOrder, commitment: int) -> None:
        self.order_ids.used(order.account, order.order_id, order.expiry)
        self._slotted[commitment] = order

    def slotted(
        self, order: Order | SlottedOrder, key: PrivateKey, *, reduce_only: bool = False
    ) -> SlottedOrder:
        """``order`` as a slotted order, with the account's next order id if it has none
        (an ``Order`` is terms without an id)."""
        if isinstance(order, SlottedOrder):
            return order
        return SlottedOrder(
            order.account,
            self.next_order_id(key, order.account),
            order.market,
            order.side,
            order.size,
            order.limit_price,
            order.expiry,
            reduce_only,
            salt=order.salt,
        )

    def submit_orders(
        self, signed: Sequence[tuple[PrivateKey, Order | SlottedOrder]]
    ) -> dict[str, Any]:
        """Seal and submit many orders in ONE request (``POST /v1/orders/batch``).

        Each (key, order) is signed and sealed like ``seal_slotted``; the answer
        has one result per order, in order: ``status`` listed / pending /
        refused, ``code`` (202 or the status ``POST /v1/orders`` would give),
        ``detail``, ``order_id``. An ``Order`` (terms without an id) becomes a
        ``SlottedOrder`` with the account's next order id (``slotted``).
        """
        items = []
        sent: list[SlottedOrder] = []
        for key, order in signed:
            terms = self.slotted(order, key)
            h, ciphertext = self.seal_slotted(terms, key)
            # spent now, so the next order of this request gets a newer id
            self.order_ids.used(terms.account, terms.order_id, terms.expiry)
            sent.append(terms)
            items.append({"commitment": str(h), "ciphertext": ciphertext})
        result: dict[str, Any] = self._check(
            self.http.post("/v1/orders/batch", json={"orders": items})
        )
        for item, one in zip(result["results"], sent, strict=True):
            item["order_id"] = one.order_id
            if item.get("code") == 202:
                self._accepted(one, int(item["commitment"]))
            else:
                self.order_ids.released(one.account, one.order_id)
        return result

    def cancel(self, key: PrivateKey, commitment: int) -> dict[str, Any]:
        """Cancel an order (``POST /v1/orders/{h}/cancel``), signed by its owner's key
        over ``Poseidon(TAG(cancel), h)`` (``slotted_cancel_signature``)."""
        signature = self.slotted_cancel_signature(key, commitment)
        result: dict[str, Any] = self._check(
            self.http.post(f"/v1/orders/{commitment}/cancel", json={"signature": signature})
        )
        # The exchange frees the slot only once a batch has executed the cancel: held
        # here until ``refresh_orders`` (on a full account) reads that from the server.
        order = self._slotted.get(commitment)
        if order is not None:
            self.order_ids.cancelled(order.account, order.order_id)
        return result

    def order_status(self, key: PrivateKey, account: int, commitment: int) -> dict[str, Any]:
        result: dict[str, Any] = self._signed("GET", f"/v1/orders/{commitment}", key, account)
        return result

    # ------------------------------------------------------------ public ledger

    def roots(self) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self.http.get("/v1/roots"))
        return result

    def ledger(self, start: int = 0, limit: int = 100) -> dict[str, Any]:
        result: dict[str, Any] = self._check(
            self.http.get("/v1/ledger", params={"start": start, "limit": limit})
        )
        return result

    def all_entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        while True:
            page = self.ledger(len(entries), 500)
            entries += page["entries"]
            if not page["entries"] or len(entries) >= page["total"]:
                return entries

    def vkey(self, statement: str) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self.http.get(f"/v1/vkeys/{statement}"))
        return result

    def statements(self) -> list[str]:
        """The statements whose keys the genesis names (``vkey_hashes``), in order."""
        names = list(self.info().get("vkey_hashes") or {})
        return names or list(STATEMENTS)

    def export_ledger(self, directory: Path | str) -> Path:
        """Fetch every entry and verification key; write the docs/ledger.md export."""
        vkeys = {s: self.vkey(s) for s in self.statements()}
        return write_export(self.all_entries(), vkeys, directory)

    def check_inclusion(
        self,
        inclusion: dict[str, Any],
        expected_pubkey: Point | None = None,
        *,
        latest: bool = False,
    ) -> bool:
        """``client.slots.verify_slots_inclusion`` at this exchange's depth (genesis params):
        the opening's leaf hashes up its quaternary path to its stated root (and holds
        ``expected_pubkey`` when given). With ``latest``, the stated root must also be the
        latest account root the exchange publishes (``GET /v1/roots``): an older root is a
        stale opening (the account may have changed since), so False."""
        levels = int(self.info()["params"]["account_depth"]) // 2
        if not verify_slots_inclusion(inclusion, levels, expected_pubkey):
            return False
        return not latest or int(inclusion["root"]) == int(self.roots()["roots"]["account"])

    # ------------------------------------------------------------ admin (operator token)

    def admin_batch(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = self._check(
            self.http.post("/v1/admin/batch", headers={"Authorization": f"Bearer {token}"})
        )
        return result

    def start_solvency(self, token: str, shock_bps: int | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._check(
            self.http.post(
                "/v1/solvency",
                json={"shock_bps": shock_bps},
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        return result

    def solvency_job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self.http.get(f"/v1/solvency/{job_id}"))
        return result


def write_export(
    entries: list[dict[str, Any]], vkeys: dict[str, dict[str, Any]], directory: Path | str
) -> Path:
    """Write the fetched signed entries as an export (refusing a gap or a broken hash chain)."""
    return _write_export(entries, vkeys, directory)
