"""The service layer in process (recycling-order state, stand-in prover: service logic only).

A restart on the same database restores the same state (roots, private
state, a cancel), keeps the operator's keys (owner-only files, the token
not regenerated); orders that arrive while a commit runs share a group
commit and are answered only once it is durable; a failed commit answers
503 and reloads the state. (Orders that arrive while a batch proves:
``test_service_slots.py::test_orders_during_a_batch_queue_then_list_and_survive_a_restart``.)
"""

import base64
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from nacl.public import SealedBox

from exchange.core.config import Settings
from exchange.errors import NotFound, Unavailable
from exchange.service import Service
from tests.exchange.slots_ledger import stand_in_prover
from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
from verifier.auth import open_account_message, slotted_order_plaintext
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL
from verifier.field import R

pytestmark = pytest.mark.slow


class _Clock:
    """The service's clock (Unix seconds), moved by the test."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def __call__(self) -> int:
        return self.now


def _order(account: int, order_id: int, side: int, size: int, limit: int) -> SlottedOrder:
    expiry = int(time.time()) + 3600
    return SlottedOrder(account, order_id, 0, side, size, limit, expiry, salt=secrets.randbelow(R))


def _seal(svc: Service, key: PrivateKey, order: SlottedOrder) -> tuple[int, str]:
    h = order_hash(svc.tags.order, order)
    plain = slotted_order_plaintext(order, key.sign(h))
    return h, base64.b64encode(SealedBox(svc.keys.box.public_key).encrypt(plain)).decode()


def _open(svc: Service, key: PrivateKey) -> int:
    pub, now = key.public_key(), svc._clock()
    message = open_account_message(svc.tags.auth, pub, 10**6, now)
    return svc.open_account(pub, 10**6, now, key.sign(message))[0]


def test_restart_restores_the_state_and_keys_and_group_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        data_dir=tmp_path, batch_interval_s=0, operator_token="t" * 20, oracle_step_bps=0
    )
    clock = _Clock()
    svc = Service(settings, clock=clock, prove=stand_in_prover)
    svc.start(background=False)
    try:
        alice, bob = PrivateKey.generate(), PrivateKey.generate()
        a, b = _open(svc, alice), _open(svc, bob)
        sealed = [
            _seal(svc, alice, _order(a, 1, BUY, 2, 61_000)),
            _seal(svc, bob, _order(b, 1, SELL, 1, 59_000)),
            _seal(svc, bob, _order(b, 2, SELL, 1, 70_000)),
        ]
        assert [svc.submit_order(*s) for s in sealed] == [("listed", i) for i in range(3)]
        clock.now += 1  # orders are matched from the batch after they arrive
        svc.run_batch()
        h_cancel = sealed[2][0]
        svc.cancel(h_cancel, bob.sign(cancel_order_message(svc.tags.cancel, h_cancel)))
        assert svc.op.ledger.entries[-1].kind == "cancel"
        roots, private = svc.op.ledger.roots, svc.op.private_state()
        statuses = [svc.order_view(h).status for h, _ in sealed]
        assert statuses == ["open", "filled", "cancelled"]
    finally:
        svc.stop()

    again = Service(settings, clock=clock, prove=stand_in_prover)
    again.start(background=False)
    try:
        assert again.op.ledger.roots == roots
        assert again.op.private_state() == private
        assert [again.order_view(h).status for h, _ in sealed] == statuses
        assert again.order_view(h_cancel).holds_slot  # until a batch executes the cancel
        assert again.keys.box.public_key == svc.keys.box.public_key
        assert not again.keys.token_generated
        key_files = sorted(p.name for p in (tmp_path / "keys").iterdir())
        assert key_files and all(
            (tmp_path / "keys" / n).stat().st_mode & 0o077 == 0 for n in key_files
        )
        _group_commit_answers_after_durable(again, monkeypatch)
        acked = (again.op.ledger.roots, len(again.op.ledger))
    finally:
        again.stop()
    # Everything answered before the stop is there after a restart.
    third = Service(settings, clock=clock, prove=stand_in_prover)
    third.start(background=False)
    try:
        assert (third.op.ledger.roots, len(third.op.ledger)) == acked
        assert third.durable_entries == acked[1]
    finally:
        third.stop()


def _group_commit_answers_after_durable(svc: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders that arrive while a commit runs are applied, queued and answered only after
    their (shared) group commit; views show no entry before it is stored; a failed commit
    answers 503, reloads the state and the same order then goes through."""
    carol, dave = PrivateKey.generate(), PrivateKey.generate()
    c, d = _open(svc, carol), _open(svc, dave)
    real_write = svc.store.write_group
    gate, entered = threading.Event(), threading.Event()

    def gated(changes: Any) -> None:
        if not entered.is_set():
            entered.set()
            assert gate.wait(60)
        real_write(changes)

    monkeypatch.setattr(svc.store, "write_group", gated)
    sealed = [
        _seal(svc, key, _order(account, i, BUY, 1, 50_000 + i))
        for key, account in ((carol, c), (dave, d))
        for i in (1, 2, 3)
    ]
    before, groups_before = len(svc.op.ledger), svc.writer.groups
    orders_before = len(svc.op.commitments)
    answers: list[object] = []
    threads = [
        threading.Thread(target=lambda s=s: answers.append(svc.submit_order(*s))) for s in sealed
    ]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while len(svc.op.ledger) < before + len(sealed):  # all applied in memory and queued
        assert time.time() < deadline
        time.sleep(0.01)
    assert entered.is_set() and answers == []  # nobody answered before the commit
    assert svc.ledger_page(0, 1000).total == svc.roots().ledger_index + 1 == before
    gate.set()
    for t in threads:
        t.join(60)
    assert sorted(str(a[0]) for a in answers) == ["listed"] * len(sealed)  # type: ignore[index]
    assert svc.writer.groups - groups_before <= 2  # the first commit, then one for the rest
    assert svc.ledger_page(0, 1000).total == before + len(sealed)

    # A failed commit: 503, memory reloaded from the database, the order can be resent.
    def broken(changes: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(svc.store, "write_group", broken)
    order = _seal(svc, carol, _order(c, 4, SELL, 1, 90_000))
    with pytest.raises(Unavailable, match="could not be stored"):
        svc.submit_order(*order)
    monkeypatch.setattr(svc.store, "write_group", real_write)
    assert len(svc.op.ledger) == before + len(sealed) and not svc.writer.broken  # reloaded
    with pytest.raises(NotFound):
        svc.order_view(order[0])
    assert svc.submit_order(*order) == ("listed", orders_before + len(sealed))
