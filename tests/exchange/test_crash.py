"""kill -9 during a proving batch loses nothing: a real ``darkpool serve`` subprocess.

Recycling-order ("slots") state. The server is killed (its whole process
group, SIGKILL) while the batch's proofs run (``GET /v1/batches/{id}`` says
proving) and after an order was accepted as pending during it. After a
restart on the same database (SQLite and PostgreSQL): the recorded batch was
proven again and published once, before the pending order was listed; every
accepted order is there; work goes on, and the exported ledger replays as one
valid chain under ``darkpool serve``'s genesis risk rules. Random kill points
under concurrent order flow check that every order answered 202 is on the
ledger (group commit answers only after the commit).
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.sdk import ClientError, DarkpoolClient
from client.slots import SlotsBusy
from demo.server import local_server, serve_env
from tests.live_server import batch_in_flight, free_port
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL
from verifier.ledger import check_proofs
from verifier.source import DirectorySource, replay_source

pytestmark = pytest.mark.slow
TOKEN = "crash-test-operator-token-0123"


@contextmanager
def _server(
    data_dir: Path,
    port: int,
    database_url: str,
    prover: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``darkpool serve`` (slots) on ``database_url``; ``prover`` overrides the session's prover."""
    env = serve_env(data_dir, database_url, operator_token=TOKEN, oracle_step_bps="0")
    env.update(prover or {})
    # A restart first re-proves a batch left proving, hence the generous start timeout.
    with local_server(data_dir, env, port=port, timeout=300) as server:
        yield server.process


KILL_ROUNDS = 3  # bounded: three random kill points, one server restart each
BURST = 3  # orders per concurrent burst thread per round (a test account has 4 order slots)


def test_kill_9_at_random_points_keeps_a_valid_chain(tmp_path: Path) -> None:
    """SIGKILL at random moments of a mixed workload; after each restart the ledger replays
    as one valid chain, every order answered 202 is on it, and work goes on."""
    import random

    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    print(f"\nrandom kill points: seed {seed}")
    port = free_port()
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
                # A refusal (every order slot of the account busy until a batch fills
                # one) is an answer, not a crash: go on.
                with contextlib.suppress(SlotsBusy, ClientError):
                    rng.choice(steps)()
        w.close()

    def burst(key: PrivateKey, account: int, side: int, price: int) -> None:
        """Concurrent order flow (group commit shares one commit among these)."""
        w = DarkpoolClient(url)
        with contextlib.suppress(Exception):  # the server dies under it
            for _ in range(BURST):
                with contextlib.suppress(SlotsBusy, ClientError):  # slots busy: a refusal
                    accepted.append(
                        w.submit_order(key, account, 0, side, 1, price, expiry)["commitment"]
                    )
        w.close()

    for round_ in range(KILL_ROUNDS):
        with _server(tmp_path, port, database_url) as proc:
            stop = threading.Event()
            thread = threading.Thread(target=workload, args=(stop,), daemon=True)
            thread.start()
            bursts = [
                threading.Thread(target=burst, args=args, daemon=True)
                # crossing, so batches fill them and free their order slots
                for args in ((alice, a, BUY, 61_000), (bob, b, SELL, 59_000))
            ]
            for t in bursts:
                t.start()
            delay = rng.uniform(0.5, 8.0)
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            stop.set()
            thread.join(timeout=60)
            for t in bursts:
                t.join(timeout=60)
            print(f"round {round_}: killed after {delay:.1f}s, {len(accepted)} orders accepted")

    assert accepted, "the workload never got an order in before a kill"
    with _server(tmp_path, port, database_url):
        c = DarkpoolClient(url)
        entries = c.all_entries()
        on_ledger = {e["commitment"] for e in entries if e["kind"] == "order"}
        assert set(accepted) <= on_ledger  # every accepted order survived every kill
        done = c.admin_batch(TOKEN)  # and work goes on (funding first, when it is due)
        assert done["entry_index"] >= len(entries)
        assert c.ledger(done["entry_index"], 1)["entries"][0]["kind"] == "batch"
        out = c.export_ledger(tmp_path / "export")
        c.close()
    report = replay_source(DirectorySource(out), checker=check_proofs(2))
    assert report.ok, [str(f) for f in report.failures]


def test_kill_9_while_proving_loses_nothing(tmp_path: Path, database_url: str) -> None:
    """SIGKILL while a batch's proofs run (an order queued meanwhile, a cancel accepted
    before). The restart rebuilds the book from the stored account rows + private state,
    runs the recorded batch again (published once, the cancel executed, the cancelled order
    never fills), lists the queued order after it; the export replays VALID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    alice, bob = PrivateKey.generate(), PrivateKey.generate()
    expiry = int(time.time()) + 3600
    with _server(tmp_path, port, database_url) as proc:
        c = DarkpoolClient(url)
        assert c.info()["state"] == "slots"
        a = c.open_account(alice, 1_000_000)
        b = c.open_account(bob, 1_000_000)
        buy = c.submit_order(alice, a, 0, BUY, 3, 61_000, expiry)
        sell = c.submit_order(bob, b, 0, SELL, 1, 59_000, expiry)
        spare = c.submit_order(bob, b, 0, SELL, 1, 58_000, expiry)  # would fill: cancelled
        c.cancel(bob, int(spare["commitment"]))
        entries_before = c.roots()["ledger_index"] + 1
        batch_id = c.info()["next_batch_id"]
        thread = batch_in_flight(url, TOKEN)
        late = c.submit_order(bob, b, 0, SELL, 1, 59_500, expiry)
        assert late["status"] == "pending"
        assert c.health()["batch_in_progress"], "the batch ended before the kill"
        view = httpx.get(f"{url}/v1/batches/{batch_id}").json()
        assert (view["status"], view["starts"], view["ledger_index"]) == ("proving", 1, None)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        thread.join(timeout=30)
        c.close()

    with _server(tmp_path, port, database_url):
        c = DarkpoolClient(url)
        entries = c.all_entries()
        # `darkpool serve`'s default risk rules (SERVE_RISK_DEFAULTS) publish funding
        # at the batch's report before it. The batch that was proving ran again (its
        # recorded report; funding not due twice) and was published once; the
        # pending order was listed right after it.
        kinds = [e["kind"] for e in entries[entries_before:]]
        assert kinds == ["funding", "batch", "order"]
        assert entries[entries_before + 1]["batch_id"] == batch_id
        assert entries[-1]["commitment"] == late["commitment"]
        view = httpx.get(f"{url}/v1/batches/{batch_id}").json()
        assert (view["status"], view["starts"], view["ledger_index"]) == (
            "published",
            2,
            entries_before + 1,
        )
        _assert_orders(
            c,
            (
                (alice, a, buy, ("open", "1")),
                (bob, b, sell, ("filled", "1")),
                (bob, b, spare, ("cancelled", "0")),
                (bob, b, late, ("open", "0")),
            ),
        )
        result = c.admin_batch(TOKEN)
        assert result["fills"] == 1 and result["volume"][0] == "1"
        bought = c.order_status(alice, a, int(buy["commitment"]))
        assert (bought["status"], bought["filled"]) == ("open", "2")  # sell, then late
        entries = c.all_entries()
        out = c.export_ledger(tmp_path / "export")
        c.close()
    report = replay_source(DirectorySource(out), checker=check_proofs(2))
    assert report.ok, [str(f) for f in report.failures]
    assert report.checked_to == len(entries) - 1  # genesis .. the last entry
    genesis = report.genesis
    assert genesis is not None and genesis.risk is not None and genesis.funding is not None
    assert (genesis.risk.sweep_interval_batches, genesis.risk.sweep_interval_s) == (10, 300)
    assert genesis.funding.interval_s == 3600
    # darkpool-verify's summary: the rules, no "completeness off" warning.
    summary = subprocess.run(
        [sys.executable, "-m", "verifier.cli", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert summary.returncode == 0 and "RESULT: VALID" in summary.stdout, summary.stderr
    assert "a health sweep at least every 10 batches and every 300 s" in summary.stdout
    assert "NOT enforced" not in summary.stdout


def _assert_orders(
    c: DarkpoolClient, expected: tuple[tuple[PrivateKey, int, dict[str, Any], tuple[str, str]], ...]
) -> None:
    """Each (key, account, order, (status, filled)) row is what the service reports."""
    for key, account, h, state in expected:
        view = c.order_status(key, account, int(h["commitment"]))
        assert (view["status"], view["filled"]) == state
