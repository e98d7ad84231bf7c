"""EdDSA-Poseidon on Baby Jubjub, bit-exact with circomlibjs 0.1.7 ``eddsa``.

Key derivation, signing and the verification equation are those of
circomlibjs ``prv2pub`` / ``signPoseidon`` / ``verifyPoseidon`` and of
circomlib's ``EdDSAPoseidonVerifier`` circuit, so a signature made here is
accepted in-circuit, and a signature made by circomlibjs is accepted here.

Verification is stricter than circomlibjs (which only checks that points are on
the curve and ``S < l``): the public key must be in the prime-order subgroup
and not the identity (the circuit also rejects x(8A) = 0), R8 must be in the
subgroup, and every coordinate and the message must be canonical field
elements. This removes public-key malleability (A + T for a small-order T
verifies the same signatures in circomlibjs).

Two entry points, same rules: ``check_signature`` raises a typed
``SignatureError`` subclass naming the first failed rule; ``verify_poseidon``
returns False for anything ``check_signature`` would reject (and for
malformed argument types) and never raises.

Never imports prover/ or exchange/, never runs node. Private keys live only in
``PrivateKey``; nothing here logs or serialises them.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.babyjub import (
    BASE8,
    SUBORDER,
    BabyJubError,
    Point,
    add,
    in_subgroup,
    is_on_curve,
    mul_scalar,
    mul_scalar_cached,
    pack_point,
    unpack_point,
)
from verifier.blake512 import blake512
from verifier.field import FieldError, R, is_canonical
from verifier.poseidon import poseidon

PRIVATE_KEY_BYTES = 32
SIGNATURE_BYTES = 64


class SignatureError(ValueError):
    """Base class: a signature, public key or message fails a verification rule."""


class InvalidPublicKeyError(SignatureError):
    """The public key is not a subgroup point other than the identity."""


class MalformedSignatureError(SignatureError):
    """R8 is not a subgroup point, or S is not below the subgroup order."""


class InvalidMessageError(SignatureError):
    """The message is not a canonical field element."""


class BadSignatureError(SignatureError):
    """Well-formed inputs, but S*Base8 != R8 + 8*hm*A."""


class PrivateKeyError(ValueError):
    """A private key is not exactly 32 bytes."""


class SerializationError(ValueError):
    """A JSON-style dict or packed bytes do not encode a valid key or signature."""


@dataclass(frozen=True, slots=True)
class Signature:
    """An EdDSA-Poseidon signature: the nonce point R8 and the scalar S (as circomlibjs)."""

    R8: Point
    S: int


# --- key derivation -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Expanded:
    scalar: int  # pruned 256-bit LE integer (a multiple of 8); S uses it unshifted
    nonce_prefix: bytes  # second half of the hash, keys the deterministic nonce
    public: Point


def _expand(priv: bytes) -> _Expanded:
    if not isinstance(priv, bytes | bytearray) or len(priv) != PRIVATE_KEY_BYTES:
        raise PrivateKeyError("private key must be exactly 32 bytes")
    h = blake512(bytes(priv))
    low = bytearray(h[:32])
    # circomlibjs pruneBuffer: clear the cofactor bits, clear bit 255, set bit 254.
    low[0] &= 0xF8
    low[31] &= 0x7F
    low[31] |= 0x40
    scalar = int.from_bytes(low, "little")
    return _Expanded(scalar, h[32:], mul_scalar(BASE8, scalar >> 3))


def prv2pub(priv: bytes) -> Point:
    """Public key A = Base8 * (s >> 3) for a 32-byte private key (circomlibjs prv2pub)."""
    return _expand(priv).public


def _require_message(msg: int) -> int:
    if not is_canonical(msg):
        raise InvalidMessageError("message must be a field element in [0, r)")
    return msg


def _challenge(r8: Point, pub: Point, msg: int) -> int:
    return poseidon([r8.x, r8.y, pub.x, pub.y, msg])


def _sign_expanded(key: _Expanded, msg: int) -> Signature:
    _require_message(msg)
    r = int.from_bytes(blake512(key.nonce_prefix + msg.to_bytes(32, "little")), "little")
    r %= SUBORDER
    r8 = mul_scalar(BASE8, r)
    hm = _challenge(r8, key.public, msg)
    # As circomlibjs: the unshifted scalar, which equals 8 * (s >> 3).
    return Signature(r8, (r + hm * key.scalar) % SUBORDER)


def sign_poseidon(priv: bytes, msg: int) -> Signature:
    """Sign field element ``msg`` with a 32-byte private key (circomlibjs signPoseidon)."""
    return _sign_expanded(_expand(priv), msg)


# --- verification ---------------------------------------------------------------


def check_public_key(pub: Point) -> Point:
    """Return ``pub`` if it is a valid public key, else raise InvalidPublicKeyError."""
    if not is_on_curve(pub):
        raise InvalidPublicKeyError("public key is not a Baby Jubjub point")
    if pub.x == 0:
        # Identity or the order-2 point: the circuit rejects these (x(8A) = 0).
        raise InvalidPublicKeyError("public key is a low-order point")
    if not in_subgroup(pub):
        raise InvalidPublicKeyError("public key is not in the prime-order subgroup")
    return pub


def check_signature(msg: int, sig: Signature, pub: Point) -> None:
    """Raise a SignatureError subclass unless ``sig`` is a strict valid signature on ``msg``.

    Rules, checked in this order: msg canonical, public key valid
    (``check_public_key``), R8 on the curve, S < l, S*Base8 == R8 + 8*hm*A,
    R8 in the subgroup. The last is implied by the equation (both other terms
    are in the subgroup), so it is only evaluated to name the failure.
    """
    _require_message(msg)
    if not isinstance(sig, Signature):
        raise MalformedSignatureError("signature must be a Signature")
    check_public_key(pub)
    if not is_on_curve(sig.R8):
        raise MalformedSignatureError("signature R8 is not a Baby Jubjub point")
    s = sig.S
    if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < SUBORDER:
        raise MalformedSignatureError("signature S is not in [0, l)")
    hm = _challenge(sig.R8, pub, msg)
    left = mul_scalar(BASE8, s)
    right = add(sig.R8, mul_scalar_cached(pub, 8 * hm))  # keys recur: per-key table
    if left != right:
        if not in_subgroup(sig.R8):
            raise MalformedSignatureError("signature R8 is not in the prime-order subgroup")
        raise BadSignatureError("signature does not verify for this message and public key")


def verify_poseidon(msg: int, sig: Signature, pub: Point) -> bool:
    """True iff ``check_signature`` accepts; never raises on bad input."""
    try:
        check_signature(msg, sig, pub)
    except (SignatureError, BabyJubError, FieldError, TypeError, AttributeError):
        return False
    return True


# --- private key helper ---------------------------------------------------------


class PrivateKey:
    """A Baby Jubjub EdDSA private key (32 random bytes) with its derived values cached."""

    __slots__ = ("_expanded", "_seed")

    def __init__(self, seed: bytes) -> None:
        self._expanded = _expand(seed)
        self._seed = bytes(seed)

    @classmethod
    def generate(cls) -> "PrivateKey":
        """A fresh key from os.urandom."""
        return cls(os.urandom(PRIVATE_KEY_BYTES))

    def to_bytes(self) -> bytes:
        """The 32-byte seed (keep it secret)."""
        return self._seed

    def public_key(self) -> Point:
        return self._expanded.public

    def sign(self, msg: int) -> Signature:
        """EdDSA-Poseidon signature on field element ``msg`` (deterministic)."""
        return _sign_expanded(self._expanded, msg)

    def __repr__(self) -> str:
        # Never print the seed.
        return f"PrivateKey(public_key={self.public_key()!r})"


# --- serialisation ---------------------------------------------------------------

# Canonical decimal: no sign, no leading zeros, no whitespace or underscores;
# at most 78 digits (anything longer is far above R anyway).
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,77})")


def _parse_decimal(value: object, what: str) -> int:
    if not isinstance(value, str) or _DECIMAL.fullmatch(value) is None:
        raise SerializationError(f"{what} must be a canonical decimal string")
    return int(value)


def _parse_coordinate(value: object, what: str) -> int:
    n = _parse_decimal(value, what)
    if n >= R:
        raise SerializationError(f"{what} is not below the field modulus")
    return n


def point_to_dict(p: Point) -> dict[str, str]:
    """``{"x": "<decimal>", "y": "<decimal>"}``."""
    return {"x": str(p.x), "y": str(p.y)}


def _point_from_dict(d: object, what: str) -> Point:
    if not isinstance(d, dict) or set(d) != {"x", "y"}:
        raise SerializationError(f"{what} must be an object with exactly the keys x and y")
    p = Point(_parse_coordinate(d["x"], f"{what}.x"), _parse_coordinate(d["y"], f"{what}.y"))
    if not is_on_curve(p):
        raise SerializationError(f"{what} is not a Baby Jubjub point")
    return p


def public_key_to_dict(pub: Point) -> dict[str, str]:
    """JSON-friendly public key: ``{"x": ..., "y": ...}`` as decimal strings."""
    return point_to_dict(pub)


def public_key_from_dict(d: Any) -> Point:
    """Parse and fully validate a public key dict (canonical, on curve, in subgroup)."""
    p = _point_from_dict(d, "public key")
    try:
        return check_public_key(p)
    except InvalidPublicKeyError as exc:
        raise SerializationError(str(exc)) from None


def signature_to_dict(sig: Signature) -> dict[str, Any]:
    """JSON-friendly signature: ``{"R8": {"x": ..., "y": ...}, "S": ...}`` as decimal strings."""
    return {"R8": point_to_dict(sig.R8), "S": str(sig.S)}


def signature_from_dict(d: Any) -> Signature:
    """Parse a signature dict; R8 must be on the curve and S < l (subgroup checked at verify)."""
    if not isinstance(d, dict) or set(d) != {"R8", "S"}:
        raise SerializationError("signature must be an object with exactly the keys R8 and S")
    r8 = _point_from_dict(d["R8"], "signature R8")
    s = _parse_decimal(d["S"], "signature S")
    if s >= SUBORDER:
        raise SerializationError("signature S is not in [0, l)")
    return Signature(r8, s)


def relaxed_signature_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of signature JSON ``d`` in ``signature_from_dict``'s form, also accepting
    R8 as ``[x, y]`` and S as a JSON number (not a boolean); nothing else is changed."""
    out = dict(d)
    r8 = out.get("R8")
    if isinstance(r8, list) and len(r8) == 2:
        out["R8"] = {"x": r8[0], "y": r8[1]}
    if isinstance(out.get("S"), int) and not isinstance(out.get("S"), bool):
        out["S"] = str(out["S"])
    return out


def pack_signature(sig: Signature) -> bytes:
    """64 bytes: packed R8 || S as 32-byte little-endian (circomlibjs packSignature)."""
    if not isinstance(sig.S, int) or not 0 <= sig.S < SUBORDER:
        raise SerializationError("signature S is not in [0, l)")
    return pack_point(sig.R8) + sig.S.to_bytes(32, "little")


def unpack_signature(data: bytes) -> Signature:
    """Inverse of ``pack_signature``; rejects non-canonical R8 encodings and S >= l."""
    if not isinstance(data, bytes | bytearray) or len(data) != SIGNATURE_BYTES:
        raise SerializationError("packed signature must be exactly 64 bytes")
    try:
        r8 = unpack_point(bytes(data[:32]))
    except BabyJubError as exc:
        raise SerializationError(f"signature R8: {exc}") from None
    s = int.from_bytes(data[32:], "little")
    if s >= SUBORDER:
        raise SerializationError("signature S is not in [0, l)")
    return Signature(r8, s)


__all__ = [
    "PRIVATE_KEY_BYTES",
    "SIGNATURE_BYTES",
    "BadSignatureError",
    "InvalidMessageError",
    "InvalidPublicKeyError",
    "MalformedSignatureError",
    "PrivateKey",
    "PrivateKeyError",
    "SerializationError",
    "Signature",
    "SignatureError",
    "check_public_key",
    "check_signature",
    "pack_signature",
    "point_to_dict",
    "prv2pub",
    "public_key_from_dict",
    "public_key_to_dict",
    "relaxed_signature_dict",
    "sign_poseidon",
    "signature_from_dict",
    "signature_to_dict",
    "unpack_signature",
    "verify_poseidon",
]
