"""SETTLE BATCH: valid batches prove, boundaries hold exactly, tampered witnesses fail.

Builds the test-profile circuit once (cached). Scenarios are made with the
domain-level builder ``prover.statements.settle_batch.build_settle_batch``;
failing boundaries use ``check_rules=False`` so the circuit, not the Python
builder, has to reject them.
"""

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import pytest

from prover import toolchain
from prover.circuits import build_statement, load_params
from prover.errors import WitnessError
from prover.statements.settle_batch import (
    PUBLIC,
    BatchError,
    Fill,
    SettleBatchOutcome,
    SignedOrder,
    build_settle_batch,
)
from tests.circuits.conftest import honest_witness, symbols, tamper_check, unsatisfied
from tests.circuits.proving import prove, verification_key
from verifier import groth16
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL, AccountState, Order, fill_leaf, order_commitment
from verifier.merkle import MerkleTree
from verifier.protocol import DEFAULT_EXCHANGE_ID, Tags
from verifier.statements import settle_batch as statement

PARAMS = load_params("test")
TAGS = Tags.for_exchange(DEFAULT_EXCHANGE_ID)
PRICES = (1_000, 20_000)
FEE_BPS = (30, 5)
IMF_BPS = (1_000, 500)
NOW = 1_700_000_000
BATCH_ID = 7

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CircuitArtifacts:
    return build_statement("settle_batch", "test")


def key(n: int) -> PrivateKey:
    return PrivateKey(bytes([n]) * 32)


@dataclass
class Book:
    """Operator state for a scenario: accounts, the public order list, the fill tree."""

    accounts: MerkleTree = field(default_factory=lambda: MerkleTree(PARAMS.account_depth))
    states: dict[int, AccountState] = field(default_factory=dict)
    orders: MerkleTree = field(default_factory=lambda: MerkleTree(PARAMS.order_depth))
    commitments: list[int] = field(default_factory=list)
    fills: MerkleTree = field(default_factory=lambda: MerkleTree(PARAMS.order_depth))
    filled: dict[int, int] = field(default_factory=dict)

    def open(self, index: int, balance: int, positions: tuple[int, int] = (0, 0)) -> None:
        pub = key(index + 1).public_key()
        state = AccountState(pub.x, pub.y, balance, positions, nonce=3, blinding=100 + index)
        self.states[index] = state
        self.accounts.update(index, state.leaf())

    def place(
        self,
        account: int,
        side: int,
        size: int,
        limit: int,
        *,
        market: int = 0,
        expiry: int = NOW + 60,
        filled: int = 0,
        signer: int | None = None,
    ) -> SignedOrder:
        order = Order(
            account, market, side, size, limit, expiry, salt=9_000 + len(self.commitments)
        )
        h = order_commitment(TAGS.order, order)
        index = len(self.commitments)
        self.commitments.append(h)
        self.orders.update(index, h)
        if filled:
            self.filled[index] = filled
            self.fills.update(index, fill_leaf(h, filled))
        sig = key((account if signer is None else signer) + 1).sign(h)
        return SignedOrder(order=order, signature=sig, index=index)

    def settle(
        self, fills: list[Fill], *, timestamp: int = NOW, check_rules: bool = True
    ) -> SettleBatchOutcome:
        counter: Iterator[int] = itertools.count(5_000)
        blinding: Callable[[], int] = lambda: next(counter)  # noqa: E731
        return build_settle_batch(
            params=PARAMS,
            order_tag=TAGS.order,
            accounts=self.accounts,
            account_states=self.states,
            fill_tree=self.fills,
            filled=self.filled,
            orders=self.orders,
            fills=fills,
            prices=PRICES,
            fee_bps=FEE_BPS,
            imf_bps=IMF_BPS,
            batch_id=BATCH_ID,
            timestamp=timestamp,
            new_blinding=blinding,
            check_rules=check_rules,
        )


def main_scenario() -> tuple[Book, list[Fill]]:
    """Alice's buy (limit = mark, expiry = now) fills fully against Bob, then Carol.

    Carol's sell was partially filled (3 of 10) by an earlier batch, so both the
    empty and the non-empty old fill leaf occur; Alice's order is touched twice,
    the second time against the intermediate fill root.
    """
    book = fee_and_traders(1, 2)
    book.open(3, 1_000_000, positions=(-3, 0))
    alice = book.place(1, BUY, 10, PRICES[0], expiry=NOW)
    bob = book.place(2, SELL, 6, PRICES[0])
    carol = book.place(3, SELL, 10, 900, filled=3)
    return book, [Fill(alice, bob, 6), Fill(alice, carol, 4)]


@pytest.fixture(scope="module")
def main_batch() -> tuple[Book, list[Fill], SettleBatchOutcome]:
    book, fills = main_scenario()
    return book, fills, book.settle(fills)


def assert_satisfied(artifacts: toolchain.CircuitArtifacts, outcome: SettleBatchOutcome) -> None:
    inputs = outcome.witness.to_circuit_inputs()
    assert unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []


def assert_rejected(artifacts: toolchain.CircuitArtifacts, outcome: SettleBatchOutcome) -> None:
    with pytest.raises(WitnessError):
        honest_witness(artifacts, outcome.witness.to_circuit_inputs())


def assert_refused_and_rejected(
    artifacts: toolchain.CircuitArtifacts, match: str, settle: Callable[..., SettleBatchOutcome]
) -> None:
    """The builder refuses the batch (BatchError matching ``match``); built anyway
    (``check_rules=False``), the circuit rejects it."""
    with pytest.raises(BatchError, match=match):
        settle()
    assert_rejected(artifacts, settle(check_rules=False))


def fee_and_traders(*traders: int) -> Book:
    """A book with the fee account (0, empty) and ``traders`` holding 1,000,000 each."""
    book = Book()
    book.open(0, 0)
    for index in traders:
        book.open(index, 1_000_000)
    return book


# ---------------------------------------------------------------- valid batches


def test_builder_applies_fills_like_the_ledger(
    main_batch: tuple[Book, list[Fill], SettleBatchOutcome],
) -> None:
    book, _, outcome = main_batch
    # fee = ceil(q * 1000 * 30 / 10000): 18 for 6 lots, 12 for 4 lots.
    assert outcome.account_states[1].balance == 1_000_000 - 6_000 - 18 - 4_000 - 12
    assert outcome.account_states[1].positions == (10, 0)
    assert outcome.account_states[2].balance == 1_000_000 + 6_000 - 18
    assert outcome.account_states[3].positions == (-7, 0)
    assert outcome.account_states[0].balance == 2 * (18 + 12)
    # Conservation: the fills move value, they create none.
    assert sum(s.balance for s in outcome.account_states.values()) == sum(
        s.balance for s in book.states.values()
    )
    assert outcome.filled == {0: 10, 1: 6, 2: 7}
    assert outcome.witness.volume == (10, 0)
    # The caller's state is untouched; the outcome's trees match its states.
    assert book.accounts.root == outcome.witness.old_acc_root != outcome.new_acc_root
    for index, state in outcome.account_states.items():
        assert outcome.accounts.get(index) == state.leaf()


def test_valid_batch_proves_and_verifies(
    artifacts: toolchain.CircuitArtifacts,
    main_batch: tuple[Book, list[Fill], SettleBatchOutcome],
) -> None:
    book, fills, outcome = main_batch
    proof, publics = prove(artifacts, outcome.witness.to_circuit_inputs())
    vk = verification_key(artifacts)

    # Recomputed from ledger-level data only: roots, the commitment list, the report.
    volume = [0] * PARAMS.markets
    for f in fills:
        volume[f.buy.order.market] += f.quantity
    expected = statement.public_inputs(
        old_acc_root=book.accounts.root,
        new_acc_root=outcome.accounts.root,
        old_fill_root=book.fills.root,
        new_fill_root=outcome.fill_tree.root,
        order_root=statement.order_list_root(book.commitments, PARAMS.order_depth),
        batch_id=BATCH_ID,
        timestamp=NOW,
        prices=PRICES,
        volume=volume,
        fee_bps=FEE_BPS,
        imf_bps=IMF_BPS,
    )
    assert publics == expected == outcome.witness.public_inputs()
    assert len(expected) == 7 + 4 * PARAMS.markets == vk.n_public
    assert groth16.verify(vk, proof, publics)
    # Same proof, another batch id or volume: rejected.
    assert not groth16.verify(vk, proof, [*publics[:5], 8, *publics[6:]])
    wrong_volume = list(publics)
    wrong_volume[7 + PARAMS.markets] += 1
    assert not groth16.verify(vk, proof, wrong_volume)


def test_empty_batch_proves_with_roots_unchanged(artifacts: toolchain.CircuitArtifacts) -> None:
    book, _ = main_scenario()
    outcome = book.settle([])
    w = outcome.witness
    assert (w.new_acc_root, w.new_fill_root) == (book.accounts.root, book.fills.root)
    assert w.volume == (0, 0)
    proof, publics = prove(artifacts, w.to_circuit_inputs())
    assert publics[0] == publics[1] and publics[2] == publics[3]
    assert groth16.verify(verification_key(artifacts), proof, publics)


def test_public_names_match_circuit_order() -> None:
    assert tuple(PUBLIC) == statement.PUBLIC_NAMES


# ---------------------------------------------------------------- boundaries


def margin_batch(balance: int, *, check_rules: bool = True) -> SettleBatchOutcome:
    """Dave buys 10 lots at 1000 with fee 30: equity afterwards = balance - 30, IMR = 1000."""
    book = fee_and_traders(2)
    book.open(4, balance)
    dave = book.place(4, BUY, 10, 1_000)
    bob = book.place(2, SELL, 10, 1_000)
    return book.settle([Fill(dave, bob, 10)], check_rules=check_rules)


def test_margin_exactly_at_imr_passes(artifacts: toolchain.CircuitArtifacts) -> None:
    outcome = margin_batch(1_030)
    assert outcome.account_states[4].balance == 1_030 - 10_030
    assert_satisfied(artifacts, outcome)


def test_margin_one_unit_short_fails(artifacts: toolchain.CircuitArtifacts) -> None:
    assert_refused_and_rejected(artifacts, "initial margin", partial(margin_batch, 1_029))


def fill_to_size_batch(quantity: int, *, check_rules: bool = True) -> SettleBatchOutcome:
    """Carol's sell of 10 lots, 4 already filled, against a fresh buy of 10."""
    book = fee_and_traders(1)
    book.open(3, 1_000_000, positions=(-4, 0))
    buy = book.place(1, BUY, 10, 1_000)
    sell = book.place(3, SELL, 10, 1_000, filled=4)
    return book.settle([Fill(buy, sell, quantity)], check_rules=check_rules)


def test_partial_order_filled_to_exactly_its_size_passes(
    artifacts: toolchain.CircuitArtifacts,
) -> None:
    outcome = fill_to_size_batch(6)
    assert outcome.filled[1] == 10
    assert_satisfied(artifacts, outcome)


def test_one_lot_beyond_size_fails(artifacts: toolchain.CircuitArtifacts) -> None:
    assert_refused_and_rejected(artifacts, "lots left", partial(fill_to_size_batch, 7))


def test_expiry_boundary(
    artifacts: toolchain.CircuitArtifacts,
    main_batch: tuple[Book, list[Fill], SettleBatchOutcome],
) -> None:
    # The main batch runs at timestamp == Alice's expiry and passes.
    assert_satisfied(artifacts, main_batch[2])
    book, fills = main_scenario()
    assert_refused_and_rejected(
        artifacts, "expired", partial(book.settle, fills, timestamp=NOW + 1)
    )


@pytest.mark.parametrize(
    ("buy_limit", "sell_limit"), [(PRICES[0] - 1, 0), (PRICES[0], PRICES[0] + 1)]
)
def test_mark_beyond_a_limit_fails(
    artifacts: toolchain.CircuitArtifacts, buy_limit: int, sell_limit: int
) -> None:
    # Mark exactly at both limits is the main batch (Alice buys, Bob sells at the mark).
    book = fee_and_traders(1, 2)
    buy = book.place(1, BUY, 5, buy_limit)
    sell = book.place(2, SELL, 5, sell_limit)
    assert_refused_and_rejected(artifacts, "limit", partial(book.settle, [Fill(buy, sell, 5)]))


def test_order_signed_by_another_key_fails(artifacts: toolchain.CircuitArtifacts) -> None:
    book = fee_and_traders(1, 2)
    buy = book.place(1, BUY, 5, 1_000, signer=2)  # Bob signs Alice's order
    sell = book.place(2, SELL, 5, 1_000)
    assert_refused_and_rejected(artifacts, "signature", partial(book.settle, [Fill(buy, sell, 5)]))


def test_self_trade_is_consistent(artifacts: toolchain.CircuitArtifacts) -> None:
    book = fee_and_traders(1)
    buy = book.place(1, BUY, 5, 1_000)
    sell = book.place(1, SELL, 5, 1_000)
    outcome = book.settle([Fill(buy, sell, 5)])
    assert outcome.account_states[1].positions == (0, 0)
    assert outcome.account_states[1].balance == 1_000_000 - 2 * 15
    assert_satisfied(artifacts, outcome)


def test_builder_refuses_bad_batches() -> None:
    book, fills = main_scenario()
    with pytest.raises(BatchError, match="slots"):
        book.settle([*fills, fills[0]])
    with pytest.raises(BatchError, match="buy order and a sell order"):
        book.settle([Fill(fills[0].sell, fills[0].buy, 1)])
    with pytest.raises(BatchError, match="quantity"):
        book.settle([Fill(fills[0].buy, fills[0].sell, 0)])
    with pytest.raises(BatchError, match="not an unsigned 40-bit"):
        book.settle([Fill(fills[0].buy, fills[0].sell, 1 << 40)])
    no_fee = Book()
    no_fee.open(1, 1_000_000)
    with pytest.raises(BatchError, match="fee account"):
        no_fee.settle([])
    # Claimed filled amount disagreeing with the fill tree.
    book.filled[2] = 4
    with pytest.raises(BatchError, match="disagrees with the fill tree"):
        book.settle(fills)


# ---------------------------------------------------------------- tampering

TAMPERED = [
    "balance[0][0]",  # buyer balance
    "positions[0][1][0]",  # seller position
    "accSiblings[0][0][1]",
    "orderSiblings[0][1][2]",
    "fillSiblings[0][0][0]",
    "blindingNew[0][0]",
    "blindingOld[1][1]",
    "nonce[0][1]",
    "sigS[0][1]",
    "sigR8x[0][0]",
    "sigR8y[1][1]",
    "quantity[0]",
    "quantity[1]",
    "filledBefore[0][0]",
    "filledBefore[1][1]",
    "limitPrice[0][1]",
    "salt[0][0]",
    "size[1][1]",
    "expiry[0][0]",
    "account[1][0]",
    "orderIndex[0][1]",
    "market[1]",
    "active[1]",
    "feeBalance",
    "feeBlindingNew",
    "feeSiblings[2]",
    "pubX[0][0]",
    "volume[0]",
    "newAccRoot",
    "batchId",
]


@pytest.mark.parametrize("signal", TAMPERED)
def test_tampered_signal_breaks_constraints(
    artifacts: toolchain.CircuitArtifacts,
    main_batch: tuple[Book, list[Fill], SettleBatchOutcome],
    signal: str,
) -> None:
    inputs = main_batch[2].witness.to_circuit_inputs()
    honest = honest_witness(artifacts, inputs)
    value = honest.values[symbols(artifacts.sym).wire(signal)]
    assert tamper_check(artifacts, inputs, signal, value + 1) != []


def test_inactive_slot_cannot_smuggle_volume(artifacts: toolchain.CircuitArtifacts) -> None:
    # One active fill, one padding slot: a quantity in the padding slot must
    # not count (volume is fixed by the active fills), and switching the
    # padding slot on breaks its (all-zero) checks.
    book, fills = main_scenario()
    inputs = book.settle(fills[:1]).witness.to_circuit_inputs()
    assert tamper_check(artifacts, inputs, "active[1]", 1) != []
    assert tamper_check(artifacts, inputs, "volume[0]", 7) != []
