"""Tests for verifier.groth16 against real snarkjs proofs, with snarkjs as the baseline.

A small circuit (tests/verifier/circuits/groth16_test.circom, 3 public
signals) is built once per module through prover.toolchain and proved for a
few statements. Every tampering case is checked with our verifier and, where
snarkjs gives a yes/no answer, with ``snarkjs groth16 verify`` on the same
JSON written to files. Places where the pinned snarkjs 0.7.6 is laxer than we
are are asserted explicitly (so a change in either side shows up) and
explained next to the assertion.
"""

import copy
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.fields import optimized_bn128_FQ12 as FQ12
from py_ecc.optimized_bn128.optimized_curve import (
    G2,
    b2,
    curve_order,
    is_inf,
    is_on_curve,
    normalize,
)
from py_ecc.optimized_bn128.optimized_curve import eq as ec_eq
from py_ecc.optimized_bn128.optimized_curve import multiply as ec_multiply
from py_ecc.optimized_bn128.optimized_pairing import final_exponentiate as py_ecc_final_exp

from prover import toolchain
from prover.errors import ToolchainError
from tests.verifier.forgery import forged_proof, without_phase2
from verifier import groth16
from verifier.cli import main as verify_cli
from verifier.field import Q, R
from verifier.groth16 import Groth16Error, Proof, VerificationKey

CIRCUIT = Path(__file__).parent / "circuits" / "groth16_test.circom"
SHARED_PTAU = Path(__file__).resolve().parents[3] / "shared" / "ptau" / "dev_bn128_16.ptau"
# (slope, x, k): public signals are [Poseidon(x, k), slope*x + Poseidon(x, k), slope].
STATEMENTS = [(7, 3, 5), (2, 11, 13), (0, 123456789, 42), (R - 1, 2**200, 99)]
ZERO_SLOPE = 2  # index of the statement whose last public signal is 0

Json = Any


@dataclass(frozen=True)
class Statement:
    proof_json: dict[str, Json]
    public_json: list[str]
    proof: Proof
    public: list[int]


@dataclass(frozen=True)
class Fixture:
    artifacts: toolchain.CircuitArtifacts
    vk_json: dict[str, Json]
    pvk: groth16.PreparedVerificationKey
    statements: list[Statement]


@pytest.fixture(scope="module")
def fx() -> Fixture:
    with pytest.MonkeyPatch.context() as patch:
        if SHARED_PTAU.is_file():
            patch.setenv("DARKPOOL_PTAU", str(SHARED_PTAU))
        artifacts = toolchain.build("groth16_test", CIRCUIT)
        statements = []
        for slope, x, k in STATEMENTS:
            proof_json, public_json = toolchain.prove_inputs(
                artifacts, {"slope": slope, "x": x, "k": k}
            )
            statements.append(
                Statement(
                    proof_json=proof_json,
                    public_json=public_json,
                    proof=Proof.from_snarkjs(proof_json),
                    public=groth16.parse_public_signals(public_json, 3),
                )
            )
    vk_json = artifacts.verification_key()
    pvk = groth16.prepare(VerificationKey.from_snarkjs(vk_json))
    return Fixture(artifacts=artifacts, vk_json=vk_json, pvk=pvk, statements=statements)


def ours(fx: Fixture, proof_json: Json, public_json: Json, vk_json: Json = None) -> bool:
    """Our verdict from JSON objects: malformed input counts as a rejection."""
    try:
        pvk = fx.pvk if vk_json is None else groth16.prepare(VerificationKey.from_snarkjs(vk_json))
        proof = Proof.from_snarkjs(proof_json)
        public = groth16.parse_public_signals(public_json, pvk.n_public)
        return groth16.verify(pvk, proof, public)
    except Groth16Error:
        return False


def snarkjs_says(
    fx: Fixture, tmp_path: Path, proof_json: Json, public_json: Json, vk_json: Json = None
) -> bool | None:
    """snarkjs's verdict on the same JSON, or None if it crashed instead of answering."""
    vk_path = fx.artifacts.vkey_json
    if vk_json is not None:
        vk_path = tmp_path / "vk.json"
        vk_path.write_text(json.dumps(vk_json))
    proof_path = tmp_path / "proof.json"
    public_path = tmp_path / "public.json"
    proof_path.write_text(json.dumps(proof_json))
    public_path.write_text(json.dumps(public_json))
    try:
        return toolchain.snarkjs_verify(vk_path, proof_path, public_path)
    except ToolchainError:
        # snarkjs crashed (e.g. a TypeError on junk) instead of answering.
        return None


def assert_both(
    fx: Fixture,
    tmp_path: Path,
    proof_json: Json,
    public_json: Json,
    expected: bool,
    vk_json: Json = None,
) -> None:
    assert ours(fx, proof_json, public_json, vk_json) is expected
    assert snarkjs_says(fx, tmp_path, proof_json, public_json, vk_json) is expected


def fq2_sqrt(a: FQ2) -> FQ2 | None:
    """Square root in Fq2 = Fq[i]/(i^2+1), q = 3 mod 4 (complex method), or None."""
    a1 = a ** ((Q - 3) // 4)
    alpha = a1 * a1 * a
    x0 = a1 * a
    factor = FQ2([0, 1]) if alpha == FQ2([Q - 1, 0]) else (FQ2.one() + alpha) ** ((Q - 1) // 2)
    x = factor * x0
    return x if x * x == a else None


def twist_point_outside_subgroup() -> tuple[FQ2, FQ2, FQ2]:
    """The first point (t + i, y) on the twist, t = 1, 2, ...; almost surely outside G2."""
    for t in range(1, 1000):
        x = FQ2([t, 1])
        y = fq2_sqrt(x * x * x + b2)
        if y is not None:
            return (x, y, FQ2.one())
    raise AssertionError("no twist point found")


def ec_normalized_g2(point: tuple[FQ2, FQ2, FQ2]) -> tuple[FQ2, FQ2, FQ2]:
    x, y = normalize(point)
    return (x, y, FQ2.one())


def g2_json(point: tuple[FQ2, FQ2, FQ2]) -> list[list[str]]:
    x, y, _ = point
    return [[str(int(c)) for c in x.coeffs], [str(int(c)) for c in y.coeffs], ["1", "0"]]


# ---------------------------------------------------------------- no circuit needed


def test_final_exponentiation_matches_py_ecc() -> None:
    rng = random.Random(1)
    for _ in range(2):
        f = FQ12([rng.randrange(Q) for _ in range(12)])
        assert groth16.final_exponentiate(f) == py_ecc_final_exp(f)


def test_vkey_hash_is_formatting_independent_and_content_sensitive() -> None:
    vk = {"protocol": "groth16", "IC": [["1", "2", "1"]], "curve": "bn128"}
    reordered = json.loads(json.dumps(dict(reversed(list(vk.items()))), indent=4))
    assert groth16.vkey_hash(vk) == groth16.vkey_hash(reordered)
    expected = hashlib.sha256(
        b'{"IC":[["1","2","1"]],"curve":"bn128","protocol":"groth16"}'
    ).hexdigest()
    assert groth16.vkey_hash(vk) == expected
    changed = copy.deepcopy(vk)
    changed["IC"][0][1] = "3"  # type: ignore[index]
    assert groth16.vkey_hash(changed) != expected
    with pytest.raises(Groth16Error):
        groth16.vkey_hash({"x": float("nan")})


def test_twist_point_outside_subgroup_is_on_curve_but_rejected() -> None:
    point = twist_point_outside_subgroup()
    assert is_on_curve(point, b2)
    assert not is_inf(ec_multiply(point, curve_order))
    assert is_inf(ec_multiply(G2, curve_order))  # the check itself accepts real G2 points
    with pytest.raises(Groth16Error, match=r"proof\.pi_b is not in the prime-order subgroup"):
        groth16._check_g2(point, "proof.pi_b")


# ---------------------------------------------------------------- valid proofs


@pytest.mark.slow
def test_key_uses_snarkjs_fq2_order(fx: Fixture) -> None:
    # snarkjs fixes gamma to the G2 generator (phase 2 only changes delta):
    # snarkjs's [c0, c1] must read as py_ecc's FQ2([c0, c1]) = c0 + c1*i.
    gamma = fx.pvk.vk.gamma2
    assert gamma[0] == G2[0] and gamma[1] == G2[1]
    assert fx.pvk.n_public == 3 == fx.artifacts.n_public


@pytest.mark.slow
def test_valid_proofs_accepted_by_both(fx: Fixture, tmp_path: Path) -> None:
    for st in fx.statements:
        assert groth16.verify(fx.pvk, st.proof, st.public)
    for st in fx.statements[:2]:
        assert snarkjs_says(fx, tmp_path, st.proof_json, st.public_json) is True
    # An unprepared key works too (prepared on the fly).
    st = fx.statements[0]
    assert groth16.verify(fx.pvk.vk, st.proof, st.public)


# ---------------------------------------------------------------- tampered proofs


@pytest.mark.slow
def test_swapped_a_and_c_rejected(fx: Fixture, tmp_path: Path) -> None:
    st = fx.statements[0]
    proof = copy.deepcopy(st.proof_json)
    proof["pi_a"], proof["pi_c"] = proof["pi_c"], proof["pi_a"]
    assert_both(fx, tmp_path, proof, st.public_json, expected=False)


@pytest.mark.slow
def test_changed_public_input_rejected(fx: Fixture, tmp_path: Path) -> None:
    st = fx.statements[1]
    for i in range(3):
        public = list(st.public_json)
        public[i] = str((int(public[i]) + 1) % R)
        assert_both(fx, tmp_path, st.proof_json, public, expected=False)


@pytest.mark.slow
def test_public_input_plus_r_rejected_as_non_canonical(fx: Fixture, tmp_path: Path) -> None:
    st = fx.statements[0]
    public = [st.public_json[0], st.public_json[1], str(int(st.public_json[2]) + R)]
    with pytest.raises(Groth16Error, match=r"public\[2\] is not a canonical scalar"):
        groth16.parse_public_signals(public, 3)
    with pytest.raises(Groth16Error, match=r"public\[2\] is not a canonical scalar"):
        groth16.verify(fx.pvk, st.proof, [*st.public[:2], st.public[2] + R])
    # snarkjs also refuses public inputs >= r ("Public inputs are not valid").
    assert snarkjs_says(fx, tmp_path, st.proof_json, public) is False


def _swap_b_fq2_components(proof: Json) -> None:
    proof["pi_b"] = [[c1, c0] for c0, c1 in proof["pi_b"][:2]] + [proof["pi_b"][2]]


def _a_off_curve(proof: Json) -> None:
    proof["pi_a"][1] = str((int(proof["pi_a"][1]) + 1) % Q)


def _a_at_infinity(proof: Json) -> None:
    proof["pi_a"] = ["0", "1", "0"]


def _a_x_plus_q(proof: Json) -> None:
    proof["pi_a"][0] = str(int(proof["pi_a"][0]) + Q)


# (change to the proof JSON, our error, snarkjs's verdict on the changed proof)
MALFORMED_POINTS = [
    (_swap_b_fq2_components, r"proof\.pi_b is not on the twist curve", False),
    (_a_off_curve, r"proof\.pi_a is not on the curve", False),
    (_a_at_infinity, r"proof\.pi_a is the point at infinity", False),
    # snarkjs 0.7.6 reduces coordinates mod q, so it accepts this second
    # encoding of the same proof. We insist on one encoding per proof.
    (_a_x_plus_q, r"proof\.pi_a\[0\] is not below the base field", True),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "message", "snarkjs_verdict"),
    MALFORMED_POINTS,
    ids=["b-swapped-fq2", "a-off-curve", "a-at-infinity", "a-non-canonical-coordinate"],
)
def test_malformed_point_rejected(
    fx: Fixture,
    tmp_path: Path,
    change: Callable[[Json], None],
    message: str,
    snarkjs_verdict: bool,
) -> None:
    st = fx.statements[0]
    proof = copy.deepcopy(st.proof_json)
    change(proof)
    with pytest.raises(Groth16Error, match=message):
        Proof.from_snarkjs(proof)
    assert snarkjs_says(fx, tmp_path, proof, st.public_json) is snarkjs_verdict


@pytest.mark.slow
def test_wrong_number_of_public_inputs_rejected(fx: Fixture, tmp_path: Path) -> None:
    st = fx.statements[0]
    for public in (st.public_json[:2], [*st.public_json, "0"]):
        with pytest.raises(Groth16Error, match=r"expected 3 public signals"):
            groth16.parse_public_signals(public, 3)
        with pytest.raises(Groth16Error, match=r"expected 3 public inputs"):
            groth16.verify(fx.pvk, st.proof, [int(x) for x in public])
    assert snarkjs_says(fx, tmp_path, st.proof_json, st.public_json[:2]) is False
    # One signal too many: snarkjs reads IC[4], which does not exist, and crashes.
    assert snarkjs_says(fx, tmp_path, st.proof_json, [*st.public_json, "0"]) is None


@pytest.mark.slow
def test_dropped_trailing_zero_public_input_rejected_where_snarkjs_accepts(
    fx: Fixture, tmp_path: Path
) -> None:
    st = fx.statements[ZERO_SLOPE]
    assert st.public[2] == 0
    truncated = st.public_json[:2]
    assert ours(fx, st.proof_json, truncated) is False
    # snarkjs 0.7.6 never compares len(public) with nPublic: it combines only
    # the IC points it was given signals for, so a trailing 0 can be dropped.
    assert snarkjs_says(fx, tmp_path, st.proof_json, truncated) is True


@pytest.mark.slow
def test_proof_of_one_statement_with_public_signals_of_another_rejected(
    fx: Fixture, tmp_path: Path
) -> None:
    first, second = fx.statements[0], fx.statements[1]
    assert_both(fx, tmp_path, first.proof_json, second.public_json, expected=False)


@pytest.mark.slow
def test_g2_point_outside_subgroup_rejected(fx: Fixture, tmp_path: Path) -> None:
    st = fx.statements[0]
    bad_point = g2_json(twist_point_outside_subgroup())
    proof = copy.deepcopy(st.proof_json)
    proof["pi_b"] = bad_point
    with pytest.raises(Groth16Error, match=r"proof\.pi_b is not in the prime-order subgroup"):
        Proof.from_snarkjs(proof)
    # snarkjs checks only that B is on the twist; the pairing check then fails.
    assert snarkjs_says(fx, tmp_path, proof, st.public_json) is False

    vk = copy.deepcopy(fx.vk_json)
    vk["vk_delta_2"] = bad_point
    with pytest.raises(Groth16Error, match=r"vk\.vk_delta_2 is not in the prime-order subgroup"):
        VerificationKey.from_snarkjs(vk)
    assert snarkjs_says(fx, tmp_path, st.proof_json, st.public_json, vk) is False


@pytest.mark.slow
def test_valid_g2_point_that_is_not_b_rejected(fx: Fixture, tmp_path: Path) -> None:
    st = fx.statements[0]
    proof = copy.deepcopy(st.proof_json)
    proof["pi_b"] = g2_json(G2)
    assert_both(fx, tmp_path, proof, st.public_json, expected=False)


# ---------------------------------------------------------------- junk JSON


def _set(obj: Json, path: tuple[Any, ...], value: Json) -> Json:
    out = copy.deepcopy(obj)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


_DELETE = object()

PROOF_JUNK = [
    ((), None, r"proof must be a JSON object"),
    (("pi_a",), _DELETE, r"proof\.pi_a is missing"),
    (("protocol",), _DELETE, r"proof\.protocol is missing"),
    (("protocol",), "plonk", r"proof\.protocol must be 'groth16'"),
    (("curve",), "bls12381", r"proof\.curve must be 'bn128'"),
    (("pi_a", 0), "abc", r"proof\.pi_a\[0\] is not a canonical decimal"),
    (("pi_a", 0), "0x10", r"proof\.pi_a\[0\] is not a canonical decimal"),
    (("pi_a", 0), " 1", r"proof\.pi_a\[0\] is not a canonical decimal"),
    (("pi_a", 0), "+1", r"proof\.pi_a\[0\] is not a canonical decimal"),
    (("pi_a", 0), "01", r"proof\.pi_a\[0\] is not a canonical decimal"),
    (("pi_a", 0), "1" * 5000, r"proof\.pi_a\[0\] has too many digits"),
    (("pi_a", 0), -1, r"proof\.pi_a\[0\] is negative"),
    (("pi_a", 0), True, r"proof\.pi_a\[0\] must be a decimal string, not a boolean"),
    (("pi_a", 0), 1.5, r"proof\.pi_a\[0\] must be a decimal string, got float"),
    (("pi_a", 0), [["1"]], r"proof\.pi_a\[0\] must be a decimal string, got list"),
    (("pi_a", 2), "2", r"proof\.pi_a is not in affine form"),
    (("pi_a",), ["1", "2"], r"proof\.pi_a must have 3 entries"),
    (("pi_a",), {"x": "1"}, r"proof\.pi_a must be a list of 3"),
    (("pi_b", 0), ["1", "2", "3"], r"proof\.pi_b\[0\] must have 2 entries"),
    (("pi_b", 2), ["1", "1"], r"proof\.pi_b is not in affine form"),
    (("pi_b", 2), ["0", "0"], r"proof\.pi_b is the point at infinity"),
    (("pi_c", 1), str(Q), r"proof\.pi_c\[1\] is not below the base field"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "value", "message"), PROOF_JUNK)
def test_junk_proof_json_rejected(
    fx: Fixture, path: tuple[Any, ...], value: Json, message: str
) -> None:
    proof = value if path == () else _set(fx.statements[0].proof_json, path, value)
    with pytest.raises(Groth16Error, match=message):
        Proof.from_snarkjs(proof)


VK_JUNK = [
    ((), [], r"vk must be a JSON object"),
    (("protocol",), "plonk", r"vk\.protocol must be 'groth16'"),
    (("curve",), _DELETE, r"vk\.curve is missing"),
    (("IC",), _DELETE, r"vk\.IC is missing"),
    (("IC",), [], r"vk\.IC must be a non-empty list"),
    (("nPublic",), 2, r"vk\.nPublic = 2 does not match"),
    (("nPublic",), "3", r"vk\.nPublic must be an integer"),
    (("vk_alpha_1",), [[["1"]]], r"vk\.vk_alpha_1 must have 3 entries"),
    (("vk_gamma_2", 0, 1), "x", r"vk\.vk_gamma_2\[0\]\[1\] is not a canonical decimal"),
    (("IC", 1, 1), "5", r"vk\.IC\[1\] is not on the curve"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "value", "message"), VK_JUNK)
def test_junk_vk_json_rejected(
    fx: Fixture, path: tuple[Any, ...], value: Json, message: str
) -> None:
    vk = value if path == () else _set(fx.vk_json, path, value)
    with pytest.raises(Groth16Error, match=message):
        VerificationKey.from_snarkjs(vk)


@pytest.mark.parametrize(
    ("public", "message"),
    [
        ({"0": "1"}, r"public signals must be a list"),
        (["1", "2", "x"], r"public\[2\] is not a canonical decimal"),
        (["1", "2", " 3"], r"public\[2\] is not a canonical decimal"),
        (["1", "2", "-3"], r"public\[2\] is not a canonical decimal"),
        (["1", "2", None], r"public\[2\] must be a decimal string"),
        (["1", "2", str(R)], r"public\[2\] is not a canonical scalar"),
    ],
)
def test_junk_public_signals_rejected(public: Json, message: str) -> None:
    with pytest.raises(Groth16Error, match=message):
        groth16.parse_public_signals(public, 3)


@pytest.mark.slow
def test_public_signals_snarkjs_parses_loosely_are_rejected(fx: Fixture, tmp_path: Path) -> None:
    st = fx.statements[ZERO_SLOPE]
    for loose in (" 0", "0x0", "00"):
        public = [*st.public_json[:2], loose]
        assert ours(fx, st.proof_json, public) is False
        # snarkjs feeds signals to BigInt(), which accepts all three spellings of 0.
        assert snarkjs_says(fx, tmp_path, st.proof_json, public) is True


# ---------------------------------------------------------------- batches


@pytest.mark.slow
def test_batch_of_valid_proofs_passes(fx: Fixture) -> None:
    items = [(st.proof, st.public) for st in fx.statements]
    assert groth16.batch_verify(fx.pvk, items)
    assert groth16.batch_verify(fx.pvk, items[:1], rng=random.Random(7))
    assert groth16.batch_verify(fx.pvk, [])
    assert groth16.find_invalid(fx.pvk, items) == []


@pytest.mark.slow
def test_batch_with_one_tampered_proof_fails_and_is_located(fx: Fixture) -> None:
    items = [(st.proof, st.public) for st in fx.statements]
    tampered = list(items)
    proof, public = items[2]
    tampered[2] = (proof, [public[0], (public[1] + 1) % R, public[2]])
    assert not groth16.batch_verify(fx.pvk, tampered)
    assert groth16.find_invalid(fx.pvk, tampered) == [2]


@pytest.mark.slow
def test_batch_with_swapped_public_signals_fails(fx: Fixture) -> None:
    first, second = fx.statements[0], fx.statements[1]
    items = [(first.proof, second.public), (second.proof, first.public)]
    for seed in range(2):
        assert not groth16.batch_verify(fx.pvk, items, rng=random.Random(seed))
    assert groth16.find_invalid(fx.pvk, items) == [0, 1]


@pytest.mark.slow
def test_batch_with_malformed_inputs_raises(fx: Fixture) -> None:
    st = fx.statements[0]
    items = [(st.proof, st.public), (st.proof, st.public[:2])]
    with pytest.raises(Groth16Error, match=r"expected 3 public inputs"):
        groth16.batch_verify(fx.pvk, items)
    assert groth16.find_invalid(fx.pvk, items) == [1]


# ---------------------------------------------------------------- keys without phase 2


FORGED_PUBLIC = [424242, 1, 2]  # any public inputs at all: no witness exists for these


@pytest.mark.slow
def test_project_key_has_a_phase2_contribution(fx: Fixture) -> None:
    vk = fx.pvk.vk
    assert fx.vk_json["vk_delta_2"] != fx.vk_json["vk_gamma_2"]
    assert not ec_eq(vk.delta2, vk.gamma2) and not ec_eq(vk.delta2, G2)


@pytest.mark.slow
def test_forged_proof_on_gamma_equals_delta_key_is_refused_by_the_key_check(
    fx: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vk = without_phase2(fx.vk_json)
    proof = forged_proof(vk, FORGED_PUBLIC)
    public = [str(x) for x in FORGED_PUBLIC]
    # The forgery satisfies the pairing equation: snarkjs accepts it, and so
    # would we without the key check. The refusal is what stops it.
    assert snarkjs_says(fx, tmp_path, proof, public, vk) is True
    with monkeypatch.context() as patch:
        patch.setattr(groth16, "_check_phase2", lambda key: None)
        assert ours(fx, proof, public, vk) is True
    reason = (
        "vk.vk_delta_2 equals vk.vk_gamma_2: the key has no phase-2 contribution, "
        "so anyone can forge proofs for it"
    )
    with pytest.raises(Groth16Error) as err:
        VerificationKey.from_snarkjs(vk)
    assert str(err.value) == reason
    # darkpool-verify groth16 says so in one line.
    paths = {}
    for name, obj in (("vk", vk), ("proof", proof), ("public", public)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(obj))
    capsys.readouterr()
    rc = verify_cli(["groth16", str(paths["vk"]), str(paths["proof"]), str(paths["public"])])
    assert rc == 1
    assert capsys.readouterr().err == f"INVALID: {reason}\n"
    # Under the project's key (phase 2 added) the same forgery fails the pairing check.
    assert ours(fx, forged_proof(fx.vk_json, FORGED_PUBLIC), public) is False


@pytest.mark.slow
def test_delta_equal_to_the_g2_generator_is_refused(fx: Fixture) -> None:
    vk = copy.deepcopy(fx.vk_json)
    vk["vk_gamma_2"] = g2_json(ec_normalized_g2(ec_multiply(G2, 2)))
    vk["vk_delta_2"] = g2_json(G2)
    with pytest.raises(Groth16Error, match=r"^vk\.vk_delta_2 is the G2 generator: the key has no"):
        VerificationKey.from_snarkjs(vk)
    # gamma is the G2 generator in every snarkjs key; with a real delta that is accepted.
    vk["vk_gamma_2"] = g2_json(G2)
    vk["vk_delta_2"] = g2_json(ec_normalized_g2(ec_multiply(G2, 3)))
    assert VerificationKey.from_snarkjs(vk).n_public == 3
