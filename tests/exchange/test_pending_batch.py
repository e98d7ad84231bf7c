"""A batch whose proofs are pending is stored as ``proving`` and survives an operator stop.

Recycling-order ("slots") state. One market (two accounts, a crossing pair) is
copied into two data dirs. On the first the batch runs uninterrupted. On the
second the operator stops while the batch's settle_fills proof is running: the batch is visible as proving,
nothing is on the ledger, an order that arrives meanwhile queues. A restart
runs the recorded batch again (same oracle report, same blinding stream)
before listing the queued order: the batch is published once, and the
ledger equals the uninterrupted one apart from the randomised proof points
(and the operator signatures / next prev_hash that cover them), as in
tests/exchange/test_proof_jobs.py.
"""

import base64
import importlib.util
import secrets
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from nacl.public import SealedBox

from exchange.core.config import Settings
from exchange.errors import Unavailable
from exchange.service import Service
from prover import jobs, toolchain
from tests.exchange.ledger_json import without_proofs
from verifier.account_state import SlottedOrder, order_hash
from verifier.auth import open_account_message, slotted_order_plaintext
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL
from verifier.field import R

pytestmark = pytest.mark.slow
PROVER = "groth16py" if importlib.util.find_spec("groth16py") else "snarkjs"
T0 = 1_764_500_000  # a fixed operator clock (s) for both runs


def _clock() -> int:
    return T0


def _seal(svc: Service, key: PrivateKey, order: SlottedOrder) -> tuple[int, str]:
    h = order_hash(svc.tags.order, order)
    box = SealedBox(svc.keys.box.public_key)
    plain = slotted_order_plaintext(order, key.sign(h))
    return h, base64.b64encode(box.encrypt(plain)).decode()


def _order(account: int, order_id: int, side: int, size: int, limit: int) -> SlottedOrder:
    return SlottedOrder(
        account, order_id, 0, side, size, limit, T0 + 3600, salt=secrets.randbelow(R)
    )


def _service(data_dir: Path, prove: Any) -> Service:
    svc = Service(
        Settings(data_dir=data_dir, batch_interval_s=0, operator_token="t" * 20),
        clock=_clock,
        prove=prove,
    )
    svc.start(background=False)
    return svc


def test_a_pending_batch_is_visible_and_published_once_after_a_restart(tmp_path: Path) -> None:
    pool = jobs.ProofPool(workers=1, prover=PROVER)
    alice, bob = PrivateKey.generate(), PrivateKey.generate()
    svc = _service(tmp_path / "a", pool)
    try:
        idx = []
        for key in (alice, bob):
            msg = open_account_message(svc.tags.auth, key.public_key(), 10**6, T0)
            idx.append(svc.open_account(key.public_key(), 10**6, T0, key.sign(msg))[0])
        buy, sell = _order(idx[0], 1, BUY, 3, 61_000), _order(idx[1], 1, SELL, 2, 59_000)
        assert svc.submit_order(*_seal(svc, alice, buy)).status == "listed"
        assert svc.submit_order(*_seal(svc, bob, sell)).status == "listed"
        late = _seal(svc, bob, _order(idx[1], 2, SELL, 1, 59_500))
        batch_id = svc.op.next_batch_id
    finally:
        svc.stop()
    shutil.copytree(tmp_path / "a", tmp_path / "b")

    # Run 1: uninterrupted.
    svc = _service(tmp_path / "a", pool)
    try:
        done = svc.run_batch()
        assert done.fills == 1
        uninterrupted = [e.to_dict() for e in svc.op.ledger.entries]
        assert svc.batch_view(batch_id).status == "published"
    finally:
        svc.stop()

    # Run 2: the operator stops while the settle proof is running.
    proving, release = threading.Event(), threading.Event()

    def stalled(art: toolchain.CircuitArtifacts, inputs: Mapping[str, object]) -> Any:
        if "settle_fills" in art.r1cs.name:
            proving.set()
            assert release.wait(120)
            raise RuntimeError("prover killed by the stop")
        return pool(art, inputs)

    svc = _service(tmp_path / "b", stalled)
    outcome: list[BaseException] = []

    def batch() -> None:
        try:
            svc.run_batch()
        except BaseException as exc:  # recorded and asserted below
            outcome.append(exc)

    thread = threading.Thread(target=batch)
    thread.start()
    try:
        assert proving.wait(120)
        entries_before = len(svc.op.ledger)
        view = svc.batch_view(batch_id)
        assert (view.status, view.starts, view.ledger_index) == ("proving", 1, None)
        assert svc.submit_order(*late) == ("pending", None)  # queued behind the batch
    finally:
        svc._stop.set()  # what SIGTERM does (Service.interrupt) before the children die
        release.set()
        thread.join(120)
        svc.stop()
    assert [type(e) for e in outcome] == [Unavailable]

    # Restart: the recorded batch runs first, then the queued order is listed.
    svc = _service(tmp_path / "b", pool)
    try:
        view = svc.batch_view(batch_id)
        assert (view.status, view.starts) == ("published", 2)
        resumed = [e.to_dict() for e in svc.op.ledger.entries]
        assert [e["kind"] for e in resumed[entries_before:]] == ["batch", "order"]
        assert resumed[-1]["commitment"] == str(late[0])
        assert view.ledger_index == entries_before
        assert [without_proofs(e) for e in resumed[:-1]] == [
            without_proofs(e) for e in uninterrupted
        ]
        assert (
            resumed[entries_before]["proofs"][0]["proof"]
            != (uninterrupted[entries_before]["proofs"][0]["proof"])
        )  # really proved again
        assert sum(e["kind"] == "batch" for e in resumed) == 1  # published once
    finally:
        svc.stop()
