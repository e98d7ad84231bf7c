"""BN254 field helpers shared by every darkpool component.

``R`` is the BN254 scalar field (the field circom circuits compute in and the
field of Groth16 public inputs). ``Q`` is the BN254 base field (coordinates of
proof points). Signed values live in the scalar field as ``x mod R`` and are
range-checked by width (see ``signed_to_field`` / ``field_to_signed``).
"""

R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583


class FieldError(ValueError):
    """A value is not a canonical field element or does not fit its bit width."""


def is_canonical(x: int) -> bool:
    """True iff ``x`` is an int in ``[0, R)`` (bool is rejected)."""
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < R


def require_canonical(x: int, what: str = "value") -> int:
    """Return ``x`` if it is a canonical scalar-field element, else raise FieldError."""
    if not is_canonical(x):
        raise FieldError(f"{what} is not a field element in [0, r)")
    return x


def signed_to_field(x: int, bits: int, what: str = "value") -> int:
    """Encode a signed integer of width ``bits`` (two's-complement range) as ``x mod R``.

    Raises FieldError if ``x`` is outside ``[-2^(bits-1), 2^(bits-1))``, the
    same range the circuits enforce by checking ``x + 2^(bits-1) < 2^bits``.
    """
    if not isinstance(x, int) or isinstance(x, bool):
        raise FieldError(f"{what} must be an integer")
    half = 1 << (bits - 1)
    if not -half <= x < half:
        raise FieldError(f"{what} = {x} does not fit in a signed {bits}-bit range")
    return x % R


def field_to_signed(x: int, bits: int, what: str = "value") -> int:
    """Inverse of ``signed_to_field``: map a field element back to a signed integer."""
    require_canonical(x, what)
    half = 1 << (bits - 1)
    v = x if x < half else x - R
    if not -half <= v < half:
        raise FieldError(f"{what} is not a signed {bits}-bit value")
    return v


def unsigned_in_range(x: int, bits: int, what: str = "value") -> int:
    """Return ``x`` if it is an int in ``[0, 2^bits)``, else raise FieldError."""
    if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < (1 << bits):
        raise FieldError(f"{what} = {x!r} is not an unsigned {bits}-bit integer")
    return x
