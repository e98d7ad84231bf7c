"""Benchmark: solvency_walk chunk proofs serially and as Dask jobs on 1 and 2 local workers.

Run with ``uv run python -m benchmarks.dask_proofs [--chunks 4] [--profile test]``.

Builds the witnesses of one solvency report with ``--chunks`` full chunks
of funded accounts (``build_solvency_walk`` on ``benchmarks.fixtures.funded_book``,
in order, timed: that is the operator's serial part), then proves all chunk statements three ways in the same run:

* serial: one after the other in this process (``ProofPool(workers=1)``);
* Dask, 1 worker: an embedded ``LocalCluster`` with one worker process;
* Dask, 2 workers: the same with two (the parallel case; 2 cores here).

Cluster start-up is timed separately and excluded from proofs/s. Every proof
is checked with the verifier. Reports proofs/s and the ratio to serial, and
the per-chunk figures ``darkpool plan-solvency`` uses (witness build, prove,
peak RSS of a proving child process, size of a chunk's inputs), written to
``benchmarks/results/dask_proofs.json``. Never asserts on timings.
"""

import argparse
import json
import resource
import sys
from collections.abc import Sequence

from benchmarks.common import print_table, time_once, write_json
from benchmarks.fixtures import solvency_walk_chunks
from prover import backends, circuits, jobs
from verifier import groth16

COMMAND = "uv run python -m benchmarks.dask_proofs"


def run(chunks: int, profile: str) -> dict[str, object]:
    params = circuits.load_params(profile)
    artifacts = circuits.build_statement("solvency_walk", profile)
    chunk_accounts = 4**params.chunk_levels
    n_accounts = min(chunks * chunk_accounts, 4**params.account_levels)
    build_s, built = time_once(lambda: solvency_walk_chunks(params, n_accounts))
    assert isinstance(built, list)
    inputs = [w.to_circuit_inputs() for w in built]
    expected = [[str(x) for x in w.public_inputs()] for w in built]
    vk = groth16.prepare(groth16.VerificationKey.from_snarkjs(artifacts.verification_key()))
    prover = backends.get_prover().name

    def check(results: list[tuple[dict[str, object], list[str]]]) -> None:
        for (proof, public), want in zip(results, expected, strict=True):
            ok = public == want and groth16.verify(
                vk, groth16.Proof.from_snarkjs(proof), [int(x) for x in public]
            )
            if not ok:
                raise SystemExit("benchmark aborted: a chunk proof does not verify")

    rows: list[dict[str, object]] = []
    serial_s = 0.0
    for label, workers in (("serial", 1), ("dask 1 worker", -1), ("dask 2 workers", 2)):
        print(f"{label}…", file=sys.stderr)
        pool = jobs.ProofPool(workers=abs(workers), prover=prover, force_dask=workers < 0)
        start_s, _ = time_once(pool.start)
        with pool:
            seconds, results = time_once(lambda p=pool: p.map(artifacts, inputs))  # type: ignore[misc]
        assert isinstance(results, list)
        check(results)
        if workers == 1:
            serial_s = seconds
        rows.append(
            {
                "mode": label,
                "proofs": len(inputs),
                "start-up": start_s,
                "proving": seconds,
                "proofs/s": f"{len(inputs) / seconds:.3f}",
                "vs serial": f"{serial_s / seconds:.2f}x",
            }
        )
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures = {
        "chunk_accounts": chunk_accounts,
        "witness_build_s": build_s / len(inputs),
        "prove_s": serial_s / len(inputs),
        "worker_rss_mb": rss_mb,
        "inputs_kb": sum(len(json.dumps(i, default=str)) for i in inputs) / len(inputs) / 1024,
    }
    return {
        "command": COMMAND,
        "prover": prover,
        "rows": rows,
        "solvency_walk": {profile: figures},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--profile", default="test", choices=("test", "production"))
    args = parser.parse_args(argv)
    data = run(args.chunks, args.profile)
    print_table(
        data["rows"],  # type: ignore[arg-type]
        ["mode", "proofs", "start-up", "proving", "proofs/s", "vs serial"],
    )
    print(json.dumps(data["solvency_walk"], indent=2))
    path = write_json("dask_proofs", data)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
