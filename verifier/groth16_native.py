"""Native BN254 pairing backend for ``verifier.groth16`` (optional extra ``darkpool[native]``).

``verifier.groth16`` stays the trust root and owns all parsing: decimal
syntax, coordinates below q, affine form, the point at infinity and the
public-input checks happen there, in Python, before any point reaches this
module. This module only answers three questions with the mcl library (C++,
BSD-3, via the MIT-licensed ``mclbn256`` ctypes binding from PyPI) initialised
for the ``BN_SNARK1`` curve, which is Ethereum's alt_bn128 / snarkjs's bn128:

* is an affine G1 point on ``y^2 = x^3 + 3`` (G1 has cofactor 1, so that is
  membership);
* is an affine G2 point on the twist and in the order-r subgroup;
* does a product of pairings equal 1 (one multi-Miller loop and one final
  exponentiation).

Inputs are plain integers already checked to lie in ``[0, q)`` (coordinates)
or ``[0, r)`` (scalars); an Fq2 element is ``(c0, c1)`` meaning ``c0 + c1*i``,
exactly as in snarkjs JSON and py_ecc. On import the binding is re-initialised
for BN_SNARK1 and a known-answer check (the alt_bn128 generators must be
valid, and (1, 3) must not be) refuses to run against any other curve.

``mclbn256`` imports in about a second (it unpacks its shared library), so
``verifier.groth16`` imports this module only when the native backend is
chosen. Like the rest of ``verifier`` this module never runs a subprocess,
reads files or touches the network.
"""

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NativeKey",
    "NativeUnavailableError",
    "batch_pairing_check",
    "g1_on_curve",
    "g2_in_subgroup",
    "g2_on_curve",
    "load",
    "prepare_key",
    "verify",
]

# mcl's curve identifiers (mcl/curve_type.h): 4 is MCL_BN_SNARK1 = alt_bn128.
_MCL_BN_SNARK1 = 4
_IO_DECIMAL = 10

# alt_bn128 generators (EIP-197), c0 + c1*i for Fq2 coordinates.
_G2_GEN = (
    (
        10857046999023057135944570762232829481370756359578518086990519993285655852781,
        11559732032986387107991004021392285783925812861821192530917403151452391805634,
    ),
    (
        8495653923123431417604973247489272438418190587263600148770280649306958101930,
        4082367875863433681332203403145435568316851327593401208105741076214120093531,
    ),
)


class NativeUnavailableError(RuntimeError):
    """The native backend cannot run here (``mclbn256`` missing or not alt_bn128)."""


@dataclass(frozen=True)
class _Lib:
    lib: Any
    g1: Any  # ctypes array types sized by mcl's compile-time layout
    g2: Any
    gt: Any
    fr: Any


_LIB: _Lib | None = None


def load() -> _Lib:
    """The initialised binding, loaded once. Raises NativeUnavailableError."""
    global _LIB
    if _LIB is not None:
        return _LIB
    try:
        import mclbn256.mclbn256 as mcl  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise NativeUnavailableError(
            "the native verification backend needs the optional extra: "
            "`uv sync --extra native` (or `pip install darkpool[native]`)"
        ) from exc
    lib = mcl.lib
    if lib.mclBn_init(_MCL_BN_SNARK1, mcl.MCLBN_COMPILED_TIME_VAR) != 0:
        raise NativeUnavailableError("mcl refused to initialise the BN_SNARK1 (alt_bn128) curve")
    # Parsing checks the curve equation only; group membership is asked explicitly.
    lib.mclBn_verifyOrderG1(0)
    lib.mclBn_verifyOrderG2(0)
    loaded = _Lib(
        lib=lib,
        g1=mcl.mclBnG1_bytes,
        g2=mcl.mclBnG2_bytes,
        gt=mcl.mclBnGT_bytes,
        fr=mcl.mclBnFr_bytes,
    )
    _LIB = loaded
    if not (g1_on_curve(1, 2) and not g1_on_curve(1, 3)):
        _LIB = None
        raise NativeUnavailableError("mcl's G1 is not alt_bn128 (generator check failed)")
    if not (g2_on_curve(*_G2_GEN) and g2_in_subgroup(*_G2_GEN)):
        _LIB = None
        raise NativeUnavailableError("mcl's G2 is not alt_bn128's (generator check failed)")
    return loaded


def _set_decimal(set_str: Any, value: Any, text: str) -> Any:
    """``value`` after mcl's ``set_str`` parsed decimal ``text`` into it; None if refused."""
    raw = text.encode()
    if set_str(ctypes.byref(value), raw, len(raw), _IO_DECIMAL) != 0:
        return None
    return value


def _set_g1(x: int, y: int) -> Any:
    m = load()
    return _set_decimal(m.lib.mclBnG1_setStr, m.g1(), f"1 {x} {y}")


def _set_g2(x: tuple[int, int], y: tuple[int, int]) -> Any:
    m = load()
    return _set_decimal(m.lib.mclBnG2_setStr, m.g2(), f"1 {x[0]} {x[1]} {y[0]} {y[1]}")


def _fr(value: int) -> Any:
    m = load()
    scalar = _set_decimal(m.lib.mclBnFr_setStr, m.fr(), str(value))
    if scalar is None:
        raise ValueError("scalar is not below the group order r")
    return scalar


def g1_on_curve(x: int, y: int) -> bool:
    """Whether affine (x, y), coordinates in [0, q), lies on G1 (= the curve, cofactor 1)."""
    point = _set_g1(x, y)
    return point is not None and load().lib.mclBnG1_isValid(ctypes.byref(point)) == 1


def g2_on_curve(x: tuple[int, int], y: tuple[int, int]) -> bool:
    """Whether affine (x, y) over Fq2 lies on the twist ``y^2 = x^3 + 3/(9+i)``."""
    point = _set_g2(x, y)
    return point is not None and load().lib.mclBnG2_isValid(ctypes.byref(point)) == 1


def g2_in_subgroup(x: tuple[int, int], y: tuple[int, int]) -> bool:
    """Whether an on-twist affine point lies in the order-r subgroup G2."""
    point = _set_g2(x, y)
    return point is not None and load().lib.mclBnG2_isValidOrder(ctypes.byref(point)) == 1


G1Ints = tuple[int, int]
G2Ints = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class NativeKey:
    """A verification key as mcl points (already checked by ``verifier.groth16``)."""

    alpha1: Any
    beta2: Any
    gamma2: Any
    delta2: Any
    ic: Any  # ctypes array of G1 points
    n_ic: int


def _checked_g1(p: G1Ints) -> Any:
    point = _set_g1(*p)
    if point is None:
        raise ValueError("G1 point is not on the curve")
    return point


def _checked_g2(p: G2Ints) -> Any:
    point = _set_g2(*p)
    if point is None:
        raise ValueError("G2 point is not on the twist")
    return point


def prepare_key(
    alpha1: G1Ints, beta2: G2Ints, gamma2: G2Ints, delta2: G2Ints, ic: Sequence[G1Ints]
) -> NativeKey:
    """Convert a parsed and checked key to mcl points."""
    m = load()
    ic_array = (m.g1 * len(ic))(*[_checked_g1(p) for p in ic])
    return NativeKey(
        alpha1=_checked_g1(alpha1),
        beta2=_checked_g2(beta2),
        gamma2=_checked_g2(gamma2),
        delta2=_checked_g2(delta2),
        ic=ic_array,
        n_ic=len(ic),
    )


def _msm(points: Any, scalars: Sequence[int]) -> Any:
    """sum_i scalars[i] * points[i] (mcl's multi-scalar multiplication)."""
    m = load()
    out = m.g1()
    frs = (m.fr * len(scalars))(*[_fr(s) for s in scalars])
    m.lib.mclBnG1_mulVec(ctypes.byref(out), points, frs, len(scalars))
    return out


def _neg(point: Any) -> Any:
    m = load()
    out = m.g1()
    m.lib.mclBnG1_neg(ctypes.byref(out), ctypes.byref(point))
    return out


def _product_is_one(g1s: Sequence[Any], g2s: Sequence[Any]) -> bool:
    m = load()
    n = len(g1s)
    f = m.gt()
    e = m.gt()
    m.lib.mclBn_millerLoopVec(ctypes.byref(f), (m.g1 * n)(*g1s), (m.g2 * n)(*g2s), n)
    m.lib.mclBn_finalExp(ctypes.byref(e), ctypes.byref(f))
    return bool(m.lib.mclBnGT_isOne(ctypes.byref(e)) == 1)


def verify(key: NativeKey, a: G1Ints, b: G2Ints, c: G1Ints, inputs: Sequence[int]) -> bool:
    """e(A, B) * e(-alpha, beta) * e(-vk_x, gamma) * e(-C, delta) == 1.

    ``inputs`` are canonical scalars, ``len(inputs) == key.n_ic - 1``.
    """
    vk_x = _msm(key.ic, [1, *inputs])
    return _product_is_one(
        [_checked_g1(a), _neg(key.alpha1), _neg(vk_x), _neg(_checked_g1(c))],
        [_checked_g2(b), key.beta2, key.gamma2, key.delta2],
    )


def batch_pairing_check(
    key: NativeKey,
    proofs: Sequence[tuple[G1Ints, G2Ints, G1Ints]],
    scalars: Sequence[int],
    z_sum: int,
    ic_coeffs: Sequence[int],
) -> bool:
    """The random-linear-combination batch check of ``verifier.groth16.batch_verify``:

        prod e(z_i A_i, B_i) * e(-z_sum alpha, beta) * e(-vk_x_sum, gamma)
            * e(-sum z_i C_i, delta) == 1,
        vk_x_sum = z_sum * IC[0] + sum_j ic_coeffs[j] * IC[j+1].

    All scalars are reduced mod r by the caller; one multi-Miller loop of
    n + 3 pairs and one final exponentiation.
    """
    m = load()
    n = len(proofs)
    a_points = [_checked_g1(a) for a, _, _ in proofs]
    c_points = (m.g1 * n)(*[_checked_g1(c) for _, _, c in proofs])
    g1s: list[Any] = []
    for point, z in zip(a_points, scalars, strict=True):
        scaled = m.g1()
        m.lib.mclBnG1_mul(ctypes.byref(scaled), ctypes.byref(point), ctypes.byref(_fr(z)))
        g1s.append(scaled)
    alpha_scaled = m.g1()
    m.lib.mclBnG1_mul(
        ctypes.byref(alpha_scaled), ctypes.byref(key.alpha1), ctypes.byref(_fr(z_sum))
    )
    g1s.append(_neg(alpha_scaled))
    g1s.append(_neg(_msm(key.ic, [z_sum, *ic_coeffs])))
    g1s.append(_neg(_msm(c_points, scalars)))
    g2s = [_checked_g2(b) for _, b, _ in proofs] + [key.beta2, key.gamma2, key.delta2]
    return _product_is_one(g1s, g2s)
