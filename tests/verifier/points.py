"""Test-only Baby Jubjub points shared by the babyjub and eddsa tests."""

from functools import cache

from verifier.babyjub import IDENTITY, SUBORDER, Point, PointEncodingError, mul_scalar, unpack_point


@cache
def order8_point() -> Point:
    """A point of order exactly 8: lift some y to a curve point and kill its l-part."""
    y = 2
    while True:
        try:
            p = unpack_point(y.to_bytes(32, "little"))
        except PointEncodingError:
            y += 1
            continue
        t = mul_scalar(p, SUBORDER)
        if mul_scalar(t, 4) != IDENTITY:
            return t
        y += 1
