"""Groth16 verification over BN254, for proofs and keys in snarkjs JSON form.

This is the part of the trust root that says yes or no to a proof. It parses
snarkjs ``verification_key.json`` / ``proof.json`` / ``public.json`` objects
(already loaded with ``json``; this module does no I/O) strictly, then checks
the pairing equation with py_ecc's optimized BN254 arithmetic:

    e(A, B) == e(alpha, beta) * e(vk_x, gamma) * e(C, delta),
    vk_x = IC[0] + sum_i x_i * IC[i+1].

Conventions and choices (see also the README "Protocol" section):

* Coordinates are decimal strings (or ints) in ``[0, q)``; no sign, no
  whitespace, no leading zeros. Points must be in affine form as snarkjs
  writes them: G1 ``[x, y, "1"]``, G2 ``[[x0, x1], [y0, y1], ["1", "0"]]``.
  An Fq2 element ``[c0, c1]`` means ``c0 + c1*i`` (i^2 = -1), which is exactly
  py_ecc's ``FQ2([c0, c1])``.
* The point at infinity is rejected everywhere (proof and key). snarkjs never
  writes it for a sound key or an honest proof.
* Every point must be on its curve; G2 points must also lie in the order-r
  subgroup (the twist has a large cofactor). G1 of BN254 has cofactor 1, so
  on-curve suffices there.
* Public inputs must be canonical scalars in ``[0, r)`` and exactly
  ``len(IC) - 1`` of them.
* Malformed input raises ``Groth16Error`` (a ``ValueError``) with a one-line
  message naming the field; a well-formed proof that does not satisfy the
  equation makes ``verify`` return ``False``.
* A key without a phase-2 contribution is refused: delta == gamma, or delta
  equal to the G2 generator (what ``snarkjs groth16 setup`` writes before any
  ``zkey contribute``/``beacon``). With delta == gamma the proof A = alpha,
  B = beta, C = -vk_x satisfies the equation for *any* public inputs. gamma
  itself is the G2 generator in every snarkjs key (snarkjs never randomises
  it; only delta carries the phase-2 toxic waste), so that alone is accepted.
* Unknown extra keys in the JSON objects are ignored (snarkjs adds e.g.
  ``vk_alphabeta_12``, which we recompute instead of trusting).

Backends: parsing and every check above always run here. Group membership
and the pairing equation run on a *backend*: ``"python"`` (py_ecc, the
default and the trust root) or ``"native"`` (mcl through the optional
``darkpool[native]`` extra, ``verifier.groth16_native``), about two orders of
magnitude faster. Choose with ``set_backend`` (the CLI's ``--backend``) or the
``DARKPOOL_VERIFY_BACKEND`` environment variable, which worker processes
inherit. Both backends give the same verdict and the same error messages on
every input (tests/verifier/test_groth16_backends.py).

This module must never import ``prover`` or ``exchange``, never run Node or
any subprocess, and never read files or the network.
"""

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.fields import optimized_bn128_FQ12 as FQ12
from py_ecc.optimized_bn128.optimized_curve import (
    G2,
    add,
    b,
    b2,
    curve_order,
    eq,
    field_modulus,
    is_inf,
    is_on_curve,
    multiply,
    neg,
    normalize,
)

from verifier.field import Q, R
from verifier.pairing import final_exponentiate, miller
from verifier.verify_backend import (
    BACKEND_ENV,
    BACKENDS,
    BackendError,
    check_backend_name,
    current_backend,
    native,
    set_backend,
    using_backend,
)

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "BATCH_SCALAR_BITS",
    "BackendError",
    "Groth16Error",
    "PreparedVerificationKey",
    "Proof",
    "RandomBits",
    "VerificationKey",
    "batch_verify",
    "current_backend",
    "final_exponentiate",
    "find_invalid",
    "parse_public_signals",
    "prepare",
    "set_backend",
    "using_backend",
    "verify",
    "vkey_hash",
]

G1Point = tuple[FQ, FQ, FQ]
G2Point = tuple[FQ2, FQ2, FQ2]

BATCH_SCALAR_BITS = 128
"""Bit length of the random scalars in ``batch_verify`` (soundness error ~2^-128)."""

# A canonical decimal: no sign, no whitespace, no leading zeros. 78 digits hold
# any value below 2^256; longer strings are rejected before int() parses them.
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_MAX_DIGITS = 78

if field_modulus != Q or curve_order != R:
    raise ImportError("verifier.field constants disagree with py_ecc's BN254")


class Groth16Error(ValueError):
    """A verification key, proof or public-input list is malformed."""


class RandomBits(Protocol):
    """Source of batch-verification scalars: ``secrets.SystemRandom()`` by default.

    Tests may pass a seeded ``random.Random``; production callers never should.
    """

    def getrandbits(self, k: int, /) -> int: ...


_SYSTEM_RNG: RandomBits = secrets.SystemRandom()


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def _parse_uint(value: object, what: str) -> int:
    """A non-negative integer from a canonical decimal string or a plain int."""
    if isinstance(value, bool):
        raise Groth16Error(f"{what} must be a decimal string, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise Groth16Error(f"{what} is negative")
        return value
    if isinstance(value, str):
        if len(value) > _MAX_DIGITS:
            raise Groth16Error(f"{what} has too many digits")
        if _DECIMAL.fullmatch(value) is None:
            raise Groth16Error(f"{what} is not a canonical decimal string")
        return int(value)
    raise Groth16Error(f"{what} must be a decimal string, got {type(value).__name__}")


def _parse_fq(value: object, what: str) -> int:
    n = _parse_uint(value, what)
    if n >= Q:
        raise Groth16Error(f"{what} is not below the base field modulus q")
    return n


def _expect_list(value: object, length: int, what: str) -> list[object]:
    if not isinstance(value, list):
        raise Groth16Error(f"{what} must be a list of {length}, got {type(value).__name__}")
    if len(value) != length:
        raise Groth16Error(f"{what} must have {length} entries, got {len(value)}")
    return value


def _field(obj: Mapping[str, object], key: str, what: str) -> object:
    if key not in obj:
        raise Groth16Error(f"{what}.{key} is missing")
    return obj[key]


def _expect_mapping(obj: object, what: str) -> Mapping[str, object]:
    if not isinstance(obj, Mapping):
        raise Groth16Error(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj


def _check_tag(obj: Mapping[str, object], key: str, expected: str, what: str) -> None:
    value = _field(obj, key, what)
    if value != expected:
        raise Groth16Error(f"{what}.{key} must be {expected!r}, got {value!r}")


def _parse_g1(value: object, what: str) -> G1Point:
    x_raw, y_raw, z_raw = _expect_list(value, 3, what)
    x = _parse_fq(x_raw, f"{what}[0]")
    y = _parse_fq(y_raw, f"{what}[1]")
    z = _parse_fq(z_raw, f"{what}[2]")
    if z == 0:
        raise Groth16Error(f"{what} is the point at infinity")
    if z != 1:
        raise Groth16Error(f"{what} is not in affine form (z must be 1)")
    return (FQ(x), FQ(y), FQ.one())


def _parse_fq2(value: object, what: str) -> tuple[int, int]:
    c0, c1 = _expect_list(value, 2, what)
    return _parse_fq(c0, f"{what}[0]"), _parse_fq(c1, f"{what}[1]")


def _parse_g2(value: object, what: str) -> G2Point:
    x_raw, y_raw, z_raw = _expect_list(value, 3, what)
    x = _parse_fq2(x_raw, f"{what}[0]")
    y = _parse_fq2(y_raw, f"{what}[1]")
    z = _parse_fq2(z_raw, f"{what}[2]")
    if z == (0, 0):
        raise Groth16Error(f"{what} is the point at infinity")
    if z != (1, 0):
        raise Groth16Error(f"{what} is not in affine form (z must be [1, 0])")
    return (FQ2(list(x)), FQ2(list(y)), FQ2.one())


def _check_g1(point: G1Point, what: str) -> None:
    # BN254 G1 has cofactor 1: every affine point on the curve is in the
    # order-r group, so on-curve is the whole membership check.
    if is_inf(point):
        raise Groth16Error(f"{what} is the point at infinity")
    if not is_on_curve(point, b):
        raise Groth16Error(f"{what} is not on the curve")


def _check_g2(point: G2Point, what: str) -> None:
    if is_inf(point):
        raise Groth16Error(f"{what} is the point at infinity")
    if not is_on_curve(point, b2):
        raise Groth16Error(f"{what} is not on the twist curve")
    # The twist E'(Fq2) has a cofactor of about 2^254, so an on-curve point
    # may have a small-order component; [r]P == O proves it has none.
    if not is_inf(multiply(point, curve_order)):
        raise Groth16Error(f"{what} is not in the prime-order subgroup")


def _g1_ints(point: G1Point) -> tuple[int, int]:
    x, y = normalize(point)
    return int(x), int(y)


def _g2_ints(point: G2Point) -> tuple[tuple[int, int], tuple[int, int]]:
    x, y = normalize(point)
    return (int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1]))


def _check_g1_on(backend: str, point: G1Point, what: str) -> None:
    if backend == "python":
        _check_g1(point, what)
        return
    if is_inf(point):
        raise Groth16Error(f"{what} is the point at infinity")
    if not native().g1_on_curve(*_g1_ints(point)):
        raise Groth16Error(f"{what} is not on the curve")


def _check_g2_on(backend: str, point: G2Point, what: str) -> None:
    if backend == "python":
        _check_g2(point, what)
        return
    if is_inf(point):
        raise Groth16Error(f"{what} is the point at infinity")
    mcl = native()
    coords = _g2_ints(point)
    if not mcl.g2_on_curve(*coords):
        raise Groth16Error(f"{what} is not on the twist curve")
    if not mcl.g2_in_subgroup(*coords):
        raise Groth16Error(f"{what} is not in the prime-order subgroup")


def _check_phase2(vk: "VerificationKey") -> None:
    """Refuse a key whose delta shows no phase-2 contribution (see the module docstring)."""
    if eq(vk.delta2, vk.gamma2):
        raise Groth16Error(
            "vk.vk_delta_2 equals vk.vk_gamma_2: the key has no phase-2 contribution, "
            "so anyone can forge proofs for it"
        )
    if eq(vk.delta2, G2):
        raise Groth16Error(
            "vk.vk_delta_2 is the G2 generator: the key has no phase-2 contribution, "
            "so anyone can forge proofs for it"
        )


@dataclass(frozen=True)
class VerificationKey:
    """A Groth16 verification key. Construction checks every point."""

    alpha1: G1Point
    beta2: G2Point
    gamma2: G2Point
    delta2: G2Point
    ic: tuple[G1Point, ...]

    def __post_init__(self) -> None:
        backend = current_backend()
        _check_g1_on(backend, self.alpha1, "vk.vk_alpha_1")
        _check_g2_on(backend, self.beta2, "vk.vk_beta_2")
        _check_g2_on(backend, self.gamma2, "vk.vk_gamma_2")
        _check_g2_on(backend, self.delta2, "vk.vk_delta_2")
        if not self.ic:
            raise Groth16Error("vk.IC must not be empty")
        for i, point in enumerate(self.ic):
            _check_g1_on(backend, point, f"vk.IC[{i}]")
        _check_phase2(self)

    @property
    def n_public(self) -> int:
        """Number of public inputs the key expects."""
        return len(self.ic) - 1

    @classmethod
    def from_snarkjs(cls, obj: object) -> "VerificationKey":
        """Parse a snarkjs ``verification_key.json`` object (protocol groth16, curve bn128)."""
        vk = _expect_mapping(obj, "vk")
        _check_tag(vk, "protocol", "groth16", "vk")
        _check_tag(vk, "curve", "bn128", "vk")
        ic_raw = _field(vk, "IC", "vk")
        if not isinstance(ic_raw, list) or not ic_raw:
            raise Groth16Error("vk.IC must be a non-empty list")
        n_public = _field(vk, "nPublic", "vk")
        if isinstance(n_public, bool) or not isinstance(n_public, int):
            raise Groth16Error("vk.nPublic must be an integer")
        if n_public != len(ic_raw) - 1:
            raise Groth16Error(
                f"vk.nPublic = {n_public} does not match len(vk.IC) - 1 = {len(ic_raw) - 1}"
            )
        return cls(
            alpha1=_parse_g1(_field(vk, "vk_alpha_1", "vk"), "vk.vk_alpha_1"),
            beta2=_parse_g2(_field(vk, "vk_beta_2", "vk"), "vk.vk_beta_2"),
            gamma2=_parse_g2(_field(vk, "vk_gamma_2", "vk"), "vk.vk_gamma_2"),
            delta2=_parse_g2(_field(vk, "vk_delta_2", "vk"), "vk.vk_delta_2"),
            ic=tuple(_parse_g1(p, f"vk.IC[{i}]") for i, p in enumerate(ic_raw)),
        )


@dataclass(frozen=True)
class Proof:
    """A Groth16 proof (A, B, C). Construction checks every point."""

    a: G1Point
    b: G2Point
    c: G1Point

    def __post_init__(self) -> None:
        backend = current_backend()
        _check_g1_on(backend, self.a, "proof.pi_a")
        _check_g2_on(backend, self.b, "proof.pi_b")
        _check_g1_on(backend, self.c, "proof.pi_c")

    @classmethod
    def from_snarkjs(cls, obj: object) -> "Proof":
        """Parse a snarkjs ``proof.json`` object (protocol groth16, curve bn128)."""
        proof = _expect_mapping(obj, "proof")
        _check_tag(proof, "protocol", "groth16", "proof")
        _check_tag(proof, "curve", "bn128", "proof")
        return cls(
            a=_parse_g1(_field(proof, "pi_a", "proof"), "proof.pi_a"),
            b=_parse_g2(_field(proof, "pi_b", "proof"), "proof.pi_b"),
            c=_parse_g1(_field(proof, "pi_c", "proof"), "proof.pi_c"),
        )


def parse_public_signals(obj: object, n_expected: int) -> list[int]:
    """Parse a snarkjs ``public.json`` list: exactly ``n_expected`` scalars in ``[0, r)``."""
    if not isinstance(obj, list):
        raise Groth16Error(f"public signals must be a list, got {type(obj).__name__}")
    if len(obj) != n_expected:
        raise Groth16Error(f"expected {n_expected} public signals, got {len(obj)}")
    values = [_parse_uint(v, f"public[{i}]") for i, v in enumerate(obj)]
    return _check_public_inputs(values, n_expected, "public")


def _check_public_inputs(inputs: Sequence[int], n_expected: int, what: str) -> list[int]:
    if len(inputs) != n_expected:
        raise Groth16Error(f"expected {n_expected} public inputs, got {len(inputs)}")
    for i, x in enumerate(inputs):
        if isinstance(x, bool) or not isinstance(x, int):
            raise Groth16Error(f"{what}[{i}] must be an integer")
        if not 0 <= x < R:
            raise Groth16Error(f"{what}[{i}] is not a canonical scalar in [0, r)")
    return list(inputs)


def vkey_hash(vk_json_obj: object) -> str:
    """SHA-256 hex of the canonical JSON form (sorted keys, no whitespace) of a key object.

    Used to pin verification keys: two files that parse to the same JSON value
    hash the same, whatever their formatting.
    """
    try:
        canonical = json.dumps(
            vk_json_obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise Groth16Error(f"verification key is not plain JSON: {exc}") from None
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedVerificationKey:
    """A verification key made ready for one backend.

    python: ``alpha_beta`` = e(alpha, beta) computed once (one pairing);
    native: ``native`` holds the key as mcl points.
    """

    vk: VerificationKey
    alpha_beta: FQ12 | None
    backend: str = "python"
    native: Any = None

    @property
    def n_public(self) -> int:
        return self.vk.n_public


def prepare(vk: VerificationKey, backend: str | None = None) -> PreparedVerificationKey:
    """Make ``vk`` ready for ``backend`` (default: ``current_backend()``).

    python precomputes e(alpha, beta) so each verify needs three Miller loops;
    native converts the points once.
    """
    backend = current_backend() if backend is None else check_backend_name(backend)
    if backend == "native":
        native_key = native().prepare_key(
            _g1_ints(vk.alpha1),
            _g2_ints(vk.beta2),
            _g2_ints(vk.gamma2),
            _g2_ints(vk.delta2),
            [_g1_ints(p) for p in vk.ic],
        )
        return PreparedVerificationKey(vk=vk, alpha_beta=None, backend="native", native=native_key)
    return PreparedVerificationKey(
        vk=vk, alpha_beta=final_exponentiate(miller(vk.beta2, vk.alpha1))
    )


def _as_prepared(vk: VerificationKey | PreparedVerificationKey) -> PreparedVerificationKey:
    return vk if isinstance(vk, PreparedVerificationKey) else prepare(vk)


def _linear_combination(ic: Sequence[G1Point], coeff0: int, coeffs: Sequence[int]) -> G1Point:
    """coeff0 * IC[0] + sum_j coeffs[j] * IC[j+1]."""
    acc: G1Point = multiply(ic[0], coeff0 % R)
    for point, k in zip(ic[1:], coeffs, strict=True):
        k %= R
        if k:
            acc = add(acc, multiply(point, k))
    return acc


def verify(
    vk: VerificationKey | PreparedVerificationKey, proof: Proof, public_inputs: Sequence[int]
) -> bool:
    """Check one proof. Raises Groth16Error if the public inputs are malformed.

    Computes e(A, B) * e(-vk_x, gamma) * e(-C, delta) with three Miller loops and
    one final exponentiation and compares it with the cached e(alpha, beta).
    """
    pvk = _as_prepared(vk)
    inputs = _check_public_inputs(public_inputs, pvk.n_public, "public")
    if pvk.backend == "native":
        ok: bool = native().verify(
            pvk.native, _g1_ints(proof.a), _g2_ints(proof.b), _g1_ints(proof.c), inputs
        )
        return ok
    assert pvk.alpha_beta is not None
    vk_x = _linear_combination(pvk.vk.ic, 1, inputs)
    f = (
        miller(proof.b, proof.a)
        * miller(pvk.vk.gamma2, neg(vk_x))
        * miller(pvk.vk.delta2, neg(proof.c))
    )
    return bool(final_exponentiate(f) == pvk.alpha_beta)


def batch_verify(
    vk: VerificationKey | PreparedVerificationKey,
    items: Sequence[tuple[Proof, Sequence[int]]],
    rng: RandomBits = _SYSTEM_RNG,
) -> bool:
    """Check many proofs for one key at once; True iff (w.h.p.) every proof is valid.

    With fresh random non-zero 128-bit z_i it checks
        prod e(z_i A_i, B_i) * e(-sum z_i vk_x_i, gamma) * e(-sum z_i C_i, delta)
            == e(alpha, beta)^(sum z_i),
    n + 2 Miller loops and one final exponentiation. If any proof is invalid
    the check passes with probability at most about 2^-128 (all points were
    checked to be in the order-r groups when parsed). An empty batch is True.
    On False, ``find_invalid`` names the bad items.
    """
    pvk = _as_prepared(vk)
    checked = [
        (proof, _check_public_inputs(inputs, pvk.n_public, f"batch[{i}].public"))
        for i, (proof, inputs) in enumerate(items)
    ]
    if not checked:
        return True
    scalars: list[int] = []
    for _ in checked:
        z = 0
        while z == 0:
            z = rng.getrandbits(BATCH_SCALAR_BITS)
        scalars.append(z)

    # sum_i z_i * vk_x_i folds into one combination of the IC points, so the
    # key side costs n_public + 1 scalar multiplications whatever the batch size.
    z_sum = sum(scalars) % R
    ic_coeffs = [
        sum(z * inputs[j] for z, (_, inputs) in zip(scalars, checked, strict=True)) % R
        for j in range(pvk.n_public)
    ]
    if pvk.backend == "native":
        proofs = [(_g1_ints(p.a), _g2_ints(p.b), _g1_ints(p.c)) for p, _ in checked]
        ok: bool = native().batch_pairing_check(pvk.native, proofs, scalars, z_sum, ic_coeffs)
        return ok
    assert pvk.alpha_beta is not None
    vk_x_sum = _linear_combination(pvk.vk.ic, z_sum, ic_coeffs)

    c_sum: G1Point = multiply(checked[0][0].c, scalars[0])
    f = miller(checked[0][0].b, multiply(checked[0][0].a, scalars[0]))
    for z, (proof, _) in zip(scalars[1:], checked[1:], strict=True):
        c_sum = add(c_sum, multiply(proof.c, z))
        f = f * miller(proof.b, multiply(proof.a, z))
    f = f * miller(pvk.vk.gamma2, neg(vk_x_sum)) * miller(pvk.vk.delta2, neg(c_sum))
    return bool(final_exponentiate(f) == pvk.alpha_beta**z_sum)


def find_invalid(
    vk: VerificationKey | PreparedVerificationKey,
    items: Sequence[tuple[Proof, Sequence[int]]],
) -> list[int]:
    """Indices of the items that fail single verification (malformed inputs count as failing)."""
    pvk = _as_prepared(vk)
    bad: list[int] = []
    for i, (proof, inputs) in enumerate(items):
        try:
            ok = verify(pvk, proof, inputs)
        except Groth16Error:
            ok = False
        if not ok:
            bad.append(i)
    return bad
