"""The native pairing backend (darkpool[native], mcl) agrees with py_ecc on every case.

Every valid and tampered proof, key and public-signal list of
tests/verifier/test_groth16.py is judged under both backends; the verdicts
(True / False / the Groth16Error message) must be identical, and the known
verdicts are asserted too, so a backend that accepted everything would fail.
The ledger-level agreement (a whole replay, honest and with cheating
entries) is in tests/verifier/test_ledger_backends.py.

Skipped with a reason when the extra is not installed; ``make setup``
installs it (``uv sync --extra native``), so CI runs these.
"""

import copy
import random
import re
from typing import Any

import pytest
from py_ecc.optimized_bn128.optimized_curve import G1, G2, multiply, normalize

from tests.verifier.test_groth16 import (
    PROOF_JUNK,
    VK_JUNK,
    Fixture,
    _set,
    fx,
    g2_json,
    twist_point_outside_subgroup,
)
from verifier import groth16
from verifier.field import Q, R
from verifier.groth16 import Groth16Error, Proof, VerificationKey

pytest.importorskip(
    "mclbn256", reason="native backend extra not installed (uv sync --extra native)"
)

__all__ = ["fx"]  # the module-scoped fixture, reused from test_groth16

Json = Any
Outcome = tuple[str, object]


def judge(backend: str, vk_json: Json, proof_json: Json, public_json: Json) -> Outcome:
    """(verdict, value) of one full JSON-to-answer check under ``backend``."""
    with groth16.using_backend(backend):
        try:
            pvk = groth16.prepare(VerificationKey.from_snarkjs(vk_json))
            proof = Proof.from_snarkjs(proof_json)
            public = groth16.parse_public_signals(public_json, pvk.n_public)
            return ("verdict", groth16.verify(pvk, proof, public))
        except Groth16Error as exc:
            return ("error", str(exc))


def agree(fx: Fixture, proof_json: Json, public_json: Json, vk_json: Json = None) -> Outcome:
    vk = fx.vk_json if vk_json is None else vk_json
    python = judge("python", vk, proof_json, public_json)
    native = judge("native", vk, proof_json, public_json)
    assert native == python
    return python


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(groth16.BackendError, match="unknown verification backend 'gpu'"):
        groth16.set_backend("gpu")


def test_native_point_checks_match_py_ecc() -> None:
    point = twist_point_outside_subgroup()
    for backend in groth16.BACKENDS:
        with groth16.using_backend(backend):
            groth16._check_g2_on(backend, multiply(G2, 5), "q")  # in G2 (projective z != 1)
            groth16._check_g1_on(backend, multiply(G1, 7), "p")
            with pytest.raises(Groth16Error, match=r"^q is not in the prime-order subgroup$"):
                groth16._check_g2_on(backend, point, "q")
            bad = (point[0], point[1] + point[1], point[2])
            with pytest.raises(Groth16Error, match=r"^q is not on the twist curve$"):
                groth16._check_g2_on(backend, bad, "q")


@pytest.mark.slow
def test_valid_proofs_agree(fx: Fixture) -> None:
    for st in fx.statements:
        assert agree(fx, st.proof_json, st.public_json) == ("verdict", True)


@pytest.mark.slow
def test_tampered_proofs_agree(fx: Fixture) -> None:
    st = fx.statements[0]
    other = fx.statements[1]
    cases: list[tuple[Json, Json, Outcome]] = []

    swapped = copy.deepcopy(st.proof_json)
    swapped["pi_a"], swapped["pi_c"] = swapped["pi_c"], swapped["pi_a"]
    cases.append((swapped, st.public_json, ("verdict", False)))

    fq2_swapped = copy.deepcopy(st.proof_json)
    fq2_swapped["pi_b"] = [[c1, c0] for c0, c1 in fq2_swapped["pi_b"][:2]] + [
        fq2_swapped["pi_b"][2]
    ]
    cases.append((fq2_swapped, st.public_json, ("error", "proof.pi_b is not on the twist curve")))

    for i in range(3):
        public = list(st.public_json)
        public[i] = str((int(public[i]) + 1) % R)
        cases.append((st.proof_json, public, ("verdict", False)))

    off_curve = copy.deepcopy(st.proof_json)
    off_curve["pi_a"][1] = str((int(off_curve["pi_a"][1]) + 1) % Q)
    cases.append((off_curve, st.public_json, ("error", "proof.pi_a is not on the curve")))

    c_off_curve = copy.deepcopy(st.proof_json)
    c_off_curve["pi_c"][0] = str((int(c_off_curve["pi_c"][0]) + 1) % Q)
    cases.append((c_off_curve, st.public_json, ("error", "proof.pi_c is not on the curve")))

    outside = copy.deepcopy(st.proof_json)
    outside["pi_b"] = g2_json(twist_point_outside_subgroup())
    cases.append(
        (outside, st.public_json, ("error", "proof.pi_b is not in the prime-order subgroup"))
    )

    generator_b = copy.deepcopy(st.proof_json)
    generator_b["pi_b"] = g2_json(G2)
    cases.append((generator_b, st.public_json, ("verdict", False)))

    cases.append((st.proof_json, other.public_json, ("verdict", False)))
    cases.append((st.proof_json, st.public_json[:2], ("error", "expected 3 public signals, got 2")))

    for proof_json, public_json, expected in cases:
        assert agree(fx, proof_json, public_json) == expected


@pytest.mark.slow
def test_tampered_keys_agree(fx: Fixture) -> None:
    st = fx.statements[0]
    outside = copy.deepcopy(fx.vk_json)
    outside["vk_delta_2"] = g2_json(twist_point_outside_subgroup())
    assert agree(fx, st.proof_json, st.public_json, outside) == (
        "error",
        "vk.vk_delta_2 is not in the prime-order subgroup",
    )
    other_delta = copy.deepcopy(fx.vk_json)
    other_delta["vk_delta_2"] = g2_json(_affine_g2(multiply(G2, 3)))
    assert agree(fx, st.proof_json, st.public_json, other_delta) == ("verdict", False)
    other_ic = copy.deepcopy(fx.vk_json)
    other_ic["IC"][1] = [str(v) for v in _affine_g1(multiply(G1, 11))]
    assert agree(fx, st.proof_json, st.public_json, other_ic) == ("verdict", False)


def _affine_g2(point: Any) -> tuple[Any, Any, Any]:
    x, y = normalize(point)
    return x, y, type(x).one()


def _affine_g1(point: Any) -> tuple[int, int, int]:
    x, y = normalize(point)
    return int(x), int(y), 1


@pytest.mark.slow
@pytest.mark.parametrize(("path", "value", "message"), PROOF_JUNK)
def test_junk_proof_json_agrees(
    fx: Fixture, path: tuple[Any, ...], value: Json, message: str
) -> None:
    proof = value if path == () else _set(fx.statements[0].proof_json, path, value)
    verdict, text = agree(fx, proof, fx.statements[0].public_json)
    assert verdict == "error"
    assert re.search(message, str(text))


@pytest.mark.slow
@pytest.mark.parametrize(("path", "value", "message"), VK_JUNK)
def test_junk_vk_json_agrees(fx: Fixture, path: tuple[Any, ...], value: Json, message: str) -> None:
    vk = value if path == () else _set(fx.vk_json, path, value)
    verdict, text = agree(fx, fx.statements[0].proof_json, fx.statements[0].public_json, vk)
    assert verdict == "error"
    assert re.search(message, str(text))


@pytest.mark.slow
def test_batches_agree(fx: Fixture) -> None:
    items_json = [(st.proof_json, st.public_json) for st in fx.statements]
    tampered = list(items_json)
    proof_json, public_json = tampered[2]
    tampered[2] = (proof_json, [public_json[0], str((int(public_json[1]) + 1) % R), public_json[2]])
    swapped = [(items_json[0][0], items_json[1][1]), (items_json[1][0], items_json[0][1])]
    for batch, ok, bad in (
        (items_json, True, []),
        (tampered, False, [2]),
        (swapped, False, [0, 1]),
    ):
        for backend in groth16.BACKENDS:
            with groth16.using_backend(backend):
                pvk = groth16.prepare(VerificationKey.from_snarkjs(fx.vk_json))
                assert pvk.backend == backend
                items = [
                    (Proof.from_snarkjs(p), groth16.parse_public_signals(s, 3)) for p, s in batch
                ]
                for seed in range(2):
                    assert groth16.batch_verify(pvk, items, rng=random.Random(seed)) is ok
                assert groth16.find_invalid(pvk, items) == bad
