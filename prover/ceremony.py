"""``darkpool ceremony``: a multi-party Groth16 phase 2 on snarkjs, one command per step.

A ceremony for one circuit (a statement of a profile, or any ``--r1cs``)::

    darkpool ceremony new      circuit_0000.zkey --statement settle_fills --profile test
    darkpool ceremony contribute circuit_0000.zkey circuit_0001.zkey --name "alice"
    darkpool ceremony contribute circuit_0001.zkey circuit_0002.zkey --name "bob"
    darkpool ceremony beacon   circuit_0002.zkey circuit_final.zkey --beacon HEX --name "beacon"
    darkpool ceremony verify   circuit_final.zkey --statement settle_fills --profile test
    darkpool ceremony export   circuit_final.zkey verification_key.json

Each party runs ``contribute`` on the previous party's file, publishes the
contribution hash it prints and forgets its entropy. The proofs are sound if
at least one party destroyed its toxic waste. ``beacon`` ends the ceremony
with public randomness chosen after the last contribution (e.g. a future
block hash). ``verify`` checks every contribution and that the key belongs to
the circuit's r1cs and the powers of tau; ``export`` writes the verification
key and refuses one without a phase-2 contribution. The powers of tau is
resolved as for ``darkpool setup`` (``DARKPOOL_PTAU``, ``--ptau``).

Bad input gives one line on stderr and exit code 2 (via ``darkpool.cli``).
"""

import argparse
import secrets
from pathlib import Path
from typing import Any

from prover import circuits, toolchain
from prover.errors import ToolchainError
from prover.r1cs import read_r1cs_header
from prover.toolchain import keys

DEFAULT_BEACON_ITERATIONS_EXP = 10


def _circuit_files(args: argparse.Namespace) -> tuple[Path, Path]:
    """(r1cs, ptau) of the circuit the command names."""
    if args.r1cs is not None:
        r1cs = Path(args.r1cs)
        if not r1cs.is_file():
            raise ToolchainError(f"--r1cs {r1cs}: no such file")
    elif args.statement is not None:
        r1cs, _ = circuits.compile_statement(args.statement, args.profile, args.exchange_id)
    else:
        raise ToolchainError("name the circuit: --statement NAME (with --profile) or --r1cs FILE")
    power = read_r1cs_header(r1cs).required_ptau_power
    if args.ptau is not None:
        ptau = Path(args.ptau)
        if not ptau.is_file():
            raise ToolchainError(f"--ptau {ptau}: no such file")
        toolchain.check_ptau(ptau, power, f"--ptau {ptau}")
    else:
        ptau = toolchain.resolve_ptau(power)
    return r1cs, ptau


def _refuse_overwrite(path: Path) -> None:
    if path.exists():
        raise ToolchainError(f"{path} already exists; refusing to overwrite it")


def cmd_new(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _refuse_overwrite(out)
    r1cs, ptau = _circuit_files(args)
    with toolchain.progress(f"groth16 setup of {r1cs.name}"):
        keys.new_zkey(r1cs, ptau, out)
    print(f"initial zkey {out} (no contribution yet: not usable until the ceremony ends)")
    print(f"  r1cs {r1cs}  sha256 {toolchain.file_sha256(r1cs)}")
    print(f"  ptau {ptau}  sha256 {toolchain.ptau_digest(ptau)}")
    return 0


def cmd_contribute(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _refuse_overwrite(out)
    # Fresh entropy unless given; snarkjs mixes in its own OS randomness too.
    entropy = args.entropy if args.entropy is not None else secrets.token_hex(32)
    with toolchain.progress(f"contributing to {Path(args.previous).name}"):
        digest = keys.contribute(Path(args.previous), out, args.name, entropy)
    print(f"contribution {args.name!r} written to {out}")
    print(f"  contribution hash {digest}")
    print("  publish this hash; forget the entropy")
    return 0


def cmd_beacon(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _refuse_overwrite(out)
    with toolchain.progress(f"applying the beacon to {Path(args.previous).name}"):
        digest = keys.beacon(Path(args.previous), out, args.beacon, args.iterations_exp, args.name)
    print(f"beacon {args.name!r} written to {out}")
    print(f"  contribution hash {digest}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    r1cs, ptau = _circuit_files(args)
    with toolchain.progress(f"snarkjs zkey verify {Path(args.zkey).name}"):
        names = keys.verify_zkey(r1cs, ptau, Path(args.zkey))
    print(f"OK: {args.zkey} matches {r1cs.name} and {ptau.name}")
    for number, name in enumerate(names, start=1):
        print(f"  contribution #{number}: {name}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    keys.export_verification_key(Path(args.zkey), out)
    print(f"verification key written to {out} (sha256 of its canonical JSON: see darkpool-verify)")
    return 0


def _circuit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--statement", choices=circuits.STATEMENTS, help="a darkpool statement")
    p.add_argument("--profile", default="test", help="circuit profile (circuits/params.json)")
    p.add_argument("--exchange-id", default=circuits.DEFAULT_EXCHANGE_ID)
    p.add_argument("--r1cs", metavar="FILE", help="any circuit's .r1cs instead of --statement")
    p.add_argument("--ptau", metavar="FILE", help="powers of tau (default: as darkpool setup)")


def _command(
    cmds: Any, name: str, func: Any, help: str, *positionals: tuple[str, str]
) -> argparse.ArgumentParser:
    """One subcommand: its positional (dest, metavar) arguments and its handler."""
    p: argparse.ArgumentParser = cmds.add_parser(name, help=help)
    for dest, metavar in positionals:
        p.add_argument(dest, metavar=metavar)
    p.set_defaults(func=func)
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``ceremony`` and its subcommands to the ``darkpool`` parser's subparsers."""
    ceremony: argparse.ArgumentParser = sub.add_parser(
        "ceremony",
        help="multi-party Groth16 phase 2: new, contribute, beacon, verify, export",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    cmds = ceremony.add_subparsers(dest="ceremony_command", required=True, metavar="COMMAND")
    zkey_in, zkey_out = ("previous", "IN.zkey"), ("out", "OUT.zkey")
    new = _command(cmds, "new", cmd_new, "the initial zkey of a circuit (groth16 setup)", zkey_out)
    _circuit_options(new)
    p = _command(
        cmds, "contribute", cmd_contribute, "add one party's contribution", zkey_in, zkey_out
    )
    p.add_argument("--name", required=True, help="the contributor's public name")
    p.add_argument("--entropy", help="extra entropy text (default: 32 random bytes)")
    p = _command(
        cmds,
        "beacon",
        cmd_beacon,
        "end the ceremony with a public random beacon",
        zkey_in,
        zkey_out,
    )
    p.add_argument("--beacon", required=True, metavar="HEX", help="public randomness, hex")
    p.add_argument(
        "--iterations-exp",
        type=int,
        default=DEFAULT_BEACON_ITERATIONS_EXP,
        help="hash the beacon 2^N times (10..63)",
    )
    p.add_argument("--name", required=True, help="the beacon's public name")
    zkey = ("zkey", "ZKEY")
    help_verify = "check every contribution against the r1cs and ptau"
    _circuit_options(_command(cmds, "verify", cmd_verify, help_verify, zkey))
    help_export = "write the verification key (refused without phase 2)"
    _command(cmds, "export", cmd_export, help_export, zkey, ("out", "OUT.json"))
    return ceremony
