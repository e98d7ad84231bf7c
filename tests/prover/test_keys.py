"""Groth16 keys: the phase-2 contribution in every setup, and ``darkpool ceremony`` on a tiny circuit.

The ceremony test runs a real multi-party phase 2 (two contributions and a
beacon) on the multiplier circuit with snarkjs, proves under the final key and
checks the proof with the project's verifier.
"""

import dataclasses
import json
from pathlib import Path

import pytest
from py_ecc.optimized_bn128.optimized_curve import G2, eq

from darkpool.cli import main as darkpool
from prover import toolchain
from prover.errors import ToolchainError
from prover.toolchain import keys
from verifier import groth16

pytestmark = pytest.mark.slow

HONEST = {"product": 15, "a": 3, "b": 5}
OTHER_CIRCUIT = (
    Path(__file__).resolve().parents[1] / "verifier" / "circuits" / "groth16_test.circom"
)
BEACON = "0f" * 32


def parsed(vkey_json: Path) -> groth16.VerificationKey:
    return groth16.VerificationKey.from_snarkjs(json.loads(vkey_json.read_text()))


def verified(artifacts: toolchain.CircuitArtifacts, vkey_json: Path) -> bool:
    """Prove HONEST under ``artifacts.zkey``; verify with the project's verifier and ``vkey_json``."""
    proof, public = toolchain.prove_inputs(artifacts, HONEST)
    vk = parsed(vkey_json)
    return groth16.verify(
        vk, groth16.Proof.from_snarkjs(proof), groth16.parse_public_signals(public, vk.n_public)
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = darkpool(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_setup_adds_a_verified_development_phase2_contribution(
    multiplier: toolchain.CircuitArtifacts,
) -> None:
    vkey = multiplier.verification_key()
    assert vkey["vk_delta_2"] != vkey["vk_gamma_2"]
    vk = parsed(multiplier.vkey_json)  # the verifier's parser accepts it
    assert not eq(vk.delta2, G2)
    # snarkjs checks the zkey against the r1cs and the ptau and lists the one contribution.
    names = keys.verify_zkey(multiplier.r1cs, multiplier.ptau, multiplier.zkey)
    assert names == [keys.DEV_PHASE2_NAME]
    # The cache key names the recipe, which names the beacon.
    setup_manifest = json.loads((multiplier.zkey.parent / toolchain.MANIFEST).read_text())
    assert setup_manifest["key_material"]["recipe"] == keys.SETUP_RECIPE
    assert keys.DEV_PHASE2_BEACON in keys.SETUP_RECIPE
    assert not (multiplier.zkey.parent / "circuit_0000.zkey").exists()


def test_setup_refuses_to_export_a_key_without_phase2(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    initial = keys.new_zkey(multiplier.r1cs, multiplier.ptau, tmp_path / "c0.zkey")
    with pytest.raises(ToolchainError, match="has no phase-2 contribution") as err:
        keys.verify_zkey(multiplier.r1cs, multiplier.ptau, initial)
    assert "\n" not in str(err.value)
    with pytest.raises(ToolchainError, match=r"vk_delta_2 equals vk\.vk_gamma_2") as err:
        keys.export_verification_key(initial, tmp_path / "vk.json")
    assert "verification key refused" in str(err.value)


def test_ceremony_multi_party_phase2(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r1cs, ptau = str(multiplier.r1cs), str(multiplier.ptau)
    z = {i: str(tmp_path / f"c{i}.zkey") for i in range(4)}
    rc, out, _ = run(capsys, "ceremony", "new", z[0], "--r1cs", r1cs, "--ptau", ptau)
    assert rc == 0 and "no contribution yet" in out
    rc, out, _ = run(capsys, "ceremony", "contribute", z[0], z[1], "--name", "alice")
    assert rc == 0
    alice_hash = out.split("contribution hash ")[1].split()[0]
    assert len(alice_hash) == 128
    rc, out, _ = run(capsys, "ceremony", "contribute", z[1], z[2], "--name", "bob")
    assert rc == 0 and alice_hash not in out
    rc, out, _ = run(
        capsys, "ceremony", "beacon", z[2], z[3], "--beacon", BEACON, "--name", "final beacon"
    )
    assert rc == 0
    rc, out, _ = run(capsys, "ceremony", "verify", z[3], "--r1cs", r1cs, "--ptau", ptau)
    assert rc == 0
    assert out.splitlines()[1:] == [
        "  contribution #1: alice",
        "  contribution #2: bob",
        "  contribution #3: final beacon",
    ]
    vk_path = tmp_path / "verification_key.json"
    rc, out, _ = run(capsys, "ceremony", "export", z[3], str(vk_path))
    assert rc == 0
    ceremony_vk = parsed(vk_path)
    dev_vk = parsed(multiplier.vkey_json)
    assert not eq(ceremony_vk.delta2, dev_vk.delta2)  # a different, unknown delta
    assert ceremony_vk.ic == dev_vk.ic  # phase 2 leaves the public-input part alone
    # A proof under the ceremony's key verifies with the ceremony's key, not the dev key.
    final = dataclasses.replace(multiplier, zkey=Path(z[3]))
    assert verified(final, vk_path)
    assert not verified(final, multiplier.vkey_json)


def test_ceremony_bad_input_is_one_line(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r1cs, ptau = str(multiplier.r1cs), str(multiplier.ptau)
    zkey = str(multiplier.zkey)
    # Never overwrites a file.
    rc, _, err = run(capsys, "ceremony", "contribute", zkey, zkey, "--name", "x")
    assert rc == 2 and err == f"darkpool: {zkey} already exists; refusing to overwrite it\n"
    # A malformed beacon.
    out = str(tmp_path / "b.zkey")
    rc, _, err = run(capsys, "ceremony", "beacon", zkey, out, "--beacon", "xyz", "--name", "b")
    assert rc == 2 and "is not an even-length hex string" in err and err.count("\n") == 1
    # The initial (uncontributed) key is refused at export.
    initial = str(tmp_path / "c0.zkey")
    assert run(capsys, "ceremony", "new", initial, "--r1cs", r1cs, "--ptau", ptau)[0] == 0
    rc, _, err = run(capsys, "ceremony", "export", initial, str(tmp_path / "vk.json"))
    assert rc == 2 and "vk.vk_delta_2 equals vk.vk_gamma_2" in err and err.count("\n") == 1
    # The key of one circuit does not verify against another circuit's r1cs.
    other = toolchain.compile_circuit(OTHER_CIRCUIT, out_dir=tmp_path / "other")
    rc, _, err = run(
        capsys,
        "ceremony",
        "verify",
        str(multiplier.zkey),
        "--r1cs",
        str(other.r1cs),
        "--ptau",
        ptau,
    )
    # (a slow machine may print a progress line first; the error is one line)
    assert rc == 2 and [line for line in err.splitlines() if line.startswith("darkpool:")] == [
        err.splitlines()[-1]
    ]
    assert err.splitlines()[-1].startswith("darkpool: snarkjs zkey verify: circuit.zkey does not")
