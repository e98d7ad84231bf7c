"""The only code in darkpool that runs Node.js: circom compile, Groth16 setup, witness, prove.

Modules (callers import from ``prover.toolchain``; everything public is re-exported here):

* ``tools``: finds ``node`` on PATH and circom2 / snarkjs / circomlib in the
  project's ``node_modules``; runs them with one-line errors; progress lines.
* ``cache``: the content-addressed cache (``$DARKPOOL_CACHE``), entries built
  in a temp directory and renamed into place under an ``fcntl`` lock.
* ``compile``: ``circom2 --O2`` through the cache. The key covers every
  ``.circom`` file reachable through ``include`` (contents, not paths), caller
  key material (e.g. circuit params) and the circom2/snarkjs/circomlib versions.
* ``ptau``: resolves the powers of tau: ``DARKPOOL_PTAU`` names a
  phase-2-prepared file; without it, an INSECURE development file is generated
  once into the cache.
* ``keys``: ``snarkjs groth16 setup`` and the verification-key export.
* ``artifacts``: the cached build pipeline (compile, ptau, setup) giving
  ``CircuitArtifacts``; its key adds the ptau's sha256 and the setup recipe.
* ``proofs``: witnesses and Groth16 proofs, and ``snarkjs groth16 verify`` /
  ``snarkjs wtns check`` as baselines for tests and benchmarks.

Every failure reaches the caller as a ``ToolchainError`` (or ``WitnessError``)
with one line: which tool failed and its most telling output line. This package
never imports ``exchange`` and never parses tool stdout for numbers it can read
from the files themselves (constraint counts come from the r1cs header).
"""

from prover.toolchain.artifacts import (
    CircuitArtifacts,
    CompiledArtifacts,
    build,
    build_generated,
    compile_artifacts,
    compile_generated_artifacts,
)
from prover.toolchain.cache import MANIFEST, cache_dir, file_sha256
from prover.toolchain.compile import (
    COMPILE_FLAGS,
    CompiledCircuit,
    compile_circuit,
    compile_generated,
    source_files,
    source_key,
)
from prover.toolchain.keys import SETUP_RECIPE, check_verification_key, setup
from prover.toolchain.proofs import (
    prove,
    prove_inputs,
    r1cs_info,
    snarkjs_fullprove,
    snarkjs_verify,
    witness,
    write_input_json,
    wtns_check,
)
from prover.toolchain.ptau import (
    DEV_PTAU_BEACON,
    DEV_PTAU_BEACON_NAME,
    DEV_PTAU_MIN_POWER,
    MAX_PTAU_POWER,
    check_ptau,
    fetch_ceremony_ptau,
    ptau_digest,
    resolve_ptau,
)
from prover.toolchain.tools import (
    MIN_NODE_MAJOR,
    NODE_MISSING,
    PROGRESS_DELAY_S,
    PROGRESS_TICK_S,
    node_executable,
    progress,
    project_root,
    tool_versions,
)

__all__ = [
    "COMPILE_FLAGS",
    "DEV_PTAU_BEACON",
    "DEV_PTAU_BEACON_NAME",
    "DEV_PTAU_MIN_POWER",
    "MANIFEST",
    "MAX_PTAU_POWER",
    "MIN_NODE_MAJOR",
    "NODE_MISSING",
    "PROGRESS_DELAY_S",
    "PROGRESS_TICK_S",
    "SETUP_RECIPE",
    "CircuitArtifacts",
    "CompiledArtifacts",
    "CompiledCircuit",
    "build",
    "build_generated",
    "cache_dir",
    "check_ptau",
    "check_verification_key",
    "compile_artifacts",
    "compile_circuit",
    "compile_generated",
    "compile_generated_artifacts",
    "fetch_ceremony_ptau",
    "file_sha256",
    "node_executable",
    "progress",
    "project_root",
    "prove",
    "prove_inputs",
    "ptau_digest",
    "r1cs_info",
    "resolve_ptau",
    "setup",
    "snarkjs_fullprove",
    "snarkjs_verify",
    "source_files",
    "source_key",
    "tool_versions",
    "witness",
    "write_input_json",
    "wtns_check",
]
