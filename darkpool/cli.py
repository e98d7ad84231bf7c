"""``darkpool``: the command line (setup, demo, serve, export, ``ceremony``; ``trader`` for traders).

Bad input gives one line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

from prover.errors import ToolchainError
from verifier.params import ParamsError
from verifier.protocol import DEFAULT_EXCHANGE_ID


def cmd_setup(args: argparse.Namespace) -> int:
    """Compile and set up every statement circuit of a profile (cached): the recycling-order
    ("slots") state's, ``verifier.protocol.STATEMENTS``, as a ``darkpool serve`` needs."""
    from exchange.core.config import refuse_other_state
    from prover import circuits
    from verifier.protocol import STATEMENTS

    refuse_other_state(os.environ.get("DARKPOOL_STATE"))
    started = time.perf_counter()
    for statement in STATEMENTS:
        t0 = time.perf_counter()
        art = circuits.build_statement(statement, args.profile, args.exchange_id)
        print(
            f"{statement:<19} {args.profile:<10} {art.constraints:>9,} constraints  "
            f"{art.n_public:>3} public  key {art.key[:12]}  ({time.perf_counter() - t0:.1f}s)",
            flush=True,
        )
    print(f"slots state, profile {args.profile}: {time.perf_counter() - started:.1f}s")
    from exchange.api.explorer.routes import crypto_bundle

    print(f"explorer self-check script: {crypto_bundle()}")  # esbuild, cached like the circuits
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import demo

    return demo.run(
        profile=args.profile,
        exchange_id=args.exchange_id,
        ledger_out=args.ledger_out,
        keep_server=args.keep_server,
    )


def development_oracle_warning(oracle_url: str | None) -> str | None:
    """What ``darkpool serve`` prints when it runs without an independent oracle (else None).

    Without ``DARKPOOL_ORACLE_URL`` the service signs prices with a development
    oracle inside its own process: the key is in another directory, but whoever
    runs the operator holds it, so "oracle-signed" marks are the operator's word.
    Kept for tests and quick local runs; production starts ``darkpool oracle
    serve`` elsewhere and verifiers pin its key (``darkpool-verify --oracle-key``).
    """
    if oracle_url:
        return None
    return (
        "WARNING: DARKPOOL_ORACLE_URL is not set: a development oracle signs prices "
        "inside this operator process, so its marks are NOT independent of the operator. "
        "Run `darkpool oracle serve` as its own process (its own key dir) and set "
        "DARKPOOL_ORACLE_URL to its URL; verifiers pin its key with darkpool-verify --oracle-key."
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the REST service (settings from DARKPOOL_* / DATABASE_URL) under uvicorn.

    It listens at once, before the exchange is even imported (``darkpool.serve``):
    loading and circuit setup run in the background while ``/v1/health`` answers
    503 ``setting_up`` with progress (``darkpool setup`` beforehand makes setup
    instant). SIGTERM or Ctrl-C stops it at any moment, also during setup or a
    proof: node children are killed, nothing half done is committed.
    """
    from darkpool.serve import serve

    return serve(args.host, args.port)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the ledger export (docs/ledger.md) from a running service or the local database."""
    from client.sdk import DarkpoolClient, write_export

    if args.url:
        import httpx

        try:
            client = DarkpoolClient(args.url)
            try:
                out = client.export_ledger(args.directory)
            finally:
                client.close()
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ValueError(f"bad URL {args.url!r}: {exc}") from None
        except httpx.HTTPError as exc:
            # As `darkpool trader` / `darkpool-verify`: one line (main: exit 2), no traceback.
            raise ValueError(f"cannot reach the server at {args.url}: {exc}") from None
    else:
        from exchange.core.config import Settings
        from exchange.store import Store
        from prover import circuits

        settings = Settings()
        store = Store(settings.resolved_database_url)
        try:
            entries = store.entries()
        finally:
            store.close()
        if not entries:
            print("darkpool: the database holds no ledger", file=sys.stderr)
            return 2
        from exchange.core.config import refuse_other_state
        from verifier.protocol import STATEMENTS

        genesis = entries[0]
        refuse_other_state(genesis.get("state"), where="the database's genesis")
        statements = STATEMENTS
        # The ledger's own profile (a `darkpool serve` default is production, Settings()
        # built here is the test profile).
        profile = str(genesis.get("params", {}).get("name", settings.profile))
        vkeys = {
            s: circuits.build_statement(s, profile, settings.exchange_id).verification_key()
            for s in statements
        }
        out = write_export(entries, vkeys, args.directory)
    print(f"exported to {out}")
    return 0


def cmd_plan_solvency(args: argparse.Namespace) -> int:
    from prover import plan

    figures = plan.load_figures(args.profile)
    if args.prove_s is not None:
        figures = replace(figures, prove_s=args.prove_s, source="--prove-s")
    result = plan.plan_solvency(args.accounts, args.workers, figures)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.render())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="darkpool", description="darkpool operator CLI")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("setup", cmd_setup, "build the statement circuits (compile, Groth16 setup, phase 2)"),
        ("demo", cmd_demo, "run the end-to-end flow (test profile; --profile production)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--profile", default="test", help="circuit profile (circuits/params.json)")
        p.add_argument("--exchange-id", default=DEFAULT_EXCHANGE_ID, help="domain-tag exchange id")
        p.set_defaults(func=func)
        if name == "demo":
            p.add_argument("--ledger-out", metavar="DIR", help="keep the ledger export in DIR")
            p.add_argument(
                "--keep-server",
                action="store_true",
                help="leave the demo server running after the story (Ctrl-C stops it)",
            )
    _add_serve(sub)
    plan_p = sub.add_parser(
        "plan-solvency",
        help="chunk count, expected time and memory of a solvency report on W proof workers",
    )
    plan_p.add_argument("--accounts", type=int, required=True, metavar="N")
    plan_p.add_argument("--workers", type=int, default=1, metavar="W")
    plan_p.add_argument("--profile", default="production", choices=("test", "production"))
    plan_p.add_argument(
        "--prove-s", type=float, default=None, help="override the measured seconds per chunk proof"
    )
    plan_p.add_argument("--json", action="store_true")
    plan_p.set_defaults(func=cmd_plan_solvency)
    export = sub.add_parser("export", help="write a ledger export for darkpool-verify")
    export.add_argument("directory")
    export.add_argument("--url", help="base URL of a running service (default: local database)")
    export.set_defaults(func=cmd_export)
    from client import cli as trader_cli
    from oracle import cli as oracle_cli
    from prover import ceremony

    trader_cli.add_parser(sub)
    oracle_cli.add_parser(sub)
    ceremony.add_parser(sub)
    return parser


#: The environment ``darkpool serve`` reads that matters most: (variable, its default under
#: ``darkpool serve``, what it does). Plain text (the serve path imports no pydantic);
#: tests/exchange/test_serve_listen.py checks each against ``exchange.core.config.Settings``,
#: ``SERVE_DEFAULTS`` / ``SERVE_RISK_DEFAULTS`` and the prover's variables, so it cannot go stale.
SERVE_ENVIRONMENT: tuple[tuple[str, str, str], ...] = (
    (
        "DARKPOOL_PROFILE",
        "production",
        "circuit profile (circuits/params.json); production = 2^20 accounts, 4 markets: its "
        "first start runs every statement's Groth16 key setup (long; run `darkpool setup` "
        "beforehand). test = small, seconds",
    ),
    ("DARKPOOL_DATA_DIR", ".darkpool-data", "database, operator keys (keys/), oracle key"),
    ("DATABASE_URL", "sqlite file in DATA_DIR", "SQLAlchemy URL (postgresql+psycopg://...)"),
    ("DARKPOOL_MARKETS", "the profile's default markets", "JSON list of market objects"),
    (
        "DARKPOOL_ORACLE_URL",
        "unset: in-process development oracle",
        "price oracle (`darkpool oracle serve`); unset prints a WARNING",
    ),
    ("DARKPOOL_BATCH_INTERVAL_S", "10.0", "seconds between batches (0 = admin-triggered only)"),
    ("DARKPOOL_SWEEP_INTERVAL_BATCHES", "10", "genesis: health sweep every N batches (0 = off)"),
    ("DARKPOOL_SWEEP_INTERVAL_S", "300", "genesis: health sweep every N s (0 = off)"),
    ("DARKPOOL_FUNDING_INTERVAL_S", "3600", "genesis: funding update interval (0 = no funding)"),
    ("DARKPOOL_PTAU", "../shared/ptau, else the cache", "powers-of-tau file for key setup"),
    ("DARKPOOL_CACHE", ".cache/darkpool", "content-addressed circuit and key cache"),
    ("DARKPOOL_PROOF_WORKERS", "1", "N >= 2: prove on an embedded Dask cluster of N workers"),
)


def serve_epilog() -> str:
    """The ``darkpool serve --help`` epilog: ``SERVE_ENVIRONMENT`` as a table."""
    import textwrap

    rows = [
        f"  {name:<32} default: {default}\n"
        + textwrap.fill(text, width=96, initial_indent=" " * 35, subsequent_indent=" " * 35)
        for name, default, text in SERVE_ENVIRONMENT
    ]
    return (
        "environment (every setting: exchange/core/config.py Settings, DARKPOOL_ + the field "
        "name upper-cased):\n" + "\n".join(rows)
    )


def _add_serve(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    serve = sub.add_parser(
        "serve",
        help="run the REST service (uvicorn)",
        description="Run the REST service: it listens at once and sets up in the background "
        "(GET /v1/health reports progress).",
        epilog=serve_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)


def serve_parser() -> argparse.ArgumentParser:
    """The parser of ``darkpool serve`` alone: it imports none of the other programs."""
    parser = argparse.ArgumentParser(prog="darkpool", description="darkpool operator CLI")
    _add_serve(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `serve` must listen within a second: skip importing the trader/oracle/ceremony CLIs.
    parser = serve_parser() if argv[:1] == ["serve"] else build_parser()
    args = parser.parse_args(argv)
    try:
        rc: int = args.func(args)
    except (ToolchainError, ParamsError) as exc:
        print(f"darkpool: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError) as exc:
        # Bad settings, an unreachable URL, a refused request, a broken export: one line.
        print(
            f"darkpool: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("darkpool: interrupted", file=sys.stderr)
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
