"""The in-process operator: intake rejections change nothing; a batch proves and verifies.

The slow module fixture builds the three test-profile circuits (cached) and
opens four accounts with real account_op proofs; the batch test proves one
settle_batch and checks it with the pure-Python verifier against public inputs
recomputed from ledger data. Oracle and ledger unit tests need no circuits.
"""

import json
import secrets
from dataclasses import replace
from pathlib import Path

import pytest

from exchange.operator import MarketSpec, Operator, OperatorError, RejectedOrder
from oracle.signer import SimulatedOracle
from prover.circuits import load_params
from verifier import groth16
from verifier.eddsa import PrivateKey, Signature, public_key_to_dict, verify_poseidon
from verifier.encoding import BUY, SELL, Order, cancel_message, order_commitment
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
from verifier.merkle import zero_hashes
from verifier.oracle import report_message, stressed_prices
from verifier.protocol import DEFAULT_EXCHANGE_ID, STATEMENTS, Tags
from verifier.statements import settle_batch as settle_public

EXCHANGE = DEFAULT_EXCHANGE_ID  # the cached circuits; another id recompiles all three
TAGS = Tags.for_exchange(EXCHANGE)
NOW = 1_764_000_000
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
        "vkey_hashes": {s: "0" * 64 for s in STATEMENTS},
    }


OPERATOR_KEY = PrivateKey(b"\x07" * 32)


def test_ledger_refuses_a_broken_chain_and_exports_the_layout(tmp_path: Path) -> None:
    params = load_params("test")
    empty = zero_hashes(params.order_depth)[-1]
    r0 = Roots(zero_hashes(params.account_depth)[-1], empty, empty)
    r1 = Roots(r0.account, empty, 9)
    ledger = Ledger(OPERATOR_KEY, EXCHANGE)
    with pytest.raises(LedgerError, match="would not verify"):
        ledger.append("genesis", r0, r0, {"exchange_id": EXCHANGE})  # not a genesis
    genesis = ledger.append("genesis", r0, r0, _genesis_body())
    first = ledger.append("order", r0, r1, {"order_index": 0, "commitment": "9"}, time=NOW)
    with pytest.raises(LedgerError, match="latest roots"):
        ledger.append("order", r0, r1, {"order_index": 1, "commitment": "10"})
    with pytest.raises(LedgerError, match="genesis"):
        ledger.append("genesis", r1, r1, {})
    assert len(ledger) == 2
    # Hash-chained and signed by the operator key published in genesis.
    assert (
        first.to_dict()["prev_hash"]
        == entry_hash(genesis.to_dict())
        == genesis_hash(genesis.to_dict())
    )
    assert first.time == NOW
    verify_entry_signature(first.to_dict(), entry_tag(EXCHANGE), OPERATOR_KEY.public_key())
    out = ledger.export(tmp_path / "x", {"account_op": {"k": 1}})
    assert json.loads((out / "ledger.json").read_text()) == {
        "format": LEDGER_FORMAT,
        "entries": 2,
    }
    assert json.loads((out / "genesis.json").read_text())["index"] == 0
    entry = json.loads((out / "entries" / "000001.json").read_text())
    assert entry["kind"] == "order"
    assert entry["roots_before"]["order"] == str(empty)
    assert entry["roots_after"]["order"] == "9"
    assert json.loads((out / "vkeys" / "account_op.json").read_text()) == {"k": 1}
    # A restored ledger accepts only the entries this key signed, in chain order.
    again = Ledger(OPERATOR_KEY, EXCHANGE)
    again.restore(genesis.to_dict())
    with pytest.raises(LedgerError, match="not signed by this operator"):
        again.restore({**first.to_dict(), "time": NOW + 1})
    again.restore(first.to_dict())
    other = Ledger(PrivateKey(b"\x08" * 32), EXCHANGE)
    with pytest.raises(LedgerError, match="not signed by this operator"):
        other.restore(genesis.to_dict())


# ---------------------------------------------------------------- operator (slow)


class World:
    def __init__(self) -> None:
        self.oracle = SimulatedOracle([60_000, 3_000], TAGS.oracle, seed=11)
        self.keys = [PrivateKey.generate() for _ in range(4)]
        self.op = Operator(
            markets=MARKETS,
            oracle=self.oracle,
            insurance_pubkey=self.keys[0].public_key(),
            insurance_fund=500_000,
            profile="test",
            exchange_id=EXCHANGE,
            clock=lambda: NOW,
        )
        self.alice = self.op.open_account(self.keys[1].public_key(), 1_000_000)
        self.bob = self.op.open_account(self.keys[2].public_key(), 1_000_000)
        self.carol = self.op.open_account(self.keys[3].public_key(), 1_000)

    def order(self, account: int, market: int, side: int, size: int, limit: int) -> Order:
        return Order(account, market, side, size, limit, NOW + 600, secrets.randbelow(R))

    def sign(self, account: int, order: Order) -> tuple[Order, Signature]:
        return order, self.keys[account].sign(order_commitment(TAGS.order, order))

    def snapshot(self) -> tuple[object, ...]:
        op = self.op
        return (
            len(op.ledger),
            op.roots,
            list(op.commitments),
            dict(op.filled),
            op.total_collateral,
        )


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.mark.slow
def test_accounts_open_in_order_and_collateral_is_public(world: World) -> None:
    op = world.op
    assert (world.alice, world.bob, world.carol) == (1, 2, 3)
    assert op.total_collateral == 500_000 + 1_000_000 + 1_000_000 + 1_000
    assert [e.kind for e in op.ledger.entries] == ["genesis"] + ["account_op"] * 4
    assert op.ledger.roots.account == op.account_tree.root
    for i in range(4):
        assert op.inclusion_path(i).verify(op.account_tree.root, op.account_state(i).leaf())


@pytest.mark.slow
def test_opening_an_account_needs_the_genesis_minimum_deposit() -> None:
    keys = [PrivateKey.generate() for _ in range(2)]
    op = Operator(
        markets=MARKETS,
        oracle=SimulatedOracle([60_000, 3_000], TAGS.oracle, seed=11),
        insurance_pubkey=keys[0].public_key(),
        insurance_fund=0,  # the insurance account is exempt
        min_deposit=5_000,
        profile="test",
        exchange_id=EXCHANGE,
        clock=lambda: NOW,
    )
    assert op.ledger.entries[0].body["min_deposit"] == 5_000
    before = (len(op.ledger), op.account_tree.root, op.total_collateral)
    with pytest.raises(OperatorError, match="at least 5000"):
        op.open_account(keys[1].public_key(), 4_999)
    assert (len(op.ledger), op.account_tree.root, op.total_collateral) == before
    assert op.open_account(keys[1].public_key(), 5_000) == 1


def _bad_orders(w: World) -> list[tuple[str, Order, Signature]]:
    mark = w.oracle.prices_at(1)[0]
    good = w.order(w.alice, 0, BUY, 2, mark + 50)
    _, good_sig = w.sign(w.alice, good)
    other = replace(good, salt=good.salt + 1 if good.salt + 1 < R else 1)
    return [
        # Signed by someone else's key.
        ("signature", good, w.keys[2].sign(order_commitment(TAGS.order, good))),
        # Signature over another commitment than these terms hash to.
        ("signature", other, good_sig),
        ("does not exist", replace(good, account=9), good_sig),
        ("market", replace(good, market=5), good_sig),
        ("size", replace(good, size=1 << 40), good_sig),
        ("size", replace(good, size=0), good_sig),
        ("limit_price", replace(good, limit_price=1 << 40), good_sig),
        ("expiry", replace(good, expiry=1 << 48), good_sig),
        ("salt", replace(good, salt=R), good_sig),
        ("expired", *w.sign(w.alice, replace(good, expiry=NOW - 1))),
        ("insufficient margin", *w.sign(w.carol, w.order(w.carol, 0, BUY, 5, mark + 50))),
        ("insurance account", *w.sign(0, w.order(0, 0, BUY, 1, mark))),
    ]


@pytest.mark.slow
def test_bad_orders_are_rejected_with_a_reason_and_change_nothing(world: World) -> None:
    for reason, order, signature in _bad_orders(world):
        before = world.snapshot()
        with pytest.raises(RejectedOrder, match=reason) as info:
            world.op.submit_order(order, signature)
        assert "\n" not in info.value.reason
        assert world.snapshot() == before, reason


@pytest.mark.slow
def test_duplicate_order_is_rejected(world: World) -> None:
    order, sig = world.sign(world.bob, world.order(world.bob, 1, SELL, 1, 1_000_000))
    index = world.op.submit_order(order, sig)
    before = world.snapshot()
    with pytest.raises(RejectedOrder, match="duplicate"):
        world.op.submit_order(order, sig)
    assert world.snapshot() == before
    assert world.op.ledger.entries[-1].body["order_index"] == index


@pytest.mark.slow
def test_batch_crosses_orders_proves_and_verifies(world: World) -> None:
    op = world.op
    mark = world.oracle.prices_at(op.next_batch_id)
    buy = world.op.submit_order(*world.sign(world.alice, world.order(1, 0, BUY, 5, mark[0] + 10)))
    sell = world.op.submit_order(*world.sign(world.bob, world.order(2, 0, SELL, 3, mark[0] - 10)))
    gone_order, gone_sig = world.sign(world.bob, world.order(2, 0, SELL, 1, mark[0] - 10))
    gone = world.op.submit_order(gone_order, gone_sig)
    h = op.commitments[gone]
    with pytest.raises(OperatorError, match="signature"):
        op.cancel(gone, world.keys[1].sign(cancel_message(TAGS.cancel, gone, h)))
    op.cancel(gone, world.keys[2].sign(cancel_message(TAGS.cancel, gone, h)))

    before = op.roots
    report = world.oracle.report(op.next_batch_id, NOW + 5)
    summary = op.run_batch(report)
    assert [(f.buy.index, f.sell.index, f.quantity) for f in summary.fills] == [(buy, sell, 3)]
    assert op.order_status(buy) == (3, False)
    assert op.order_status(sell) == (3, False)
    assert op.order_status(gone) == (0, True)
    # The sell filled completely: cancelling it is "already filled", and changes nothing.
    with pytest.raises(OperatorError, match="already filled"):
        op.cancel(sell, world.keys[2].sign(cancel_message(TAGS.cancel, sell, op.commitments[sell])))
    assert op.order_status(sell) == (3, False)
    assert op.account_state(1).positions == (3, 0)
    assert op.account_state(2).positions == (-3, 0)
    assert sum(s.balance for s in op.accounts.values()) == op.total_collateral
    fee = -(-3 * report.prices[0] * 5 // 10_000)  # fees round up
    assert op.account_state(0).balance == 500_000 + 2 * fee

    entry = summary.entry
    assert entry.kind == "batch" and entry.roots_before == before
    assert entry.roots_after == op.roots != before
    assert entry.body["volume"] == ["3", "0"]
    (proof,) = entry.body["proofs"]
    expected = settle_public.public_inputs(
        old_acc_root=before.account,
        new_acc_root=op.roots.account,
        old_fill_root=before.fill,
        new_fill_root=op.roots.fill,
        order_root=op.roots.order,
        batch_id=summary.entry.body["batch_id"],
        timestamp=report.timestamp,
        prices=report.prices,
        volume=[3, 0],
        fee_bps=[m.fee_bps for m in MARKETS],
        imf_bps=[m.imf_bps for m in MARKETS],
    )
    vk = groth16.VerificationKey.from_snarkjs(op.verification_keys()["settle_batch"])
    assert groth16.verify(vk, groth16.Proof.from_snarkjs(proof["proof"]), expected)
    wrong = list(expected)
    wrong[settle_public.PUBLIC_NAMES.index("volume") + 2] = 4  # volume[0] is after 2 prices
    assert not groth16.verify(vk, groth16.Proof.from_snarkjs(proof["proof"]), wrong)

    # A report for a batch already run, or signed by another key, is refused.
    with pytest.raises(OperatorError, match="does not increase"):
        op.run_batch(report)
    forged = SimulatedOracle([60_000, 3_000], TAGS.oracle, seed=11).report(
        op.next_batch_id, NOW + 10
    )
    with pytest.raises(OperatorError, match="signature"):
        op.run_batch(forged)
