"""Valid statement witnesses of realistic shape for the proving benchmarks.

Each builder goes through the same domain-level builders the exchange uses
(``prover.statements.*``), so a benchmark input is exactly what production
would feed the witness generator, for any circuit profile. Keys and salts are
fixed so runs are comparable; these fixtures are for measurement only and
must never be used as real keys or funds. No timing and no node here.
"""

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prover.statements.account_op import AccountOpWitness, OpKind
from prover.statements.settle_batch import (
    Fill,
    SettleBatchOutcome,
    SignedOrder,
    build_settle_batch,
)
from prover.statements.solvency_chunk import SolvencyChunkWitness, build_solvency_witnesses
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL, AccountState, Order, order_commitment, withdraw_message
from verifier.merkle import MerkleTree
from verifier.params import CircuitParams
from verifier.protocol import Tags

NOW = 1_700_000_000
BATCH_ID = 1


class FixtureError(ValueError):
    """A benchmark fixture cannot be built for the requested profile / size."""


def key(n: int) -> PrivateKey:
    """Deterministic INSECURE key number ``n`` (benchmark fixtures only)."""
    return PrivateKey(bytes([n % 256]) * 32)


def market_prices(markets: int) -> tuple[int, ...]:
    return tuple(1_000 * (m + 1) for m in range(markets))


def imf_bps(markets: int) -> tuple[int, ...]:
    return (1_000,) * markets


def fee_bps(markets: int) -> tuple[int, ...]:
    return (30,) * markets


@dataclass
class Ledger:
    """Operator state for a settle batch: accounts, public order list, fill tree."""

    params: CircuitParams
    tags: Tags
    accounts: MerkleTree = field(init=False)
    states: dict[int, AccountState] = field(default_factory=dict)
    orders: MerkleTree = field(init=False)
    placed: int = 0
    fills: MerkleTree = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = MerkleTree(self.params.account_depth)
        self.orders = MerkleTree(self.params.order_depth)
        self.fills = MerkleTree(self.params.order_depth)

    def open(self, index: int, balance: int) -> None:
        pub = key(index + 1).public_key()
        state = AccountState(
            pub.x, pub.y, balance, (0,) * self.params.markets, nonce=0, blinding=77 + index
        )
        self.states[index] = state
        self.accounts.update(index, state.leaf())

    def place(self, account: int, side: int, size: int, limit: int, market: int) -> SignedOrder:
        order = Order(account, market, side, size, limit, NOW + 3_600, salt=9_000 + self.placed)
        h = order_commitment(self.tags.order, order)
        index = self.placed
        self.placed += 1
        self.orders.update(index, h)
        return SignedOrder(order=order, signature=key(account + 1).sign(h), index=index)


def settle_batch_outcome(params: CircuitParams, tags: Tags, n_fills: int) -> SettleBatchOutcome:
    """A batch of ``n_fills`` active fills (the rest of the slots inactive).

    Fill i trades between fresh accounts 2i+1 (buyer) and 2i+2 (seller) in
    market i mod M at the mark price; account 0 is the fee account.
    """
    if not 0 <= n_fills <= params.fill_slots:
        raise FixtureError(f"{n_fills} fills do not fit {params.fill_slots} slots")
    if 2 * n_fills + 1 > 1 << params.account_depth:
        raise FixtureError(f"{n_fills} fills need more accounts than depth allows")
    ledger = Ledger(params, tags)
    ledger.open(0, 0)
    prices = market_prices(params.markets)
    fills: list[Fill] = []
    for i in range(n_fills):
        buyer, seller, market = 2 * i + 1, 2 * i + 2, i % params.markets
        ledger.open(buyer, 10_000_000)
        ledger.open(seller, 10_000_000)
        buy = ledger.place(buyer, BUY, 10, prices[market], market)
        sell = ledger.place(seller, SELL, 10, prices[market], market)
        fills.append(Fill(buy, sell, 7))
    counter: Iterator[int] = itertools.count(5_000)
    blinding: Callable[[], int] = lambda: next(counter)  # noqa: E731
    return build_settle_batch(
        params=params,
        order_tag=tags.order,
        accounts=ledger.accounts,
        account_states=ledger.states,
        fill_tree=ledger.fills,
        filled={},
        orders=ledger.orders,
        fills=fills,
        prices=prices,
        fee_bps=fee_bps(params.markets),
        imf_bps=imf_bps(params.markets),
        batch_id=BATCH_ID,
        timestamp=NOW,
        new_blinding=blinding,
    )


def settle_batch_inputs(params: CircuitParams, tags: Tags, n_fills: int) -> dict[str, object]:
    return settle_batch_outcome(params, tags, n_fills).witness.to_circuit_inputs()


def account_op_withdraw(params: CircuitParams, tags: Tags) -> AccountOpWitness:
    """A signed withdrawal with open positions: the most expensive account op path."""
    tree = MerkleTree(params.account_depth)
    owner = key(42)
    pub = owner.public_key()
    positions = tuple(10 if m % 2 == 0 else -5 for m in range(params.markets))
    state = AccountState(pub.x, pub.y, 1_000_000, positions, nonce=3, blinding=424_242)
    index = 1
    tree.update(index, state.leaf())
    amount = 10_000
    signature = owner.sign(withdraw_message(tags.withdraw, index, amount, state.nonce))
    return AccountOpWitness.build(
        tree,
        OpKind.WITHDRAW,
        index,
        amount,
        pub,
        state,
        market_prices(params.markets),
        imf_bps(params.markets),
        tags,
        signature=signature,
        blinding_new=99,
    )


def solvency_first_chunk(params: CircuitParams) -> SolvencyChunkWitness:
    """The first chunk of a tree whose first chunk is full (plus one more account).

    Accounts alternate long / short (some in deficit at the marks); chunk 0 is
    not the last, so its proof exercises the commitment to the next chunk.
    """
    k = params.chunk_size
    m = params.markets
    accounts: list[AccountState | None] = []
    for i in range(k + 1):
        sign = 1 if i % 2 == 0 else -1
        positions = tuple(sign * (i % 5) * 10 for _ in range(m))
        accounts.append(
            AccountState(1_000 + i, 2_000 + i, 50_000 - 100 * i, positions, blinding=i + 1)
        )
    witnesses = build_solvency_witnesses(accounts, params, market_prices(m), random.Random(2024))
    return witnesses[0]
