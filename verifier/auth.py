"""Request authentication shared by the service and the client SDK (docs/wire-protocol.md).

A request on behalf of account ``i`` carries three headers:

* ``X-Darkpool-Account``: ``i`` (decimal);
* ``X-Darkpool-Timestamp``: Unix time in **milliseconds** (decimal), at most
  48 bits; it is also the request's nonce: a client signs each request with a
  new value (the SDK keeps them strictly increasing), so two identical
  requests in the same second are two different messages;
* ``X-Darkpool-Signature``: the EdDSA-Poseidon signature by the account key,
  either the ``verifier.eddsa.signature_to_dict`` JSON or the 64-byte
  ``pack_signature`` form as 128 hex digits,

over ``Poseidon(AUTH_TAG, i, timestamp_ms, sha256(METHOD + " " + TARGET + "\n" + BODY) mod r)``
where TARGET is the path with its query string (``/v1/accounts/3/inclusion?root=..``)
and BODY the raw request body bytes. ``AUTH_TAG`` is
``verifier.params.domain_tag("auth", exchange_id)``, so a request signature can
never pass as an order, cancel, withdraw or oracle signature, nor on another
exchange. The service accepts a timestamp within ``window`` seconds of its
clock and remembers each (account, message) until it expires, so a captured
request cannot be replayed.

Opening an account has no index yet: its body carries the new public key, the
amount, a timestamp (Unix **seconds**) and a signature over
``Poseidon(AUTH_TAG, pub.x, pub.y, amount, timestamp)`` (five inputs, so it
never collides with the four-input request message).

Pure functions; no I/O, no clock (callers pass ``now_ms``). Never logs keys.
"""

import hashlib
import json
import re
from dataclasses import dataclass

from verifier.account_state import SlottedOrder
from verifier.babyjub import Point
from verifier.eddsa import (
    PrivateKey,
    SerializationError,
    Signature,
    SignatureError,
    check_signature,
    pack_signature,
    signature_from_dict,
    signature_to_dict,
    unpack_signature,
)
from verifier.field import FieldError, R, require_canonical, unsigned_in_range
from verifier.params import AMOUNT_BITS, TIME_BITS
from verifier.poseidon import poseidon

HEADER_ACCOUNT = "X-Darkpool-Account"
HEADER_TIMESTAMP = "X-Darkpool-Timestamp"
HEADER_SIGNATURE = "X-Darkpool-Signature"
DEFAULT_WINDOW_S = 30
_CANONICAL = re.compile(r"(?:0|[1-9][0-9]{0,77})")


class AuthError(ValueError):
    """A request's authentication headers are missing, malformed, stale or do not verify."""


@dataclass(frozen=True)
class AuthClaim:
    """What a verified request proves: ``account`` signed ``message`` at ``timestamp_ms``."""

    account: int
    timestamp_ms: int
    message: int


def body_digest(method: str, target: str, body: bytes) -> int:
    """sha256(METHOD + " " + TARGET + "\\n" + BODY) as an integer mod r."""
    data = f"{method.upper()} {target}\n".encode() + body
    return int.from_bytes(hashlib.sha256(data).digest(), "big") % R


def request_message(
    auth_tag: int, account: int, timestamp_ms: int, method: str, target: str, body: bytes
) -> int:
    """The field element an account signs to authenticate one request (time in ms)."""
    return poseidon(
        [
            require_canonical(auth_tag, "auth_tag"),
            require_canonical(account, "account"),
            unsigned_in_range(timestamp_ms, TIME_BITS, "timestamp"),
            body_digest(method, target, body),
        ]
    )


def open_account_message(auth_tag: int, pubkey: Point, amount: int, timestamp: int) -> int:
    """Signed by a new key to open an account: proves possession of the key."""
    return poseidon(
        [
            require_canonical(auth_tag, "auth_tag"),
            require_canonical(pubkey.x, "pubkey.x"),
            require_canonical(pubkey.y, "pubkey.y"),
            unsigned_in_range(amount, AMOUNT_BITS, "amount"),
            unsigned_in_range(timestamp, TIME_BITS, "timestamp"),
        ]
    )


def sign_request(
    key: PrivateKey,
    auth_tag: int,
    account: int,
    method: str,
    target: str,
    body: bytes,
    timestamp_ms: int,
) -> dict[str, str]:
    """The three auth headers for one request (signature in the packed hex form).

    ``timestamp_ms`` is Unix milliseconds; sign every request with a new one.
    """
    msg = request_message(auth_tag, account, timestamp_ms, method, target, body)
    return {
        HEADER_ACCOUNT: str(account),
        HEADER_TIMESTAMP: str(timestamp_ms),
        HEADER_SIGNATURE: pack_signature(key.sign(msg)).hex(),
    }


def parse_signature(value: str) -> Signature:
    """A signature header or field: signature JSON or 128 hex digits (packed)."""
    value = value.strip()
    try:
        if value.startswith("{"):
            return signature_from_dict(json.loads(value))
        if len(value) != 128:
            raise AuthError("signature must be JSON or 128 hex digits")
        return unpack_signature(bytes.fromhex(value))
    except (SerializationError, json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, AuthError):
            raise
        raise AuthError(f"malformed signature: {exc}") from None


def _decimal(value: str | None, name: str, bits: int) -> int:
    if value is None:
        raise AuthError(f"missing header {name}")
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        raise AuthError(f"header {name} must be a decimal integer")
    try:
        return unsigned_in_range(int(value), bits, name)
    except FieldError as exc:
        raise AuthError(str(exc)) from None


def parse_headers(
    account: str | None, timestamp: str | None, signature: str | None
) -> tuple[int, int, Signature]:
    """(account, timestamp_ms, signature) from the raw header values; raises AuthError."""
    index = _decimal(account, HEADER_ACCOUNT, 32)
    ts = _decimal(timestamp, HEADER_TIMESTAMP, TIME_BITS)
    if signature is None:
        raise AuthError(f"missing header {HEADER_SIGNATURE}")
    return index, ts, parse_signature(signature)


def verify_request(
    *,
    auth_tag: int,
    account: int,
    timestamp_ms: int,
    signature: Signature,
    pubkey: Point,
    method: str,
    target: str,
    body: bytes,
    now_ms: int,
    window: int = DEFAULT_WINDOW_S,
) -> AuthClaim:
    """Check freshness (``window`` seconds) and the signature; the caller must still
    reject a replayed claim. Both times are Unix milliseconds."""
    if abs(now_ms - timestamp_ms) > window * 1000:
        hint = (
            " (it looks like seconds; the header is Unix milliseconds)"
            if (timestamp_ms < 10**11 <= now_ms)
            else ""
        )
        raise AuthError(
            f"request timestamp {timestamp_ms} is more than {window}s from now ({now_ms} ms){hint}"
        )
    msg = request_message(auth_tag, account, timestamp_ms, method, target, body)
    try:
        check_signature(msg, signature, pubkey)
    except SignatureError as exc:
        raise AuthError(f"request signature rejected: {exc}") from None
    return AuthClaim(account, timestamp_ms, msg)


# ---------------------------------------------------------------- sealed orders
#
# The plaintext a trader seals to the operator's X25519 key (libsodium sealed
# box) is UTF-8 JSON: {"order": {SLOTTED_ORDER_FIELDS}, "signature":
# signature_to_dict}, every integer a decimal string, ``reduce_only`` "0" or
# "1"; ``order_id`` is trader-chosen (its slot is order_id mod
# 4^slot_levels). Client and service use slotted_order_plaintext /
# parse_slotted_order_plaintext and nothing else; the signature is over
# verifier.account_state.order_hash. A cancel is signed over
# verifier.account_state.cancel_order_message(CANCEL_TAG, h).

SLOTTED_ORDER_FIELDS = (
    "account",
    "order_id",
    "market",
    "side",
    "size",
    "limit_price",
    "expiry",
    "reduce_only",
    "salt",
)
MAX_ORDER_PLAINTEXT = 4096


class OrderFormatError(ValueError):
    """A decrypted order is not the JSON form above."""


def slotted_order_plaintext(order: SlottedOrder, signature: Signature) -> bytes:
    """The sealed plaintext of a slotted order (``reduce_only`` as "0" / "1")."""
    terms = {name: str(getattr(order, name)) for name in SLOTTED_ORDER_FIELDS}
    terms["reduce_only"] = str(order.flags)
    body = {"order": terms, "signature": signature_to_dict(signature)}
    return json.dumps(body, separators=(",", ":")).encode()


def _parse_sealed(data: bytes, fields: tuple[str, ...]) -> tuple[dict[str, int], Signature]:
    """The integer terms (exactly ``fields``) and the signature of a sealed-order plaintext."""
    if len(data) > MAX_ORDER_PLAINTEXT:
        raise OrderFormatError("order plaintext is too large")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise OrderFormatError("order plaintext is not UTF-8 JSON") from None
    if not isinstance(obj, dict) or set(obj) != {"order", "signature"}:
        raise OrderFormatError("order plaintext must have exactly the keys order and signature")
    terms = obj["order"]
    if not isinstance(terms, dict) or set(terms) != set(fields):
        raise OrderFormatError(f"order must have exactly the fields {', '.join(fields)}")
    values: dict[str, int] = {}
    for name in fields:
        v = terms[name]
        if not isinstance(v, str) or not _CANONICAL.fullmatch(v):
            raise OrderFormatError(f"order {name} must be a canonical decimal string")
        n = int(v)
        if n >= R:
            raise OrderFormatError(f"order {name} is not below the field modulus")
        values[name] = n
    try:
        signature = signature_from_dict(obj["signature"])
    except SerializationError as exc:
        raise OrderFormatError(f"order signature: {exc}") from None
    return values, signature


def parse_slotted_order_plaintext(data: bytes) -> tuple[SlottedOrder, Signature]:
    """Inverse of ``slotted_order_plaintext``; ``reduce_only`` must be "0" or "1".

    Values must be canonical decimals below r; term ranges (order id width,
    markets, sizes) are the intake's checks (``SlottedOrder.check_ranges``).
    """
    values, signature = _parse_sealed(data, SLOTTED_ORDER_FIELDS)
    flag = values.pop("reduce_only")
    if flag not in (0, 1):
        raise OrderFormatError("order reduce_only must be 0 or 1")
    return SlottedOrder(**values, reduce_only=bool(flag)), signature
