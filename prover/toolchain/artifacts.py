"""The cached build pipeline: compile, resolve the ptau, set up; ``CircuitArtifacts`` out.

The setup cache key covers the compile key (every reachable ``.circom`` file
by content, caller key material, tool versions), the sha256 of the powers of
tau and the setup recipe.
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
from prover.toolchain.keys import SETUP_RECIPE, setup
from prover.toolchain.ptau import ptau_digest, resolve_ptau
from prover.toolchain.tools import progress, tool_versions

# Setup (groth16 setup + phase-2 beacon + zkey verify) time model for the
# printed estimate, 2 idle cores: about BASE + PER_ROW * 2^power seconds.
SETUP_SECONDS_BASE = 5.0
SETUP_SECONDS_PER_DOMAIN_ROW = 2.5e-3


@dataclass(frozen=True)
class CircuitArtifacts:
    """Everything needed to prove and verify one compiled, set-up circuit."""

    name: str
    key: str
    r1cs: Path
    wasm: Path
    sym: Path
    witness_js: Path
    zkey: Path
    vkey_json: Path
    ptau: Path
    constraints: int
    n_public: int

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
    ptau = resolve_ptau(int(compiled["required_ptau_power"]))
    key_material = {
        "source_key": src_key,
        "ptau_sha256": ptau_digest(ptau),
        "snarkjs": tool_versions()["snarkjs"],
        "recipe": SETUP_RECIPE,
    }
    key = _sha256_bytes(_canonical_json(key_material))
    r1cs = compile_entry / str(compiled["r1cs"])
    constraints = int(compiled["constraints"])
    power = int(compiled["required_ptau_power"])

    def build(tmp: Path) -> dict[str, object]:
        estimate = SETUP_SECONDS_BASE + SETUP_SECONDS_PER_DOMAIN_ROW * 2**power
        with progress(f"setting up {name} ({constraints:,} constraints)", estimate_s=estimate):
            zkey, vkey = setup(r1cs, ptau, tmp)
        return {
            "name": name,
            "key": key,
            "key_material": key_material,
            "ptau": str(ptau),
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
