"""``darkpool``: the operator's command line (setup, demo; serve and trader later).

Bad input gives one line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import sys
import time
from collections.abc import Sequence

from prover import circuits
from prover.errors import ToolchainError
from verifier.params import ParamsError


def cmd_setup(args: argparse.Namespace) -> int:
    """Compile and set up every statement circuit of a profile (cached)."""
    for statement in circuits.STATEMENTS:
        t0 = time.perf_counter()
        art = circuits.build_statement(statement, args.profile, args.exchange_id)
        print(
            f"{statement:<15} {args.profile:<10} {art.constraints:>9,} constraints  "
            f"{art.n_public:>3} public  key {art.key[:12]}  ({time.perf_counter() - t0:.1f}s)"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from exchange import demo

    return demo.run(profile=args.profile, exchange_id=args.exchange_id)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="darkpool", description="darkpool operator CLI")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("setup", cmd_setup, "build (compile + Groth16 setup) the statement circuits"),
        ("demo", cmd_demo, "run the end-to-end flow on the test profile"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--profile", default="test", help="circuit profile (circuits/params.json)")
        p.add_argument(
            "--exchange-id", default=circuits.DEFAULT_EXCHANGE_ID, help="domain-tag exchange id"
        )
        p.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except (ToolchainError, ParamsError) as exc:
        print(f"darkpool: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("darkpool: interrupted", file=sys.stderr)
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
