"""Test vectors of docs/wire-protocol.md, computed by the project's own code.

``uv run python -m tests.client.wire_vectors`` prints the JSON block that the
document embeds; ``tests/client/test_wire_protocol.py`` checks the document
still equals this output and that an independent Node client (circomlibjs)
derives the same values from the document's inputs.
"""

import hashlib
import json
import sys
from typing import Any

from verifier import auth
from verifier.account_state import (
    AccountRecord,
    SlottedOrder,
    cancel_order_message,
    checkpoints_hash,
    order_hash,
    positions_hash,
)
from verifier.eddsa import PrivateKey, pack_signature, signature_to_dict
from verifier.encoding import withdraw_message
from verifier.field import R, signed_to_field
from verifier.params import BALANCE_BITS, FUNDING_BITS, POSITION_BITS
from verifier.protocol import Tags

EXCHANGE_ID = "darkpool-dev"
SEED_HEX = "01" * 32


def _sig(key: PrivateKey, msg: int) -> dict[str, Any]:
    sig = key.sign(msg)
    return {"json": signature_to_dict(sig), "packed_hex": pack_signature(sig).hex()}


def _request(
    key: PrivateKey, tags: Tags, account: int, ts_ms: int, method: str, target: str, body: bytes
) -> dict[str, Any]:
    preimage = f"{method} {target}\n".encode() + body
    digest = hashlib.sha256(preimage).digest()
    msg = auth.request_message(tags.auth, account, ts_ms, method, target, body)
    headers = auth.sign_request(key, tags.auth, account, method, target, body, ts_ms)
    return {
        "account": account,
        "timestamp_ms": ts_ms,
        "method": method,
        "target": target,
        "body_utf8": body.decode(),
        "digest_preimage_hex": preimage.hex(),
        "sha256_hex": digest.hex(),
        "digest_mod_r": str(int.from_bytes(digest, "big") % R),
        "message": str(msg),
        "signature": _sig(key, msg),
        "headers": headers,
    }


def vectors() -> dict[str, Any]:
    tags = Tags.for_exchange(EXCHANGE_ID)
    key = PrivateKey(bytes.fromhex(SEED_HEX))
    pub = key.public_key()
    out: dict[str, Any] = {"exchange_id": EXCHANGE_ID, "field_modulus_r": str(R)}
    out["tags"] = {
        kind: {
            "preimage": f"darkpool/v1/{kind}/{EXCHANGE_ID}",
            "sha256_hex": hashlib.sha256(f"darkpool/v1/{kind}/{EXCHANGE_ID}".encode()).hexdigest(),
            "tag": str(getattr(tags, kind)),
        }
        for kind in ("order", "withdraw", "cancel", "auth", "oracle")
    }
    out["key"] = {"seed_hex": SEED_HEX, "pubkey": {"x": str(pub.x), "y": str(pub.y)}}

    open_ts, open_amount = 1_764_500_000, 1_000_000
    open_msg = auth.open_account_message(tags.auth, pub, open_amount, open_ts)
    out["open_account"] = {
        "amount": str(open_amount),
        "timestamp": open_ts,
        "message": str(open_msg),
        "signature": _sig(key, open_msg),
    }
    ts_ms = 1_764_500_000_123
    out["requests"] = [
        _request(key, tags, 1, ts_ms, "GET", "/v1/accounts/1", b""),
        _request(key, tags, 1, ts_ms + 1, "GET", "/v1/accounts/1", b""),
        _request(key, tags, 1, ts_ms + 2, "POST", "/v1/accounts/1/deposit", b'{"amount":"500"}'),
        _request(key, tags, 1, ts_ms + 3, "GET", "/v1/accounts/1/inclusion?root=42", b""),
    ]
    wd = withdraw_message(tags.withdraw, 1, 1_000, 0)
    out["withdraw"] = {
        "account": 1,
        "amount": "1000",
        "nonce": 0,
        "message": str(wd),
        "signature": _sig(key, wd),
    }
    order = SlottedOrder(1, 17, 0, 0, 2, 61_000, 1_764_503_600, False, salt=123_456_789)
    h = order_hash(tags.order, order)
    order_sig = key.sign(h)
    out["order"] = {
        "terms": {name: str(int(getattr(order, name))) for name in auth.SLOTTED_ORDER_FIELDS},
        "commitment": str(h),
        "signature": _sig(key, h),
        "sealed_plaintext_utf8": auth.slotted_order_plaintext(order, order_sig).decode(),
    }
    cm = cancel_order_message(tags.cancel, h)
    out["cancel"] = {"commitment": str(h), "message": str(cm), "signature": _sig(key, cm)}
    record = AccountRecord(pub.x, pub.y, -5, (2, -3), (40, -7), 4_242, nonce=1, blinding=777)
    out["account_leaf"] = {
        "balance": str(record.balance),
        "balance_field": str(signed_to_field(record.balance, BALANCE_BITS)),
        "positions": [str(p) for p in record.positions],
        "positions_field": [str(signed_to_field(p, POSITION_BITS)) for p in record.positions],
        "positions_hash": str(positions_hash(record.positions)),
        "checkpoints": [str(c) for c in record.checkpoints],
        "checkpoints_field": [str(signed_to_field(c, FUNDING_BITS)) for c in record.checkpoints],
        "checkpoints_hash": str(checkpoints_hash(record.checkpoints)),
        "order_root": str(record.order_root),
        "nonce": record.nonce,
        "blinding": str(record.blinding),
        "leaf": str(record.leaf()),
    }
    return out


def main() -> None:
    json.dump(vectors(), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
