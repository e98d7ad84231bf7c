"""``darkpool serve`` as an operator runs it: health at once, setup in the background, clean stops.

A real server subprocess on a **cold cache** (an empty ``DARKPOOL_CACHE``):
``/v1/health`` answers while the circuits are still being built (503,
``setting_up`` with progress), other routes say 503 too, and SIGTERM during
setup ends the process, and the node compiler it started, within 5 s. On the
shared (warm) cache: health turns 200 ``ok`` only once ready, and Ctrl-C
(SIGINT) in the middle of a batch proof also exits within 5 s, killing the
prover. The server listens before it imports the exchange (``darkpool.serve``):
the time printed is from spawn to the first health answer (wall, so it grows
with the machine's load); the bound asserted is the CPU time the server's main
thread spent before listening, which it logs and which load does not inflate
(the cheap import check is in ``test_serve_listen.py``).
"""

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from darkpool.cli import development_oracle_warning
from darkpool.serve import LISTENING_LOG
from demo.server import serve_env, spawn
from tests.conftest import REFERENCE_PROVER
from tests.live_server import batch_in_flight, free_port
from verifier.protocol import STATEMENTS

pytestmark = pytest.mark.slow
TOKEN = "serve-test-operator-token-0123"


def _spawn(data_dir: Path, port: int, **settings: str) -> subprocess.Popen[bytes]:
    env = serve_env(data_dir, operator_token=TOKEN, oracle_step_bps="0", **settings)
    if "prover" not in settings:
        env.update(REFERENCE_PROVER)  # snarkjs: a proof long enough to press Ctrl-C during
    return spawn(["serve", "--port", str(port)], env, data_dir / "server.log")


def _first_health(proc: subprocess.Popen[bytes], url: str, limit: float) -> httpx.Response:
    deadline = time.monotonic() + limit
    while True:
        assert proc.poll() is None, "server exited during start"
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/v1/health", timeout=2)
        assert time.monotonic() < deadline, "no /v1/health answer"
        time.sleep(0.02)


def _listening(log: Path) -> tuple[float, float]:
    """(main-thread CPU s, wall s) before the listener opened, from the server's log line."""
    pattern = re.escape(LISTENING_LOG).replace(r"\{cpu:\.3f\}", "([0-9.]+)")
    pattern = pattern.replace(r"\{wall:\.3f\}", "([0-9.]+)")
    found = re.search(pattern, log.read_text(errors="replace"))
    assert found, "no listening line in the server log"
    return float(found[1]), float(found[2])


def _descendants(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _stop_within(proc: subprocess.Popen[bytes], sig: int, seconds: float) -> float:
    children = _descendants(proc)
    t0 = time.monotonic()
    proc.send_signal(sig)  # to the server only: it must end its own children
    try:
        proc.wait(timeout=seconds)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    took = time.monotonic() - t0
    _, alive = psutil.wait_procs(children, timeout=1)
    assert not alive, f"children left running: {[p.pid for p in alive]}"
    return took


def test_health_during_cold_setup_and_sigterm(tmp_path: Path) -> None:
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    proc = _spawn(tmp_path, port, cache=str(cache))
    try:
        first = _first_health(proc, url, limit=120)
        took = time.monotonic() - t0
        print(f"\nfirst /v1/health answer {took:.2f}s after spawn (cold cache)")
        assert first.status_code == 503
        body = first.json()
        assert body["status"] == "setting_up" and body["ledger_entries"] is None
        total = len(STATEMENTS)
        assert body["setup"]["total"] == total and body["setup"]["done"] < total
        cpu, wall = _listening(tmp_path / "server.log")
        print(f"listening after {cpu:.3f}s main-thread CPU, {wall:.3f}s wall")
        assert cpu < 1.0, "the server did heavy work before listening"
        refused = httpx.get(f"{url}/v1/info", timeout=5)
        assert refused.status_code == 503 and "setting up" in refused.json()["detail"]
        # setup is really running (the exchange loaded): the node compiler is our child
        deadline = time.monotonic() + 120
        while not any("node" in p.name() for p in _descendants(proc)):
            assert time.monotonic() < deadline, "setup never started node"
            time.sleep(0.1)
        assert httpx.get(f"{url}/v1/health", timeout=5).json()["status"] == "setting_up"
        # No DARKPOOL_ORACLE_URL: the in-process development oracle is announced as
        # not independent of the operator (once, on stderr, when the settings are read).
        log = (tmp_path / "server.log").read_text()
        assert log.count("DARKPOOL_ORACLE_URL is not set") == 1
        assert "NOT independent of the operator" in log
        assert development_oracle_warning("http://127.0.0.1:8100") is None
        took = _stop_within(proc, signal.SIGTERM, 5)
        print(f"SIGTERM during setup: exited in {took:.2f}s")
        assert proc.returncode is not None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_ready_only_when_ready_and_ctrl_c_during_a_proof(tmp_path: Path) -> None:
    from client.sdk import DarkpoolClient
    from verifier.eddsa import PrivateKey
    from verifier.encoding import BUY, SELL

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _spawn(tmp_path, port)
    try:
        seen = []
        deadline = time.monotonic() + 900
        while True:
            r = _first_health(proc, url, limit=120)
            seen.append((r.status_code, r.json()["status"]))
            if r.status_code == 200:
                break
            assert r.json()["status"] == "setting_up", r.text
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.2)
        assert seen[-1] == (200, "ok") and all(s == (503, "setting_up") for s in seen[:-1])
        c = DarkpoolClient(url)
        alice, bob = PrivateKey.generate(), PrivateKey.generate()
        a = c.open_account(alice, 1_000_000)
        b = c.open_account(bob, 1_000_000)
        expiry = int(time.time()) + 3600
        c.submit_order(alice, a, 0, BUY, 1, 61_000, expiry)
        c.submit_order(bob, b, 0, SELL, 1, 59_000, expiry)
        batch_in_flight(url, TOKEN, timeout=120)
        c.close()
        took = _stop_within(proc, signal.SIGINT, 5)
        print(f"\nCtrl-C during a batch proof: exited in {took:.2f}s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
