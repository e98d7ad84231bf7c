"""The REST service on the recycling-order ("slots") state, SQLite, test profile.

``test_trader_path_and_restart``: a live app on ``Settings(state="slots")``
with real proofs (the session's groth16py): info names the state, opens, a
deposit, slotted orders one by one and through ``/v1/orders/batch``, order
status (order id, reduce-only), bad input refused 4xx with nothing changed,
a signed cancel (``Poseidon(CANCEL_TAG, h)``) that becomes a ``cancel``
entry, a proven batch, the account view, inclusion under the current and
an older root (rebuilt from the stored account rows), a withdrawal, a
solvency job; then a restart on the same database restores the same state
and goes on, and the export replays VALID with every proof checked.

``test_slots_recycle``: one account places twice as many orders over time as
it has slots (expiries, fills, cancels finish the older ones) and never gets
a "full" or slot error once the slot's order is finished. ``test_orders_during
_a_batch_...``: orders arriving while a batch proves queue (checked against
the queue too), list after it and survive a restart. These two use a
stand-in prover (public signals, no proof): the service's logic only.
"""

import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from client.sdk import ClientError, DarkpoolClient
from exchange.api.main import create_app
from exchange.core.config import Settings
from exchange.errors import Rejected
from exchange.service import Service
from tests.exchange.slots_ledger import stand_in_prover
from verifier import auth, groth16
from verifier.account_state import SlottedOrder, account_state_leaf
from verifier.eddsa import PrivateKey, signature_to_dict
from verifier.encoding import BUY, SELL
from verifier.field import R
from verifier.inclusion_slots import parse_slots_opening
from verifier.ledger import check_proofs
from verifier.poseidon import poseidon
from verifier.protocol import STATEMENTS
from verifier.quadtree import quad_root
from verifier.source import DirectorySource, replay_source

pytestmark = pytest.mark.slow
TOKEN = "slots-test-operator-token-0123"


def _settings(data: Path, **extra: Any) -> Settings:
    return Settings(
        data_dir=data,
        database_url=f"sqlite:///{(data / 'darkpool.sqlite3').resolve()}",
        batch_interval_s=0,
        operator_token=TOKEN,
        oracle_step_bps=0,
        state="slots",
        **extra,
    )


def _order(
    account: int, order_id: int, side: int, size: int, limit: int, **kw: Any
) -> SlottedOrder:
    expiry = kw.pop("expiry", int(time.time()) + 3600)
    return SlottedOrder(
        account, order_id, 0, side, size, limit, expiry, salt=secrets.randbelow(R), **kw
    )


def _state(c: DarkpoolClient) -> tuple[Any, ...]:
    roots = c.roots()
    return roots["roots"], roots["ledger_index"], c.health()["pending_orders"]


def _check_opening(inclusion: dict[str, Any]) -> int:
    """The slots opening's leaf under its stated root (verifier.inclusion_slots); returns the root."""
    opening = parse_slots_opening(inclusion)
    leaf = account_state_leaf(opening.record)
    assert leaf == int(inclusion["leaf"])
    assert quad_root(leaf, opening.account, opening.siblings) == opening.root
    return opening.root


def test_trader_path_and_restart(tmp_path: Path) -> None:
    alice, bob = PrivateKey.generate(), PrivateKey.generate()
    # Genesis risk rules on: funding before the first batch, a health sweep before every later one.
    settings = _settings(tmp_path, sweep_interval_batches=1, funding_interval_s=3600)
    with TestClient(create_app(settings)) as http:
        c = DarkpoolClient(http=http)
        info = c.info(refresh=True)
        assert info["state"] == "slots" and info["profile"] == "test"
        assert sorted(info["vkey_hashes"]) == sorted(STATEMENTS)
        assert groth16.vkey_hash(c.vkey("order_ops")) == info["vkey_hashes"]["order_ops"]
        assert http.get("/v1/vkeys/settle_batch").status_code == 404  # not this state's
        a, b = c.open_account(alice, 1_000_000), c.open_account(bob, 1_000_000)
        c.deposit(alice, a, 5_000)
        old_root = int(c.roots()["roots"]["account"])

        buy = _order(a, 1, BUY, 2, 61_000)
        h_buy, sealed = c.seal_slotted(buy, alice)
        assert c.submit_sealed(h_buy, sealed) == {
            "commitment": str(h_buy),
            "status": "listed",
            "order_index": 0,
        }
        sell = _order(b, 1, SELL, 1, 59_000)
        spare = _order(b, 2, SELL, 1, 70_000, reduce_only=True)
        same_id = _order(b, 1, SELL, 1, 58_000)  # id 1 is taken by `sell`
        items = [c.seal_slotted(o, bob) for o in (sell, spare, same_id)]
        body = {"orders": [{"commitment": str(h), "ciphertext": ct} for h, ct in items]}
        result = http.post("/v1/orders/batch", json=body).json()
        assert (result["accepted"], result["refused"]) == (2, 1)
        refused = result["results"][2]
        assert refused["code"] == 422 and "order id 1 is already used" in refused["detail"]
        h_sell, h_spare = items[0][0], items[1][0]
        view = c.order_status(bob, b, h_spare)
        assert (view["order_id"], view["reduce_only"], view["status"]) == (2, True, "open")

        # Bad input: 4xx with a one-line reason, nothing changes.
        before = _state(c)
        # the retired list plaintext: seven fields, no order_id / reduce_only
        terms = dict(account=a, market=0, side=BUY, size=1, limit_price=61_000, salt=7)
        terms["expiry"] = int(time.time()) + 60
        plain = json.dumps(
            {
                "order": {k: str(v) for k, v in terms.items()},
                "signature": signature_to_dict(alice.sign(1)),
            }
        ).encode()
        r = http.post("/v1/orders", json={"commitment": "1", "ciphertext": c._seal(plain)})
        assert r.status_code == 400 and "\n" not in r.json()["detail"]
        # a signature over the retired list cancel message P(TAG(cancel), index, h)
        wrong = signature_to_dict(bob.sign(poseidon([c.tags.cancel, 2, h_spare])))
        r = http.post(f"/v1/orders/{h_spare}/cancel", json={"signature": wrong})
        assert r.status_code == 401, r.text
        later = _order(b, 6, SELL, 1, 71_000)  # slot 2 still holds live order id 2
        h_later, ct = c.seal_slotted(later, bob)
        r = http.post("/v1/orders", json={"commitment": str(h_later), "ciphertext": ct})
        assert r.status_code == 422 and "still holds live order id 2" in r.json()["detail"]
        assert _state(c) == before

        signed = c.slotted_cancel_signature(bob, h_spare)
        r = http.post(f"/v1/orders/{h_spare}/cancel", json={"signature": signed})
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        # cancelled, but its slot stays busy until a batch executes the cancel
        assert c.order_status(bob, b, h_spare)["holds_slot"] is True
        assert c.ledger(int(c.roots()["ledger_index"]), 1)["entries"][0]["kind"] == "cancel"
        again = http.post(f"/v1/orders/{h_spare}/cancel", json={"signature": signed})
        assert again.status_code == 409

        done = c.admin_batch(TOKEN)
        assert done["fills"] == 1 and done["volume"][0] == "1"
        kinds = [e["kind"] for e in c.ledger(done["entry_index"] - 1, 2)["entries"]]
        assert kinds == ["funding", "batch"]
        assert c.order_status(bob, b, h_sell)["status"] == "filled"
        spare_view = c.order_status(bob, b, h_spare)
        assert (spare_view["status"], spare_view["holds_slot"]) == ("cancelled", False)
        assert c.order_status(alice, a, h_buy)["holds_slot"] is True  # live, half filled
        account = c.account(alice, a)
        assert account["positions"][0] == "1" and account["orders"][0]["filled"] == "1"
        assert len(account["checkpoints"]) == 2 and int(account["order_root"]) > 0

        current = c.inclusion(alice, a)
        assert _check_opening(current) == int(c.roots()["roots"]["account"])
        older = c.inclusion(alice, a, root=old_root)
        assert _check_opening(older) == old_root
        assert older["opening"]["balance"] == "1005000" and older["opening"]["positions"][0] == "0"
        with pytest.raises(ClientError) as unknown:
            c.inclusion(alice, a, root=5)
        assert unknown.value.status == 404
        c.withdraw(alice, a, 1_000)
        job = c.start_solvency(TOKEN)
        for _ in range(600):
            job = c.solvency_job(job["id"])
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
        assert job["status"] == "done", job
        roots, length = c.roots()["roots"], c.roots()["ledger_index"] + 1

    # A restart on the same database: same state (rows + private state), and it goes on.
    with TestClient(create_app(settings)) as http:
        c = DarkpoolClient(http=http)
        assert (c.roots()["roots"], c.roots()["ledger_index"] + 1) == (roots, length)
        assert c.order_status(alice, a, h_buy)["status"] == "open"
        assert c.order_status(bob, b, h_spare)["status"] == "cancelled"
        assert _check_opening(c.inclusion(alice, a, root=old_root)) == old_root
        sell2 = _order(b, 3, SELL, 1, 59_000)  # batches trade at the mark
        c.submit_sealed(*c.seal_slotted(sell2, bob))
        done = c.admin_batch(TOKEN)
        assert done["fills"] == 1
        assert c.order_status(alice, a, h_buy)["status"] == "filled"
        entries = c.all_entries()
        # The restored risk clocks: one batch since the last sweep, so a sweep first.
        assert [e["kind"] for e in entries[done["entry_index"] - 2 :]] == [
            "order",
            "sweep",
            "batch",
        ]
        out = c.export_ledger(tmp_path / "out")
    report = replay_source(DirectorySource(out), checker=check_proofs(2))
    assert report.ok, [str(f) for f in report.failures]
    assert report.checked_to == len(entries) - 1  # the last entry index


# ---------------------------------------------------------------- recycling


class Clock:
    """The service's clock (Unix seconds), moved by the test."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def recycling(tmp_path: Path) -> Iterator[tuple[Service, Clock]]:
    clock = Clock()
    svc = Service(_settings(tmp_path), clock=clock, prove=stand_in_prover)
    svc.start(background=False)
    try:
        yield svc, clock
    finally:
        svc.stop()


def test_slots_recycle(recycling: tuple[Service, Clock]) -> None:
    """8 orders of one account over time in 4 slots: each slot's older order finishes
    (expired, cancelled, filled) and a newer id takes the slot; no "full" error."""
    svc, clock = recycling
    slots = 1 << (2 * svc.op.params.slot_levels)
    assert slots == 4
    keys = [PrivateKey.generate(), PrivateKey.generate()]
    trader, other = (_open(svc, k, clock.now) for k in keys)

    def submit(key: PrivateKey, order: SlottedOrder) -> int:
        h = _h(svc, order)
        accepted = svc.submit_order(h, _sealed(svc, key, order, h))
        assert accepted.status == "listed"
        return h

    t = clock.now
    first = [  # ids 1..4 fill the four slots
        _order(trader, 1, BUY, 1, 50_000, expiry=t + 30),  # slot 1: expires
        _order(trader, 2, BUY, 1, 50_000),  # slot 2: cancelled
        _order(trader, 3, BUY, 1, 61_000),  # slot 3: filled by `other`
        _order(trader, 4, BUY, 1, 50_000),  # slot 0: cancelled later, after a batch
    ]
    h = [submit(keys[0], o) for o in first]
    ledger_length = len(svc.op.ledger)
    assert not svc.batcher_tick()  # live buys only: no mark can fill them, no empty batch
    assert len(svc.op.ledger) == ledger_length
    submit(keys[1], _order(other, 1, SELL, 1, 60_000))
    assert svc._live_orders()  # now a buy at 61,000 crosses a sell at 60,000
    # Every slot holds a live order: a fifth id is refused (a slot rule, not a cap).
    with pytest.raises(Rejected, match="still holds live order id 1"):
        svc.submit_order(_h(svc, o := _order(trader, 5, BUY, 1, 50_000)), _sealed(svc, keys[0], o))
    svc.cancel(h[1], keys[0].sign(_cancel(svc, h[1])))
    clock.now += 10
    assert svc.run_batch().fills == 1
    assert svc.order_view(h[2]).status == "filled"

    clock.now = t + 31  # id 1 expired
    assert not svc.engine.has_queued_work(svc.op)
    svc.cancel(h[3], keys[0].sign(_cancel(svc, h[3])))
    assert svc.engine.has_queued_work(svc.op)  # the batcher runs for a queued cancel
    second = [  # ids 5, 6, 7 replace the expired, cancelled and filled orders
        _order(trader, 5, BUY, 1, 50_000),
        _order(trader, 6, BUY, 1, 50_000, expiry=t + 60),
        _order(trader, 7, BUY, 1, 50_000),
    ]
    for o in second:
        submit(keys[0], o)
    # Slot 0 still holds id 4 until a batch executes its cancel: the refusal says so.
    with pytest.raises(Rejected, match="id 4, whose cancel waits for the next batch"):
        svc.submit_order(_h(svc, o := _order(trader, 8, BUY, 1, 50_000)), _sealed(svc, keys[0], o))
    clock.now += 1
    svc.run_batch()  # executes the cancel of id 4: slot 0 is free again
    assert not svc.engine.has_queued_work(svc.op)
    clock.now = t + 61  # id 6 expired
    submit(keys[0], _order(trader, 8, BUY, 1, 50_000))  # slot 0 (id 4 cancelled)
    submit(keys[0], _order(trader, 10, BUY, 1, 50_000))  # slot 2 (id 6 expired)
    clock.now += 1
    svc.run_batch()
    placed = [e for e in svc.op.ledger.entries if e.kind == "order"]
    assert len(placed) == 10  # 9 of the trader's over 4 slots, 1 of the other's
    assert svc.order_view(h[0]).status == "expired"


def test_orders_during_a_batch_queue_then_list_and_survive_a_restart(tmp_path: Path) -> None:
    """Slots intake while a batch holds the state lock: orders are validated against the
    state plus the queue (a second pending order for the same id is refused), answered
    ``pending``, listed right after the batch in acceptance order; a restart restores
    the same roots, orders and slots (stand-in prover: service logic only)."""
    gate, proving = threading.Event(), threading.Event()

    def gated(artifacts: Any, inputs: Any) -> tuple[dict[str, Any], list[str]]:
        if "settle_fills" in artifacts.name:
            proving.set()
            assert gate.wait(60)
        return stand_in_prover(artifacts, inputs)

    clock = Clock()
    settings = _settings(tmp_path)
    svc = Service(settings, clock=clock, prove=gated)
    svc.start(background=False)
    try:
        keys = [PrivateKey.generate(), PrivateKey.generate()]
        a, b = (_open(svc, k, clock.now) for k in keys)
        buy, sell = _order(a, 1, BUY, 1, 61_000), _order(b, 1, SELL, 1, 59_000)
        for key, order in ((keys[0], buy), (keys[1], sell)):
            assert svc.submit_order(_h(svc, order), _sealed(svc, key, order)).status == "listed"
        clock.now += 1
        done: list[object] = []
        thread = threading.Thread(target=lambda: done.append(svc.run_batch()))
        thread.start()
        assert proving.wait(60)
        late = [_order(a, 2, BUY, 1, 50_000), _order(a, 3, BUY, 1, 50_000)]
        for order in late:
            accepted = svc.submit_order(_h(svc, order), _sealed(svc, keys[0], order))
            assert accepted == ("pending", None)
        twin = _order(a, 3, BUY, 1, 49_000)  # the same id as a pending order
        with pytest.raises(Rejected, match="order id 3"):
            svc.submit_order(_h(svc, twin), _sealed(svc, keys[0], twin))
        assert svc.health().pending_orders == 2
        gate.set()
        thread.join(60)
        assert done and svc.order_view(_h(svc, sell)).status == "filled"
        kinds = [e.kind for e in svc.op.ledger.entries]
        assert kinds[-3:] == ["batch", "order", "order"]
        assert [svc.order_view(_h(svc, o)).order_index for o in late] == [2, 3]
        roots, length = svc.op.ledger.roots, len(svc.op.ledger)
    finally:
        gate.set()
        svc.stop()
    again = Service(settings, clock=clock, prove=stand_in_prover)
    again.start(background=False)
    try:
        assert (again.op.ledger.roots, len(again.op.ledger)) == (roots, length)
        views = [again.order_view(_h(again, o)) for o in (buy, sell, *late)]
        assert [(v.status, v.holds_slot) for v in views] == [
            ("filled", False),
            ("filled", False),
            ("open", True),
            ("open", True),
        ]
        clock.now += 1
        again.run_batch()  # places the two queued orders
        assert again.op.pending_places == []
    finally:
        again.stop()


def _open(svc: Service, key: PrivateKey, now: int) -> int:
    pub = key.public_key()
    message = auth.open_account_message(svc.tags.auth, pub, 10**6, now)
    return svc.open_account(pub, 10**6, now, key.sign(message))[0]


def _h(svc: Service, order: SlottedOrder) -> int:
    from verifier.account_state import order_hash

    return order_hash(svc.tags.order, order)


def _sealed(svc: Service, key: PrivateKey, order: SlottedOrder, h: int | None = None) -> str:
    import base64

    from nacl.public import SealedBox

    h = _h(svc, order) if h is None else h
    plain = auth.slotted_order_plaintext(order, key.sign(h))
    return base64.b64encode(SealedBox(svc.keys.box.public_key).encrypt(plain)).decode()


def _cancel(svc: Service, h: int) -> int:
    from verifier.account_state import cancel_order_message

    return cancel_order_message(svc.tags.cancel, h)
