"""The cached build pipeline: compile, find the ptau, set up; ``CircuitArtifacts`` out.

The setup cache key covers the compile key (every reachable ``.circom`` file
by content, caller key material, tool versions), the sha256 of the powers of
tau and the setup recipe. With no powers of tau on the machine
(``ptau.local_ptau``: no ``DARKPOOL_PTAU``, no shared file, none cached) the
key is an INSECURE development key that needs none (``keys.dev_setup``,
seconds instead of generating a ptau and running snarkjs' setup); its cache
key names that recipe instead of a ptau. ``darkpool ceremony`` still fetches
or generates a ptau (``resolve_ptau``).
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.errors import ToolchainError
from prover.toolchain.cache import (
    _canonical_json,
    _sha256_bytes,
    cached_build,
    keyed_name,
)
from prover.toolchain.compile import _compile_cached, _generated_source, source_key
from prover.toolchain.keys import DEV_ZKEY_RECIPE, SETUP_RECIPE, dev_setup, setup
from prover.toolchain.ptau import local_ptau, ptau_digest
from prover.toolchain.tools import _warn, progress, tool_versions

# Setup (groth16 setup + phase-2 beacon + zkey verify) time model for the
# printed estimate, 2 idle cores: about BASE + PER_ROW * 2^power seconds.
SETUP_SECONDS_BASE = 5.0
SETUP_SECONDS_PER_DOMAIN_ROW = 2.5e-3
# The ptau-free development key (js/dev_zkey.cjs), 2 idle cores: BASE + PER_ROW * 2^power.
DEV_SETUP_SECONDS_BASE = 3.0
DEV_SETUP_SECONDS_PER_DOMAIN_ROW = 2.5e-4  # settle_batch_test, 2^16: 28 CPU-s measured
_warned_dev_keys = False


@dataclass(frozen=True)
class CompiledArtifacts:
    """A compiled circuit without keys: enough to compute witnesses and evaluate the r1cs.

    ``key`` is the compile cache key. Tests that only check constraints use
    this (``compile_artifacts``): no trusted setup, which is the slow step.
    """

    name: str
    key: str
    r1cs: Path
    wasm: Path
    sym: Path
    witness_js: Path
    constraints: int
    n_public: int


@dataclass(frozen=True)
class CircuitArtifacts(CompiledArtifacts):
    """Everything needed to prove and verify one compiled, set-up circuit (``key``: setup key)."""

    zkey: Path
    vkey_json: Path
    ptau: Path | None  # None: a ptau-free development key (keys.dev_setup)

    def verification_key(self) -> dict[str, Any]:
        data = json.loads(self.vkey_json.read_text())
        if not isinstance(data, dict):
            raise ToolchainError(f"{self.vkey_json} is not a JSON object")
        return data


def build(
    name: str,
    source_path: Path,
    *,
    include_dirs: Sequence[Path] = (),
    extra_key: bytes | str | Mapping[str, object] | None = None,
) -> CircuitArtifacts:
    """Compile and set up ``source_path`` through the cache; instant when nothing changed.

    ``include_dirs`` are extra ``-l`` directories (``node_modules`` is always
    searched). ``extra_key`` is mixed into the key (e.g. the params the main
    wrapper was generated from).
    """
    source = Path(source_path).resolve()
    src_key = source_key(source, include_dirs=include_dirs, extra_key=extra_key)
    compile_entry, compiled = _compile_cached(name, source, include_dirs, src_key)
    power = int(compiled["required_ptau_power"])
    ptau = local_ptau(power)
    key_material = {
        "source_key": src_key,
        "snarkjs": tool_versions()["snarkjs"],
    }
    if ptau is None:
        key_material["recipe"] = DEV_ZKEY_RECIPE
    else:
        key_material["ptau_sha256"] = ptau_digest(ptau)
        key_material["recipe"] = SETUP_RECIPE
    key = _sha256_bytes(_canonical_json(key_material))
    r1cs = compile_entry / str(compiled["r1cs"])
    constraints = int(compiled["constraints"])

    def build(tmp: Path) -> dict[str, object]:
        global _warned_dev_keys
        if ptau is None:
            if not _warned_dev_keys:
                _warned_dev_keys = True
                _warn(
                    "no powers of tau found (DARKPOOL_PTAU unset, no ../shared/ptau, none "
                    "cached): building INSECURE development keys from a public tau, no ptau "
                    "needed (anyone can forge proofs; set DARKPOOL_PTAU to a ceremony file and "
                    "run `darkpool ceremony` for real use)"
                )
            estimate = DEV_SETUP_SECONDS_BASE + DEV_SETUP_SECONDS_PER_DOMAIN_ROW * 2**power
            label = f"setting up {name} ({constraints:,} constraints, INSECURE development key)"
            with progress(label, estimate_s=estimate):
                zkey, vkey = dev_setup(r1cs, tmp)
        else:
            estimate = SETUP_SECONDS_BASE + SETUP_SECONDS_PER_DOMAIN_ROW * 2**power
            with progress(f"setting up {name} ({constraints:,} constraints)", estimate_s=estimate):
                zkey, vkey = setup(r1cs, ptau, tmp)
        return {
            "name": name,
            "key": key,
            "key_material": key_material,
            "ptau": None if ptau is None else str(ptau),
            "compile_entry": compile_entry.name,
            "zkey": zkey.name,
            "vkey": vkey.name,
        }

    setup_entry, setup_manifest = cached_build("setup", keyed_name(name, key), build)
    return CircuitArtifacts(
        name=name,
        key=key,
        r1cs=r1cs,
        wasm=compile_entry / str(compiled["wasm"]),
        sym=compile_entry / str(compiled["sym"]),
        witness_js=compile_entry / str(compiled["witness_js"]),
        zkey=setup_entry / str(setup_manifest["zkey"]),
        vkey_json=setup_entry / str(setup_manifest["vkey"]),
        ptau=ptau,
        constraints=constraints,
        n_public=int(compiled["n_public"]),
    )


def compile_artifacts(
    name: str,
    source_path: Path,
    *,
    include_dirs: Sequence[Path] = (),
    extra_key: bytes | str | Mapping[str, object] | None = None,
) -> CompiledArtifacts:
    """Compile only (cached, same entry as ``build``'s compile step): no keys, no ptau."""
    source = Path(source_path).resolve()
    src_key = source_key(source, include_dirs=include_dirs, extra_key=extra_key)
    entry, compiled = _compile_cached(name, source, include_dirs, src_key)
    return CompiledArtifacts(
        name=name,
        key=src_key,
        r1cs=entry / str(compiled["r1cs"]),
        wasm=entry / str(compiled["wasm"]),
        sym=entry / str(compiled["sym"]),
        witness_js=entry / str(compiled["witness_js"]),
        constraints=int(compiled["constraints"]),
        n_public=int(compiled["n_public"]),
    )


def compile_generated_artifacts(
    name: str, main_source: str, include_dirs: Sequence[Path]
) -> CompiledArtifacts:
    """``compile_artifacts`` of a generated main wrapper (stored in the cache by content)."""
    return compile_artifacts(name, _generated_source(name, main_source), include_dirs=include_dirs)


def build_generated(
    name: str,
    main_source: str,
    include_dirs: Sequence[Path],
    *,
    extra_key: bytes | str | Mapping[str, object] | None = None,
) -> CircuitArtifacts:
    """``build`` a generated main wrapper (its text is stored in the cache, by content)."""
    path = _generated_source(name, main_source)
    return build(name, path, include_dirs=include_dirs, extra_key=extra_key)
