"""Groth16 prover backends: one ``Prover`` interface, chosen by ``DARKPOOL_PROVER``.

* ``snarkjs`` (default, the reference): ``snarkjs groth16 prove`` through
  ``prover.toolchain`` (Node).
* ``groth16py``: arkworks through the ``groth16py`` package (PyPI, GPL-3.0),
  4-5x faster on our circuits. It runs **out of process** only: a child
  ``python -m prover.groth16py_child`` imports it, so no GPL code is ever
  loaded into darkpool's own processes. Install with the optional extra
  ``uv sync --extra groth16py``.

Both read the same cached ``circuit.zkey`` and the same ``.wtns`` witness
(computed by the circuit's wasm generator, ``prover.toolchain.witness``), so
the witness data never leaves the machine that built it and the proofs of
both verify under the same verification key (tests/prover/test_backends.py).

Every failure is a one-line ``ToolchainError``; an unknown backend name is a
``ProverConfigError``.
"""

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from prover import toolchain
from prover.errors import ToolchainError
from prover.r1cs import read_wtns

__all__ = [
    "PROVERS",
    "PROVER_ENV",
    "Groth16pyProver",
    "Prover",
    "ProverConfigError",
    "SnarkjsProver",
    "get_prover",
    "prove_inputs",
]

PROVER_ENV = "DARKPOOL_PROVER"
PROVERS: tuple[str, ...] = ("snarkjs", "groth16py")
_CHILD_TIMEOUT_S = 3600.0

ProofJson = dict[str, Any]


class ProverConfigError(ValueError):
    """``DARKPOOL_PROVER`` (or a requested name) is not a known prover backend."""


class Prover(Protocol):
    """Proves one statement from a computed witness."""

    @property
    def name(self) -> str:
        """The backend's ``DARKPOOL_PROVER`` name."""
        ...

    def prove(
        self, artifacts: toolchain.CircuitArtifacts, wtns: Path
    ) -> tuple[ProofJson, list[str]]:
        """(snarkjs-format proof JSON, public signals as decimal strings). Raises ToolchainError."""
        ...


@dataclass(frozen=True)
class SnarkjsProver:
    """The reference: ``snarkjs groth16 prove`` (Node, single-threaded WASM)."""

    name: str = "snarkjs"

    def prove(
        self, artifacts: toolchain.CircuitArtifacts, wtns: Path
    ) -> tuple[ProofJson, list[str]]:
        return toolchain.prove(artifacts, wtns)


def public_signals(artifacts: toolchain.CircuitArtifacts, wtns: Path) -> list[str]:
    """The public signals of a witness: values 1..n_public (outputs, then public inputs).

    This is the order snarkjs writes ``public.json`` in.
    """
    values = read_wtns(wtns).values
    n_public = artifacts.n_public
    if len(values) < 1 + n_public:
        raise ToolchainError(f"witness for {artifacts.name} is shorter than its public signals")
    return [str(v) for v in values[1 : 1 + n_public]]


def _eth_bytes_to_snarkjs(blob: bytes) -> ProofJson:
    """groth16py's 256-byte Ethereum proof (A, B, C; Fq2 as (c1, c0)) as snarkjs JSON."""
    if len(blob) != 256:
        raise ToolchainError(f"groth16py returned a {len(blob)}-byte proof, expected 256")
    w = [str(int.from_bytes(blob[i : i + 32], "big")) for i in range(0, 256, 32)]
    return {
        "pi_a": [w[0], w[1], "1"],
        "pi_b": [[w[3], w[2]], [w[5], w[4]], ["1", "0"]],
        "pi_c": [w[6], w[7], "1"],
        "protocol": "groth16",
        "curve": "bn128",
    }


@dataclass(frozen=True)
class Groth16pyProver:
    """arkworks via ``groth16py`` in a child process (its GPL-3.0 stays out of ours)."""

    name: str = "groth16py"
    python: str = sys.executable

    def prove(
        self, artifacts: toolchain.CircuitArtifacts, wtns: Path
    ) -> tuple[ProofJson, list[str]]:
        with tempfile.TemporaryDirectory(prefix="darkpool-g16py-") as tmp:
            out = Path(tmp) / "proof.bin"
            with toolchain.progress(f"proving {artifacts.name} (groth16py)"):
                try:
                    proc = subprocess.run(
                        [
                            self.python,
                            "-m",
                            "prover.groth16py_child",
                            str(artifacts.zkey),
                            str(wtns),
                            str(out),
                        ],
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        text=True,
                        errors="replace",
                        timeout=_CHILD_TIMEOUT_S,
                        check=False,
                    )
                except (OSError, subprocess.TimeoutExpired) as exc:
                    raise ToolchainError(f"groth16py prove: cannot run the child ({exc})") from exc
            if proc.returncode != 0:
                lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
                raise ToolchainError(
                    f"groth16py prove failed: {lines[-1] if lines else f'exit {proc.returncode}'}"
                )
            proof = _eth_bytes_to_snarkjs(out.read_bytes())
        return proof, public_signals(artifacts, wtns)


def get_prover(name: str | None = None) -> Prover:
    """The backend named ``name``, else ``$DARKPOOL_PROVER``, else snarkjs."""
    chosen = name if name is not None else (os.environ.get(PROVER_ENV, "") or "snarkjs")
    if chosen == "snarkjs":
        return SnarkjsProver()
    if chosen == "groth16py":
        return Groth16pyProver()
    raise ProverConfigError(f"unknown prover backend {chosen!r} (choose {' or '.join(PROVERS)})")


def prove_inputs(
    artifacts: toolchain.CircuitArtifacts,
    inputs: Mapping[str, object],
    prover: Prover | None = None,
) -> tuple[ProofJson, list[str]]:
    """Witness (wasm, in Node) + proof with the chosen backend; same shape as ``toolchain.prove_inputs``."""
    backend = prover if prover is not None else get_prover()
    with tempfile.TemporaryDirectory(prefix="darkpool-wtns-") as tmp:
        wtns = toolchain.witness(artifacts, inputs, Path(tmp) / "witness.wtns")
        return backend.prove(artifacts, wtns)


def proof_json_text(proof: ProofJson) -> str:
    """Compact JSON of a proof (used by tests and benchmarks)."""
    return json.dumps(proof, separators=(",", ":"))
