"""``POST /v1/orders/batch``: many sealed orders in one request, each judged on its own.

One module-scoped app on SQLite (slots state: 4 order slots per account at
the test profile). Account opens are "proven" by a prover that returns the
statement's public inputs without a proof (the witness is still built): this
module tests intake, not proofs. Every refused order must carry
the status and reason ``POST /v1/orders`` would give and change nothing; the
accepted ones are in the ledger exactly once.
"""

import base64
import secrets
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from nacl.public import PublicKey, SealedBox

from client.sdk import ClientError, DarkpoolClient
from exchange.api.main import BATCH_BODY_FACTOR, create_app
from exchange.core.config import Settings
from exchange.models import MAX_ORDERS_PER_REQUEST
from exchange.service import Service
from tests.exchange.slots_ledger import stand_in_prover
from verifier import auth
from verifier.account_state import SlottedOrder, order_hash
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL
from verifier.field import R

pytestmark = pytest.mark.slow
# Orders per account per minute in this module: below the 4 slots an account has,
# so one account can show the limit (each test uses its own account).
ACCOUNT_LIMIT = 3


class Env:
    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.client = DarkpoolClient(http=http)
        self.keys = [PrivateKey.generate() for _ in range(4)]
        self.accounts: list[int] = []

    def order(self, n: int, order_id: int, **terms: int) -> SlottedOrder:
        """An order of account ``n`` (id ``order_id``: slot ``order_id mod 4``)."""
        base = {
            "account": self.accounts[n],
            "order_id": order_id,
            "market": 0,
            "side": BUY if n % 2 == 0 else SELL,
            "size": 1,
            "limit_price": 50_000 if n % 2 == 0 else 90_000,  # never cross: they stay open
            "expiry": int(time.time()) + 3600,
            "salt": secrets.randbelow(R),
        }
        base.update(terms)
        return SlottedOrder(reduce_only=False, **base)

    def item(self, n: int, order: SlottedOrder, *, signer: int | None = None) -> dict[str, str]:
        h = order_hash(self.client.tags.order, order)
        key = self.keys[n if signer is None else signer]
        return {
            "commitment": str(h),
            "ciphertext": self.seal(auth.slotted_order_plaintext(order, key.sign(h))),
        }

    def seal(self, plaintext: bytes) -> str:
        box = SealedBox(PublicKey(bytes.fromhex(self.client.info()["operator_box_public_key"])))
        return base64.b64encode(box.encrypt(plaintext)).decode()

    def ledger_length(self) -> int:
        return int(self.client.roots()["ledger_index"]) + 1


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    data = tmp_path_factory.mktemp("darkpool-order-batch")
    settings = Settings(
        data_dir=data,
        database_url=f"sqlite:///{(data / 'db.sqlite3').resolve()}",
        batch_interval_s=0,
        oracle_step_bps=0,
        orders_per_account_per_minute=ACCOUNT_LIMIT,
    )
    with TestClient(create_app(settings, service=Service(settings, prove=stand_in_prover))) as http:
        e = Env(http)
        e.accounts = [e.client.open_account(k, 1_000_000) for k in e.keys]
        yield e


def test_mixed_batch_is_judged_order_by_order(env: Env) -> None:
    before = env.ledger_length()
    first, second = env.order(0, 1), env.order(0, 2, limit_price=49_000)
    items = [
        env.item(0, first),
        env.item(0, env.order(0, 3), signer=1),  # signed by another key
        env.item(0, second),
        env.item(0, first),  # the same commitment again
        env.item(0, env.order(0, 3, account=9)),  # no such account
        env.item(0, env.order(0, 3, expiry=int(time.time()) - 5)),
        {"commitment": "123", "ciphertext": "%%% not base64"},
    ]
    r = env.http.post("/v1/orders/batch", json={"orders": items})
    assert r.status_code == 200, r.text
    body = r.json()
    got = [(x["status"], x["code"]) for x in body["results"]]
    assert got == [
        ("listed", 202),
        ("refused", 422),
        ("listed", 202),
        ("refused", 409),
        ("refused", 404),
        ("refused", 422),
        ("refused", 400),
    ]
    details = [x["detail"] for x in body["results"]]
    assert details[0] is None and "signature" in details[1] and "duplicate" in details[3]
    assert "expired" in details[5] and "base64" in details[6]
    assert (body["accepted"], body["refused"]) == (2, 5)
    assert [x["commitment"] for x in body["results"]] == [i["commitment"] for i in items]
    # Exactly the two accepted orders entered the ledger, in request order.
    entries = env.client.ledger(before, 10)["entries"]
    assert [e["kind"] for e in entries] == ["order", "order"]
    assert [e["commitment"] for e in entries] == [items[0]["commitment"], items[2]["commitment"]]
    indices = [x["order_index"] for x in body["results"] if x["code"] == 202]
    assert [e["order_index"] for e in entries] == indices
    # The same refusals one by one give the same answers (code and reason); the
    # accepted ones are now duplicates.
    for item, result in zip(items, body["results"], strict=True):
        single = env.http.post("/v1/orders", json=item)
        if result["code"] == 202:
            assert single.status_code == 409
        else:
            # (an expiry reason names the clock: compare up to it)
            assert (single.status_code, single.json()["detail"].split(" (now")[0]) == (
                result["code"],
                result["detail"].split(" (now")[0],
            )
    assert env.ledger_length() == before + 2


def test_account_rate_limit_applies_per_order(env: Env) -> None:
    """The per-account limit counts orders, not requests: the excess one is 429."""
    before = env.ledger_length()
    orders = [
        (env.keys[1], env.order(1, 1 + i, limit_price=90_000 + i)) for i in range(ACCOUNT_LIMIT + 1)
    ]
    body = env.client.submit_orders(orders)
    codes = [x["code"] for x in body["results"]]
    assert codes == [202] * ACCOUNT_LIMIT + [429]  # the last one had a free slot
    assert "rate limit" in body["results"][-1]["detail"]
    assert env.ledger_length() == before + ACCOUNT_LIMIT


def test_request_limits(env: Env) -> None:
    before = env.ledger_length()
    item = env.item(0, env.order(0, 3))
    too_many = env.http.post(
        "/v1/orders/batch", json={"orders": [item] * (MAX_ORDERS_PER_REQUEST + 1)}
    )
    assert too_many.status_code == 422
    assert env.http.post("/v1/orders/batch", json={"orders": []}).status_code == 422
    bad_field = env.http.post(
        "/v1/orders/batch", json={"orders": [item, {"commitment": "x1", "ciphertext": ""}]}
    )
    assert bad_field.status_code == 422  # the schema refuses the request as a whole
    limit = BATCH_BODY_FACTOR * 16 * 1024
    huge = {"orders": [{"commitment": "1", "ciphertext": "A" * 8000}] * 9}
    assert len(str(huge)) > limit
    r = env.http.post("/v1/orders/batch", json=huge)
    assert r.status_code == 413 and "exceeds" in r.json()["detail"]
    # The usual limit still holds for a single order; 64 honest orders fit the batch limit.
    assert (
        env.http.post(
            "/v1/orders", json={"commitment": "1", "ciphertext": "A" * 17_000}
        ).status_code
        == 413
    )
    assert 64 * len(str(item)) < limit
    assert env.ledger_length() == before
    with pytest.raises(ClientError) as exc:
        env.client.submit_orders([])
    assert exc.value.status == 422


def test_forged_orders_and_cancels_do_not_spend_the_owners_budget(env: Env) -> None:
    """Anyone can name any account (commitments are public): only requests its key
    signed count against its per-account limit, so a flood of forged orders and
    cancels naming a victim leaves the victim's own order and cancel accepted."""
    victim = 2
    own = env.order(victim, 1, limit_price=48_000)
    placed = env.http.post("/v1/orders", json=env.item(victim, own))
    assert placed.status_code == 202, placed.text
    commitment = int(placed.json()["commitment"])
    forged = [
        env.item(victim, env.order(victim, 2, limit_price=47_000 - i), signer=1)
        for i in range(ACCOUNT_LIMIT + 4)
    ]
    body = env.http.post("/v1/orders/batch", json={"orders": forged}).json()
    assert [x["code"] for x in body["results"]] == [422] * len(forged)
    attacker = env.keys[1]
    for _ in range(ACCOUNT_LIMIT + 2):
        with pytest.raises(ClientError) as refused:
            env.client.cancel(attacker, commitment)
        assert refused.value.status == 401
    before = env.ledger_length()
    mine_item = env.item(victim, env.order(victim, 2, limit_price=46_000))
    mine = env.http.post("/v1/orders", json=mine_item)
    assert mine.status_code == 202, mine.text
    assert env.client.cancel(env.keys[victim], commitment)["status"] == "cancelled"
    assert env.ledger_length() == before + 2  # her order entry and her (public) cancel entry
    assert env.client.ledger(before, 2)["entries"][-1]["kind"] == "cancel"
