"""Turning validated request fields into domain values, and domain results into JSON pieces."""

from typing import Any

from exchange.errors import Malformed, Rejected
from verifier.auth import AuthError, parse_signature
from verifier.babyjub import Point
from verifier.eddsa import SerializationError, Signature, public_key_from_dict, signature_from_dict
from verifier.field import R


def signature(value: str | dict[str, Any]) -> Signature:
    try:
        if isinstance(value, dict):
            return signature_from_dict(value)
        return parse_signature(value)
    except (SerializationError, AuthError) as exc:
        raise Malformed(f"malformed signature: {exc}") from None


def public_key(value: dict[str, str]) -> Point:
    try:
        return public_key_from_dict(value)
    except SerializationError as exc:
        raise Malformed(f"bad public key: {exc}") from None


def field_int(value: str, what: str) -> int:
    n = int(value)
    if n >= R:
        raise Rejected(f"{what} is not below the field modulus")
    return n
