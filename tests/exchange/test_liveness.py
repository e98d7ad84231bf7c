"""Liveness: no order can halt batches by asking for what the circuits cannot represent.

Issue 10 case 7: 129 maximum-size buys and sells between two accounts pushed
a position past the signed 48-bit range; the settlement witness builder then
failed on every batch attempt, so nothing committed and unrelated traders
never filled (found on the retired list state; the rules are the domain's).
Now intake refuses an order whose worst case leaves the range, the matcher
caps every fill at the range (``out_of_range``), and a fill the witness
builder still refuses sits the batch out instead of blocking it.

Both run on the slots operator (``exchange.operator.slots``). The 129-order
scenario needs 130 live orders per account (the test profile has 4 order
slots), so it runs the real matcher, witness builders and state updates on a
test profile with ``slot_levels`` 4 (256 slots) and a prover that returns the
statement's public inputs without a proof (50 Groth16 proofs are benchmark
work). The refused-fill test proves a second batch on a copy of the session's
honest slots ledger operator for real and replays the export.
"""

import copy
import secrets
from dataclasses import replace
from pathlib import Path
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
from exchange.operator import RejectedOrder
from exchange.operator.slots import SlotsOperator
from exchange.operator.slots import state as slots_state
from oracle.signer import SimulatedOracle
from prover.circuits import load_params
from tests.exchange.slots_ledger import SOLVENCY, SlotsLedger, stand_in_prover
from tests.verifier.ledger_files import replay
from verifier import accounting
from verifier.account_state import SlottedOrder, order_hash
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL, Order
from verifier.field import R
from verifier.params import POSITION_BITS, SIZE_BITS
from verifier.protocol import DEFAULT_EXCHANGE_ID, Tags

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


class _NoCircuit:
    """Artifacts stand-in: the statement's name (for ``stand_in_prover``), no circuit built."""

    def __init__(self, statement: str) -> None:
        self.name = f"{statement}_liveness"

    def verification_key(self) -> dict[str, Any]:
        return {"protocol": "groth16", "note": "no circuit built for this test"}


@pytest.fixture
def big_operator(monkeypatch: pytest.MonkeyPatch) -> tuple[SlotsOperator, list[PrivateKey]]:
    # 4^4 = 256 order slots per account (the test profile has 4): room for 130 live orders.
    params = replace(load_params("test"), name="liveness", slot_levels=4, op_slots=8, group_fills=8)
    monkeypatch.setattr(slots_state, "load_params", lambda _profile: params)
    monkeypatch.setattr(SlotsOperator, "artifacts", lambda self, statement: _NoCircuit(statement))
    keys = [PrivateKey.generate() for _ in range(5)]
    op = SlotsOperator(
        markets=MARKETS,
        oracle=SimulatedOracle([1, 3_000], TAGS.oracle, max_step_bps=0),
        insurance_pubkey=keys[0].public_key(),
        insurance_fund=1_000,
        exchange_id=DEFAULT_EXCHANGE_ID,
        clock=lambda: NOW,
        prove=stand_in_prover,
    )
    for key in keys[1:]:
        op.open_account(key.public_key(), 1 << 60)
    return op, keys


def _signed(
    keys: list[PrivateKey],
    account: int,
    order_id: int,
    market: int,
    side: int,
    size: int,
    limit: int,
) -> tuple[SlottedOrder, Any]:
    order = SlottedOrder(
        account, order_id, market, side, size, limit, NOW + 3_600, salt=secrets.randbelow(R)
    )
    return order, keys[account].sign(order_hash(TAGS.order, order))


def test_129_max_size_orders_no_longer_halt_batches(
    big_operator: tuple[SlotsOperator, list[PrivateKey]],
) -> None:
    op, keys = big_operator
    alice, bob, carol, dave = 1, 2, 3, 4
    for k in range(1, 129):
        op.submit_order(*_signed(keys, alice, k, 0, BUY, MAX_SIZE, 1))
        op.submit_order(*_signed(keys, bob, k, 0, SELL, MAX_SIZE, 1))
    # Intake: a 129th could take alice past the range if all her buys filled.
    with pytest.raises(RejectedOrder, match="position limit"):
        op.submit_order(*_signed(keys, alice, 129, 0, BUY, MAX_SIZE, 1))
    # Orders appended past intake (as the service appends orders queued during
    # a batch) meet the matcher's own bound.
    late_buy = _signed(keys, alice, 130, 0, BUY, MAX_SIZE, 1)
    late_sell = _signed(keys, bob, 130, 0, SELL, MAX_SIZE, 1)
    late = op.append_order(*late_buy, order_hash(TAGS.order, late_buy[0]))
    op.append_order(*late_sell, order_hash(TAGS.order, late_sell[0]))
    # Unrelated traders in the other market.
    buy = op.submit_order(*_signed(keys, carol, 1, 1, BUY, 2, 3_100))
    sell = op.submit_order(*_signed(keys, dave, 1, 1, SELL, 2, 2_900))

    summary = op.run_batch(op.oracle.report(1, NOW))
    assert op.ledger.entries[-1].kind == "batch" and summary.entry.body["batch_id"] == 1
    assert op.order_status(buy) == (2, False) and op.order_status(sell) == (2, False)
    assert op.account_state(alice).positions[0] == MAX_POSITION  # filled up to the range
    assert op.order_status(late)[0] == MAX_POSITION - 128 * MAX_SIZE
    assert op.order_reasons[late] == "out_of_range"
    for record in op.accounts.values():
        assert accounting.representable(record.balance, record.positions)
    # The next batch commits too: nothing is stuck.
    op.run_batch(op.oracle.report(2, NOW + 1))
    assert op.next_batch_id == 3


# ---------------------------------------------------------------- a refused fill (real proofs)


@pytest.mark.slow
def test_a_fill_the_witness_builder_refuses_sits_out_and_the_batch_verifies(
    slots_ledger: SlotsLedger, tmp_path: Path
) -> None:
    """A second batch on a copy of the honest slots ledger's operator, proven for real:
    bob's reduce-only sell would grow his short, so the SETTLE FILLS witness builder
    refuses that fill; bob sits the batch out with the reason, alice buys from carol,
    and the exported ledger replays VALID (2 ORDER OPS + 1 SETTLE FILLS proofs)."""
    built = slots_ledger
    op = copy.deepcopy(built.operator)

    def place(name: str, order: SlottedOrder) -> int:
        index: int = op.submit_order(
            order, built.keys[name].sign(order_hash(built.tags.order, order))
        )
        return index

    at = built.entry(SOLVENCY)["time"] + 10
    good = place("alice", SlottedOrder(1, 5, 0, BUY, 2, 120, 10**6, salt=71))
    bad = place("bob", SlottedOrder(2, 2, 0, SELL, 1, 80, 10**6, reduce_only=True, salt=72))
    sell = place("carol", SlottedOrder(3, 6, 0, SELL, 1, 85, 10**6, salt=73))
    summary = op.run_batch(op.oracle.report(2, at))
    assert [(f.buy_index, f.sell_index, f.quantity) for f in summary.fills] == [(good, sell, 1)]
    assert op.order_status(bad) == (0, False)  # still open for a later batch
    assert op.order_reasons[bad].startswith("settlement refused this order's fill")
    assert "reduce-only" in op.order_reasons[bad]
    assert [p["statement"] for p in summary.entry.body["proofs"]] == [
        "order_ops",
        "order_ops",
        "settle_fills",
    ]
    report = replay(op.export(tmp_path / "export"))
    assert report.ok, report.failures
    assert report.checked_to == len(op.ledger) - 1
