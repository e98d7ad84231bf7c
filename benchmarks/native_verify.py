"""Benchmark: the native pairing backend (mcl, ``darkpool[native]``) against py_ecc.

Run with ``uv run python -m benchmarks.native_verify [--batches 2] [--ledger DIR]``.

On a ledger export (``--ledger DIR``, or the cached test-profile export of
``benchmarks.replay`` with ``--batches`` batches, built if missing) it times,
for each backend in the same run:

* ``verify`` of one proof from its JSON (proof parsing with the curve and
  subgroup checks included, key prepared once) for account_update and
  settle_fills (a recycling-order "slots" ledger);
* the full replay (``verifier.ledger.replay``, one process), every check
  included.

Prints a table with the ratio python / native (higher means native is that
many times faster) and writes ``benchmarks/results/native_verify.json``.
Never asserts on timings; stops if either backend rejects an honest proof or
the honest ledger.
"""

import argparse
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from benchmarks.common import print_table, summarize, time_once, write_json
from benchmarks.replay import _proofs, _replay, build_ledger, ledger_dir
from verifier import groth16, ledger
from verifier.source import DirectorySource

RUNS = {"python": 3, "native": 50}
REPLAY_RUNS = {"python": 1, "native": 3}
COMMAND = "uv run python -m benchmarks.native_verify"


def _verify_once(vk_json: object, proof_json: object, public: object, backend: str) -> float:
    with groth16.using_backend(backend):
        pvk = groth16.prepare(groth16.VerificationKey.from_snarkjs(vk_json))

        def once() -> bool:
            proof = groth16.Proof.from_snarkjs(proof_json)
            return groth16.verify(pvk, proof, groth16.parse_public_signals(public, pvk.n_public))

        samples = []
        for _ in range(RUNS[backend]):
            seconds, ok = time_once(once)
            if ok is not True:
                raise SystemExit(f"benchmark aborted: {backend} rejected an honest proof")
            samples.append(seconds)
    return summarize(samples).median


def _replay_once(export: Path, backend: str) -> float:
    samples = []
    for _ in range(REPLAY_RUNS[backend]):
        with groth16.using_backend(backend):
            seconds, report = time_once(partial(_replay, export, ledger.check_proofs(1)))
        assert isinstance(report, ledger.ReplayReport)
        if not report.ok:
            raise SystemExit(f"benchmark aborted: {backend} rejected the honest ledger")
        samples.append(seconds)
    return summarize(samples).median


def run(export: Path) -> dict[str, object]:
    groth16.set_backend("native")  # fails here, with the install hint, if the extra is missing
    groth16.set_backend("python")
    vkeys = DirectorySource(export).vkeys()
    rows: list[dict[str, object]] = []
    for statement in ("account_update", "settle_fills"):
        proofs = _proofs(export, statement)
        if not proofs:
            continue
        proof_json, public = proofs[0]
        print(f"timing verify({statement})…", file=sys.stderr)
        times = {b: _verify_once(vkeys[statement], proof_json, public, b) for b in RUNS}
        rows.append(
            {
                "operation": f"verify {statement} (from JSON)",
                "python": times["python"],
                "native": times["native"],
                "ratio": f"{times['python'] / times['native']:.0f}x",
            }
        )
    print("timing full replays…", file=sys.stderr)
    replay_times = {b: _replay_once(export, b) for b in REPLAY_RUNS}
    count = int(DirectorySource(export).manifest()["entries"])  # type: ignore[index]
    rows.append(
        {
            "operation": f"replay {count} entries",
            "python": replay_times["python"],
            "native": replay_times["native"],
            "ratio": f"{replay_times['python'] / replay_times['native']:.1f}x",
        }
    )
    return {"command": COMMAND, "ledger": str(export), "rows": rows}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--ledger", type=Path, default=None, help="an existing export to use")
    args = parser.parse_args(argv)
    export = args.ledger
    if export is None:
        export = ledger_dir(args.batches)
        if not (export / "manifest.json").is_file():
            print(f"building a {args.batches}-batch ledger in {export}…", file=sys.stderr)
            build_ledger(args.batches, export)
    result = run(export)
    print_table(result["rows"], ["operation", "python", "native", "ratio"])  # type: ignore[arg-type]
    path = write_json("native_verify", result)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
