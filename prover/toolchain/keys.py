"""Groth16 key generation: ``snarkjs groth16 setup`` and the verification-key export.

No phase-2 contribution is added (delta is the group generator), which is
deterministic and fast. Proofs under such a zkey are forgeable by anyone even
with a ceremony ptau; production needs a phase-2 ceremony (``snarkjs zkey
contribute`` rounds and a beacon) on top of a public ceremony ptau.
"""

from pathlib import Path

from prover.toolchain import tools

# Names the setup procedure in the cache key: change it when the recipe changes.
SETUP_RECIPE = "groth16-setup/no-phase2-contribution/v1"


def setup(r1cs: Path, ptau: Path, out_dir: Path) -> tuple[Path, Path]:
    """``groth16 setup`` + ``zkey export verificationkey``; returns (zkey, verification_key.json).

    No phase-2 contribution is added (see the module docstring): fine for
    development and tests, forgeable in production.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    zkey = out_dir / "circuit.zkey"
    vkey = out_dir / "verification_key.json"
    tools._snarkjs("groth16 setup", "groth16", "setup", Path(r1cs), Path(ptau), zkey)
    tools._snarkjs("zkey export verificationkey", "zkey", "export", "verificationkey", zkey, vkey)
    return zkey, vkey
