"""Ledger integrity: the hash chain and the operator's signature on every entry.

Every entry after genesis carries ``prev_hash``, the SHA-256 (hex) of the
previous entry's canonical JSON (sorted keys, no whitespace, signature
included), so entry N commits to the whole history before it; genesis's hash
is the ledger id that ``darkpool-verify --genesis`` pins. Every entry,
genesis included, carries ``signature``: EdDSA-Poseidon (Baby Jubjub, the
scheme of ``verifier.eddsa``) by the operator key published in genesis
(``operator_pubkey``) over

    Poseidon(ENTRY_TAG, digest >> 128, digest mod 2^128)

where ``digest`` is the SHA-256 of the entry's canonical JSON without the
``signature`` field and ``ENTRY_TAG = domain_tag("ledger-entry", exchange_id)``
(no other signed message of the exchange can verify as an entry). The chain
lets a resumed verifier detect a rewritten past entry; the signature makes two
different histories provable: anyone holding an old signed entry can show the
operator equivocated. EdDSA-Poseidon was chosen over Ed25519 so the verifier
keeps one signature scheme and no native dependency.
"""

from collections.abc import Mapping
from typing import Any

from verifier.babyjub import Point
from verifier.eddsa import PrivateKey, signature_to_dict, verify_poseidon
from verifier.ledger.parse import EntryError, canonical_json_hash, signature
from verifier.params import domain_tag
from verifier.poseidon import poseidon

__all__ = [
    "entry_hash",
    "entry_message",
    "entry_tag",
    "sign_entry",
    "unsigned_digest",
    "verify_entry_signature",
]

_LOW128 = (1 << 128) - 1


def entry_tag(exchange_id: str) -> int:
    """Domain tag of ledger-entry signatures for one exchange."""
    return domain_tag("ledger-entry", exchange_id)


def entry_hash(obj: object) -> str:
    """SHA-256 hex of the entry's canonical JSON, signature included (the next ``prev_hash``)."""
    return canonical_json_hash(obj)


def unsigned_digest(obj: Mapping[str, Any]) -> str:
    """SHA-256 hex of the entry's canonical JSON without ``signature`` (what is signed)."""
    return canonical_json_hash({k: v for k, v in obj.items() if k != "signature"})


def entry_message(tag: int, digest_hex: str) -> int:
    """The field element the operator signs for an entry with ``unsigned_digest`` digest_hex."""
    d = int(digest_hex, 16)
    return poseidon([tag, d >> 128, d & _LOW128])


def sign_entry(key: PrivateKey, tag: int, obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` with its ``signature`` field set (any previous signature is replaced)."""
    unsigned = {k: v for k, v in obj.items() if k != "signature"}
    sig = key.sign(entry_message(tag, unsigned_digest(unsigned)))
    return {**unsigned, "signature": signature_to_dict(sig)}


def verify_entry_signature(obj: Mapping[str, Any], tag: int, operator_key: Point) -> None:
    """Raise EntryError unless ``obj['signature']`` is the operator's signature of ``obj``."""
    if "signature" not in obj:
        raise EntryError("entry has no operator signature")
    sig = signature(obj["signature"], "signature")
    if not verify_poseidon(entry_message(tag, unsigned_digest(obj)), sig, operator_key):
        raise EntryError("operator signature does not verify under the genesis operator key")
