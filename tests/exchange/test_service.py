"""The service layer in process: orders during a proving batch queue and list in acceptance
order right after it; a restart on the same database restores the same state (cancels too)."""

import secrets
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from exchange.core.config import Settings
from exchange.errors import NotFound, Unavailable
from exchange.service import Service
from prover import toolchain
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL, Order, cancel_message, order_commitment
from verifier.field import R

pytestmark = pytest.mark.slow


def _seal(svc: Service, key: PrivateKey, order: Order) -> tuple[int, str]:
    import base64

    from nacl.public import SealedBox

    from verifier.auth import order_plaintext

    h = order_commitment(svc.tags.order, order)
    box = SealedBox(svc.keys.box.public_key)
    return h, base64.b64encode(box.encrypt(order_plaintext(order, key.sign(h)))).decode()


def test_pending_orders_list_after_the_batch_and_survive_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()

    def gated_prove(
        art: toolchain.CircuitArtifacts, inputs: Mapping[str, object]
    ) -> tuple[dict[str, Any], list[str]]:
        if "settle" in art.r1cs.name:
            gate.wait(60)  # hold the batch in its proof while orders arrive
        return toolchain.prove_inputs(art, inputs)

    # list state pinned: order-list indices, cancel_message(tag, index, h), snapshots
    settings = Settings(
        data_dir=tmp_path, batch_interval_s=0, operator_token="t" * 20, state="list"
    )
    svc = Service(settings, prove=gated_prove)
    svc.start(background=False)
    alice, bob = PrivateKey.generate(), PrivateKey.generate()
    ts = int(time.time())
    from verifier.auth import open_account_message

    def open_account(key: PrivateKey) -> int:
        # A fresh timestamp per request: each open proves, which can outlast the auth window.
        pub, now = key.public_key(), int(time.time())
        message = open_account_message(svc.tags.auth, pub, 10**6, now)
        return svc.open_account(pub, 10**6, now, key.sign(message))[0]

    a, b = open_account(alice), open_account(bob)
    exp = ts + 3600
    orders = [
        Order(a, 0, BUY, 2, 61_000, exp, secrets.randbelow(R)),
        Order(b, 0, SELL, 1, 59_000, exp, secrets.randbelow(R)),
        Order(b, 1, SELL, 1, 2_900, exp, secrets.randbelow(R)),
    ]
    sealed = [_seal(svc, k, o) for k, o in zip((alice, bob, bob), orders, strict=True)]
    assert svc.submit_order(*sealed[0]) == ("listed", 0)

    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(svc.run_batch()))
    thread.start()
    while not svc.batch_in_progress:
        time.sleep(0.01)
    t0 = time.perf_counter()
    assert svc.submit_order(*sealed[1]) == ("pending", None)
    assert svc.submit_order(*sealed[2]) == ("pending", None)
    assert time.perf_counter() - t0 < 2  # not blocked by the proof
    assert svc.health().pending_orders == 2
    gate.set()
    thread.join(120)
    assert done
    kinds = [e.kind for e in svc.op.ledger.entries]
    assert kinds[-3:] == ["batch", "order", "order"]  # listed right after, acceptance order
    assert [svc.order_view(h).order_index for h, _ in sealed] == [0, 1, 2]
    h1 = sealed[1][0]
    svc.cancel(h1, bob.sign(cancel_message(svc.tags.cancel, 1, h1)))
    roots = svc.op.ledger.roots
    snapshot = svc.op.snapshot()
    svc.stop()

    again = Service(settings)
    again.start(background=False)
    try:
        assert again.op.ledger.roots == roots
        assert again.op.snapshot() == snapshot
        assert again.order_view(h1).status == "cancelled"
        assert again.order_view(sealed[2][0]).status == "open"
        assert again.keys.box.public_key == svc.keys.box.public_key
        assert not again.keys.token_generated
        key_files = sorted(p.name for p in (tmp_path / "keys").iterdir())
        assert all((tmp_path / "keys" / n).stat().st_mode & 0o077 == 0 for n in key_files)
        _group_commit_answers_after_durable(again, alice, a, exp, monkeypatch)
        acked = (again.op.ledger.roots, len(again.op.ledger))
    finally:
        again.stop()
    # Everything answered before the stop is there after a restart.
    third = Service(settings)
    third.start(background=False)
    try:
        assert (third.op.ledger.roots, len(third.op.ledger)) == acked
        assert third.durable_entries == acked[1]
    finally:
        third.stop()


def _group_commit_answers_after_durable(
    svc: Service, key: PrivateKey, account: int, exp: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders that arrive while a commit runs are applied, queued and answered only after
    their (shared) group commit; views show no entry before it is stored; a failed commit
    answers 503, reloads the state and the same order then goes through."""
    real_write = svc.store.write_group
    gate, entered = threading.Event(), threading.Event()

    def gated(changes: Any) -> None:
        if not entered.is_set():
            entered.set()
            assert gate.wait(60)
        real_write(changes)

    monkeypatch.setattr(svc.store, "write_group", gated)
    sealed = [
        _seal(svc, key, Order(account, 0, BUY, 1, 50_000 + i, exp, secrets.randbelow(R)))
        for i in range(6)
    ]
    before, groups_before = len(svc.op.ledger), svc.writer.groups
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
    order = _seal(svc, key, Order(account, 1, BUY, 1, 2_000, exp, secrets.randbelow(R)))
    with pytest.raises(Unavailable, match="could not be stored"):
        svc.submit_order(*order)
    monkeypatch.setattr(svc.store, "write_group", real_write)
    assert len(svc.op.ledger) == before + len(sealed) and not svc.writer.broken  # reloaded
    with pytest.raises(NotFound):
        svc.order_view(order[0])
    assert svc.submit_order(*order) == ("listed", 3 + len(sealed))
