"""Benchmark: proving the statement circuits (witness, Groth16 prove, verify).

Run with ``uv run python -m benchmarks.prove [--quick] [--repeat N] [--only REGEX]
[--output NAME]``. For each
case (statement, profile, input) it builds the circuit through the cache
(setup time is reported, not timed as proving) and measures:

* ``witness``: the circuit's wasm witness generator (``toolchain.witness``);
* ``prove``: ``snarkjs groth16 prove`` on that witness;
* ``our path``: our whole prover path from domain data — the Python witness
  builder (``prover.statements.*``, Merkle paths, signatures, input JSON)
  plus witness generation plus proving;
* ``fullprove``: the baseline, plain ``snarkjs groth16 fullprove`` on the
  same input JSON (ratio = our path / fullprove; both include Node start-up);
* ``verify (py_ecc)``: our verifier on the proof (key prepared once, proof
  parsing included) and ``snarkjs verify``: the CLI, Node start-up included.

Cases (the recycling-order "slots" statements, inputs from
``benchmarks.fixtures``): test-profile account_update (signed withdrawal),
order_ops (one proof of places), settle_fills with 1 and ``group_fills``
fills, solvency_walk (one chunk); and unless ``--quick`` the same at the
production profile, settle_fills with ``group_fills`` fills (setup takes minutes on first run;
every production key fits the 2^16 powers of tau). Writes
benchmarks/results/prove.json. Never asserts on timings; it stops if a valid
proof fails to verify.
"""

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from benchmarks import fixtures
from benchmarks.common import Timing, print_table, summarize, time_once, write_json
from prover import circuits, toolchain
from prover.errors import ToolchainError
from verifier import groth16

ROOT = Path(__file__).resolve().parent.parent
SHARED_DEV_PTAU = ROOT.parent / "shared" / "ptau" / "dev_bn128_16.ptau"
COMMAND = "uv run python -m benchmarks.prove"
COLUMNS = (
    "case",
    "constraints",
    "witness",
    "prove",
    "our path",
    "fullprove",
    "vs fullprove",
    "verify (py_ecc)",
    "snarkjs verify",
    "setup",
)


@dataclass(frozen=True)
class Case:
    """One thing to prove: a statement at a profile and a builder of its circuit inputs."""

    label: str
    statement: str
    profile: str
    build_inputs: Callable[[], Mapping[str, object]]


def cases(quick: bool) -> list[Case]:
    tags = circuits.Tags.for_exchange(circuits.DEFAULT_EXCHANGE_ID)
    test = circuits.load_params("test")
    prod = circuits.load_params("production")
    out = [
        Case(
            "account_update withdraw (test)",
            "account_update",
            "test",
            lambda: fixtures.account_update_withdraw(test, tags),
        ),
        Case(
            f"order_ops {test.op_slots} places (test)",
            "order_ops",
            "test",
            lambda: fixtures.order_ops_inputs(test, tags),
        ),
        Case(
            "settle_fills 1 fill (test)",
            "settle_fills",
            "test",
            lambda: fixtures.settle_fills_inputs(test, tags, 1),
        ),
        Case(
            f"settle_fills {test.group_fills} fills (test)",
            "settle_fills",
            "test",
            lambda: fixtures.settle_fills_inputs(test, tags, test.group_fills),
        ),
        Case(
            "solvency_walk (test)",
            "solvency_walk",
            "test",
            lambda: fixtures.solvency_walk_first_chunk(test),
        ),
    ]
    if not quick:
        out += [
            Case(
                "account_update withdraw (production)",
                "account_update",
                "production",
                lambda: fixtures.account_update_withdraw(prod, tags),
            ),
            Case(
                f"order_ops {prod.op_slots} places (production)",
                "order_ops",
                "production",
                lambda: fixtures.order_ops_inputs(prod, tags),
            ),
            Case(
                f"settle_fills {prod.group_fills} fills (production)",
                "settle_fills",
                "production",
                lambda: fixtures.settle_fills_inputs(prod, tags, prod.group_fills),
            ),
            Case(
                "solvency_walk (production)",
                "solvency_walk",
                "production",
                lambda: fixtures.solvency_walk_first_chunk(prod),
            ),
        ]
    return out


def _stop(what: str) -> None:
    raise SystemExit(f"benchmark aborted: {what} rejected a valid proof")


def measure(case: Case, repeat: int) -> dict[str, object]:
    setup_s, built = time_once(lambda: circuits.build_statement(case.statement, case.profile))
    assert isinstance(built, toolchain.CircuitArtifacts)
    artifacts = built
    print(f"{case.label}: {artifacts.constraints} constraints", file=sys.stderr)
    pvk = groth16.prepare(groth16.VerificationKey.from_snarkjs(artifacts.verification_key()))

    samples: dict[str, list[float]] = {
        k: [] for k in ("inputs", "witness", "prove", "our", "fullprove", "verify", "snarkjs")
    }
    with tempfile.TemporaryDirectory(prefix="darkpool-bench-prove-") as tmp_name:
        tmp = Path(tmp_name)
        for _ in range(repeat):
            inputs_s, inputs_obj = time_once(case.build_inputs)
            assert isinstance(inputs_obj, Mapping)
            inputs: Mapping[str, object] = inputs_obj
            wtns = tmp / "witness.wtns"
            witness_s, _ = time_once(partial(toolchain.witness, artifacts, inputs, wtns))
            prove_s, proved = time_once(partial(toolchain.prove, artifacts, wtns))
            assert isinstance(proved, tuple)
            proof_json, public_json = proved
            samples["inputs"].append(inputs_s)
            samples["witness"].append(witness_s)
            samples["prove"].append(prove_s)
            samples["our"].append(inputs_s + witness_s + prove_s)

            def verify_ours(p: object = proof_json, s: object = public_json) -> bool:
                proof = groth16.Proof.from_snarkjs(p)
                return groth16.verify(pvk, proof, groth16.parse_public_signals(s, pvk.n_public))

            verify_s, ok = time_once(verify_ours)
            if not ok:
                _stop("verifier.groth16.verify")
            samples["verify"].append(verify_s)

            proof_path = tmp / "proof.json"
            public_path = tmp / "public.json"
            proof_path.write_text(json.dumps(proof_json))
            public_path.write_text(json.dumps(public_json))
            snark_s, ok = time_once(
                partial(toolchain.snarkjs_verify, artifacts.vkey_json, proof_path, public_path)
            )
            if not ok:
                _stop("snarkjs groth16 verify")
            samples["snarkjs"].append(snark_s)

            input_json = tmp / "input.json"
            toolchain.write_input_json(inputs, input_json)
            full_s, paths = time_once(
                partial(toolchain.snarkjs_fullprove, artifacts, input_json, tmp)
            )
            assert isinstance(paths, tuple)
            if json.loads(Path(paths[1]).read_text()) != public_json:
                raise SystemExit(
                    f"benchmark aborted: fullprove public signals differ ({case.label})"
                )
            samples["fullprove"].append(full_s)

    t: dict[str, Timing] = {k: summarize(v) for k, v in samples.items()}
    return {
        "case": case.label,
        "statement": case.statement,
        "profile": case.profile,
        "constraints": artifacts.constraints,
        "n_public": artifacts.n_public,
        "setup_seconds": setup_s,
        "seconds": {k: v.as_dict() for k, v in t.items()},
        "vs_fullprove": t["our"].median / t["fullprove"].median,
    }


def table_row(result: Mapping[str, object]) -> dict[str, object]:
    """One printable row (median seconds) from a ``measure`` result."""
    seconds = result.get("seconds")
    med: dict[str, float] = {}
    if isinstance(seconds, Mapping):
        med = {k: float(v["median"]) for k, v in seconds.items()}
    ratio = result.get("vs_fullprove")
    setup = result.get("setup_seconds")
    return {
        "case": result["case"],
        "constraints": f"{result['constraints']:,}",
        "witness": med.get("witness"),
        "prove": med.get("prove"),
        "our path": med.get("our"),
        "fullprove": med.get("fullprove"),
        "vs fullprove": f"{ratio:.2f}x" if isinstance(ratio, float) else result.get("note"),
        "verify (py_ecc)": med.get("verify"),
        "snarkjs verify": med.get("snarkjs"),
        "setup": setup if isinstance(setup, float) else None,
    }


def run(quick: bool, repeat: int, only: str | None = None) -> dict[str, object]:
    if not os.environ.get("DARKPOOL_PTAU") and SHARED_DEV_PTAU.is_file():
        os.environ["DARKPOOL_PTAU"] = str(SHARED_DEV_PTAU)
    results: list[dict[str, object]] = []
    for case in cases(quick):
        if only is not None and not re.search(only, case.label):
            continue
        results.append(measure(case, 1 if case.profile == "production" else repeat))
    return {
        "command": COMMAND,
        "quick": quick,
        "only": only,
        "repeat": repeat,
        "results": results,
        "notes": (
            "Median seconds. 'our path' = Python witness builder + wasm witness + snarkjs "
            "groth16 prove; baseline 'fullprove' = snarkjs groth16 fullprove on the same "
            "input JSON; both start Node per call. Setup is the cached build (compile + "
            "groth16 setup) time of this run, ~0 on a cache hit."
        ),
    }


def rows(data: Mapping[str, object]) -> list[dict[str, object]]:
    results = data.get("results")
    return [table_row(r) for r in results] if isinstance(results, list) else []


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="test profile only")
    parser.add_argument("--repeat", type=int, default=2, help="runs per test-profile case")
    parser.add_argument(
        "--only",
        metavar="REGEX",
        help="only the cases whose label matches, e.g. 'production' (a key not yet in the "
        "cache costs minutes of setup)",
    )
    parser.add_argument(
        "--output", default="prove", help="results/OUTPUT.json (default prove; keep a full run)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    try:
        data = run(args.quick, args.repeat, args.only)
    except (ToolchainError, groth16.Groth16Error, fixtures.FixtureError) as exc:
        raise SystemExit(f"benchmark failed: {exc}") from None
    print()
    print_table(rows(data), COLUMNS)
    path = write_json(args.output, data, tool_versions=toolchain.tool_versions())
    print(f"results written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
