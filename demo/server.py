"""The demo's server subprocess: ``darkpool serve`` on a free loopback port, its settings.

``local_server`` starts the service with its own data dir and SQLite file and
stops its whole process group on the way out (node provers go with it), also
on errors and Ctrl-C. Used by the demo story and by the CLI tests.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from exchange.core.config import MarketConfig
from prover import circuits
from verifier.eddsa import public_key_from_dict
from verifier.oracle import key_hex

MARKETS = (
    MarketConfig(symbol="BTC-PERP", imf_bps=500, mmf_bps=300, fee_bps=5, start_price=60_000),
    MarketConfig(symbol="ETH-PERP", imf_bps=1000, mmf_bps=500, fee_bps=5, start_price=3_000),
    MarketConfig(symbol="SOL-PERP", imf_bps=1000, mmf_bps=500, fee_bps=10, start_price=150),
    MarketConfig(symbol="DOGE-PERP", imf_bps=2000, mmf_bps=1000, fee_bps=10, start_price=20),
)
ORACLE_SEED = 7
ORACLE_STEP_BPS = 40
#: Index below mark by this much in the demo oracle, so funding moves (issue 11).
ORACLE_PREMIUM_BPS = 20
#: The demo's scripted crash: report 4 (batch 4) moves the second market's mark -10%.
SHOCK_SEQ, SHOCK_BPS = 4, -1_000
ORDER_TTL = 3_600
#: A starting server answers ``/v1/health`` 503 with its setup progress (``setup.done``
#: statements built, ``setup.current``) until ready: on a cold cache it first builds
#: every key of its statements (7; production: ~10 min of single-core snarkjs setups
#: here, the longest single one ~12 min at load). ``local_server`` waits as long as
#: that progress moves and gives up when it has not moved for this many seconds
#: (``timeout``), or at once when setup reports a failure.
SERVER_START_TIMEOUT_S = 1_200.0
JOB_TIMEOUT_S = 900.0


class DemoError(Exception):
    """The demo could not go on (server did not start, a request failed); one line."""


# ---------------------------------------------------------------- the server subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalServer:
    """A running ``darkpool serve`` subprocess and where it keeps its files."""

    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def operator_token(self) -> str:
        """The token the service generated and stored in its key dir on first start."""
        path = self.data_dir / "keys" / "operator_token"
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise DemoError(f"cannot read the operator token from {path}: {exc}") from None

    def log_tail(self, lines: int = 5) -> str:
        return _tail(self.log_path, lines)


def serve_env(data_dir: Path, database_url: str | None = None, **settings: str) -> dict[str, str]:
    """Environment of a ``darkpool serve`` subprocess on ``data_dir``, batches on demand only.

    ``settings`` are Settings fields (``operator_token="..."`` is
    ``DARKPOOL_OPERATOR_TOKEN``). The caller's database, key dir and operator
    token never leak in from the shell: the database is SQLite in the data dir
    unless ``database_url`` names another, the service generates its own token
    unless one is given. The profile is ``test`` unless ``profile`` (or the
    caller's ``DARKPOOL_PROFILE``) says otherwise: ``darkpool serve`` alone
    defaults to ``production`` (``exchange.core.config.SERVE_DEFAULTS``), which
    tests and quick runs must not build.
    """
    env = dict(os.environ)
    for name in (
        "DATABASE_URL",
        "DARKPOOL_DATABASE_URL",
        "DARKPOOL_KEY_DIR",
        "DARKPOOL_OPERATOR_TOKEN",
    ):
        env.pop(name, None)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(DARKPOOL_DATA_DIR=str(data_dir), DARKPOOL_BATCH_INTERVAL_S="0")
    env.setdefault("DARKPOOL_PROFILE", "test")
    env.update({f"DARKPOOL_{name.upper()}": value for name, value in settings.items()})
    return env


def server_env(
    data_dir: Path,
    *,
    profile: str,
    exchange_id: str,
    markets: Sequence[MarketConfig],
    database_url: str | None = None,
    oracle_url: str | None = None,
    risk_engine: bool = False,
) -> dict[str, str]:
    """The demo server's environment (``serve_env``): profile, exchange id, markets, oracle.

    ``risk_engine``: genesis requires a health sweep before every batch after the
    first and the server publishes funding updates (the demo's; off for tests
    that only need a server).

    Prices come from the oracle process at ``oracle_url`` (``local_oracle``);
    without one, from the service's development oracle on the demo's seeded walk.

    The database is SQLite in the data dir unless ``database_url`` names another
    (an empty one: the demo starts from genesis); the service generates its token.
    """
    markets_json = json.dumps([m.model_dump() for m in markets])
    env = serve_env(
        data_dir, database_url, profile=profile, exchange_id=exchange_id, markets=markets_json
    )
    if risk_engine:
        # Issue 11: a proven health sweep before every batch after the first, and a
        # funding index update before the first batch and before any batch once a
        # minute has passed. An update pays every elapsed interval, so the interval
        # sets the funding rate: 60 s keeps a several-minute demo's payments near one
        # update per batch's worth (with 1 s, BTC longs would pay ~60x as much).
        env.update(DARKPOOL_SWEEP_INTERVAL_BATCHES="1", DARKPOOL_FUNDING_INTERVAL_S="60")
    else:  # explicitly off: `darkpool serve` would default them on (SERVE_RISK_DEFAULTS)
        env.update(DARKPOOL_SWEEP_INTERVAL_BATCHES="0", DARKPOOL_FUNDING_INTERVAL_S="0")
    env["DARKPOOL_SWEEP_INTERVAL_S"] = "0"  # the demo sweeps by batches
    if oracle_url is not None:
        env["DARKPOOL_ORACLE_URL"] = oracle_url
    else:
        env.pop("DARKPOOL_ORACLE_URL", None)
        env.update(
            DARKPOOL_ORACLE_SEED=str(ORACLE_SEED), DARKPOOL_ORACLE_STEP_BPS=str(ORACLE_STEP_BPS)
        )
    return env


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (uvicorn shuts down cleanly), SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def spawn(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m darkpool.cli *argv`` in its own process group, output appended to ``log_path``.

    Its own process group: stopping it (``stop_server``, or ``os.killpg``) takes
    the node provers it started too.
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "darkpool.cli", *argv],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def _process(
    argv: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    health_url: str,
    what: str,
    timeout: float,
) -> Iterator[subprocess.Popen[bytes]]:
    """``spawn`` ``argv``, wait until ``health_url`` answers 200 (``wait_ready``); stop it
    on the way out."""
    process = spawn(argv, env, log_path)
    try:
        wait_ready(process, health_url, what, timeout, log_path)
        yield process
    finally:
        stop_server(process)


class _Running(Protocol):
    """What ``wait_ready`` needs of the process (``subprocess.Popen``)."""

    returncode: Any

    def poll(self) -> int | None: ...


def wait_ready(
    process: _Running,
    health_url: str,
    what: str,
    stall_s: float,
    log_path: Path | None = None,
    *,
    poll_s: float = 0.2,
) -> None:
    """Return once ``health_url`` answers 200; DemoError (one line) if it never will.

    Waits as long as the start makes progress: the first answer, then each
    change of the 503 body's ``setup`` (``done``, ``current``: the statement
    being built), resets a ``stall_s`` clock. DemoError when the process exits,
    when its health says ``failed`` (with setup's error), or when nothing moved
    for ``stall_s`` seconds (naming where setup stood). A health answer without
    ``setup`` (the oracle's) moves nothing: plainly ``stall_s`` from the spawn.
    """
    moved = time.monotonic()
    seen: tuple[Any, ...] | None = None
    while True:
        if process.poll() is not None:
            tail = _tail(log_path) if log_path is not None else ""
            raise DemoError(f"the {what} exited during start (code {process.returncode}): {tail}")
        progress = None
        try:
            r = httpx.get(health_url, timeout=2)
            if r.status_code == 200:
                return
            progress = _setup_progress(r, what)
        except httpx.HTTPError:
            pass
        if progress is not None and progress != seen:
            seen, moved = progress, time.monotonic()
        elif time.monotonic() - moved > stall_s:
            if seen is None or seen == ("answered",):
                raise DemoError(f"the {what} did not answer {health_url} within {stall_s:.0f}s")
            done, total, current = seen
            raise DemoError(
                f"the {what}'s start made no progress for {stall_s:.0f}s (setup {done}/{total}"
                + (f", building {current}" if current else "")
                + ")"
            )
        time.sleep(poll_s)


def _setup_progress(r: httpx.Response, what: str) -> tuple[Any, ...]:
    """(done, total, current) of a 503 health body's ``setup``; ("answered",) without one."""
    try:
        body = r.json()
        setup = body.get("setup") if isinstance(body, dict) else None
    except ValueError:
        return ("answered",)
    if not isinstance(setup, dict):
        return ("answered",)
    if body.get("status") == "failed":
        raise DemoError(f"the {what} failed to set up: {setup.get('error')}")
    return (setup.get("done"), setup.get("total"), setup.get("current"))


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


@contextmanager
def local_server(
    data_dir: Path,
    env: Mapping[str, str],
    *,
    timeout: float = SERVER_START_TIMEOUT_S,
    port: int | None = None,
) -> Iterator[LocalServer]:
    """Start ``python -m darkpool.cli serve`` on loopback ``port`` (default: a free one).

    Yields once ``/v1/health`` answers 200 (``DemoError`` if the server exits,
    its setup fails, or its setup progress stalls for ``timeout`` s: ``wait_ready``); stops its process group on the way out. Output is
    appended to ``data_dir/server.log`` (a restart on the same data dir keeps it).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port() if port is None else port
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir / "server.log"
    argv = ["serve", "--host", "127.0.0.1", "--port", f"{port}"]
    with _process(argv, env, log_path, f"{url}/v1/health", "server", timeout) as process:
        yield LocalServer(url, data_dir, log_path, process)


@contextmanager
def local_oracle(
    key_dir: Path,
    *,
    exchange_id: str,
    markets: Sequence[MarketConfig],
    seed: int = ORACLE_SEED,
    step_bps: int = ORACLE_STEP_BPS,
    premium_bps: int = 0,
    shocks: Mapping[int, Sequence[int]] | None = None,
    timeout: float = 60.0,
) -> Iterator[str]:
    """Start ``darkpool oracle serve`` (its own process, key dir and clock); yields its URL.

    The simulated feed starts at the markets' ``start_price`` and walks with
    ``seed`` / ``step_bps`` (index ``premium_bps`` below the mark, scripted
    ``shocks`` {report seq: bps per market}); the key is created in
    ``key_dir``, never in the operator's key directory.
    """
    key_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        "oracle",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        f"{port}",
        "--key-dir",
        str(key_dir),
        "--exchange-id",
        exchange_id,
        "--start-prices",
        ",".join(str(m.start_price) for m in markets),
        "--seed",
        str(seed),
        "--step-bps",
        str(step_bps),
        "--premium-bps",
        str(premium_bps),
    ]
    for seq, move in sorted((shocks or {}).items()):
        argv += ["--shock", f"{seq}:{','.join(str(b) for b in move)}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DARKPOOL_")}
    log_path = key_dir / "oracle.log"
    with _process(argv, env, log_path, f"{url}/v1/oracle/info", "oracle", timeout):
        yield url


def oracle_key_hex(url: str) -> str:
    """The public key the oracle at ``url`` signs with, as ``darkpool-verify --oracle-key`` takes it.

    Read from the oracle itself (``GET /v1/oracle/info``), never from the
    operator, so pinning it checks that the ledger's genesis names this oracle.
    Raises DemoError (one line) when the oracle does not answer with a valid key.
    """
    try:
        info = httpx.get(f"{url}/v1/oracle/info", timeout=10).json()
        return key_hex(public_key_from_dict(info["public_key"]))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"cannot read the oracle's public key from {url}: {exc}") from None


def crash_market(markets: int) -> int:
    """The market the scripted crash hits: ETH-PERP (market 1; market 0 with one market).

    The same market on every profile, so erin's ~7x long (sized for its price) and
    her liquidation are the same story at ``test`` (2 markets) and ``production`` (4).
    """
    return min(1, markets - 1)


def demo_shocks(markets: int) -> dict[int, list[int]]:
    """The scripted crash as ``--shock`` takes it: ``crash_market`` moves ``SHOCK_BPS``."""
    move = [0] * markets
    move[crash_market(markets)] = SHOCK_BPS
    return {SHOCK_SEQ: move}


def profile_markets(profile: str) -> list[MarketConfig]:
    """The demo's markets for a profile (its circuits fix how many markets there are)."""
    n = circuits.load_params(profile).markets
    if n > len(MARKETS):
        raise DemoError(f"profile {profile!r} has {n} markets; the demo scripts {len(MARKETS)}")
    return list(MARKETS[:n])
