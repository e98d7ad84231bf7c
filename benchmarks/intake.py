"""Order intake throughput over the REST API: decrypt + parse + commitment + EdDSA + margin.

Starts the service in process (test profile, fresh temp database, batches
off) behind FastAPI's TestClient, so every order goes through the whole HTTP
stack except the TCP socket: body limit, JSON parsing, base64, sealed-box
decryption, Poseidon commitment, EdDSA-Poseidon verification, pre-trade
margin, and the SQLite commit of the order row + ledger entry. Orders are
sealed and signed before the clock starts (that is the trader's cost). The
test profile's order list holds 32 orders, so one run measures 30.

Runs twice in one process: the old path (pure-Python Poseidon, windowed key
multiplication) and the new one (native Poseidon from ``darkpool[native]``,
per-key fixed-base tables in EdDSA checks), each on a fresh service, and
reports orders/s with the ratio. Writes ``benchmarks/results/intake.json``.

Run: ``uv run python -m benchmarks.intake``. Reports numbers, asserts nothing.
"""

import base64
import os
import secrets
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from nacl.public import SealedBox

from benchmarks.common import print_table, write_json
from client.sdk import DarkpoolClient
from exchange.api.main import create_app
from exchange.core.config import Settings
from verifier import babyjub, eddsa, poseidon
from verifier.auth import parse_order_plaintext
from verifier.eddsa import PrivateKey, check_signature
from verifier.encoding import BUY, SELL, Order, order_commitment
from verifier.field import R

ORDERS = 30


def run(backend: str) -> dict[str, object]:
    """One intake run; ``python`` is the old path, ``native`` the new one.

    old: pure-Python Poseidon, a windowed multiplication of the trader's key
    in every EdDSA check; new: native Poseidon and the per-key fixed-base
    table (``babyjub.mul_scalar_cached``).
    """
    os.environ[poseidon.BACKEND_ENV] = backend
    poseidon.set_backend(backend)
    eddsa.mul_scalar_cached = (  # type: ignore[attr-defined]
        babyjub.mul_scalar if backend == "python" else babyjub.mul_scalar_cached
    )
    with tempfile.TemporaryDirectory(prefix="darkpool-intake-") as tmp:
        # Intake throughput, not spam policy: the per-IP / per-account limits are off.
        settings = Settings(
            data_dir=Path(tmp),
            batch_interval_s=0,
            operator_token="b" * 24,
            requests_per_ip_per_minute=0,
            orders_per_account_per_minute=0,
        )
        with TestClient(create_app(settings)) as http:
            c = DarkpoolClient(http=http)
            keys = [PrivateKey.generate() for _ in range(3)]
            accounts = [c.open_account(k, 10**8) for k in keys]
            expiry = int(time.time()) + 3600
            sealed = []
            for i in range(ORDERS):
                k, a = keys[i % 3], accounts[i % 3]
                side = BUY if i % 2 else SELL
                limit = 59_000 if side == BUY else 61_000  # nothing crosses
                order = Order(a, i % 2, side, 1, limit, expiry, secrets.randbelow(R))
                sealed.append(c.seal(order, k))
            started = time.perf_counter()
            for h, ct in sealed:
                assert c.submit_sealed(h, ct)["status"] == "listed"
            elapsed = time.perf_counter() - started
            # Where the time goes: the per-order crypto, without HTTP and the database.
            box = SealedBox(http.app.state.service.keys.box)  # type: ignore[attr-defined]
            tags, pubs = c.tags, [k.public_key() for k in keys]
            t_dec = t_com = t_sig = 0.0
            for h, ct in sealed:
                t0 = time.perf_counter()
                order, sig = parse_order_plaintext(box.decrypt(base64.b64decode(ct)))
                t1 = time.perf_counter()
                assert order_commitment(tags.order, order) == h
                t2 = time.perf_counter()
                check_signature(h, sig, pubs[accounts.index(order.account)])
                t3 = time.perf_counter()
                t_dec, t_com, t_sig = t_dec + t1 - t0, t_com + t2 - t1, t_sig + t3 - t2
    return {
        "path": "old (python)" if backend == "python" else "new (native)",
        "orders": ORDERS,
        "orders/s": f"{ORDERS / elapsed:.1f}",
        "ms/order": f"{1000 * elapsed / ORDERS:.2f}",
        "decrypt+parse ms": f"{1000 * t_dec / ORDERS:.2f}",
        "commitment ms": f"{1000 * t_com / ORDERS:.2f}",
        "EdDSA verify ms": f"{1000 * t_sig / ORDERS:.2f}",
    }


def main() -> None:
    backends = ["python", "native"] if poseidon.native_available() else ["python"]
    rows = [run(b) for b in backends]
    if len(rows) == 2:
        ratio = float(str(rows[1]["orders/s"])) / float(str(rows[0]["orders/s"]))
        rows[1]["vs old"] = f"{ratio:.2f}x"
    print_table(rows, list(rows[-1].keys()))
    write_json("intake", {"command": "uv run python -m benchmarks.intake", "rows": rows})


if __name__ == "__main__":
    main()
