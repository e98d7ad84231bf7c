"""docs/wire-protocol.md is exact: its vectors are the code's, and clients built from it work.

* the JSON block of the document equals ``tests.client.wire_vectors.vectors()``;
* an independent Node client (node:crypto + circomlibjs, no SDK code) recomputes
  every vector from the document's inputs;
* against a live server the Node client opens an account, deposits, reads its
  account twice within one second (both 200), sees the replay refused (401),
  checks its own (slots: 8-input) leaf and withdraws; a Python client that imports only
  ``verifier`` primitives and PyNaCl (not ``client``, not ``exchange``) seals
  a slotted order, submits it and reads its status with a signed request.
"""

import base64
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.public import PublicKey, SealedBox

from tests.client.wire_vectors import vectors
from tests.live_server import serve_app
from verifier import auth
from verifier.account_state import SlottedOrder, order_hash
from verifier.eddsa import PrivateKey, pack_signature
from verifier.encoding import BUY
from verifier.field import R
from verifier.params import domain_tag
from verifier.poseidon import poseidon

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "wire-protocol.md"
NODE_CLIENT = Path(__file__).with_name("independent_client.mjs")
TOKEN = "wire-protocol-test-token-0123"


def _doc_vectors() -> dict[str, Any]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S)
    data: dict[str, Any] = json.loads(blocks[-1])
    return data


def _node(*args: str) -> dict[str, Any]:
    if shutil.which("node") is None:
        pytest.fail("node is required (the project's toolchain needs it anyway)")
    out = subprocess.run(
        ["node", str(NODE_CLIENT), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_document_vectors_are_the_codes() -> None:
    assert _doc_vectors() == vectors()


def test_node_client_recomputes_every_vector(tmp_path: Path) -> None:
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(_doc_vectors()))
    assert _node("vectors", str(path)) == {"ok": True, "checked": "vectors"}
    # and it would notice a wrong one
    bad = _doc_vectors()
    bad["requests"][0]["digest_mod_r"] = "1"
    path.write_text(json.dumps(bad))
    out = subprocess.run(["node", str(NODE_CLIENT), "vectors", str(path)], capture_output=True)
    assert out.returncode == 1 and b"digest" in out.stdout


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from exchange.api.main import create_app
    from exchange.core.config import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("wire"),
        batch_interval_s=0,
        operator_token=TOKEN,
        oracle_step_bps=0,
    )
    with serve_app(create_app(settings)) as url:
        # withdrawals are margin-checked at signed marks: one (empty) batch first
        r = httpx.post(
            f"{url}/v1/admin/batch", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600
        )
        assert r.status_code == 200, r.text
        yield url


@pytest.mark.slow
def test_node_client_follows_the_document_live(live_url: str) -> None:
    result = _node("live", live_url)
    assert result["ok"] is True and result["nonce"] == 1
    assert "replayed" in result["replay_detail"]
    assert result["reads_ms"] < 1000  # the two identical reads fell within one second


@pytest.mark.slow
def test_python_client_without_the_sdk_seals_an_order(live_url: str) -> None:
    http = httpx.Client(base_url=live_url, timeout=120)
    info = http.get("/v1/info").json()
    ex = info["exchange_id"]
    key = PrivateKey.generate()
    pub = key.public_key()
    ts = int(time.time())
    open_msg = poseidon([domain_tag("auth", ex), pub.x, pub.y, 1_000_000, ts])
    r = http.post(
        "/v1/accounts",
        json={
            "pubkey": {"x": str(pub.x), "y": str(pub.y)},
            "amount": "1000000",
            "timestamp": ts,
            "signature": pack_signature(key.sign(open_msg)).hex(),
        },
    )
    assert r.status_code == 201, r.text
    account = r.json()["account"]
    # The server runs the slots state (docs/wire-protocol.md section 5.1): order id 1, slot 1.
    assert info["state"] == "slots"
    order = SlottedOrder(account, 1, 0, BUY, 1, 61_000, ts + 3600, False, salt=secrets.randbelow(R))
    h = order_hash(domain_tag("order", ex), order)
    sig = key.sign(h)
    terms = {f: str(int(getattr(order, f))) for f in auth.SLOTTED_ORDER_FIELDS}
    plaintext = json.dumps(
        {
            "order": terms,
            "signature": {
                "R8": {"x": str(sig.R8.x), "y": str(sig.R8.y)},
                "S": str(sig.S),
            },
        }
    ).encode()  # default separators: whitespace is fine, the server parses JSON
    box = SealedBox(PublicKey(bytes.fromhex(info["operator_box_public_key"])))
    sealed = base64.b64encode(box.encrypt(plaintext)).decode()
    r = http.post("/v1/orders", json={"commitment": str(h), "ciphertext": sealed})
    assert r.status_code == 202 and r.json()["status"] == "listed", r.text

    target = f"/v1/orders/{h}"
    for _ in range(2):  # twice within a second: two timestamps, two messages
        ts_ms = time.time_ns() // 1_000_000
        digest = int.from_bytes(hashlib.sha256(f"GET {target}\n".encode()).digest(), "big") % R
        msg = poseidon([domain_tag("auth", ex), account, ts_ms, digest])
        headers = {
            "X-Darkpool-Account": str(account),
            "X-Darkpool-Timestamp": str(ts_ms),
            "X-Darkpool-Signature": pack_signature(key.sign(msg)).hex(),
        }
        view = http.get(target, headers=headers)
        assert view.status_code == 200, view.text
        assert (view.json()["status"], view.json()["size"]) == ("open", "1")
        time.sleep(0.005)
    replay = http.get(target, headers=headers)
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
    http.close()
