"""The REST API end to end over a fresh database, SQLite and PostgreSQL (test profile, real proofs,
the recycling-order "slots" state).

One module-scoped app: genesis, two traders opened through the API, every bad
request answered 4xx with nothing changed (roots, ledger length and pending
queue compared before and after), a crossing pair of orders proven in a batch
that verifies with ``verifier.groth16``, withdraw, cancel, inclusion checked
locally, a solvency job, and an export that ``verifier.ledger.replay`` accepts.
"""

import base64
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from nacl.public import PublicKey, SealedBox

from client.sdk import ClientError, DarkpoolClient
from exchange.api.main import create_app
from exchange.core.config import Settings
from tests.conftest import BACKENDS, fresh_database
from verifier import auth, groth16
from verifier.account_state import SlottedOrder, order_hash
from verifier.eddsa import PrivateKey, signature_to_dict
from verifier.encoding import BUY, SELL
from verifier.field import R
from verifier.ledger import check_proofs
from verifier.source import DirectorySource, replay_source

pytestmark = pytest.mark.slow
TOKEN = "test-operator-token-0123456789"


class Env:
    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.client = DarkpoolClient(http=http)
        self.alice = PrivateKey.generate()
        self.bob = PrivateKey.generate()
        self.insurance = self.alice  # the operator's insurance-fund key (account 0), set by env
        self.a = -1
        self.b = -1
        self.next_id = 1_000  # order ids of hand-made orders (the SDK's own start lower)

    def state(self) -> tuple[Any, ...]:
        roots = self.client.roots()
        health = self.client.health()
        return (roots["roots"], roots["ledger_index"], health["pending_orders"])

    def order(self, key: PrivateKey, **terms: int) -> SlottedOrder:
        self.next_id += 1
        base = {
            "account": self.a,
            "order_id": self.next_id,
            "market": 0,
            "side": BUY,
            "size": 2,
            "limit_price": 61_000,
            "expiry": int(time.time()) + 3600,
            "salt": secrets.randbelow(R),
        }
        base.update(terms)
        return SlottedOrder(**base)  # type: ignore[arg-type]

    def seal_raw(self, plaintext: bytes) -> str:
        box = SealedBox(PublicKey(bytes.fromhex(self.client.info()["operator_box_public_key"])))
        return base64.b64encode(box.encrypt(plaintext)).decode()


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    data = tmp_path_factory.mktemp("darkpool-api")
    with fresh_database(request.param, data) as url:
        settings = Settings(
            data_dir=data,
            database_url=url,
            batch_interval_s=0,
            operator_token=TOKEN,
            oracle_step_bps=0,
        )
        with TestClient(create_app(settings)) as http:
            e = Env(http)
            e.insurance = PrivateKey((data / "keys" / "insurance_eddsa.key").read_bytes())
            e.a = e.client.open_account(e.alice, 1_000_000)
            e.b = e.client.open_account(e.bob, 1_000_000)
            yield e


def test_public_views(env: Env) -> None:
    c = env.client
    assert c.health()["status"] == "ok"
    info = c.info(refresh=True)
    assert info["profile"] == "test" and len(info["markets"]) == 2
    assert len(bytes.fromhex(info["operator_box_public_key"])) == 32
    assert (env.a, env.b) == (1, 2)  # account 0 is the insurance account
    assert info["total_collateral"] == str(1_000_000 * 3)
    page = c.ledger()
    kinds = [e["kind"] for e in page["entries"]]
    assert kinds == ["genesis", "account_op", "account_op", "account_op"]
    assert c.ledger(2, 1)["entries"][0]["index"] == 2
    assert info["state"] == "slots"
    for statement in ("order_ops", "settle_fills"):
        assert groth16.vkey_hash(c.vkey(statement)) == info["vkey_hashes"][statement]
    assert env.http.get("/v1/vkeys/settle_batch").status_code == 404  # a retired statement
    assert env.http.get("/v1/vkeys/nope").status_code == 404
    assert env.http.get("/v1/ledger/999").status_code == 404
    assert env.http.get("/docs").status_code == 200
    assert "/v1/orders" in env.http.get("/openapi.json").json()["paths"]


def test_bad_requests_change_nothing(env: Env) -> None:
    c, http = env.client, env.http
    before = env.state()

    def refused(status: int, r: Any, needle: str = "") -> None:
        assert r.status_code == status, r.text
        detail = r.json()["detail"]
        assert isinstance(detail, str) and needle in detail

    good = env.order(env.alice)
    h = order_hash(c.tags.order, good)
    sig = env.alice.sign(h)
    post = lambda body: http.post("/v1/orders", json=body)  # noqa: E731
    refused(400, post({"commitment": str(h), "ciphertext": "%%%not base64"}), "base64")
    junk = base64.b64encode(secrets.token_bytes(120)).decode()
    refused(400, post({"commitment": str(h), "ciphertext": junk}), "does not open")
    refused(400, post({"commitment": str(h), "ciphertext": env.seal_raw(b"{not json")}))
    _, other = c.seal_slotted(env.order(env.alice), env.alice)
    refused(422, post({"commitment": str(h), "ciphertext": other}), "commitment does not match")
    forged = env.seal_raw(auth.slotted_order_plaintext(good, env.bob.sign(h)))
    refused(422, post({"commitment": str(h), "ciphertext": forged}), "signature")
    for terms, status, needle in (
        ({"market": 7}, 422, "market"),
        ({"account": 9}, 404, "does not exist"),
        ({"size": 1 << 40}, 422, "size"),
        ({"size": 0}, 422, "size"),
        ({"expiry": int(time.time()) - 5}, 422, "expired"),
        ({"size": 10_000}, 422, "margin"),
    ):
        bad = env.order(env.alice, **terms)
        hb, ct = c.seal_slotted(bad, env.alice)
        refused(status, post({"commitment": str(hb), "ciphertext": ct}), needle)
    beyond = json.loads(auth.slotted_order_plaintext(good, sig))
    beyond["order"]["salt"] = str(R)
    refused(
        400, post({"commitment": str(h), "ciphertext": env.seal_raw(json.dumps(beyond).encode())})
    )
    refused(422, post({"commitment": str(R + 1), "ciphertext": junk}), "field")
    refused(422, post({"commitment": "-1", "ciphertext": junk}))
    refused(413, http.post("/v1/orders", content=b"x" * 20_000), "exceeds")

    # request auth
    refused(401, http.get(f"/v1/accounts/{env.a}"), "missing")
    target = f"/v1/accounts/{env.a}"
    headers = auth.sign_request(
        env.bob, c.tags.auth, env.a, "GET", target, b"", time.time_ns() // 1_000_000
    )
    refused(401, http.get(target, headers=headers), "signature")
    stale = auth.sign_request(env.alice, c.tags.auth, env.a, "GET", target, b"", 1_000)
    refused(401, http.get(target, headers=stale), "timestamp")
    ok = auth.sign_request(
        env.alice, c.tags.auth, env.a, "GET", target, b"", time.time_ns() // 1_000_000
    )
    assert http.get(target, headers=ok).status_code == 200
    refused(401, http.get(target, headers=ok), "replayed")
    # two identical reads in the same second are two messages (millisecond timestamps)
    t_ms = time.time_ns() // 1_000_000
    twice = [
        auth.sign_request(env.alice, c.tags.auth, env.a, "GET", target, b"", t_ms + d)
        for d in (1, 2)
    ]
    assert [http.get(target, headers=h).status_code for h in twice] == [200, 200]
    refused(401, http.get(target, headers=twice[1]), "replayed")
    assert c.account(env.alice, env.a) == c.account(env.alice, env.a)  # SDK: no retries needed
    other = auth.sign_request(
        env.bob, c.tags.auth, env.b, "GET", target, b"", time.time_ns() // 1_000_000
    )
    refused(403, http.get(target, headers=other))
    with pytest.raises(ClientError) as err:
        c.account(env.alice, 9)
    assert err.value.status == 401

    # account ops
    ts = int(time.time())
    body = {
        "pubkey": {"x": "1", "y": "2"},
        "amount": "5",
        "timestamp": ts,
        "signature": signature_to_dict(sig),
    }
    refused(400, http.post("/v1/accounts", json=body), "public key")
    pub = env.bob.public_key()
    body["pubkey"] = {"x": str(pub.x), "y": str(pub.y)}
    refused(401, http.post("/v1/accounts", json=body), "possession")
    with pytest.raises(ClientError) as err:
        c.deposit(env.alice, env.a, 1 << 80)
    assert err.value.status == 422
    # withdraw signed for the wrong amount
    wd = {"amount": "10", "signature": signature_to_dict(sig)}
    raw = json.dumps(wd).encode()
    path = f"/v1/accounts/{env.a}/withdraw"
    hdrs = auth.sign_request(
        env.alice, c.tags.auth, env.a, "POST", path, raw, time.time_ns() // 1_000_000
    )
    assert http.post(path, content=raw, headers=hdrs).status_code in (401, 422)
    # the insurance fund (account 0): its key is the operator's, yet even correctly
    # signed and authenticated a withdrawal is refused 403 before anything runs
    # (no batch, no entry, balance kept); darkpool-verify would fail the entry
    fund = c.account(env.insurance, 0)
    with pytest.raises(ClientError) as err:
        c.withdraw(env.insurance, 0, 1)
    assert err.value.status == 403 and "insurance fund (account 0)" in str(err.value)
    assert c.account(env.insurance, 0)["balance"] == fund["balance"]

    # operator-only routes
    refused(401, http.post("/v1/admin/batch"), "token")
    refused(403, http.post("/v1/admin/batch", headers={"Authorization": "Bearer nope"}))
    refused(401, http.post("/v1/solvency", json={}), "token")
    operator = {"Authorization": f"Bearer {TOKEN}"}
    for shock in (True, 1.0, "5"):  # never read as a shock of 1 or 5 bps
        refused(
            422, http.post("/v1/solvency", json={"shock_bps": shock}, headers=operator), "shock"
        )
    refused(422, http.post("/v1/accounts", json={**body, "timestamp": True}), "timestamp")
    refused(404, http.get("/v1/solvency/nope"))
    refused(404, http.get("/v1/solvency/%00"))  # a NUL byte never reaches the database
    refused(404, http.get("/v1/vkeys/%00"))
    # an unknown body field is a 422 (exchange.models.RequestModel), never silently dropped
    deposit = f"/v1/accounts/{env.a}/deposit"
    with pytest.raises(ClientError) as err:
        c._signed("POST", deposit, env.alice, env.a, {"amount": "5", "x": 1})
    assert err.value.status == 422 and "x" in err.value.detail, err.value.detail
    refused(422, post({"commitment": str(h), "ciphertext": junk, "extra": 1}), "extra")
    refused(422, http.post("/v1/solvency", json={"shock_bps": 0, "x": 1}, headers=operator))
    assert env.state() == before

    # a replayed order: the first copy is accepted, the copy changes nothing
    accepted = c.submit_sealed(h, env.seal_raw(auth.slotted_order_plaintext(good, sig)))
    assert accepted["status"] == "listed"
    after_first = env.state()
    assert after_first != before
    refused(
        409,
        post(
            {
                "commitment": str(h),
                "ciphertext": env.seal_raw(auth.slotted_order_plaintext(good, sig)),
            }
        ),
    )
    assert env.state() == after_first
    # cancel it (signed), and a forged cancel is refused
    with pytest.raises(ClientError) as err:
        c.cancel(env.bob, h)
    assert err.value.status == 401
    assert c.cancel(env.alice, h)["status"] == "cancelled"
    assert c.order_status(env.alice, env.a, h)["status"] == "cancelled"


def test_trade_batch_solvency_and_export(env: Env, tmp_path: Path) -> None:
    c = env.client
    expiry = int(time.time()) + 3600
    buy = c.submit_order(env.alice, env.a, 0, BUY, 3, 61_000, expiry)
    sell = c.submit_order(env.bob, env.b, 0, SELL, 2, 59_000, expiry)
    assert buy["status"] == sell["status"] == "listed"
    result = c.admin_batch(TOKEN)
    assert result["fills"] == 1 and result["volume"][0] == "2"
    entry = c.ledger(result["entry_index"], 1)["entries"][0]
    assert entry["kind"] == "batch"
    statements = [p["statement"] for p in entry["proofs"]]
    assert "order_ops" in statements and "settle_fills" in statements
    for p in entry["proofs"]:
        vk = groth16.prepare(groth16.VerificationKey.from_snarkjs(c.vkey(p["statement"])))
        proof = groth16.Proof.from_snarkjs(p["proof"])
        assert groth16.verify(vk, proof, [int(x) for x in p["public_signals"]])
    buy_view = c.order_status(env.alice, env.a, int(buy["commitment"]))
    assert (buy_view["status"], buy_view["filled"]) == ("open", "2")
    assert c.order_status(env.bob, env.b, int(sell["commitment"]))["status"] == "filled"
    alice = c.account(env.alice, env.a)
    assert alice["positions"][0] == "2"
    assert int(alice["balance"]) < 1_000_000

    # inclusion under the current root and under an older one
    old_root = int(c.ledger(3, 1)["entries"][0]["roots_after"]["account"])
    now_incl = c.inclusion(env.alice, env.a)
    assert c.check_inclusion(now_incl, env.alice.public_key())
    assert not c.check_inclusion(now_incl, env.bob.public_key())
    assert now_incl["root"] == c.roots()["roots"]["account"]
    assert now_incl["leaf"] == alice["leaf"]
    old_incl = c.inclusion(env.alice, env.a, old_root)
    assert int(old_incl["root"]) == old_root and c.check_inclusion(old_incl)
    # latest-root semantics: the older opening holds, but it is stale
    assert c.check_inclusion(now_incl, env.alice.public_key(), latest=True)
    assert not c.check_inclusion(old_incl, latest=True)
    assert old_incl["opening"]["balance"] == "1000000"
    tampered = dict(old_incl, opening=dict(old_incl["opening"], balance="999999"))
    assert not c.check_inclusion(tampered)
    with pytest.raises(ClientError) as err:
        c.inclusion(env.alice, env.a, 12345)
    assert err.value.status == 404

    # withdraw (signed over the current nonce, margin-checked in the proof)
    out = c.withdraw(env.bob, env.b, 1_000)
    assert out["nonce"] == 1
    assert c.info(refresh=True)["total_collateral"] == str(3_000_000 - 1_000)

    # a zero shock is the real report relabelled as stress: refused, nothing queued
    with pytest.raises(ClientError) as err:
        c.start_solvency(TOKEN, shock_bps=0)
    assert err.value.status == 422 and "no stress scenario" in str(err.value)

    job = c.start_solvency(TOKEN)
    deadline = time.time() + 120
    while job["status"] not in ("done", "failed") and time.time() < deadline:
        time.sleep(0.5)
        job = c.solvency_job(job["id"])
    assert job["status"] == "done", job
    assert job["done"] == job["total"] == 1
    assert job["entry"]["kind"] == "solvency" and job["entry"]["result"]["solvent"] is True

    out_dir = c.export_ledger(tmp_path / "export")
    report = replay_source(DirectorySource(out_dir), checker=check_proofs(2))
    assert report.ok, [str(f) for f in report.failures]
    assert report.checked_to + 1 == c.roots()["ledger_index"] + 1
