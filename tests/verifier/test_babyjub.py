"""Tests for verifier.babyjub: group law, subgroup, encoding; golden vectors from circomlibjs."""

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.subprocesses import run_json
from tests.verifier.points import order8_point
from verifier.babyjub import (
    BASE8,
    COFACTOR,
    GENERATOR,
    IDENTITY,
    ORDER,
    SUBORDER,
    A,
    BabyJubError,
    D,
    NotInSubgroupError,
    NotOnCurveError,
    Point,
    PointEncodingError,
    ScalarError,
    add,
    in_subgroup,
    is_on_curve,
    mul_scalar,
    neg,
    pack_point,
    require_in_subgroup,
    unpack_point,
)
from verifier.field import R

VECTORS_JS = Path(__file__).resolve().parent / "js" / "eddsa_vectors.js"

scalars = st.integers(min_value=0, max_value=2**256)


def reference_mul(p: Point, e: int) -> Point:
    """Plain affine double-and-add over ``add`` (circomlibjs mulPointEscalar's loop)."""
    acc, step = IDENTITY, p
    while e:
        if e & 1:
            acc = add(acc, step)
        step = add(step, step)
        e >>= 1
    return acc


# --- parameters -------------------------------------------------------------------


def test_parameters() -> None:
    assert ORDER == COFACTOR * SUBORDER
    # Fermat check that l is (probably) prime, for several bases.
    for base in (2, 3, 5, 7, 11):
        assert pow(base, SUBORDER - 1, SUBORDER) == 1
    # Completeness of the addition law needs a square and d non-square.
    assert pow(A, (R - 1) // 2, R) == 1
    assert pow(D, (R - 1) // 2, R) == R - 1


def test_base8_is_eight_times_generator_and_has_order_l() -> None:
    assert is_on_curve(GENERATOR) and is_on_curve(BASE8)
    assert mul_scalar(GENERATOR, 8) == BASE8
    assert reference_mul(GENERATOR, 8) == BASE8
    assert in_subgroup(BASE8)
    assert not in_subgroup(GENERATOR)
    assert mul_scalar(GENERATOR, ORDER) == IDENTITY
    assert mul_scalar(BASE8, SUBORDER - 1) == neg(BASE8)
    assert mul_scalar(BASE8, SUBORDER + 5) == mul_scalar(BASE8, 5)


# --- group law --------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(a=scalars, b=scalars)
def test_mul_is_linear(a: int, b: int) -> None:
    pa, pb = mul_scalar(BASE8, a), mul_scalar(BASE8, b)
    assert add(pa, pb) == mul_scalar(BASE8, a + b)
    assert is_on_curve(pa) and in_subgroup(pa)


@settings(max_examples=10, deadline=None)
@given(e=st.integers(min_value=0, max_value=2**70))
def test_fixed_and_variable_base_agree_with_double_and_add(e: int) -> None:
    # GENERATOR goes through the windowed variable-base path, BASE8 through the table.
    assert mul_scalar(GENERATOR, e) == reference_mul(GENERATOR, e)
    assert mul_scalar(BASE8, e) == reference_mul(BASE8, e)


def test_group_axioms_on_sample_points() -> None:
    rng = random.Random(7)
    pts = [mul_scalar(GENERATOR, rng.randrange(1, ORDER)) for _ in range(4)]
    pts.append(order8_point())
    for p in pts:
        assert add(p, IDENTITY) == p
        assert add(p, neg(p)) == IDENTITY
        for q in pts:
            assert add(p, q) == add(q, p)
            for r in pts[:2]:
                assert add(add(p, q), r) == add(p, add(q, r))


def test_low_order_points() -> None:
    t = order8_point()
    assert is_on_curve(t)
    assert mul_scalar(t, 8) == IDENTITY and mul_scalar(t, 4) != IDENTITY
    assert not in_subgroup(t)
    assert not in_subgroup(add(BASE8, t))
    two_torsion = Point(0, R - 1)
    assert is_on_curve(two_torsion) and add(two_torsion, two_torsion) == IDENTITY
    assert not in_subgroup(two_torsion)
    assert in_subgroup(IDENTITY)
    with pytest.raises(NotInSubgroupError, match="subgroup"):
        require_in_subgroup(add(BASE8, t), "pubkey")
    assert require_in_subgroup(BASE8) == BASE8


def test_off_curve_and_bad_input_errors() -> None:
    off = Point(BASE8.x, BASE8.y + 1)
    assert not is_on_curve(off)
    assert not is_on_curve(Point(BASE8.x + R, BASE8.y))  # same residue, non-canonical
    assert not is_on_curve(Point(-1, 1))
    assert not in_subgroup(off)
    for call in (lambda: add(off, BASE8), lambda: mul_scalar(off, 3), lambda: pack_point(off)):
        with pytest.raises(NotOnCurveError) as info:
            call()
        assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    with pytest.raises(ScalarError):
        mul_scalar(BASE8, -1)
    with pytest.raises(ScalarError):
        mul_scalar(BASE8, True)
    with pytest.raises(BabyJubError):
        require_in_subgroup(off)


# --- encoding ---------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(e=st.integers(min_value=0, max_value=ORDER - 1))
def test_pack_unpack_round_trip(e: int) -> None:
    p = mul_scalar(GENERATOR, e)
    packed = pack_point(p)
    assert len(packed) == 32
    assert int.from_bytes(packed, "little") & ((1 << 255) - 1) == p.y
    assert bool(packed[31] & 0x80) == (p.x > (R - 1) // 2)
    assert unpack_point(packed) == p


def test_unpack_edge_cases() -> None:
    assert unpack_point(pack_point(IDENTITY)) == IDENTITY
    assert unpack_point(pack_point(Point(0, R - 1))) == Point(0, R - 1)
    with pytest.raises(PointEncodingError, match="sign bit"):
        unpack_point(bytes([1] + [0] * 30 + [0x80]))
    with pytest.raises(PointEncodingError, match="modulus"):
        unpack_point(R.to_bytes(32, "little"))
    with pytest.raises(PointEncodingError, match="32 bytes"):
        unpack_point(bytes(31))
    # Some y has no x: find one and check it is rejected, not mis-decoded.
    y = 2
    while True:
        try:
            unpack_point(y.to_bytes(32, "little"))
        except PointEncodingError as exc:
            assert "curve point" in str(exc)
            break
        y += 1


# --- golden vectors from circomlibjs ----------------------------------------------


def run_vectors(request: dict[str, Any]) -> dict[str, Any]:
    return run_json(["node", VECTORS_JS], input=json.dumps(request), timeout=120)


def as_point(xy: list[str] | None) -> Point | None:
    return None if xy is None else Point(int(xy[0]), int(xy[1]))


def dec(p: Point) -> list[str]:
    return [str(p.x), str(p.y)]


@pytest.mark.slow
def test_matches_circomlibjs() -> None:
    rng = random.Random(20240611)
    t = order8_point()
    points = [IDENTITY, BASE8, GENERATOR, t, Point(0, R - 1), add(BASE8, t)]
    points += [mul_scalar(GENERATOR, rng.randrange(ORDER)) for _ in range(12)]
    off_curve = [Point(BASE8.x, BASE8.y + 1), Point(5, 7)]
    raw = [rng.randbytes(32) for _ in range(24)]
    muls = [(GENERATOR, rng.randrange(2**256)) for _ in range(4)]
    muls += [(BASE8, rng.randrange(2**256)) for _ in range(4)]
    muls += [(t, 3), (BASE8, 0), (BASE8, SUBORDER)]
    adds = [(points[i], points[i + 1]) for i in range(len(points) - 1)]

    out = run_vectors(
        {
            "points": [dec(p) for p in points + off_curve],
            "unpack": [b.hex() for b in raw],
            "mul": [{"P": dec(p), "e": str(e)} for p, e in muls],
            "add": [[dec(p), dec(q)] for p, q in adds],
        }
    )

    c = out["constants"]
    assert as_point(c["Base8"]) == BASE8
    assert as_point(c["Generator"]) == GENERATOR
    assert int(c["subOrder"]) == SUBORDER and int(c["order"]) == ORDER
    assert (int(c["A"]), int(c["D"])) == (A, D)

    for p, js in zip(points + off_curve, out["points"], strict=True):
        assert js["inCurve"] == is_on_curve(p)
        if not js["inCurve"]:
            continue
        assert js["inSubgroup"] == in_subgroup(p)
        assert bytes.fromhex(js["packed"]) == pack_point(p)
        if p.x == 0:
            # circomlibjs cannot decode x = 0 points; we can (documented).
            assert js["unpacked"] is None and unpack_point(pack_point(p)) == p
        else:
            assert as_point(js["unpacked"]) == unpack_point(pack_point(p)) == p

    decoded = 0
    for b, js in zip(raw, out["unpack"], strict=True):
        y = int.from_bytes(b, "little") & ((1 << 255) - 1)
        if y >= R:
            # circomlibjs reduces y silently; we reject the non-canonical encoding.
            with pytest.raises(PointEncodingError):
                unpack_point(b)
        elif js is None:
            with pytest.raises(PointEncodingError):
                unpack_point(b)
        else:
            assert unpack_point(b) == as_point(js)
            decoded += 1
    assert decoded > 0

    for (p, e), js in zip(muls, out["mul"], strict=True):
        assert mul_scalar(p, e) == as_point(js)
    for (p, q), js in zip(adds, out["add"], strict=True):
        assert add(p, q) == as_point(js)


def test_cached_point_tables_agree_with_the_windowed_multiplication() -> None:
    import random

    from verifier import babyjub

    rng = random.Random(21)
    points = [
        babyjub.mul_scalar(babyjub.BASE8, rng.randrange(1, babyjub.SUBORDER)) for _ in range(3)
    ]
    points.append(babyjub.BASE8)
    scalars = [
        0,
        1,
        15,
        16,
        babyjub.SUBORDER - 1,
        babyjub.SUBORDER,
        2**256 - 1,
        2**260 - 1,
        2**261 + 5,
    ]
    scalars += [rng.randrange(2**257) for _ in range(4)]
    for p in points:
        for e in scalars:
            want = babyjub._mul_window(p, e)
            assert babyjub.mul_scalar_cached(p, e) == want
            assert babyjub.mul_scalar(p, e) == want
    with pytest.raises(babyjub.ScalarError):
        babyjub.mul_scalar_cached(points[0], -1)
