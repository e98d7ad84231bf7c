"""Proof jobs on Dask (prover.jobs): a 2-worker LocalCluster run publishes the serial run's ledger.

The honest slots ledger (tests/exchange/slots_ledger.py, the session's one
build, proofs made one after the other in this process) is built again with
the same keys, clock and blinding randomness, its independent proofs (the
batch's three ORDER OPS proofs) as jobs on an embedded 2-worker Dask
LocalCluster. Apart from the
proof points themselves (Groth16 proofs are randomised), the two ledgers
must be identical entry by entry, in the same order, and the parallel one
must replay as valid. Uses groth16py as the prover when its extra is
installed (faster; same zkeys), else snarkjs.
"""

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from prover import jobs
from tests.exchange.ledger_json import without_proofs
from tests.exchange.slots_ledger import ENTRY_KINDS, SlotsLedger, build_slots_ledger
from verifier import groth16
from verifier.cli import main as verify_main

PROVER = "groth16py" if importlib.util.find_spec("groth16py") else "snarkjs"


def test_pool_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(jobs.ProofPoolError, match="at least 1"):
        jobs.pool_from_env({jobs.PROOF_WORKERS_ENV: "0"})
    with pytest.raises(jobs.ProofPoolError, match="must be an integer"):
        jobs.pool_from_env({jobs.PROOF_WORKERS_ENV: "two"})
    with pytest.raises(jobs.ProofPoolError, match="needs mutual TLS"):
        jobs.pool_from_env({jobs.DASK_SCHEDULER_ENV: "tcp://10.0.0.5:8786"})
    with pytest.raises(jobs.ProofPoolError, match="needs all of"):
        jobs.pool_from_env(
            {jobs.DASK_SCHEDULER_ENV: "tls://10.0.0.5:8786", jobs.TLS_CA_ENV: "ca.pem"}
        )
    files = {}
    for name in ("ca", "cert", "key"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text("x")
    tls = {
        jobs.TLS_CA_ENV: str(files["ca"]),
        jobs.TLS_CERT_ENV: str(files["cert"]),
        jobs.TLS_KEY_ENV: str(files["key"]),
    }
    with pytest.raises(jobs.ProofPoolError, match="tls:// address"):
        jobs.pool_from_env({jobs.DASK_SCHEDULER_ENV: "tcp://10.0.0.5:8786", **tls})
    remote = jobs.pool_from_env({jobs.DASK_SCHEDULER_ENV: "tls://10.0.0.5:8786", **tls})
    assert remote.distributed and remote.scheduler == "tls://10.0.0.5:8786"
    local = jobs.pool_from_env({jobs.DASK_SCHEDULER_ENV: "tcp://127.0.0.1:8786"})
    assert local.distributed
    serial = jobs.pool_from_env({})
    assert not serial.distributed and serial.workers == 1


def _entries(export: Path) -> list[Any]:
    import json

    return [json.loads(p.read_text()) for p in sorted((export / "entries").glob("*.json"))]


@pytest.mark.slow
def test_two_worker_local_cluster_ledger_equals_the_serial_one(
    slots_ledger: SlotsLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landed: list[int] = []
    with jobs.ProofPool(workers=2, prover=PROVER) as pool:
        parallel = build_slots_ledger(
            tmp_path / "dask", prove=jobs.ProgressProve(pool, lambda: landed.append(1))
        ).export
        assert pool.distributed and pool._cluster is not None
        assert len(pool._client.scheduler_info()["workers"]) == 2
    # 5 account ops one by one, the batch's 3 order_ops in parallel then its one
    # settle_fills group, the withdrawal, one solvency_walk chunk.
    assert len(landed) == 5 + 3 + 1 + 1 + 1
    a, b = _entries(slots_ledger.export), _entries(parallel)
    assert len(a) == len(b) == len(ENTRY_KINDS) - 1
    assert [without_proofs(e) for e in a] == [without_proofs(e) for e in b]
    assert [e["proofs"][0]["proof"] for e in a if e["kind"] == "batch"] != [
        e["proofs"][0]["proof"] for e in b if e["kind"] == "batch"
    ]  # really proved twice
    backend = "native" if importlib.util.find_spec("mclbn256") else "python"
    monkeypatch.setenv(groth16.BACKEND_ENV, backend)  # restored after the test
    assert verify_main([str(parallel), "--quiet"]) == 0


@pytest.mark.slow
def test_a_killed_worker_s_jobs_are_rerun(tmp_path: Path) -> None:
    """SIGKILL a worker while it holds a proof job: every proof still lands, valid, in order."""
    import os
    import signal
    import threading
    import time

    from prover import toolchain

    circuit = Path(__file__).resolve().parents[1] / "verifier" / "circuits" / "groth16_test.circom"
    artifacts = toolchain.build("groth16_test", circuit)
    inputs = [{"slope": 3 + i, "x": 5 + i, "k": 7} for i in range(4)]
    results: list[tuple[dict[str, Any], list[str]]] = []
    with jobs.ProofPool(workers=2, prover=PROVER) as pool:
        pool.start()
        client = pool._client
        pids_before = client.run(os.getpid)
        runner = threading.Thread(target=lambda: results.extend(pool.map(artifacts, inputs)))
        runner.start()
        deadline = time.monotonic() + 120
        busy: list[str] = []
        while not busy and time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items() if keys]
            time.sleep(0.02)
        assert busy, "no job ever started"
        os.kill(pids_before[busy[0]], signal.SIGKILL)
        runner.join(timeout=600)
        assert not runner.is_alive()
        assert pids_before[busy[0]] not in client.run(os.getpid).values()
    assert len(results) == len(inputs)
    vk = groth16.prepare(groth16.VerificationKey.from_snarkjs(artifacts.verification_key()))
    for (proof, public), given in zip(results, inputs, strict=True):
        assert int(public[2]) == given["slope"]  # in submission order
        signals = groth16.parse_public_signals(public, 3)
        assert groth16.verify(vk, groth16.Proof.from_snarkjs(proof), signals)
