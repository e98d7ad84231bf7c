"""Strict JSON parsers shared by the ledger models; each raises ``EntryError``.

Every parser takes ``what`` (the field's name as the failure should say it)
and returns a plain Python value. Integers are JSON ints or canonical decimal
strings (docs/ledger.md); booleans are never integers. Pure: no I/O.
"""

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

from verifier.babyjub import Point
from verifier.eddsa import (
    SerializationError,
    Signature,
    public_key_from_dict,
    relaxed_signature_dict,
    signature_from_dict,
)
from verifier.field import R

__all__ = [
    "EntryError",
    "IntRecord",
    "Range",
    "as_list",
    "bits",
    "canonical_json_hash",
    "field_element",
    "get",
    "hex64",
    "int_fields",
    "mapping",
    "point",
    "signature",
    "sint",
    "uint",
]

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
_SIGNED_DECIMAL = re.compile(r"0|-?[1-9][0-9]{0,77}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class EntryError(Exception):
    """A check failed inside one entry; the replay turns it into a failure at that entry."""


def mapping(obj: object, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise EntryError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj


def as_list(obj: object, what: str) -> list[Any]:
    if not isinstance(obj, list):
        raise EntryError(f"{what} must be a list, got {type(obj).__name__}")
    return obj


def get(d: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in d:
        raise EntryError(f"{what} has no {key!r}")
    return d[key]


def uint(value: object, what: str) -> int:
    """A non-negative integer: a JSON int or a canonical decimal string."""
    if isinstance(value, bool):
        raise EntryError(f"{what} must be an integer, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise EntryError(f"{what} is negative ({value})")
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    raise EntryError(f"{what} must be a non-negative integer, got {value!r:.60}")


def sint(value: object, what: str) -> int:
    """A signed integer: a JSON int or a signed decimal string."""
    if isinstance(value, bool):
        raise EntryError(f"{what} must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _SIGNED_DECIMAL.fullmatch(value):
        return int(value)
    raise EntryError(f"{what} must be an integer, got {value!r:.60}")


def bits(value: object, n_bits: int, what: str) -> int:
    n = uint(value, what)
    if n >= 1 << n_bits:
        raise EntryError(f"{what} = {n} does not fit in {n_bits} bits")
    return n


def field_element(value: object, what: str) -> int:
    n = uint(value, what)
    if n >= R:
        raise EntryError(f"{what} is not a field element (>= r)")
    return n


def hex64(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise EntryError(f"{what} must be 64 lowercase hex digits")
    return value


def point(obj: object, what: str) -> Point:
    """A Baby Jubjub public key, as ``["x", "y"]`` (docs/ledger.md) or ``{"x", "y"}``."""
    if isinstance(obj, list) and len(obj) == 2:
        obj = {"x": obj[0], "y": obj[1]}
    if isinstance(obj, Mapping):
        obj = {
            k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
            for k, v in obj.items()
        }
    try:
        return public_key_from_dict(obj)
    except SerializationError as exc:
        raise EntryError(f"{what}: {exc}") from None


def signature(obj: object, what: str) -> Signature:
    """An EdDSA-Poseidon signature ``{"R8": {"x", "y"} | [x, y], "S": dec}``."""
    sig_obj = relaxed_signature_dict(mapping(obj, what))
    try:
        return signature_from_dict(sig_obj)
    except SerializationError as exc:
        raise EntryError(f"{what} is malformed: {exc}") from None


#: Inclusive bounds of an integer field: (lowest, highest or None for no upper bound).
Range = tuple[int, int | None]


def int_fields(
    d: Mapping[str, Any],
    what: str,
    spec: Sequence[str] | Mapping[str, Range],
    parse: Callable[[object, str], int] = uint,
) -> dict[str, int]:
    """The required integer fields of object ``d``, each parsed by ``parse`` and range-checked.

    ``spec`` names the fields, or maps each to its inclusive ``Range``. Returns
    ``{name: value}`` (records unpack it: ``cls(**int_fields(d, what, spec))``).
    Fails ``"what has no 'name'"``, ``"what.name must be at least L"`` or
    ``"what.name exceeds H"``.
    """
    bounds: Mapping[str, Range] = (
        spec if isinstance(spec, Mapping) else dict.fromkeys(spec, (0, None))
    )
    out: dict[str, int] = {}
    for name, (low, high) in bounds.items():
        value = out[name] = parse(get(d, name, what), f"{what}.{name}")
        if value < low:
            raise EntryError(f"{what}.{name} must be at least {low}")
        if high is not None and value > high:
            raise EntryError(f"{what}.{name} exceeds {high}")
    return out


class IntRecord:
    """Base of a frozen dataclass whose fields are all integers within ``ranges``.

    ``from_json`` parses the JSON object strictly (``int_fields``: every field
    required, each named as ``"<what>.<field>"`` in a failure); ``to_json``
    writes the fields back as JSON integers, in ``ranges`` order.
    """

    what: ClassVar[str]
    ranges: ClassVar[Mapping[str, Range]]

    @classmethod
    def from_json(cls, obj: object) -> Self:
        return cls(**int_fields(mapping(obj, cls.what), cls.what, cls.ranges))

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.ranges}


def canonical_json_hash(obj: object) -> str:
    """SHA-256 hex of the canonical JSON form (sorted keys, no whitespace) of ``obj``."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
