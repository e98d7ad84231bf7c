"""Order intake throughput over HTTP: a real ``darkpool serve`` process, concurrent clients.

Every order goes through the whole server: TCP, uvicorn, FastAPI, JSON,
base64, sealed-box decryption, Poseidon commitment, EdDSA-Poseidon
verification, duplicate / capacity / range / pre-trade margin checks, the
signed ``order`` ledger entry (Merkle update + operator EdDSA signature) and
the database commit; a 202 is sent only after the order is durable.

Per-order commit (``DARKPOOL_COMMIT_GROUP_MAX=1``: one transaction and fsync
per order, the baseline) against group commit (the default: one transaction
for every order that queued meanwhile, ``exchange.store_writer``) and group
commit with ``POST /v1/orders/batch`` requests of ``BATCH`` orders, each with
1 client and with ``--clients`` concurrent clients, all in one run. Each
client count also measures the HTTP ceiling: the same request bodies and
clients against ``benchmarks.http_ceiling`` (the same route and models in
one uvicorn worker, no exchange work), the most any intake with one order
per request reaches on this machine. The
server (one uvicorn worker: the exchange state lives in one process) and the
clients share the machine's cores. Rate limits are off (this measures
throughput, not spam policy); orders are sealed and signed before the clock
starts (the traders' cost).

The test profile's order list holds 32 orders, so one server measures 30;
each round copies a template data directory (3 accounts opened once, with
real proofs) and starts a fresh server on it, ``--rounds`` rounds per row.
The last table splits the server's per-order CPU into its crypto parts
(measured here, same backends as the server).

Run: ``uv run python -m benchmarks.intake [--rounds 3 --clients 16]``.
Writes ``benchmarks/results/intake.json``; reports numbers, asserts nothing
except that every order was accepted.
"""

import argparse
import base64
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from nacl.public import PrivateKey as BoxKey
from nacl.public import SealedBox

from benchmarks.common import print_table, write_json
from client.sdk import DarkpoolClient
from demo.server import free_port, local_server, serve_env
from verifier import poseidon
from verifier.account_state import SlottedOrder, order_hash
from verifier.auth import parse_slotted_order_plaintext, slotted_order_plaintext
from verifier.eddsa import PrivateKey, check_signature
from verifier.encoding import BUY, SELL
from verifier.field import R
from verifier.ledger.chain import sign_entry

ORDERS = 30
#: The HTTP ceiling sends the 30 sealed orders this many times per round.
CEILING_REPEAT = 10
TOKEN = "intake-benchmark-token-0123"
#: Orders per ``POST /v1/orders/batch`` request in the batch rows.
BATCH = 10


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(data_dir: Path, group_max: int) -> Iterator[tuple[str, int]]:
    """``darkpool serve`` on ``data_dir``; yields (base URL, pid) once healthy."""
    env = serve_env(
        data_dir,
        operator_token=TOKEN,
        requests_per_ip_per_minute="0",
        orders_per_account_per_minute="0",
        commit_group_max=str(group_max),
    )
    with local_server(data_dir, env, timeout=600) as running:
        yield running.url, running.process.pid


def make_template(root: Path) -> tuple[list[PrivateKey], list[int], list[tuple[int, str]]]:
    """A data dir with 3 funded accounts (real account_update proofs), server stopped.

    Also returns 30 orders sealed to it, as request bodies for the HTTP ceiling.
    """
    keys = [PrivateKey.generate() for _ in range(3)]
    with server(root, 512) as (url, _):
        c = DarkpoolClient(url)
        accounts = [c.open_account(k, 10**8) for k in keys]
        c.close()
        sealed = _sealed_orders(url, keys, accounts)
    return keys, accounts, sealed


def _sealed_orders(url: str, keys: list[PrivateKey], accounts: list[int]) -> list[tuple[int, str]]:
    c = DarkpoolClient(url)
    expiry = int(time.time()) + 3600
    out = []
    for i in range(ORDERS):
        side = BUY if i % 2 else SELL
        limit = 59_000 if side == BUY else 61_000  # nothing crosses
        # slots state: per-account increasing order ids (its orders rest, so a test
        # profile account's 4 slots fill and later ones are refused "full")
        order = SlottedOrder(
            accounts[i % 3], i // 3 + 1, i % 2, side, 1, limit, expiry, salt=secrets.randbelow(R)
        )
        h, ct = c.seal_slotted(order, keys[i % 3])
        out.append((h, ct))
    c.close()
    return out


def drive(
    url: str, pid: int, sealed: list[tuple[int, str]], clients: int, batch: int = 1
) -> tuple[float, float, list[int]]:
    """POST every sealed order to ``url`` from ``clients`` threads (connected first).

    ``batch`` > 1 sends each client's orders in ``POST /v1/orders/batch``
    requests of up to ``batch`` orders (one status per order: its ``code``).
    Returns (wall seconds from the start gate to the last answer, CPU seconds the
    server process ``pid`` used meanwhile, the statuses).
    """
    conns = [httpx.Client(base_url=url, timeout=120) for _ in range(clients)]
    for conn in conns:  # connect (and warm up) before the clock starts
        conn.get("/v1/health")
    statuses: list[int] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        start_gate.wait()
        mine = [{"commitment": str(h), "ciphertext": ct} for h, ct in sealed[k::clients]]
        if batch == 1:
            for body in mine:
                r = conns[k].post("/v1/orders", json=body)
                with lock:
                    statuses.append(r.status_code)
            return
        for at in range(0, len(mine), batch):
            r = conns[k].post("/v1/orders/batch", json={"orders": mine[at : at + batch]})
            codes = [x["code"] for x in r.json()["results"]] if r.status_code == 200 else []
            with lock:
                statuses.extend(codes or [r.status_code])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    cpu_before = cpu_seconds(pid)
    start_gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    for conn in conns:
        conn.close()
    return elapsed, cpu, statuses


def ceiling_round(sealed: list[tuple[int, str]], clients: int) -> tuple[float, float]:
    """The same orders, clients and uvicorn worker against ``benchmarks.http_ceiling``.

    Returns (wall seconds, server CPU seconds); every answer must be a 202.
    """
    port = free_port()
    app = "benchmarks.http_ceiling:app"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        elapsed, cpu, statuses = drive(url, proc.pid, sealed, clients)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if statuses.count(202) != len(sealed):
        raise RuntimeError(f"the no-op endpoint refused requests: {set(statuses)}")
    return elapsed, cpu


def one_round(
    template: Path,
    work: Path,
    keys: list[PrivateKey],
    accounts: list[int],
    *,
    group_max: int,
    clients: int,
    batch: int = 1,
) -> tuple[float, float]:
    """Copy the template, start a server, send 30 orders from ``clients`` threads
    (in requests of ``batch`` orders when > 1).

    Returns (wall seconds, server CPU seconds) for the 30 orders.
    """
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work)
    with server(work, group_max) as (url, pid):
        sealed = _sealed_orders(url, keys, accounts)
        warm = DarkpoolClient(url)
        for key, account in zip(keys, accounts, strict=True):
            # A signed read per trader: the server builds its per-key EdDSA table
            # (babyjub.mul_scalar_cached) as a long-running one already has.
            warm.account(key, account)
        warm.close()
        before = httpx.get(f"{url}/v1/roots").json()["ledger_index"]
        elapsed, cpu, statuses = drive(url, pid, sealed, clients, batch)
        after = httpx.get(f"{url}/v1/roots").json()["ledger_index"]
        if statuses.count(202) != ORDERS or after - before != ORDERS:
            raise RuntimeError(f"not every order was accepted: {statuses}, {after - before}")
    return elapsed, cpu


def crypto_breakdown(keys: list[PrivateKey], accounts: list[int]) -> dict[str, str]:
    """Per-order server CPU in its crypto parts, measured in this process."""
    box_key = BoxKey.generate()
    box = SealedBox(box_key.public_key)
    opener = SealedBox(box_key)
    from verifier.protocol import Tags

    tags = Tags.for_exchange("bench")
    expiry = int(time.time()) + 3600
    sealed = []
    for i in range(ORDERS):
        o = SlottedOrder(
            accounts[i % 3], i + 1, 0, BUY, 1, 59_000, expiry, salt=secrets.randbelow(R)
        )
        h = order_hash(tags.order, o)
        plain = slotted_order_plaintext(o, keys[i % 3].sign(h))
        sealed.append(base64.b64encode(box.encrypt(plain)))
    pubs = {a: k.public_key() for a, k in zip(accounts, keys, strict=True)}
    signer = PrivateKey.generate()
    for key in keys:  # warm the per-key tables, as the benchmark's server has them
        check_signature(1, key.sign(1), key.public_key())
    signer.sign(1)
    t = {"decrypt+parse": 0.0, "commitment": 0.0, "EdDSA verify": 0.0, "entry sign": 0.0}
    for ct in sealed:
        t0 = time.perf_counter()
        order, sig = parse_slotted_order_plaintext(opener.decrypt(base64.b64decode(ct)))
        t1 = time.perf_counter()
        h = order_hash(tags.order, order)
        t2 = time.perf_counter()
        check_signature(h, sig, pubs[order.account])
        t3 = time.perf_counter()
        sign_entry(signer, 7, {"index": 5, "kind": "order", "commitment": str(h)})
        t4 = time.perf_counter()
        for name, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            t[name] += dt
    return {f"{name} ms": f"{1000 * v / ORDERS:.2f}" for name, v in t.items()}


def _row(
    server: str, clients: int, requests: int, runs: list[tuple[float, float]], ceiling: float
) -> dict[str, Any]:
    """One table row from (wall s, server CPU s) runs; ``ceiling`` in requests/s."""
    rate = requests / sum(wall for wall, _ in runs)
    return {
        "server": server,
        "clients": clients,
        "requests": requests,
        "orders/s": f"{rate:.1f}",
        "ms/order": f"{1000 / rate:.2f}",
        "server CPU ms/order": f"{1000 * sum(cpu for _, cpu in runs) / requests:.2f}",
        "vs HTTP ceiling": f"{rate / ceiling:.3f}x",
        "vs per-order commit": "",
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="fresh servers per row (30 orders each)")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients of the busy rows")
    args = ap.parse_args(argv)
    if poseidon.native_available():  # the same Poseidon as the server, for the breakdown
        poseidon.set_backend("native")
    with tempfile.TemporaryDirectory(prefix="darkpool-intake-") as tmp:
        template = Path(tmp) / "template"
        template.mkdir()
        keys, accounts, bodies = make_template(template)
        rows: list[dict[str, Any]] = []
        for clients in (1, args.clients):
            ceiling = [ceiling_round(bodies * CEILING_REPEAT, clients) for _ in range(args.rounds)]
            requests = len(bodies) * CEILING_REPEAT * len(ceiling)
            ceiling_rate = requests / sum(wall for wall, _ in ceiling)
            rows.append(
                _row("no-op endpoint (HTTP ceiling)", clients, requests, ceiling, ceiling_rate)
            )
            baseline = 0.0
            for mode, group_max, batch in (
                ("per-order commit", 1, 1),
                ("group commit", 512, 1),
                (f"group commit, batch requests of {BATCH}", 512, BATCH),
            ):
                runs = [
                    one_round(
                        template,
                        Path(tmp) / "work",
                        keys,
                        accounts,
                        group_max=group_max,
                        clients=clients,
                        batch=batch,
                    )
                    for _ in range(args.rounds)
                ]
                rate = ORDERS * len(runs) / sum(wall for wall, _ in runs)
                baseline = baseline or rate
                row = _row(mode, clients, ORDERS * len(runs), runs, ceiling_rate)
                row["vs per-order commit"] = f"{rate / baseline:.2f}x"
                rows.append(row)
        breakdown = crypto_breakdown(keys, accounts)
    print_table(rows, list(rows[0].keys()))
    print()
    print_table([breakdown], list(breakdown.keys()))
    write_json(
        "intake",
        {
            "command": "uv run python -m benchmarks.intake "
            + f"--rounds {args.rounds} --clients {args.clients}",
            "cores": os.cpu_count(),
            "load_average_1m": os.getloadavg()[0],
            "poseidon": "native" if poseidon.native_available() else "python",
            "rows": rows,
            "server_crypto_per_order": breakdown,
        },
    )


if __name__ == "__main__":
    main()
