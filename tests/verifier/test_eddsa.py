"""Tests for verifier.eddsa and verifier.blake512; golden vectors from circomlibjs / blake-hash."""

import dataclasses
import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.subprocesses import run_json
from tests.verifier.points import order8_point
from verifier.babyjub import (
    BASE8,
    IDENTITY,
    SUBORDER,
    Point,
    add,
    mul_scalar,
    pack_point,
)
from verifier.blake512 import blake512
from verifier.eddsa import (
    BadSignatureError,
    InvalidMessageError,
    InvalidPublicKeyError,
    MalformedSignatureError,
    PrivateKey,
    PrivateKeyError,
    SerializationError,
    Signature,
    SignatureError,
    check_public_key,
    check_signature,
    pack_signature,
    prv2pub,
    public_key_from_dict,
    public_key_to_dict,
    sign_poseidon,
    signature_from_dict,
    signature_to_dict,
    unpack_signature,
    verify_poseidon,
)
from verifier.field import R
from verifier.poseidon import poseidon

VECTORS_JS = Path(__file__).resolve().parent / "js" / "eddsa_vectors.js"

KEY = bytes(range(32))
MSG = 123456789


@cache
def signed() -> tuple[Point, Signature]:
    return prv2pub(KEY), sign_poseidon(KEY, MSG)


def equation_holds(msg: int, sig: Signature, pub: Point) -> bool:
    """The bare circomlibjs equation S*Base8 == R8 + 8*hm*A, without any range rule."""
    hm = poseidon([sig.R8.x, sig.R8.y, pub.x, pub.y, msg])
    return mul_scalar(BASE8, sig.S) == add(sig.R8, mul_scalar(pub, 8 * hm))


def assert_rejected(msg: int, sig: Signature, pub: Point, error: type[SignatureError]) -> str:
    assert not verify_poseidon(msg, sig, pub)
    with pytest.raises(error) as info:
        check_signature(msg, sig, pub)
    text = str(info.value)
    assert text and "\n" not in text
    return text


# --- BLAKE-512 ----------------------------------------------------------------------


def test_blake512_known_answers_from_spec() -> None:
    # BLAKE specification v1.3, appendix A.4 (one-block and two-block messages).
    assert blake512(b"\x00").hex() == (
        "97961587f6d970faba6d2478045de6d1fabd09b61ae50932054d52bc29d31be4"
        "ff9102b9f69e2bbdb83be13d4b9c06091e5fa0b48bd081b634058be0ec49beb3"
    )
    assert blake512(bytes(144)).hex() == (
        "313717d608e9cf758dcb1eb0f0c3cf9fc150b2d500fb33f51c52afc99d358a2f"
        "1374b8a38bba7974e7f6ef79cab16f22ce1e649d6e01ad9589c213045d545dde"
    )


def test_blake512_shape() -> None:
    assert len(blake512(b"")) == 64
    assert blake512(b"abc") != blake512(b"abd")
    assert blake512(bytearray(b"abc")) == blake512(b"abc")
    with pytest.raises(TypeError):
        blake512("abc")  # type: ignore[arg-type]


# --- sign / verify ------------------------------------------------------------------


def test_sign_verify_round_trip() -> None:
    pub, sig = signed()
    assert pub == PrivateKey(KEY).public_key()
    assert verify_poseidon(MSG, sig, pub)
    check_signature(MSG, sig, pub)
    assert 0 <= sig.S < SUBORDER
    assert sign_poseidon(KEY, MSG) == sig  # deterministic nonce


def test_key_derivation_is_pruned_blake512() -> None:
    h = blake512(KEY)
    s = int.from_bytes(h[:32], "little")
    s &= ~7
    s &= (1 << 255) - 1
    s |= 1 << 254
    assert prv2pub(KEY) == mul_scalar(BASE8, s >> 3)


@pytest.mark.parametrize("msg", [0, 1, R - 1])
def test_edge_messages(msg: int) -> None:
    key = PrivateKey.generate()
    sig = key.sign(msg)
    assert verify_poseidon(msg, sig, key.public_key())
    other = (msg + 1) % R
    assert not verify_poseidon(other, sig, key.public_key())


@settings(max_examples=15, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), msg=st.integers(min_value=0, max_value=R - 1))
def test_round_trip_property(seed: bytes, msg: int) -> None:
    key = PrivateKey(seed)
    sig = key.sign(msg)
    assert verify_poseidon(msg, sig, key.public_key())
    assert unpack_signature(pack_signature(sig)) == sig
    assert signature_from_dict(json.loads(json.dumps(signature_to_dict(sig)))) == sig


def test_private_key_helper() -> None:
    a, b = PrivateKey.generate(), PrivateKey.generate()
    assert a.to_bytes() != b.to_bytes() and len(a.to_bytes()) == 32
    assert a.public_key() != b.public_key()
    assert a.to_bytes().hex() not in repr(a)
    assert not verify_poseidon(MSG, a.sign(MSG), b.public_key())
    for bad in (b"", bytes(31), bytes(33)):
        with pytest.raises(PrivateKeyError, match="32 bytes"):
            PrivateKey(bad)
    with pytest.raises(InvalidMessageError):
        a.sign(R)
    with pytest.raises(InvalidMessageError):
        a.sign(-1)


# --- negative cases -----------------------------------------------------------------


def test_wrong_message_and_wrong_key() -> None:
    pub, sig = signed()
    assert_rejected(MSG + 1, sig, pub, BadSignatureError)
    other = prv2pub(bytes(32))
    assert_rejected(MSG, sig, other, BadSignatureError)


def test_tampered_s() -> None:
    pub, sig = signed()
    bad = dataclasses.replace(sig, S=(sig.S + 1) % SUBORDER)
    assert not equation_holds(MSG, bad, pub)
    assert_rejected(MSG, bad, pub, BadSignatureError)


def test_s_plus_l_is_rejected_by_range_rule_only() -> None:
    pub, sig = signed()
    bad = dataclasses.replace(sig, S=sig.S + SUBORDER)
    # The group equation cannot tell S from S + l; only the S < l rule catches it.
    assert equation_holds(MSG, bad, pub)
    assert "S" in assert_rejected(MSG, bad, pub, MalformedSignatureError)
    assert_rejected(MSG, dataclasses.replace(sig, S=-1), pub, MalformedSignatureError)


def test_r8_off_curve_or_non_canonical() -> None:
    pub, sig = signed()
    off = dataclasses.replace(sig, R8=Point(sig.R8.x, (sig.R8.y + 1) % R))
    assert_rejected(MSG, off, pub, MalformedSignatureError)
    alias = dataclasses.replace(sig, R8=Point(sig.R8.x + R, sig.R8.y))
    assert_rejected(MSG, alias, pub, MalformedSignatureError)


def test_r8_outside_subgroup() -> None:
    pub, sig = signed()
    bad = dataclasses.replace(sig, R8=add(sig.R8, order8_point()))
    assert "subgroup" in assert_rejected(MSG, bad, pub, MalformedSignatureError)


def test_pubkey_outside_subgroup() -> None:
    pub, sig = signed()
    t = order8_point()
    twisted = add(pub, t)
    # 8*(A + T) == 8*A, so the bare equation (what circomlibjs checks) still holds
    # for a fresh signature bound to the twisted key; the subgroup rule rejects it.
    r = 987654321
    r8 = mul_scalar(BASE8, r)
    hm = poseidon([r8.x, r8.y, twisted.x, twisted.y, MSG])
    s_full = 8 * _secret_shifted_scalar(KEY)
    forged = Signature(r8, (r + hm * s_full) % SUBORDER)
    assert equation_holds(MSG, forged, twisted)
    assert "subgroup" in assert_rejected(MSG, forged, twisted, InvalidPublicKeyError)
    assert_rejected(MSG, sig, twisted, InvalidPublicKeyError)


def _secret_shifted_scalar(key: bytes) -> int:
    low = bytearray(blake512(key)[:32])
    low[0] &= 0xF8
    low[31] = (low[31] & 0x7F) | 0x40
    return int.from_bytes(low, "little") >> 3


def test_low_order_pubkeys() -> None:
    _, sig = signed()
    for pub in (IDENTITY, Point(0, R - 1), order8_point()):
        assert_rejected(MSG, sig, pub, InvalidPublicKeyError)
        with pytest.raises(InvalidPublicKeyError):
            check_public_key(pub)
    # With A = identity anyone can "sign": S*B8 == R8. Strict verify refuses the key.
    trivial = Signature(mul_scalar(BASE8, 5), 5)
    assert equation_holds(MSG, trivial, IDENTITY)
    assert_rejected(MSG, trivial, IDENTITY, InvalidPublicKeyError)


def test_non_canonical_message() -> None:
    pub, sig = signed()
    assert_rejected(MSG + R, sig, pub, InvalidMessageError)
    assert_rejected(-1, sig, pub, InvalidMessageError)


def test_verify_never_raises_on_garbage() -> None:
    pub, sig = signed()
    assert not verify_poseidon(MSG, "sig", pub)  # type: ignore[arg-type]
    assert not verify_poseidon(MSG, sig, (1, 2))  # type: ignore[arg-type]
    assert not verify_poseidon("1", sig, pub)  # type: ignore[arg-type]
    assert not verify_poseidon(MSG, Signature(sig.R8, "5"), pub)  # type: ignore[arg-type]


# --- serialisation ------------------------------------------------------------------


def test_dict_round_trip() -> None:
    pub, sig = signed()
    d = public_key_to_dict(pub)
    assert d == {"x": str(pub.x), "y": str(pub.y)}
    assert public_key_from_dict(json.loads(json.dumps(d))) == pub
    sd = signature_to_dict(sig)
    assert sd == {"R8": {"x": str(sig.R8.x), "y": str(sig.R8.y)}, "S": str(sig.S)}
    assert signature_from_dict(sd) == sig


@pytest.mark.parametrize("bad", ["01", "+1", " 1", "1 ", "1_0", "-1", "", "0x1", "١"])
def test_dict_rejects_non_canonical_decimals(bad: str) -> None:
    _, sig = signed()
    sd = signature_to_dict(sig)
    sd["S"] = bad
    with pytest.raises(SerializationError):
        signature_from_dict(sd)


def test_dict_rejects_invalid_values() -> None:
    pub, sig = signed()
    cases: list[Any] = [
        {"x": str(pub.x)},
        {"x": str(pub.x), "y": str(pub.y), "z": "0"},
        {"x": pub.x, "y": pub.y},
        {"x": str(pub.x + R), "y": str(pub.y)},
        {"x": str(pub.x), "y": str(pub.y + 1)},
        public_key_to_dict(add(pub, order8_point())),
        public_key_to_dict(IDENTITY),
        [str(pub.x), str(pub.y)],
    ]
    for case in cases:
        with pytest.raises(SerializationError):
            public_key_from_dict(case)
    sd = signature_to_dict(sig)
    for bad_sig in (
        {**sd, "S": str(sig.S + SUBORDER)},
        {**sd, "R8": {"x": "1", "y": "1"}},
        {"R8": sd["R8"]},
    ):
        with pytest.raises(SerializationError):
            signature_from_dict(bad_sig)


def test_pack_signature_layout_and_rejections() -> None:
    _, sig = signed()
    packed = pack_signature(sig)
    assert len(packed) == 64
    assert packed[:32] == pack_point(sig.R8)
    assert int.from_bytes(packed[32:], "little") == sig.S
    with pytest.raises(SerializationError, match="64 bytes"):
        unpack_signature(packed[:63])
    with pytest.raises(SerializationError, match="S"):
        unpack_signature(packed[:32] + (sig.S + SUBORDER).to_bytes(32, "little"))
    with pytest.raises(SerializationError, match="R8"):
        unpack_signature(R.to_bytes(32, "little") + packed[32:])
    with pytest.raises(SerializationError):
        pack_signature(Signature(sig.R8, SUBORDER))


# --- golden vectors from circomlibjs ------------------------------------------------


def run_vectors(request: dict[str, Any]) -> dict[str, Any]:
    return run_json(["node", VECTORS_JS], input=json.dumps(request), timeout=120)


def dec(p: Point) -> list[str]:
    return [str(p.x), str(p.y)]


@pytest.mark.slow
def test_matches_circomlibjs() -> None:
    rng = random.Random(0xB1A4E)
    keys = [rng.randbytes(32) for _ in range(6)] + [bytes(32), b"\xff" * 32]
    msgs = [0, R - 1, 1] + [rng.randrange(R) for _ in range(5)]
    cases = list(zip(keys, msgs, strict=True))
    cases += [(keys[0], 0), (keys[0], R - 1), (keys[1], msgs[3])]

    # Tampered signatures: our strict verdict must be False; circomlibjs agrees
    # except for a pubkey shifted by a small-order point, which it accepts.
    pub, sig = prv2pub(keys[0]), sign_poseidon(keys[0], msgs[3])
    t = order8_point()
    r8 = mul_scalar(BASE8, 4242)
    twisted = add(pub, t)
    hm = poseidon([r8.x, r8.y, twisted.x, twisted.y, msgs[3]])
    twisted_sig = Signature(r8, (4242 + hm * 8 * _secret_shifted_scalar(keys[0])) % SUBORDER)
    tampered = [
        ("good", msgs[3], sig, pub, True, True),
        ("S+1", msgs[3], Signature(sig.R8, (sig.S + 1) % SUBORDER), pub, False, False),
        ("S+l", msgs[3], Signature(sig.R8, sig.S + SUBORDER), pub, False, False),
        ("R8+T", msgs[3], Signature(add(sig.R8, t), sig.S), pub, False, False),
        ("wrong msg", msgs[3] + 1, sig, pub, False, False),
        ("wrong key", msgs[3], sig, prv2pub(keys[1]), False, False),
        ("A+T", msgs[3], twisted_sig, twisted, True, False),
    ]

    blake_inputs = [b"", b"\x00", bytes(144)] + [
        rng.randbytes(n) for n in (1, 32, 64, 111, 112, 113, 127, 128, 129, 239, 240, 256, 1000)
    ]

    out = run_vectors(
        {
            "sign": [{"key": k.hex(), "msg": str(m)} for k, m in cases],
            "verify": [
                {"msg": str(m), "R8": dec(s.R8), "S": str(s.S), "A": dec(a)}
                for _, m, s, a, _, _ in tampered
            ],
            "blake": [b.hex() for b in blake_inputs],
        }
    )

    for (key, msg), js in zip(cases, out["sign"], strict=True):
        pub = prv2pub(key)
        sig = sign_poseidon(key, msg)
        assert dec(pub) == js["A"]
        assert dec(sig.R8) == js["R8"]
        assert str(sig.S) == js["S"]
        assert js["verify"] is True and verify_poseidon(msg, sig, pub)
        assert pack_point(pub).hex() == js["packedA"]
        assert pack_signature(sig).hex() == js["packedSignature"]
        assert unpack_signature(bytes.fromhex(js["packedSignature"])) == sig

    for (name, msg, sig, pub, js_expected, ours), js in zip(tampered, out["verify"], strict=True):
        assert js is js_expected, name
        assert verify_poseidon(msg, sig, pub) is ours, name

    for data, digest in zip(blake_inputs, out["blake"], strict=True):
        assert blake512(data).hex() == digest
