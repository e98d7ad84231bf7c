"""``darkpool-verify``: check darkpool proofs without trusting the operator.

Subcommands:
  darkpool-verify groth16 VKEY PROOF PUBLIC   drop-in for ``snarkjs groth16 verify``

Exit codes: 0 valid; 1 invalid (a proof or ledger that does not hold);
2 could not read the input (missing file, not JSON). Errors are one line.
This module only reads files; it never imports prover or exchange.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from verifier import groth16

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


class InputError(Exception):
    """The input could not be read (exit code 2)."""


def load_json_file(path: Path, what: str) -> object:
    """Read and parse one JSON file, raising InputError with a one-line reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what}: no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what}: cannot read {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what}: {path} is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None


def cmd_groth16(args: argparse.Namespace) -> int:
    vk_obj = load_json_file(Path(args.vkey), "verification key")
    proof_obj = load_json_file(Path(args.proof), "proof")
    public_obj = load_json_file(Path(args.public), "public signals")
    try:
        vk = groth16.VerificationKey.from_snarkjs(vk_obj)
        proof = groth16.Proof.from_snarkjs(proof_obj)
        public = groth16.parse_public_signals(public_obj, vk.n_public)
        ok = groth16.verify(vk, proof, public)
    except groth16.Groth16Error as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if not ok:
        print("INVALID: the pairing check failed", file=sys.stderr)
        return EXIT_INVALID
    print(f"OK: proof valid for verification key {groth16.vkey_hash(vk_obj)[:16]}")
    return EXIT_VALID


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darkpool-verify",
        description="Verify darkpool proofs with pure Python + py_ecc.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("groth16", help="verify one snarkjs-format Groth16 proof")
    g.add_argument("vkey", help="verification_key.json")
    g.add_argument("proof", help="proof.json")
    g.add_argument("public", help="public.json")
    g.set_defaults(func=cmd_groth16)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc: int = args.func(args)
    except InputError as exc:
        print(f"darkpool-verify: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        print("darkpool-verify: interrupted", file=sys.stderr)
        return EXIT_UNREADABLE
    return rc


if __name__ == "__main__":
    sys.exit(main())
