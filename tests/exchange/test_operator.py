"""The in-process operator: intake rejections change nothing; oracle reports and the ledger.

Operator tests run on a deep copy of the session's honest slots ledger
operator (tests/exchange/slots_ledger.py, built once with real proofs): no
proof of their own. Oracle and ledger unit tests need no circuits.
"""

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from exchange.operator import MarketSpec, OperatorError, RejectedOrder
from oracle.signer import SimulatedOracle
from prover.circuits import load_params
from tests.exchange.slots_ledger import NOW, SlotsLedger, slots_operator, stand_in_prover
from verifier.account_state import SlottedOrder, order_hash
from verifier.eddsa import PrivateKey, Signature, public_key_to_dict, verify_poseidon
from verifier.encoding import BUY, SELL
from verifier.export import Ledger, LedgerError, Roots
from verifier.field import R
from verifier.ledger import (
    DEFAULT_LIMITS_JSON,
    LEDGER_FORMAT,
    entry_hash,
    entry_tag,
    genesis_hash,
)
from verifier.ledger.chain import verify_entry_signature
from verifier.oracle import report_message, stressed_prices
from verifier.protocol import DEFAULT_EXCHANGE_ID, STATEMENTS, Tags
from verifier.quadtree import quad_zero_hashes

EXCHANGE = DEFAULT_EXCHANGE_ID  # the cached circuits; another id recompiles all three
TAGS = Tags.for_exchange(EXCHANGE)
MARKETS = [
    MarketSpec(0, "BTC-PERP", 1, 1, imf_bps=500, mmf_bps=300, fee_bps=5),
    MarketSpec(1, "ETH-PERP", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=5),
]


# ---------------------------------------------------------------- oracle (fast)


def test_oracle_reports_are_signed_and_deterministic() -> None:
    a = SimulatedOracle([60_000, 3_000], TAGS.oracle, seed=3, key=PrivateKey(b"\x01" * 32))
    b = SimulatedOracle([60_000, 3_000], TAGS.oracle, seed=3, key=PrivateKey(b"\x01" * 32))
    assert [a.prices_at(i) for i in range(6)] == [b.prices_at(i) for i in range(6)]
    assert len({a.prices_at(i) for i in range(6)}) > 1  # the walk moves
    report = a.report(4, NOW)
    assert report.prices == a.prices_at(4) and report.seq == 4 and report.kind == "mark"
    msg = report_message(TAGS.oracle, "mark", 4, NOW, report.marks, report.index)
    assert verify_poseidon(msg, report.signature, a.public_key)
    assert not report.verify(Tags.for_exchange("elsewhere").oracle, a.public_key)
    # Stress marks are derived, never signed: changing the marks breaks the signature.
    stressed = stressed_prices(report.marks, [-2_000, -2_000])
    assert stressed == tuple(p * 8_000 // 10_000 for p in report.prices)
    assert not replace(report, marks=stressed).verify(TAGS.oracle, a.public_key)


# ---------------------------------------------------------------- ledger (fast)


def _genesis_body() -> dict[str, object]:
    params = load_params("test")
    oracle = PrivateKey(b"\x09" * 32).public_key()
    return {
        "exchange_id": EXCHANGE,
        "params": params.to_dict(),
        "markets": [m.to_dict() for m in MARKETS],
        "oracle_pubkey": public_key_to_dict(oracle),
        "operator_pubkey": public_key_to_dict(OPERATOR_KEY.public_key()),
        "limits": DEFAULT_LIMITS_JSON,
        "state": "slots",
        "vkey_hashes": {s: "0" * 64 for s in STATEMENTS},
    }


OPERATOR_KEY = PrivateKey(b"\x07" * 32)


def test_ledger_refuses_a_broken_chain_and_exports_the_layout(tmp_path: Path) -> None:
    params = load_params("test")
    empty = 0  # a slots ledger has no order list or fill tree
    r0 = Roots(quad_zero_hashes(params.account_levels)[-1], empty, empty)
    elsewhere = Roots(9, empty, empty)
    ledger = Ledger(OPERATOR_KEY, EXCHANGE)
    with pytest.raises(LedgerError, match="would not verify"):
        ledger.append("genesis", r0, r0, {"exchange_id": EXCHANGE})  # not a genesis
    genesis = ledger.append("genesis", r0, r0, _genesis_body())
    first = ledger.append("order", r0, r0, {"order_index": 0, "commitment": "9"}, time=NOW)
    with pytest.raises(LedgerError, match="latest roots"):
        ledger.append("order", elsewhere, elsewhere, {"order_index": 1, "commitment": "10"})
    with pytest.raises(LedgerError, match="genesis"):
        ledger.append("genesis", r0, r0, {})
    assert len(ledger) == 2
    # Hash-chained and signed by the operator key published in genesis.
    assert (
        first.to_dict()["prev_hash"]
        == entry_hash(genesis.to_dict())
        == genesis_hash(genesis.to_dict())
    )
    assert first.time == NOW
    verify_entry_signature(first.to_dict(), entry_tag(EXCHANGE), OPERATOR_KEY.public_key())
    out = ledger.export(tmp_path / "x", {"account_update": {"k": 1}})
    assert json.loads((out / "ledger.json").read_text()) == {
        "format": LEDGER_FORMAT,
        "entries": 2,
    }
    assert json.loads((out / "genesis.json").read_text())["index"] == 0
    entry = json.loads((out / "entries" / "000001.json").read_text())
    assert entry["kind"] == "order"
    assert entry["commitment"] == "9"
    assert entry["roots_before"] == entry["roots_after"] == r0.to_dict()
    assert json.loads((out / "vkeys" / "account_update.json").read_text()) == {"k": 1}
    # A restored ledger accepts only the entries this key signed, in chain order.
    again = Ledger(OPERATOR_KEY, EXCHANGE)
    again.restore(genesis.to_dict())
    with pytest.raises(LedgerError, match="not signed by this operator"):
        again.restore({**first.to_dict(), "time": NOW + 1})
    again.restore(first.to_dict())
    other = Ledger(PrivateKey(b"\x08" * 32), EXCHANGE)
    with pytest.raises(LedgerError, match="not signed by this operator"):
        other.restore(genesis.to_dict())


# ---------------------------------------------------------------- slots operator (no new proofs)
#
# On the session's honest slots ledger (tests/exchange/slots_ledger.py): the
# batch that crosses orders, proves and verifies is
# tests/exchange/test_slots_operator.py::test_honest_slots_ledger_replays_valid
# (+ ::test_operator_state_after_the_batch, ::test_cancel_refusals); accounts
# opening in order with public collateral and their inclusion openings are
# ::test_honest_slots_ledger_replays_valid and tests/exchange/test_slots_restore.py::test_views.


@pytest.fixture
def fresh(slots_ledger: SlotsLedger) -> tuple[Any, SlotsLedger]:
    """A deep copy of the honest ledger's operator (alice 1, bob 2, carol 3)."""
    return copy.deepcopy(slots_ledger.operator), slots_ledger


def _snapshot(op: Any) -> tuple[object, ...]:
    return (len(op.ledger), op.roots, list(op.commitments), op.total_collateral, len(op.accepted))


@pytest.mark.slow
def test_opening_an_account_needs_the_genesis_minimum_deposit() -> None:
    op, _, keys = slots_operator(insurance_fund=0, min_deposit=5_000, prove=stand_in_prover)
    assert op.ledger.entries[0].body["min_deposit"] == 5_000  # the insurance account is exempt
    before = _snapshot(op)
    with pytest.raises(OperatorError, match="at least 5000"):
        op.open_account(keys["alice"].public_key(), 4_999)
    assert _snapshot(op) == before
    assert op.open_account(keys["alice"].public_key(), 5_000) == 1


def _bad_orders(built: SlotsLedger) -> list[tuple[str, SlottedOrder, Signature]]:
    tags, keys = built.tags, built.keys

    def sign(name: str, order: SlottedOrder) -> tuple[SlottedOrder, Signature]:
        return order, keys[name].sign(order_hash(tags.order, order))

    good, good_sig = sign("alice", SlottedOrder(1, 6, 0, BUY, 2, 110, NOW + 600, salt=5))
    other = replace(good, salt=6)
    big = SlottedOrder(3, 6, 0, BUY, 10_000, 110, NOW + 600, salt=7)
    return [
        # Signed by someone else's key.
        ("signature", good, keys["bob"].sign(order_hash(tags.order, good))),
        # Signature over another commitment than these terms hash to.
        ("signature", other, good_sig),
        ("does not exist", replace(good, account=9), good_sig),
        ("market", replace(good, market=5), good_sig),
        ("size", replace(good, size=1 << 40), good_sig),
        ("size", replace(good, size=0), good_sig),
        ("limit_price", replace(good, limit_price=1 << 40), good_sig),
        ("expiry", replace(good, expiry=1 << 48), good_sig),
        ("order_id", replace(good, order_id=1 << 32), good_sig),
        ("salt", replace(good, salt=R), good_sig),
        ("expired", *sign("alice", replace(good, expiry=NOW - 1))),
        ("insufficient margin", *sign("carol", big)),
        ("insurance account", *sign("insurance", replace(good, account=0))),
    ]


@pytest.mark.slow
def test_bad_orders_are_rejected_with_a_reason_and_change_nothing(
    fresh: tuple[Any, SlotsLedger],
) -> None:
    op, built = fresh
    for reason, order, signature in _bad_orders(built):
        before = _snapshot(op)
        with pytest.raises(RejectedOrder, match=reason) as info:
            op.submit_order(order, signature)
        assert "\n" not in info.value.reason
        assert _snapshot(op) == before, reason


@pytest.mark.slow
def test_duplicate_order_is_rejected(fresh: tuple[Any, SlotsLedger]) -> None:
    op, built = fresh
    order = SlottedOrder(2, 6, 1, SELL, 1, 1_000, NOW + 600, salt=8)
    signature = built.keys["bob"].sign(order_hash(built.tags.order, order))
    index = op.submit_order(order, signature)
    before = _snapshot(op)
    with pytest.raises(RejectedOrder, match="duplicate"):
        op.submit_order(order, signature)
    assert _snapshot(op) == before
    assert op.ledger.entries[-1].body["order_index"] == index


@pytest.mark.slow
def test_a_batch_report_must_be_newer_and_signed_by_the_oracle(
    fresh: tuple[Any, SlotsLedger],
) -> None:
    op, _ = fresh
    before = _snapshot(op)
    # The report of the batch already run, and one the operator signed itself.
    with pytest.raises(OperatorError, match="does not increase"):
        op.run_batch(op.latest_report)
    forged = SimulatedOracle([100, 50], op.tags.oracle, seed=1).report(2, NOW + 10)
    with pytest.raises(OperatorError, match="signature"):
        op.run_batch(forged)
    assert _snapshot(op) == before
