"""The ptau-free development key (``keys.dev_setup``, ``js/dev_zkey.cjs``) on the multiplier.

With delta = 1 its sections 1-9 equal, byte for byte, ``snarkjs groth16
setup`` on the development ptau of the same seed (same tau, alpha, beta): the
same r1cs coefficients, Lagrange points, IC/A/B/C/H points. With the public
delta, proofs under it verify with the project's verifier and a wrong public
input fails; a build with no ptau on the machine uses it and says so in the
cache key.
"""

import dataclasses
import json
import struct
from pathlib import Path

import pytest

from prover import toolchain
from prover.toolchain import keys
from verifier import groth16

pytestmark = pytest.mark.slow
SEED = "0b" * 32
MULTIPLIER = Path(__file__).resolve().parent / "circuits" / "multiplier.circom"


def sections(zkey: Path) -> dict[int, bytes]:
    """The binfile sections of a zkey by id (snarkjs: magic, version, count, (id, u64 size, data)*)."""
    data = zkey.read_bytes()
    assert data[:4] == b"zkey"
    (count,) = struct.unpack_from("<I", data, 8)
    out: dict[int, bytes] = {}
    pos = 12
    for _ in range(count):
        sid, size = struct.unpack_from("<IQ", data, pos)
        out[sid] = data[pos + 12 : pos + 12 + size]
        pos += 12 + size
    return out


def node(*args: object) -> None:
    tools = toolchain.tools
    tools._run("test", [tools.node_executable(), *args], cwd=tools.project_root())


def test_delta_one_equals_snarkjs_groth16_setup_on_the_same_tau(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    ptau = tmp_path / "dev.ptau"
    node(toolchain.ptau.DEV_PTAU_SCRIPT, 9, SEED, ptau)  # > the domain 2^8: full H level
    theirs = keys.new_zkey(multiplier.r1cs, ptau, tmp_path / "theirs.zkey")
    ours = tmp_path / "ours.zkey"
    node(keys.DEV_ZKEY_SCRIPT, multiplier.r1cs, SEED, ours, "--delta-one")
    mine, ref = sections(ours), sections(theirs)
    assert sorted(mine) == sorted(ref) == list(range(1, 11))
    for sid in range(1, 10):
        assert mine[sid] == ref[sid], f"section {sid} differs"


def test_dev_key_proves_and_verifies(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    zkey, vkey_json = keys.dev_setup(multiplier.r1cs, tmp_path)
    vk = groth16.VerificationKey.from_snarkjs(json.loads(vkey_json.read_text()))
    dev = dataclasses.replace(multiplier, zkey=zkey, vkey_json=vkey_json, ptau=None)
    proof_json, public = toolchain.prove_inputs(dev, {"product": 15, "a": 3, "b": 5})
    proof = groth16.Proof.from_snarkjs(proof_json)
    assert groth16.verify(vk, proof, groth16.parse_public_signals(public, vk.n_public))
    wrong = [*public[:-1], str(int(public[-1]) + 1)]
    assert not groth16.verify(vk, proof, groth16.parse_public_signals(wrong, vk.n_public))
    # Not the shared-ptau key: another verification key rejects the proof.
    other = groth16.VerificationKey.from_snarkjs(multiplier.verification_key())
    assert not groth16.verify(other, proof, groth16.parse_public_signals(public, other.n_public))


def test_build_without_any_ptau_makes_a_dev_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DARKPOOL_PTAU", raising=False)
    monkeypatch.setenv("DARKPOOL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(toolchain.ptau, "shared_ptau_dirs", lambda: [])

    def no_fetch(power: int) -> Path:
        raise AssertionError("a build must not fetch or generate a ptau")

    monkeypatch.setattr(toolchain.ptau, "fetch_ceremony_ptau", no_fetch)
    monkeypatch.setattr(toolchain.ptau, "_dev_ptau", no_fetch)
    art = toolchain.build("multiplier (no ptau)", MULTIPLIER)
    assert art.ptau is None
    manifest = json.loads((art.zkey.parent / toolchain.MANIFEST).read_text())
    assert manifest["key_material"]["recipe"] == keys.DEV_ZKEY_RECIPE
    assert "ptau_sha256" not in manifest["key_material"]
    assert not list((tmp_path / "cache").glob("ptau/*"))
    assert toolchain.build("multiplier (no ptau)", MULTIPLIER).key == art.key  # cached
