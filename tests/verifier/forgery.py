"""Test-only: the Groth16 forgery that works on a key without a phase-2 contribution.

With vk_delta_2 == vk_gamma_2 the proof A = alpha, B = beta, C = -vk_x satisfies
e(A, B) == e(alpha, beta) * e(vk_x, gamma) * e(C, delta) for any public inputs
x, since e(vk_x, gamma) * e(-vk_x, delta) == 1. No witness and no toxic waste
are needed: only the verification key.
"""

import copy
from typing import Any

from py_ecc.optimized_bn128.optimized_curve import neg, normalize

from verifier import groth16

Json = Any


def without_phase2(vk_json: Json) -> Json:
    """The key as ``snarkjs groth16 setup`` alone writes it: delta = gamma (the G2 generator)."""
    vk = copy.deepcopy(vk_json)
    vk["vk_delta_2"] = copy.deepcopy(vk["vk_gamma_2"])
    return vk


def forged_proof(vk_json: Json, public: list[int] | list[str]) -> Json:
    """A = alpha, B = beta, C = -vk_x in snarkjs proof JSON, for the given public inputs."""
    ic = [groth16._parse_g1(p, f"IC[{i}]") for i, p in enumerate(vk_json["IC"])]
    vk_x = groth16._linear_combination(ic, 1, [int(x) for x in public])
    x, y = normalize(neg(vk_x))
    return {
        "protocol": "groth16",
        "curve": "bn128",
        "pi_a": vk_json["vk_alpha_1"],
        "pi_b": vk_json["vk_beta_2"],
        "pi_c": [str(int(x)), str(int(y)), "1"],
    }
