"""kill -9 during a proving batch loses nothing: a real ``darkpool serve`` subprocess.

The server is killed (its whole process group, SIGKILL) while the batch's
settle_batch proof is running and after an order was accepted as pending
during it. After a restart on the same database: every accepted order is
there (the pending one is now listed), no batch entry was half written, the
batch runs to completion, and the exported ledger replays as one valid chain.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from client.sdk import DarkpoolClient
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL
from verifier.ledger import check_proofs, replay
from verifier.source import DirectorySource

pytestmark = pytest.mark.slow
TOKEN = "crash-test-operator-token-0123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(data_dir: Path, port: int, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(
        os.environ,
        DARKPOOL_DATA_DIR=str(data_dir),
        DARKPOOL_BATCH_INTERVAL_S="0",
        DARKPOOL_OPERATOR_TOKEN=TOKEN,
        DARKPOOL_ORACLE_STEP_BPS="0",
        DATABASE_URL=database_url,
    )
    log = (data_dir / f"server-{time.monotonic_ns()}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "darkpool.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: kill -9 takes node provers with it
    )
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, "server exited during start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "server did not start"
            time.sleep(0.3)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        log.close()


def test_kill_9_while_proving_loses_nothing(tmp_path: Path, database_url: str) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    alice, bob = PrivateKey.generate(), PrivateKey.generate()
    expiry = int(time.time()) + 3600
    with _server(tmp_path, port, database_url) as proc:
        c = DarkpoolClient(url)
        a = c.open_account(alice, 1_000_000)
        b = c.open_account(bob, 1_000_000)
        buy = c.submit_order(alice, a, 0, BUY, 3, 61_000, expiry)
        sell = c.submit_order(bob, b, 0, SELL, 2, 59_000, expiry)
        assert buy["status"] == sell["status"] == "listed"
        entries_before = c.roots()["ledger_index"] + 1

        def trigger() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server dies under it
                httpx.post(
                    f"{url}/v1/admin/batch",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=120,
                )

        thread = threading.Thread(target=trigger, daemon=True)
        thread.start()
        deadline = time.time() + 60
        while not c.health()["batch_in_progress"]:
            assert time.time() < deadline, "the batch never started"
            time.sleep(0.02)
        late = c.submit_order(bob, b, 0, SELL, 1, 59_500, expiry)
        assert late["status"] == "pending"
        assert c.health()["batch_in_progress"], "the batch ended before the kill"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        thread.join(timeout=30)
        c.close()

    with _server(tmp_path, port, database_url):
        c = DarkpoolClient(url)
        entries = c.all_entries()
        # No batch was committed; the pending order was listed on restart, after the others.
        assert [e["kind"] for e in entries[entries_before:]] == ["order"]
        assert len(entries) == entries_before + 1
        assert entries[-1]["commitment"] == late["commitment"]
        for key, account, h in ((alice, a, buy), (bob, b, sell), (bob, b, late)):
            view = c.order_status(key, account, int(h["commitment"]))
            assert (view["status"], view["filled"]) == ("open", "0")
        result = c.admin_batch(TOKEN)
        assert result["fills"] == 2 and result["volume"][0] == "3"
        assert c.order_status(alice, a, int(buy["commitment"]))["status"] == "filled"
        out = c.export_ledger(tmp_path / "export")
        c.close()

    source = DirectorySource(out)
    report = replay(
        manifest=source.manifest(),
        genesis=source.genesis(),
        entries=source.entry,
        vkeys=source.vkeys(),
        checker=check_proofs(2),
    )
    assert report.ok, [str(f) for f in report.failures]
    assert report.checked_to == len(entries)  # genesis .. the new batch


KILL_ROUNDS = 3  # bounded: three random kill points, one server restart each


def test_kill_9_at_random_points_keeps_a_valid_chain(tmp_path: Path) -> None:
    """SIGKILL at random moments of a mixed workload; after each restart the ledger replays
    as one valid chain, every order answered 202 is on it, and work goes on."""
    import random

    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    print(f"\nrandom kill points: seed {seed}")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{(tmp_path / 'darkpool.sqlite3').resolve()}"
    alice, bob = PrivateKey.generate(), PrivateKey.generate()
    expiry = int(time.time()) + 3600
    with _server(tmp_path, port, database_url):
        c = DarkpoolClient(url)
        a = c.open_account(alice, 1_000_000)
        b = c.open_account(bob, 1_000_000)
        c.close()
    accepted: list[str] = []

    def workload(stop: threading.Event) -> None:
        w = DarkpoolClient(url)
        steps = [
            lambda: accepted.append(
                w.submit_order(alice, a, 0, BUY, 1, 61_000, expiry)["commitment"]
            ),
            lambda: accepted.append(
                w.submit_order(bob, b, 0, SELL, 1, 59_000, expiry)["commitment"]
            ),
            lambda: w.deposit(alice, a, 10),
            lambda: w.admin_batch(TOKEN),
        ]
        with contextlib.suppress(Exception):  # the server dies under it
            steps[0]()  # a crossing pair first, then proofs and more orders at random
            steps[1]()
            while not stop.is_set():
                rng.choice(steps)()
        w.close()

    for round_ in range(KILL_ROUNDS):
        with _server(tmp_path, port, database_url) as proc:
            stop = threading.Event()
            thread = threading.Thread(target=workload, args=(stop,), daemon=True)
            thread.start()
            delay = rng.uniform(0.5, 8.0)
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            stop.set()
            thread.join(timeout=60)
            print(f"round {round_}: killed after {delay:.1f}s, {len(accepted)} orders accepted")

    assert accepted, "the workload never got an order in before a kill"
    with _server(tmp_path, port, database_url):
        c = DarkpoolClient(url)
        entries = c.all_entries()
        on_ledger = {e["commitment"] for e in entries if e["kind"] == "order"}
        assert set(accepted) <= on_ledger  # every accepted order survived every kill
        assert c.admin_batch(TOKEN)["entry_index"] == len(entries)  # and work goes on
        out = c.export_ledger(tmp_path / "export")
        c.close()
    source = DirectorySource(out)
    report = replay(
        manifest=source.manifest(),
        genesis=source.genesis(),
        entries=source.entry,
        vkeys=source.vkeys(),
        checker=check_proofs(2),
    )
    assert report.ok, [str(f) for f in report.failures]
