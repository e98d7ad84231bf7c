"""Witnesses and Groth16 proofs; ``snarkjs groth16 verify`` / ``wtns check`` as test baselines."""

import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prover.errors import ToolchainError, WitnessError
from prover.toolchain import tools
from prover.toolchain.artifacts import CircuitArtifacts, CompiledArtifacts
from prover.toolchain.tools import _summarise, node_executable, progress


def _encode_input(value: object, where: str) -> object:
    """JSON for circom's witness calculator: integers as decimal strings, lists nested."""
    if isinstance(value, bool):
        raise WitnessError(f"input {where}: booleans are ambiguous, pass 0 or 1")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]+", value):
            raise WitnessError(f"input {where}: {value!r} is not a decimal integer")
        return value
    if isinstance(value, list | tuple):
        return [_encode_input(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise WitnessError(f"input {where}: unsupported type {type(value).__name__}")


def write_input_json(inputs: Mapping[str, object], path: Path) -> None:
    encoded = {str(k): _encode_input(v, str(k)) for k, v in inputs.items()}
    Path(path).write_text(json.dumps(encoded))


def witness(artifacts: CompiledArtifacts, inputs: Mapping[str, object], out_path: Path) -> Path:
    """Run the circuit's wasm witness generator on ``inputs``; write ``out_path`` (.wtns)."""
    out_path = Path(out_path)
    node = node_executable()
    with tempfile.TemporaryDirectory(prefix="darkpool-input-") as tmp:
        input_json = Path(tmp) / "input.json"
        write_input_json(inputs, input_json)
        try:
            with progress(f"computing witness for {artifacts.name}"):
                tools._run(
                    "witness", [node, artifacts.witness_js, artifacts.wasm, input_json, out_path]
                )
        except ToolchainError as exc:
            detail = str(exc).removeprefix("witness failed: ")
            raise WitnessError(f"witness for {artifacts.name} failed: {detail}") from exc
    if not out_path.is_file():
        raise WitnessError(f"witness for {artifacts.name}: generator wrote no {out_path.name}")
    return out_path


def prove(artifacts: CircuitArtifacts, wtns: Path) -> tuple[dict[str, Any], list[str]]:
    """``snarkjs groth16 prove``: returns (proof JSON, public signals as decimal strings)."""
    with tempfile.TemporaryDirectory(prefix="darkpool-proof-") as tmp:
        proof_path = Path(tmp) / "proof.json"
        public_path = Path(tmp) / "public.json"
        with progress(f"proving {artifacts.name}"):
            tools._snarkjs(
                "groth16 prove", "groth16", "prove", artifacts.zkey, wtns, proof_path, public_path
            )
        try:
            proof = json.loads(proof_path.read_text())
            public = json.loads(public_path.read_text())
        except (OSError, ValueError) as exc:
            raise ToolchainError(f"snarkjs groth16 prove wrote unreadable output: {exc}") from exc
    if not isinstance(proof, dict) or not isinstance(public, list):
        raise ToolchainError("snarkjs groth16 prove wrote unexpected JSON")
    return proof, [str(x) for x in public]


def prove_inputs(
    artifacts: CircuitArtifacts, inputs: Mapping[str, object]
) -> tuple[dict[str, Any], list[str]]:
    """Witness + proof in one call (like ``snarkjs groth16 fullprove``)."""
    with tempfile.TemporaryDirectory(prefix="darkpool-wtns-") as tmp:
        wtns = witness(artifacts, inputs, Path(tmp) / "witness.wtns")
        return prove(artifacts, wtns)


def snarkjs_fullprove(
    artifacts: CircuitArtifacts, input_json: Path, out_dir: Path
) -> tuple[Path, Path]:
    """Plain ``snarkjs groth16 fullprove`` (witness + prove in one node process).

    The baseline our prover path is measured against; returns (proof, public) paths.
    """
    proof = Path(out_dir) / "fullprove_proof.json"
    public = Path(out_dir) / "fullprove_public.json"
    tools._snarkjs(
        "groth16 fullprove",
        "groth16",
        "fullprove",
        Path(input_json),
        artifacts.wasm,
        artifacts.zkey,
        proof,
        public,
    )
    if not proof.is_file() or not public.is_file():
        raise ToolchainError("snarkjs groth16 fullprove wrote no proof")
    return proof, public


def snarkjs_verify(vkey_path: Path, proof_path: Path, public_path: Path) -> bool:
    """``snarkjs groth16 verify`` (baseline for tests/benchmarks; the product uses verifier/)."""
    output = tools._snarkjs(
        "groth16 verify",
        "groth16",
        "verify",
        Path(vkey_path),
        Path(public_path),
        Path(proof_path),
        verdict=True,
    )
    # snarkjs answers "no" with one of these lines (and exit code 1).
    if any(
        verdict in output
        for verdict in (
            "Invalid proof",
            "Public inputs are not valid",
            "Proof commitments are not valid",
        )
    ):
        return False
    if "OK!" in output:
        return True
    raise ToolchainError(f"snarkjs groth16 verify failed: {_summarise(output)}")


def wtns_check(r1cs: Path, wtns: Path) -> bool:
    """``snarkjs wtns check``: does the witness satisfy every constraint of ``r1cs``?"""
    output = tools._snarkjs("wtns check", "wtns", "check", Path(r1cs), Path(wtns), verdict=True)
    if "WITNESS IS NOT CORRECT" in output:
        return False
    if "WITNESS IS CORRECT" in output:
        return True
    raise ToolchainError(f"snarkjs wtns check failed: {_summarise(output)}")


def r1cs_info(r1cs: Path) -> dict[str, int]:
    """``snarkjs r1cs info`` as numbers (a cross-check for prover.r1cs, not used to build)."""
    output = tools._snarkjs("r1cs info", "r1cs", "info", Path(r1cs))
    info: dict[str, int] = {}
    for label, value in re.findall(r"# of ([A-Za-z ]+): (\d+)", output):
        info[label.strip().lower().replace(" ", "_")] = int(value)
    if "constraints" not in info:
        raise ToolchainError(f"snarkjs r1cs info printed no constraint count: {_summarise(output)}")
    return info
