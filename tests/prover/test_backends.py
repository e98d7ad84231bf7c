"""Prover backends (prover.backends): snarkjs (reference) and groth16py (out of process).

Both prove the same witness against the same cached zkey; both proofs must
verify under the one verification key (our verifier and snarkjs), carry the
same public signals, and fail with a changed public signal. The groth16py
tests skip with a reason when the optional extra is not installed
(``make setup`` installs it).
"""

import importlib.util
import sys
from pathlib import Path

import pytest

from prover import backends, toolchain
from prover.errors import ToolchainError
from verifier import groth16

HONEST = {"product": 15, "a": 3, "b": 5}

needs_groth16py = pytest.mark.skipif(
    importlib.util.find_spec("groth16py") is None,
    reason="groth16py extra not installed (uv sync --extra groth16py)",
)


def _verify(
    artifacts: toolchain.CircuitArtifacts, proof: dict[str, object], public: list[str]
) -> bool:
    vk = groth16.VerificationKey.from_snarkjs(artifacts.verification_key())
    signals = groth16.parse_public_signals(public, vk.n_public)
    return groth16.verify(vk, groth16.Proof.from_snarkjs(proof), signals)


def test_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(backends.PROVER_ENV, "gpu")
    with pytest.raises(backends.ProverConfigError, match="unknown prover backend 'gpu'"):
        backends.get_prover()
    monkeypatch.setenv(backends.PROVER_ENV, "groth16py")
    assert backends.get_prover().name == "groth16py"
    monkeypatch.delenv(backends.PROVER_ENV)
    assert backends.get_prover().name == "snarkjs"


def test_proof_bytes_conversion_orders_fq2_as_snarkjs() -> None:
    words = list(range(1, 9))
    blob = b"".join(w.to_bytes(32, "big") for w in words)
    proof = backends._eth_bytes_to_snarkjs(blob)
    assert proof["pi_a"] == ["1", "2", "1"]
    assert proof["pi_b"] == [["4", "3"], ["6", "5"], ["1", "0"]]
    assert proof["pi_c"] == ["7", "8", "1"]
    with pytest.raises(ToolchainError, match="255-byte proof"):
        backends._eth_bytes_to_snarkjs(blob[:-1])


@pytest.mark.slow
@needs_groth16py
def test_both_backends_prove_under_the_same_key(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    wtns = toolchain.witness(multiplier, HONEST, tmp_path / "w.wtns")
    results = {}
    for prover in (backends.SnarkjsProver(), backends.Groth16pyProver()):
        proof, public = prover.prove(multiplier, wtns)
        assert _verify(multiplier, proof, public), prover.name
        proof_path = tmp_path / f"{prover.name}.json"
        public_path = tmp_path / f"{prover.name}.public.json"
        proof_path.write_text(backends.proof_json_text(proof))
        public_path.write_text(backends.proof_json_text(public))  # type: ignore[arg-type]
        assert toolchain.snarkjs_verify(multiplier.vkey_json, proof_path, public_path)
        bad = [str(int(public[0]) + 1), *public[1:]]
        assert not _verify(multiplier, proof, bad), prover.name
        results[prover.name] = (proof, public)
    assert results["snarkjs"][1] == results["groth16py"][1]
    assert results["snarkjs"][0]["pi_a"] != results["groth16py"][0]["pi_a"]  # fresh randomness


@pytest.mark.slow
@needs_groth16py
def test_prove_inputs_uses_the_configured_backend(
    multiplier: toolchain.CircuitArtifacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(backends.PROVER_ENV, "groth16py")
    proof, public = backends.prove_inputs(multiplier, HONEST)
    assert _verify(multiplier, proof, public)


@pytest.mark.slow
def test_groth16py_child_failure_is_one_line(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    wtns = toolchain.witness(multiplier, HONEST, tmp_path / "w.wtns")
    broken = Path(tmp_path / "fake_python")
    broken.write_text("#!/bin/sh\necho 'boom: no zkey here' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(ToolchainError, match=r"^groth16py prove failed: boom: no zkey here$"):
        backends.Groth16pyProver(python=str(broken)).prove(multiplier, wtns)


def test_groth16py_is_never_imported_in_process() -> None:
    import prover.backends  # noqa: F401

    assert "groth16py" not in sys.modules
