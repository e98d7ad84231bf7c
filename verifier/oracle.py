"""Oracle price reports: the one signed-message format, its JSON, and stress marks.

A report is what the independent oracle signs (EdDSA-Poseidon, its own key):

    message = Poseidon(ORACLE_TAG, kind, seq, timestamp, Poseidon(marks), Poseidon(index))

``ORACLE_TAG = domain_tag("oracle", exchange_id)`` separates it from every
other signed message of the exchange; ``kind`` separates report kinds (only
``MARK`` = 1, a real report, exists: stress scenarios are never signed).
``seq`` is the oracle's own counter (strictly increasing per key),
``timestamp`` unix seconds from the oracle's clock, ``marks`` the mark prices
(integer ticks, what the circuits take as ``prices``) and ``index`` the index
(spot) prices, one per market.

JSON (docs/ledger.md): ``{"kind": "mark", "seq": n, "timestamp": t,
"marks": ["<dec>", ...], "index": ["<dec>", ...], "signature": {...}}``.

``stressed_prices`` derives a stress scenario's marks from a real report and a
public shock vector; the verifier recomputes it, so nobody signs shocked
prices. Pure: no I/O; never imports prover or exchange.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.babyjub import BabyJubError, Point, pack_point, unpack_point
from verifier.eddsa import (
    PrivateKey,
    SerializationError,
    Signature,
    SignatureError,
    check_public_key,
    relaxed_signature_dict,
    signature_from_dict,
    signature_to_dict,
    verify_poseidon,
)
from verifier.field import FieldError, require_canonical, unsigned_in_range
from verifier.params import BPS_DENOM, PRICE_BITS, TIME_BITS
from verifier.poseidon import poseidon

__all__ = [
    "MAX_SHOCK_BPS",
    "REPORT_KINDS",
    "OracleFormatError",
    "OracleReport",
    "key_hex",
    "parse_key_hex",
    "report_message",
    "sign_report",
    "stressed_prices",
]

#: Report kinds and their message codes. Only real mark reports are signed.
REPORT_KINDS: dict[str, int] = {"mark": 1}

#: A shock moves a price by s bps with -10000 < s <= MAX_SHOCK_BPS (+10000% at most).
MAX_SHOCK_BPS = 100 * BPS_DENOM


class OracleFormatError(ValueError):
    """A report, shock vector or key is malformed (one-line reason)."""


def _prices_hash(prices: Sequence[int], what: str) -> int:
    if not 1 <= len(prices) <= 16:
        raise FieldError("an oracle report covers 1..16 markets")
    return poseidon([unsigned_in_range(p, PRICE_BITS, what) for p in prices])


def report_message(
    oracle_tag: int,
    kind: str,
    seq: int,
    timestamp: int,
    marks: Sequence[int],
    index: Sequence[int],
) -> int:
    """The field element the oracle signs; raises FieldError / OracleFormatError if out of range."""
    if kind not in REPORT_KINDS:
        raise OracleFormatError(f"unknown report kind {kind!r:.20}")
    if len(index) != len(marks):
        raise OracleFormatError(f"{len(index)} index prices for {len(marks)} marks")
    return poseidon(
        [
            require_canonical(oracle_tag, "oracle_tag"),
            REPORT_KINDS[kind],
            require_canonical(seq, "seq"),
            unsigned_in_range(timestamp, TIME_BITS, "timestamp"),
            _prices_hash(marks, "mark price"),
            _prices_hash(index, "index price"),
        ]
    )


def _uint(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise OracleFormatError(f"{what} must be an integer, not a boolean")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit() and (value == "0" or value[0] != "0"):
        return int(value)
    raise OracleFormatError(f"{what} must be a non-negative integer, got {value!r:.60}")


def _prices(obj: object, markets: int, what: str) -> tuple[int, ...]:
    if not isinstance(obj, list):
        raise OracleFormatError(f"{what} must be a list, got {type(obj).__name__}")
    if len(obj) != markets:
        raise OracleFormatError(f"{what} has {len(obj)} prices for {markets} markets")
    out = []
    for i, p in enumerate(obj):
        v = _uint(p, f"{what}[{i}]")
        if v >= 1 << PRICE_BITS:
            raise OracleFormatError(f"{what}[{i}] = {v} does not fit in {PRICE_BITS} bits")
        out.append(v)
    return tuple(out)


@dataclass(frozen=True)
class OracleReport:
    """One signed report; prices in integer ticks per market, ``timestamp`` in unix seconds."""

    kind: str
    seq: int
    timestamp: int
    marks: tuple[int, ...]
    index: tuple[int, ...]
    signature: Signature

    @property
    def prices(self) -> tuple[int, ...]:
        """The mark prices (what the circuits call ``prices``)."""
        return self.marks

    def message(self, oracle_tag: int) -> int:
        return report_message(
            oracle_tag, self.kind, self.seq, self.timestamp, self.marks, self.index
        )

    def verify(self, oracle_tag: int, oracle_pubkey: Point) -> bool:
        """True when the signature verifies under ``oracle_pubkey`` for this exchange's tag."""
        try:
            msg = self.message(oracle_tag)
        except (FieldError, OracleFormatError):
            return False
        return verify_poseidon(msg, self.signature, oracle_pubkey)

    def same_content(self, other: "OracleReport") -> bool:
        """Equal signed content (the signature itself may differ: EdDSA here is deterministic)."""
        return (self.kind, self.seq, self.timestamp, self.marks, self.index) == (
            other.kind,
            other.seq,
            other.timestamp,
            other.marks,
            other.index,
        )

    @classmethod
    def from_json(cls, obj: object, markets: int, what: str = "oracle report") -> "OracleReport":
        """Strict parse; raises OracleFormatError naming ``what``'s field."""
        if not isinstance(obj, Mapping):
            raise OracleFormatError(f"{what} must be a JSON object, got {type(obj).__name__}")
        for key in ("kind", "seq", "timestamp", "marks", "index", "signature"):
            if key not in obj:
                raise OracleFormatError(f"{what} has no {key!r}")
        kind = obj["kind"]
        if not isinstance(kind, str) or kind not in REPORT_KINDS:
            raise OracleFormatError(f"{what}.kind {kind!r:.20} is not a signed report kind")
        seq = _uint(obj["seq"], f"{what}.seq")
        timestamp = _uint(obj["timestamp"], f"{what}.timestamp")
        if timestamp >= 1 << TIME_BITS:
            raise OracleFormatError(f"{what}.timestamp does not fit in {TIME_BITS} bits")
        marks = _prices(obj["marks"], markets, f"{what}.marks")
        index = _prices(obj["index"], markets, f"{what}.index")
        sig_obj = obj["signature"]
        if isinstance(sig_obj, Mapping):
            sig_obj = relaxed_signature_dict(sig_obj)
        try:
            signature = signature_from_dict(sig_obj)
        except SerializationError as exc:
            raise OracleFormatError(f"{what}.signature is malformed: {exc}") from None
        return cls(kind, seq, timestamp, marks, index, signature)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "seq": self.seq,
            "timestamp": self.timestamp,
            "marks": [str(p) for p in self.marks],
            "index": [str(p) for p in self.index],
            "signature": signature_to_dict(self.signature),
        }


def sign_report(
    key: PrivateKey,
    oracle_tag: int,
    seq: int,
    timestamp: int,
    marks: Sequence[int],
    index: Sequence[int] | None = None,
) -> OracleReport:
    """Sign a real mark report (the oracle's side); ``index`` defaults to the marks."""
    idx = tuple(marks) if index is None else tuple(index)
    try:
        msg = report_message(oracle_tag, "mark", seq, timestamp, marks, idx)
    except FieldError as exc:
        raise OracleFormatError(f"cannot sign report: {exc}") from None
    return OracleReport("mark", seq, timestamp, tuple(marks), idx, key.sign(msg))


def stressed_prices(marks: Sequence[int], shock_bps: Sequence[int]) -> tuple[int, ...]:
    """Marks of a stress scenario: ``max(1, p * (10000 + s) // 10000)`` per market.

    ``shock_bps[m]`` is a signed shock in basis points with
    ``-10000 < s <= MAX_SHOCK_BPS``; the result must fit in PRICE_BITS.
    Raises OracleFormatError otherwise. Exact integer arithmetic.
    """
    if len(shock_bps) != len(marks):
        raise OracleFormatError(f"{len(shock_bps)} shocks for {len(marks)} markets")
    out = []
    for m, (p, s) in enumerate(zip(marks, shock_bps, strict=True)):
        if isinstance(s, bool) or not isinstance(s, int) or not -BPS_DENOM < s <= MAX_SHOCK_BPS:
            raise OracleFormatError(
                f"shock_bps[{m}] must be an integer in ({-BPS_DENOM}, {MAX_SHOCK_BPS}]"
            )
        q = max(1, p * (BPS_DENOM + s) // BPS_DENOM)
        if q >= 1 << PRICE_BITS:
            raise OracleFormatError(
                f"stressed mark of market {m} does not fit in {PRICE_BITS} bits"
            )
        out.append(q)
    return tuple(out)


def key_hex(pub: Point) -> str:
    """The compressed public key as 64 hex digits (what ``--oracle-key`` takes)."""
    return pack_point(pub).hex()


def parse_key_hex(text: str, what: str = "key") -> Point:
    """Inverse of ``key_hex``; raises OracleFormatError with a one-line reason."""
    try:
        data = bytes.fromhex(text.strip())
    except ValueError:
        raise OracleFormatError(f"{what} must be 64 hex digits") from None
    if len(data) != 32:
        raise OracleFormatError(f"{what} must be 64 hex digits")
    try:
        return check_public_key(unpack_point(data))
    except (BabyJubError, SignatureError) as exc:
        raise OracleFormatError(f"{what} is not a valid public key: {exc}") from None
