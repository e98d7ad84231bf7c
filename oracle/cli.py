"""``darkpool oracle``: run the oracle service, or print its public key for pinning.

``serve`` loads (or creates) the key in ``--key-dir`` (default
``$DARKPOOL_ORACLE_KEY_DIR`` or ``.darkpool-oracle``; never the operator's key
directory) and serves signed reports over HTTP from a simulated feed — the
only feed shipped; a real one implements ``oracle.feed.PriceFeed``.
``pubkey`` prints the public key as JSON, or with ``--hex`` as the 64 hex
digits ``darkpool-verify --oracle-key`` pins. Bad input gives one line on stderr.
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from verifier.eddsa import public_key_to_dict
from verifier.oracle import key_hex
from verifier.protocol import DEFAULT_EXCHANGE_ID

__all__ = ["add_parser", "default_key_dir"]

DEFAULT_PORT = 8100


def default_key_dir() -> Path:
    return Path(os.environ.get("DARKPOOL_ORACLE_KEY_DIR", ".darkpool-oracle"))


def _prices(value: str) -> list[int]:
    try:
        prices = [int(p) for p in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("prices are comma-separated integers (ticks)") from None
    if not prices or any(p < 1 for p in prices):
        raise argparse.ArgumentTypeError("every start price must be at least 1 tick")
    return prices


def _shock(value: str) -> tuple[int, list[int]]:
    """``SEQ:BPS0,BPS1,..``: report ``seq`` moves each market's price by that many bps."""
    seq_text, _, moves = value.partition(":")
    try:
        seq, bps = int(seq_text), [int(b) for b in moves.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("a shock is SEQ:BPS0,BPS1,.. (integers)") from None
    if seq < 1:
        raise argparse.ArgumentTypeError("a shock's report seq is at least 1")
    return seq, bps


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from oracle.app import create_app
    from oracle.feed import SimulatedFeed
    from oracle.service import OracleService

    feed = SimulatedFeed(
        args.start_prices,
        seed=args.seed,
        max_step_bps=args.step_bps,
        premium_bps=args.premium_bps,
        shocks=dict(args.shock),
    )
    service = OracleService.open(
        Path(args.key_dir), args.exchange_id, feed, max_skew_s=args.max_skew_s
    )
    public = service.signer.public_key
    print(
        f"darkpool oracle: key {json.dumps(public_key_to_dict(public))} "
        f"(pin with darkpool-verify --oracle-key {key_hex(public)})",
        file=sys.stderr,
    )
    uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_pubkey(args: argparse.Namespace) -> int:
    from oracle.service import load_or_create_key

    path = Path(args.key_dir)
    if not (path / "oracle_eddsa.key").is_file():
        print(f"darkpool oracle: no oracle key in {path}", file=sys.stderr)
        return 2
    public = load_or_create_key(path).public_key()
    print(key_hex(public) if args.hex else json.dumps(public_key_to_dict(public)))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``oracle serve|pubkey`` to a ``darkpool`` subparsers object."""
    top: argparse.ArgumentParser = sub.add_parser(
        "oracle", help="the price oracle: its own process, key and clock"
    )
    cmds = top.add_subparsers(dest="oracle_command", required=True, metavar="COMMAND")
    serve = cmds.add_parser("serve", help="serve signed price reports over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--key-dir", default=str(default_key_dir()), help="the oracle's own keys")
    serve.add_argument("--exchange-id", default=DEFAULT_EXCHANGE_ID, help="domain-tag exchange id")
    serve.add_argument(
        "--start-prices",
        type=_prices,
        required=True,
        metavar="P0,P1,..",
        help="simulated feed: first price per market, ticks",
    )
    serve.add_argument("--seed", type=int, default=0, help="simulated feed: random-walk seed")
    serve.add_argument("--step-bps", type=int, default=40, help="simulated feed: max move/step")
    serve.add_argument(
        "--premium-bps", type=int, default=0, help="simulated feed: index below mark, bps"
    )
    serve.add_argument(
        "--shock",
        type=_shock,
        action="append",
        default=[],
        metavar="SEQ:BPS0,BPS1,..",
        help="simulated feed: scripted price move at report SEQ, bps per market (repeatable)",
    )
    serve.add_argument(
        "--max-skew-s", type=int, default=30, help="refuse requested times further from the clock"
    )
    serve.set_defaults(func=cmd_serve)
    pubkey = cmds.add_parser("pubkey", help="print the oracle's public key (for pinning)")
    pubkey.add_argument("--key-dir", default=str(default_key_dir()))
    pubkey.add_argument(
        "--hex", action="store_true", help="64 hex digits, what darkpool-verify --oracle-key takes"
    )
    pubkey.set_defaults(func=cmd_pubkey)
    return top
