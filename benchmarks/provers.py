"""Benchmark: prover backends per statement, groth16py (arkworks) against snarkjs.

Run with ``uv run python -m benchmarks.provers [--repeat 2] [--production]``.

For each statement case of ``benchmarks.prove`` (test profile; add
``--production`` for the production account_update, order_ops,
settle_fills and solvency_walk, whose first setup takes minutes) it computes one witness, then proves that same
witness with every backend of ``prover.backends`` in the same run, checks
every proof with the verifier, and reports the median prove time per backend
and the ratio snarkjs / groth16py (higher = groth16py that many times
faster). Both figures include process start-up (Node for snarkjs, a Python
child for groth16py), as the operator pays it. Writes
``benchmarks/results/provers.json``. Never asserts on timings.
"""

import argparse
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from benchmarks.common import print_table, summarize, time_once, write_json
from benchmarks.prove import Case, cases
from prover import backends, circuits, toolchain
from verifier import groth16

COMMAND = "uv run python -m benchmarks.provers"


def measure(case: Case, repeat: int) -> dict[str, object]:
    artifacts = circuits.build_statement(case.statement, case.profile)
    vk = groth16.prepare(groth16.VerificationKey.from_snarkjs(artifacts.verification_key()))
    provers: list[backends.Prover] = [backends.SnarkjsProver(), backends.Groth16pyProver()]
    medians: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="darkpool-bench-provers-") as tmp:
        wtns = toolchain.witness(artifacts, case.build_inputs(), Path(tmp) / "w.wtns")
        for prover in provers:
            samples = []
            for _ in range(repeat):
                seconds, result = time_once(partial(prover.prove, artifacts, wtns))
                assert isinstance(result, tuple)
                proof, public = result
                signals = groth16.parse_public_signals(public, vk.n_public)
                if not groth16.verify(vk, groth16.Proof.from_snarkjs(proof), signals):
                    raise SystemExit(f"benchmark aborted: {prover.name} proof does not verify")
                samples.append(seconds)
            medians[prover.name] = summarize(samples).median
    return {
        "case": case.label,
        "constraints": artifacts.constraints,
        "snarkjs": medians["snarkjs"],
        "groth16py": medians["groth16py"],
        "ratio": f"{medians['snarkjs'] / medians['groth16py']:.1f}x",
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--production", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for case in cases(quick=not args.production):
        print(f"{case.label}…", file=sys.stderr)
        rows.append(measure(case, args.repeat))
    print_table(rows, ["case", "constraints", "snarkjs", "groth16py", "ratio"])
    path = write_json("provers", {"command": COMMAND, "repeat": args.repeat, "rows": rows})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
