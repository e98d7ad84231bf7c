"""Client-side pieces without a server: auth messages, sealed-order format, inclusion, export."""

import base64
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from nacl.public import PrivateKey as BoxKey
from nacl.public import SealedBox

from client.sdk import DarkpoolClient, write_export
from verifier import auth
from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
from verifier.eddsa import (
    PrivateKey,
    check_signature,
    pack_signature,
    signature_from_dict,
    signature_to_dict,
)
from verifier.export import LedgerError
from verifier.field import R
from verifier.ledger import entry_hash
from verifier.protocol import Tags

TAGS = Tags.for_exchange("darkpool-dev")


def test_request_signature_binds_method_target_body_and_time() -> None:
    key = PrivateKey(b"\x07" * 32)
    headers = auth.sign_request(key, TAGS.auth, 3, "POST", "/v1/x?a=1", b"{}", 1_000)
    account, ts, sig = auth.parse_headers(
        headers[auth.HEADER_ACCOUNT], headers[auth.HEADER_TIMESTAMP], headers[auth.HEADER_SIGNATURE]
    )
    args = dict(
        auth_tag=TAGS.auth,
        account=account,
        timestamp_ms=ts,
        signature=sig,
        pubkey=key.public_key(),
        method="POST",
        target="/v1/x?a=1",
        body=b"{}",
        now_ms=11_000,
    )
    assert auth.verify_request(**args).account == 3  # type: ignore[arg-type]
    for change in (
        {"method": "GET"},
        {"target": "/v1/x?a=2"},
        {"body": b"{ }"},
        {"account": 4},
        {"auth_tag": TAGS.order},
        {"now_ms": 31_001},
    ):
        with pytest.raises(auth.AuthError):
            auth.verify_request(**{**args, **change})  # type: ignore[arg-type]
    # the JSON form of the signature header is accepted too
    assert auth.parse_signature(json.dumps(signature_to_dict(sig))) == sig
    assert auth.parse_signature(pack_signature(sig).hex()) == sig
    for bad in ("", "ff" * 64, "{}", "zz" * 64):
        with pytest.raises(auth.AuthError):
            auth.parse_signature(bad)
    with pytest.raises(auth.AuthError):
        auth.parse_headers("-1", "5", pack_signature(sig).hex())


def test_slotted_order_plaintext_round_trip_and_strict_parsing() -> None:
    """The slots state's sealed order: order_id and reduce_only added, nothing else."""
    key = PrivateKey(b"\x09" * 32)
    order = SlottedOrder(1, 17, 0, 1, 5, 60_000, 2_000_000_000, reduce_only=True, salt=99)
    sig = key.sign(order_hash(TAGS.order, order))
    plaintext = auth.slotted_order_plaintext(order, sig)
    assert json.loads(plaintext)["order"]["reduce_only"] == "1"
    assert auth.parse_slotted_order_plaintext(plaintext) == (order, sig)
    plain = replace(order, reduce_only=False)
    assert auth.parse_slotted_order_plaintext(auth.slotted_order_plaintext(plain, sig))[0] == plain
    good = json.loads(plaintext)
    for mutate in (
        lambda d: d["order"].update(reduce_only="2"),  # a flag is 0 or 1
        lambda d: d["order"].update(order_id="017"),  # not canonical
        lambda d: d["order"].update(size=5),  # not a string
        lambda d: d["order"].update(salt=str(R)),  # beyond the field
        lambda d: d["order"].pop("order_id"),
        lambda d: d["order"].update(extra="1"),
        lambda d: d.update(extra=1),
    ):
        bad = json.loads(json.dumps(good))
        mutate(bad)
        with pytest.raises(auth.OrderFormatError):
            auth.parse_slotted_order_plaintext(json.dumps(bad).encode())
    # The retired list plaintext (seven fields, no order_id / reduce_only) does not parse.
    listed = json.loads(json.dumps(good))
    for name in ("order_id", "reduce_only"):
        del listed["order"][name]
    with pytest.raises(auth.OrderFormatError, match="exactly the fields"):
        auth.parse_slotted_order_plaintext(json.dumps(listed).encode())
    # Nor does a non-UTF-8 one.
    with pytest.raises(auth.OrderFormatError, match="UTF-8 JSON"):
        auth.parse_slotted_order_plaintext(b"\xff")


def test_write_export_refuses_gaps_and_broken_chains(tmp_path: Path) -> None:
    r = {"account": "1", "fill": "2", "order": "3"}
    r2 = {"account": "1", "fill": "2", "order": "4"}
    genesis = {"index": 0, "kind": "genesis", "roots_before": r, "roots_after": r}
    order = {
        "index": 1,
        "kind": "order",
        "prev_hash": entry_hash(genesis),
        "order_index": 0,
        "commitment": "9",
        "roots_before": r,
        "roots_after": r2,
    }
    out = write_export([genesis, order], {"account_op": {"k": 1}}, tmp_path / "ok")
    assert json.loads((out / "entries" / "000001.json").read_text()) == order
    with pytest.raises(ValueError, match="missing"):
        write_export([genesis, {**order, "index": 2}], {}, tmp_path / "gap")
    with pytest.raises(LedgerError, match="does not chain"):
        write_export([genesis, {**order, "prev_hash": "0" * 64}], {}, tmp_path / "broken")


def test_sdk_seals_slotted_orders_to_the_operator() -> None:
    """The client signs h = order_hash and seals the slotted plaintext to /v1/info's box key."""
    box = BoxKey.generate()
    info = {
        "exchange_id": "darkpool-dev",
        "state": "slots",
        "operator_box_public_key": bytes(box.public_key).hex(),
    }
    http = httpx.Client(
        base_url="http://x", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=info))
    )
    client = DarkpoolClient(http=http)
    key = PrivateKey(b"\x05" * 32)
    order = SlottedOrder(3, 9, 1, 0, 4, 1_000, 2_000_000_000, reduce_only=False, salt=5)
    h, ciphertext = client.seal_slotted(order, key)
    assert h == order_hash(TAGS.order, order)
    opened, sig = auth.parse_slotted_order_plaintext(
        SealedBox(box).decrypt(base64.b64decode(ciphertext))
    )
    assert opened == order
    check_signature(h, sig, key.public_key())
    cancel = signature_from_dict(client.slotted_cancel_signature(key, h))
    check_signature(cancel_order_message(TAGS.cancel, h), cancel, key.public_key())
