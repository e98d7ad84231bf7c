"""Liveness: no order can halt batches by asking for what the circuits cannot represent.

Issue 10 case 7: 129 maximum-size buys and sells between two accounts pushed
a position past the signed 48-bit range; the settlement witness builder then
failed on every batch attempt, so nothing committed and unrelated traders
never filled. Now intake refuses an order whose worst case leaves the range,
the matcher caps every fill at the range (``out_of_range``), and a fill the
witness builder still refuses sits the batch out instead of blocking it.

The 129-order scenario needs an order list of 2^9 (the test profile holds 32
orders), so it runs the real matcher, witness builder and state updates on
a test profile with ``order_depth`` 9 and a prover that returns the
statement's public inputs without a proof (65 Groth16 proofs are benchmark
work). The refused-fill test uses real circuits and real proofs.
"""

import secrets
from dataclasses import replace
from typing import Any

import pytest

from exchange.domain import (
    AccountEntry,
    MarketSpec,
    OrderBook,
    SkipReason,
    intake_range_problem,
    match_batch,
)
from exchange.operator import Operator, RejectedOrder
from exchange.operator import state as operator_state
from oracle.signer import SimulatedOracle
from prover.circuits import load_params
from prover.statements import account_op, settle_batch
from verifier import accounting, groth16
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL, Order, order_commitment
from verifier.field import R
from verifier.params import POSITION_BITS, SIZE_BITS
from verifier.protocol import DEFAULT_EXCHANGE_ID, Tags
from verifier.statements import settle_batch as settle_public

TAGS = Tags.for_exchange(DEFAULT_EXCHANGE_ID)
NOW = 1_764_000_000
MAX_SIZE = (1 << SIZE_BITS) - 1
MAX_POSITION = (1 << (POSITION_BITS - 1)) - 1
MARKETS = [
    MarketSpec(0, "BIG-PERP", 1, 1, imf_bps=500, mmf_bps=300, fee_bps=5),
    MarketSpec(1, "ETH-PERP", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=5),
]


# ---------------------------------------------------------------- pure rules


def test_representable_is_the_circuits_signed_range() -> None:
    half_b, half_p = 1 << 95, 1 << 47
    assert accounting.representable(half_b - 1, [half_p - 1, -half_p])
    assert not accounting.representable(half_b, [0, 0])
    assert not accounting.representable(-half_b - 1, [0, 0])
    assert not accounting.representable(0, [half_p, 0])
    assert not accounting.representable(0, [0, -half_p - 1])
    assert accounting.apply_fill(100, (5, -2), 1, -3, 40) == (140, (5, -5))


def _resting(book: OrderBook, account: int, side: int, size: int, limit: int = 1) -> None:
    book.add(Order(account, 0, side, size, limit, NOW + 60, salt=len(book) + 1), len(book) + 1)


def test_matcher_caps_a_fill_at_the_position_range() -> None:
    rich = 1 << 60
    accounts = {
        0: AccountEntry(0, (0, 0)),
        1: AccountEntry(rich, (MAX_POSITION - 5, 0)),  # 5 lots from the top
        2: AccountEntry(rich, (0, 0)),
        3: AccountEntry(rich, (MAX_POSITION, 0)),  # at the top already
        4: AccountEntry(rich, (0, 0)),
    }
    book = OrderBook()
    _resting(book, 3, BUY, 7)  # 0: cannot buy one lot
    _resting(book, 1, BUY, 9)  # 1: may buy 5 of 9
    _resting(book, 2, SELL, 20)  # 2
    _resting(book, 4, BUY, 6)  # 3: an unrelated buyer still fills
    result = match_batch(list(book), accounts, [1, 1], MARKETS, NOW)
    assert [(f.buy_index, f.sell_index, f.quantity) for f in result.fills] == [(1, 2, 5), (3, 2, 6)]
    assert result.skipped[0] == SkipReason.OUT_OF_RANGE
    assert result.skipped[1] == SkipReason.OUT_OF_RANGE  # its 4 other lots would overflow
    assert result.accounts[1].positions[0] == MAX_POSITION
    assert all(accounting.representable(a.balance, a.positions) for a in result.accounts.values())


def test_intake_refuses_an_order_whose_worst_case_leaves_the_range() -> None:
    account = AccountEntry(1 << 60, (MAX_POSITION - 10, 0))
    book = OrderBook()
    _resting(book, 1, BUY, 6)
    fits = Order(1, 0, BUY, 4, 1, NOW + 60, salt=7)
    assert intake_range_problem(account, fits, MARKETS, open_orders=list(book)) is None
    over = replace(fits, size=5)
    problem = intake_range_problem(account, over, MARKETS, open_orders=list(book))
    assert problem is not None and problem.startswith("position limit")
    # Sells are counted apart from buys: they cannot offset a worst case.
    sell = Order(1, 0, SELL, 3, 1, NOW + 60, salt=8)
    assert intake_range_problem(account, sell, MARKETS, open_orders=list(book)) is None
    broke = AccountEntry(-(1 << 95) + 10, (0, 0))
    problem = intake_range_problem(broke, replace(fits, limit_price=1_000), MARKETS)
    assert problem is not None and problem.startswith("balance limit")


# ---------------------------------------------------------------- 129 max-size orders


def _public_only_prover(_artifacts: object, inputs: Any) -> tuple[dict[str, Any], list[str]]:
    """The statement's public inputs, no proof: the witness was still built for real."""
    names = settle_batch.PUBLIC if "oldAccRoot" in inputs else account_op.PUBLIC
    public: list[str] = []
    for name in names:
        value = inputs[name]
        public += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return {"note": "not a proof"}, public


class _NoCircuit:
    def verification_key(self) -> dict[str, Any]:
        return {"protocol": "groth16", "note": "no circuit built for this test"}


@pytest.fixture
def big_operator(monkeypatch: pytest.MonkeyPatch) -> tuple[Operator, list[PrivateKey]]:
    params = replace(load_params("test"), name="liveness", order_depth=9)
    monkeypatch.setattr(operator_state, "load_params", lambda _profile: params)
    monkeypatch.setattr(Operator, "artifacts", lambda self, statement: _NoCircuit())
    return _operator([1, 3_000], 1 << 60, prove=_public_only_prover)


def _operator(prices: list[int], deposit: int, **kwargs: Any) -> tuple[Operator, list[PrivateKey]]:
    """Insurance account 0 and four traders (1..4) with ``deposit`` each, flat marks."""
    keys = [PrivateKey.generate() for _ in range(5)]
    op = Operator(
        markets=MARKETS,
        oracle=SimulatedOracle(prices, TAGS.oracle, max_step_bps=0),
        insurance_pubkey=keys[0].public_key(),
        insurance_fund=1_000,
        exchange_id=DEFAULT_EXCHANGE_ID,
        clock=lambda: NOW,
        **kwargs,
    )
    for key in keys[1:]:
        op.open_account(key.public_key(), deposit)
    return op, keys


def _signed(
    keys: list[PrivateKey], account: int, market: int, side: int, size: int, limit: int
) -> tuple[Order, Any]:
    order = Order(account, market, side, size, limit, NOW + 3_600, secrets.randbelow(R))
    return order, keys[account].sign(order_commitment(TAGS.order, order))


def test_129_max_size_orders_no_longer_halt_batches(
    big_operator: tuple[Operator, list[PrivateKey]],
) -> None:
    op, keys = big_operator
    alice, bob, carol, dave = 1, 2, 3, 4
    for _ in range(128):
        op.submit_order(*_signed(keys, alice, 0, BUY, MAX_SIZE, 1))
        op.submit_order(*_signed(keys, bob, 0, SELL, MAX_SIZE, 1))
    # Intake: a 129th could take alice past the range if all her buys filled.
    with pytest.raises(RejectedOrder, match="position limit"):
        op.submit_order(*_signed(keys, alice, 0, BUY, MAX_SIZE, 1))
    # Orders listed past intake (as the service lists orders queued during a
    # batch) meet the matcher's own bound.
    late_buy = _signed(keys, alice, 0, BUY, MAX_SIZE, 1)
    late_sell = _signed(keys, bob, 0, SELL, MAX_SIZE, 1)
    late = op.append_order(*late_buy, order_commitment(TAGS.order, late_buy[0]))
    op.append_order(*late_sell, order_commitment(TAGS.order, late_sell[0]))
    # Unrelated traders in the other market.
    buy = op.submit_order(*_signed(keys, carol, 1, BUY, 2, 3_100))
    sell = op.submit_order(*_signed(keys, dave, 1, SELL, 2, 2_900))

    summary = op.run_batch(op.oracle.report(1, NOW))
    assert op.ledger.entries[-1].kind == "batch" and summary.entry.body["batch_id"] == 1
    assert op.order_status(buy) == (2, False) and op.order_status(sell) == (2, False)
    assert op.account_state(alice).positions[0] == MAX_POSITION  # filled up to the range
    assert op.order_status(late)[0] == MAX_POSITION - 128 * MAX_SIZE
    assert op.order_reasons[late] == "out_of_range"
    for state in op.accounts.values():
        assert accounting.representable(state.balance, state.positions)
    # The next batch commits too: nothing is stuck.
    op.run_batch(op.oracle.report(2, NOW + 1))
    assert op.next_batch_id == 3


# ---------------------------------------------------------------- a refused fill (real proofs)


@pytest.mark.slow
def test_a_fill_the_witness_builder_refuses_sits_out_and_the_batch_verifies() -> None:
    op, keys = _operator([60_000, 3_000], 1_000_000)
    # An order listed with a signature by another key (past intake's check):
    # the matcher pairs it, the settlement builder refuses it.
    forged, _ = _signed(keys, 1, 0, BUY, 2, 61_000)
    bad = op.append_order(
        forged,
        keys[2].sign(order_commitment(TAGS.order, forged)),
        order_commitment(TAGS.order, forged),
    )
    sell = op.submit_order(*_signed(keys, 3, 0, SELL, 2, 59_000))
    good = op.submit_order(*_signed(keys, 4, 0, BUY, 2, 61_000))
    summary = op.run_batch(op.oracle.report(1, NOW))
    assert [(f.buy.index, f.sell.index) for f in summary.fills] == [(good, sell)]
    assert op.order_status(bad) == (0, False)
    assert op.order_reasons[bad].startswith("settlement refused this order's fill")
    assert "signature" in op.order_reasons[bad]
    (proof,) = summary.entry.body["proofs"]
    before, after = summary.entry.roots_before, summary.entry.roots_after
    expected = settle_public.public_inputs(
        old_acc_root=before.account,
        new_acc_root=after.account,
        old_fill_root=before.fill,
        new_fill_root=after.fill,
        order_root=after.order,
        batch_id=1,
        timestamp=NOW,
        prices=(60_000, 3_000),
        volume=[2, 0],
        fee_bps=[m.fee_bps for m in MARKETS],
        imf_bps=[m.imf_bps for m in MARKETS],
    )
    vk = groth16.VerificationKey.from_snarkjs(op.verification_keys()["settle_batch"])
    assert groth16.verify(vk, groth16.Proof.from_snarkjs(proof["proof"]), expected)
