"""Benchmark: Groth16 verification with verifier.groth16 (py_ecc) versus snarkjs.

Run with ``uv run python -m benchmarks.verify [--proofs 32]``. Builds the
test circuit (tests/verifier/circuits/groth16_test.circom, 3 public signals)
through prover.toolchain, proves it for ``--proofs`` statements, then times
per proof:

* parsing a proof (``Proof.from_snarkjs``: on-curve + G2 subgroup checks);
* ``verify`` (3 Miller loops + 1 final exponentiation, key prepared once);
* ``batch_verify`` for batches of 1, 8 and 32 (n + 2 Miller loops + 1 final
  exponentiation per batch);
* ``snarkjs groth16 verify`` through the CLI. That figure includes starting
  Node and loading snarkjs for every proof, which dominates it; it is what a
  user running the CLI pays, not snarkjs's in-process verification cost.

Prints a table (ratio = our time / snarkjs CLI time, lower is better) and
writes benchmarks/results/verify.json. Never asserts on timings; it does stop
if any verification gives the wrong answer.
"""

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from benchmarks.common import Timing, print_table, summarize, time_once, write_json
from prover import toolchain
from prover.errors import ToolchainError
from verifier import groth16
from verifier.field import R

ROOT = Path(__file__).resolve().parent.parent
CIRCUIT = ROOT / "tests" / "verifier" / "circuits" / "groth16_test.circom"
SHARED_DEV_PTAU = ROOT.parent / "shared" / "ptau" / "dev_bn128_16.ptau"
BATCH_SIZES = (1, 8, 32)
SNARKJS_RUNS = 8
COMMAND = "uv run python -m benchmarks.verify"


def _statement_inputs(i: int) -> dict[str, object]:
    # Large, varied public values so scalar multiplications are full width.
    return {"slope": (R - 1 - 7919 * i) % R, "x": 2**200 + 104729 * i, "k": 31337 + i}


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"benchmark aborted: {what} returned False for a valid proof")


def _row(name: str, per_proof: Timing, baseline: Timing | None, note: str) -> dict[str, object]:
    ratio = None if baseline is None else f"{per_proof.median / baseline.median:.2f}"
    return {
        "operation": name,
        "median/proof": per_proof.median,
        "best/proof": per_proof.best,
        "runs": per_proof.runs,
        "vs snarkjs CLI": ratio,
        "note": note,
    }


def run(n_proofs: int) -> dict[str, object]:
    if not os.environ.get("DARKPOOL_PTAU") and SHARED_DEV_PTAU.is_file():
        os.environ["DARKPOOL_PTAU"] = str(SHARED_DEV_PTAU)
    artifacts = toolchain.build("groth16_test", CIRCUIT)
    print(
        f"circuit groth16_test: {artifacts.constraints} constraints, "
        f"{artifacts.n_public} public signals; proving {n_proofs} statements…",
        file=sys.stderr,
    )
    proofs_json: list[tuple[dict[str, object], list[str]]] = [
        toolchain.prove_inputs(artifacts, _statement_inputs(i)) for i in range(n_proofs)
    ]

    vk_json = artifacts.verification_key()
    prepare_s, pvk_obj = time_once(
        lambda: groth16.prepare(groth16.VerificationKey.from_snarkjs(vk_json))
    )
    assert isinstance(pvk_obj, groth16.PreparedVerificationKey)
    pvk = pvk_obj

    parse_samples: list[float] = []
    items: list[tuple[groth16.Proof, list[int]]] = []
    for proof_json, public_json in proofs_json:
        seconds, proof = time_once(partial(groth16.Proof.from_snarkjs, proof_json))
        assert isinstance(proof, groth16.Proof)
        parse_samples.append(seconds)
        items.append((proof, groth16.parse_public_signals(public_json, pvk.n_public)))

    print("timing single verification…", file=sys.stderr)
    single_samples = []
    for proof, public in items:
        seconds, ok = time_once(partial(groth16.verify, pvk, proof, public))
        _check(bool(ok), "verify")
        single_samples.append(seconds)

    batch_timings: dict[int, Timing] = {}
    for size in BATCH_SIZES:
        if size > n_proofs:
            continue
        print(f"timing batches of {size}…", file=sys.stderr)
        chunks = [items[i : i + size] for i in range(0, n_proofs - size + 1, size)]
        # Small batches: one sample per disjoint chunk (at most 8); the
        # full-size batch is timed twice.
        chunks = (chunks * 2)[:2] if len(chunks) == 1 else chunks[:8]
        samples = []
        for chunk in chunks:
            seconds, ok = time_once(partial(groth16.batch_verify, pvk, chunk))
            _check(bool(ok), f"batch_verify({size})")
            samples.append(seconds)
        batch_timings[size] = summarize(samples).scaled(size)

    print("timing snarkjs groth16 verify (CLI)…", file=sys.stderr)
    snarkjs_samples = []
    with tempfile.TemporaryDirectory(prefix="darkpool-bench-") as tmp:
        for i, (proof_json, public_json) in enumerate(proofs_json[:SNARKJS_RUNS]):
            proof_path = Path(tmp) / f"proof{i}.json"
            public_path = Path(tmp) / f"public{i}.json"
            proof_path.write_text(json.dumps(proof_json))
            public_path.write_text(json.dumps(public_json))
            seconds, ok = time_once(
                partial(toolchain.snarkjs_verify, artifacts.vkey_json, proof_path, public_path)
            )
            _check(bool(ok), "snarkjs groth16 verify")
            snarkjs_samples.append(seconds)
    snarkjs = summarize(snarkjs_samples)

    single = summarize(single_samples)
    rows = [
        _row("snarkjs groth16 verify (CLI)", snarkjs, snarkjs, "includes Node start-up"),
        _row("verify (py_ecc)", single, snarkjs, "3 Miller loops + 1 final exp"),
        *(
            _row(f"batch_verify, batch of {size}", timing, snarkjs, f"{size + 2} Miller loops")
            for size, timing in batch_timings.items()
        ),
        _row("Proof.from_snarkjs (parse)", summarize(parse_samples), snarkjs, "G2 subgroup check"),
    ]
    print()
    print_table(rows, ["operation", "median/proof", "best/proof", "runs", "vs snarkjs CLI", "note"])
    print(f"\nprepare(vk) once: {prepare_s * 1e3:.0f} ms (e(alpha, beta))")

    return {
        "command": COMMAND,
        "circuit": {
            "name": artifacts.name,
            "constraints": artifacts.constraints,
            "n_public": artifacts.n_public,
        },
        "n_proofs": n_proofs,
        "prepare_seconds": prepare_s,
        "per_proof_seconds": {
            "snarkjs_cli": snarkjs.as_dict(),
            "verify": single.as_dict(),
            **{f"batch_{size}": t.as_dict() for size, t in batch_timings.items()},
            "parse_proof": summarize(parse_samples).as_dict(),
        },
        "notes": (
            "snarkjs_cli runs `snarkjs groth16 verify` once per proof via the CLI, so it "
            "includes Node start-up and module loading; ratios are ours / snarkjs_cli."
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--proofs", type=int, default=32, help="number of proofs (default 32)")
    args = parser.parse_args(argv)
    if args.proofs < 1:
        parser.error("--proofs must be >= 1")
    try:
        data = run(args.proofs)
    except (ToolchainError, groth16.Groth16Error) as exc:
        raise SystemExit(f"benchmark failed: {exc}") from None
    path = write_json("verify", data, tool_versions=toolchain.tool_versions())
    print(f"results written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
