"""``darkpool demo``'s entry point: scratch dirs, the oracle and server processes, the summary.

``run`` builds the circuits of the recycling-order ("slots") state, starts ``darkpool oracle
serve`` and ``darkpool serve`` (``demo.server``) and plays ``demo.story.Demo``
against them; see ``demo.story`` for what the story does and checks.
"""

import signal
import tempfile
import threading
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from types import FrameType

import httpx
from rich.console import Console
from rich.markup import escape

from client.sdk import ClientError
from demo.report import summary_table
from demo.server import (
    ORACLE_PREMIUM_BPS,
    DemoError,
    local_oracle,
    local_server,
    oracle_key_hex,
    profile_markets,
    server_env,
)
from demo.story import Demo
from verifier.protocol import DEFAULT_EXCHANGE_ID, STATEMENTS


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(
    profile: str = "test",
    exchange_id: str = DEFAULT_EXCHANGE_ID,
    ledger_out: Path | str | None = None,
    *,
    keep_server: bool = False,
    console: Console | None = None,
    database_url: str | None = None,
    work_dir: Path | None = None,
) -> int:
    """Run the scripted market against a fresh server; 0 only if every check held.

    ``database_url`` (an empty database) replaces the server's SQLite file.
    ``work_dir`` (tests) keeps the oracle's and the server's data dirs (keys
    included) there instead of in a temporary directory.

    With ``keep_server`` the server stays up after the story until Ctrl-C, so
    ``darkpool trader`` can be pointed at it.
    """
    console = console if console is not None else Console()
    # SIGTERM ends the demo like Ctrl-C does, so the exit paths stop the server.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        scratch = (
            tempfile.TemporaryDirectory(prefix="darkpool-demo-")
            if work_dir is None
            else nullcontext(str(work_dir))
        )
        with scratch as tmp:
            return _run_in(
                Path(tmp),
                console,
                profile,
                exchange_id,
                ledger_out,
                keep_server,
                database_url,
            )
    except KeyboardInterrupt:
        console.print("[yellow]demo interrupted; the server was stopped[/]")
        return 130
    except (DemoError, ClientError, httpx.HTTPError, ValueError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        console.print(f"[bold red]demo failed:[/] {escape(message)}")
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_in(
    tmp: Path,
    console: Console,
    profile: str,
    exchange_id: str,
    ledger_out: Path | str | None,
    keep_server: bool,
    database_url: str | None = None,
) -> int:
    started = time.perf_counter()
    out = Path(ledger_out) if ledger_out is not None else tmp / "ledger"
    demo = Demo(console, profile, exchange_id, profile_markets(profile))
    with ExitStack() as stack:
        with demo.step(
            "setup: build the statement circuits (cached after the first run)", "setup (circuits)"
        ):
            demo.build_circuits()
        with demo.step(
            "start `darkpool oracle serve` (its own process, key dir and clock)", "oracle start"
        ):
            oracle_url = stack.enter_context(
                local_oracle(
                    tmp / "oracle",
                    exchange_id=exchange_id,
                    markets=demo.markets,
                    premium_bps=ORACLE_PREMIUM_BPS,
                    shocks=demo.shocks,
                )
            )
            demo.oracle_key = oracle_key_hex(oracle_url)
            console.print(f"  listening on {oracle_url}, key {demo.oracle_key}")
        db = "SQLite in a temp dir" if database_url is None else "the given database"
        with demo.step(f"start `darkpool serve` ({db}, genesis)", "server start"):
            env = server_env(
                tmp / "server",
                profile=profile,
                exchange_id=exchange_id,
                markets=demo.markets,
                database_url=database_url,
                oracle_url=oracle_url,
                risk_engine=True,
            )
            with demo.working("starting the server, waiting for /v1/health"):
                server = stack.enter_context(local_server(tmp / "server", env))
            console.print(f"  listening on {server.url}, data in {server.data_dir}")
        ok = demo.run(server, out)
        console.print(
            summary_table(
                demo.stats,
                len(demo.traders),
                [m.symbol for m in demo.markets],
                STATEMENTS,
                time.perf_counter() - started,
                ok,
            )
        )
        pins = f"--genesis {demo.genesis_hash or 'HASH'} --oracle-key {demo.oracle_key}"
        if ledger_out is not None:
            console.print(f"ledger export: {out}")
            console.print(f"verify it yourself:  uv run darkpool-verify {out.resolve()} {pins}")
        else:
            console.print(
                f"verify an export yourself:  uv run darkpool-verify DIR {pins}  "
                "(run the demo with --ledger-out DIR to keep one)"
            )
        if keep_server:
            console.print(
                f"server still running at {server.url} (operator token in "
                f"{server.data_dir / 'keys' / 'operator_token'}); Ctrl-C stops it"
            )
            console.print(f"explore its ledger in a browser:  {server.url}/explorer")
            try:
                while server.process.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:  # the expected way to end it; the result stands
                console.print("stopping the server")
    return 0 if ok else 1
