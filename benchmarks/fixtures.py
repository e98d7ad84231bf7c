"""Valid statement witnesses of realistic shape for the proving benchmarks (slots state).

Each builder goes through the same domain-level builders the slots operator
uses (``prover.statements.{account_update,order_ops,settle_fills,solvency_walk}``
on a ``prover.account_book.AccountBook``), so a benchmark input is exactly
what production would feed the witness generator, for any circuit profile.
Keys, salts and blindings are fixed so runs are comparable; these fixtures
are for measurement only and must never be used as real keys or funds. No
timing and no node here.
"""

import itertools
import random
from collections.abc import Callable, Iterator

from prover.account_book import AccountBook
from prover.statements.account_update import OpKind, build_account_update
from prover.statements.order_ops import OrderOp, build_order_ops
from prover.statements.settle_fills import GroupFill, build_settle_fills
from prover.statements.solvency_walk import SolvencyWalkWitness, build_solvency_walk
from verifier.account_state import SlottedOrder, order_hash
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL, withdraw_message
from verifier.params import CircuitParams
from verifier.protocol import Tags

NOW = 1_700_000_000
BATCH_ID = 1
DEPOSIT = 10**9


class FixtureError(ValueError):
    """A benchmark fixture cannot be built for the requested profile / size."""


def key(n: int) -> PrivateKey:
    """Deterministic INSECURE key number ``n`` (benchmark fixtures only)."""
    return PrivateKey(bytes([n % 256]) * 32)


def market_prices(markets: int) -> tuple[int, ...]:
    return tuple(1_000 * (m + 1) for m in range(markets))


def imf_bps(markets: int) -> tuple[int, ...]:
    return (1_000,) * markets


def mmf_bps(markets: int) -> tuple[int, ...]:
    return (500,) * markets


def fee_bps(markets: int) -> tuple[int, ...]:
    return (30,) * markets


def _blindings() -> Callable[[], int]:
    counter: Iterator[int] = itertools.count(1_000_001)
    return lambda: next(counter)


def funded_book(params: CircuitParams, accounts: int) -> AccountBook:
    """Accounts 0..accounts-1 open with ``DEPOSIT`` each, keys ``key(10 + i)``, no positions."""
    if accounts > 4**params.account_levels:
        raise FixtureError(f"{accounts} accounts exceed profile {params.name!r}")
    book = AccountBook(params)
    funding = (0,) * params.markets
    for i in range(accounts):
        pub = key(10 + i).public_key()
        book.open(i, pub=(pub.x, pub.y), balance=DEPOSIT, funding=funding, blinding=7 + i)
    return book


def account_update_withdraw(params: CircuitParams, tags: Tags) -> dict[str, object]:
    """Inputs of a signed withdrawal of 1,000 from account 1 (two accounts open)."""
    book = funded_book(params, 2)
    m = params.markets
    signature = key(11).sign(withdraw_message(tags.withdraw, 1, 1_000, 0))
    outcome = build_account_update(
        book,
        OpKind.WITHDRAW,
        1,
        1_000,
        key(11).public_key(),
        prices=market_prices(m),
        imf_bps=imf_bps(m),
        funding=(0,) * m,
        tags=tags,
        signature=signature,
        new_blinding=_blindings(),
    )
    return outcome.inputs


def _crossing_orders(params: CircuitParams, tags: Tags, n_fills: int) -> list[OrderOp]:
    """For fill k: account 1 buys 1 lot in market k mod M, account 2+k sells it (ids 1+k, 1)."""
    if 2 + n_fills > 4**params.account_levels or n_fills > 4**params.slot_levels:
        raise FixtureError(f"{n_fills} fills do not fit profile {params.name!r}")
    prices = market_prices(params.markets)
    ops = []
    for k in range(n_fills):
        market = k % params.markets
        for account, order_id, side, limit in (
            (1, 1 + k, BUY, prices[market] + 10),
            (2 + k, 1, SELL, prices[market] - 10),
        ):
            order = SlottedOrder(account, order_id, market, side, 1, limit, NOW + 3_600, salt=k + 1)
            signature = key(10 + account).sign(order_hash(tags.order, order))
            ops.append(OrderOp(order, signature))
    return ops


def order_ops_inputs(params: CircuitParams, tags: Tags) -> dict[str, object]:
    """Inputs of one ORDER OPS proof placing ``op_slots`` orders (accounts funded)."""
    ops = _crossing_orders(params, tags, (params.op_slots + 1) // 2)[: params.op_slots]
    book = funded_book(params, 2 + len(ops))
    outcome = build_order_ops(
        book,
        ops,
        tags=tags,
        batch_id=BATCH_ID,
        funding=(0,) * params.markets,
        new_blinding=_blindings(),
    )
    return outcome.inputs


def settle_fills_inputs(params: CircuitParams, tags: Tags, n_fills: int) -> dict[str, object]:
    """Inputs of one SETTLE FILLS group with ``n_fills`` active fills (orders placed first)."""
    if not 1 <= n_fills <= params.group_fills:
        raise FixtureError(f"profile {params.name!r} has {params.group_fills} fills per group")
    ops = _crossing_orders(params, tags, n_fills)
    book = funded_book(params, 2 + n_fills)
    blinding = _blindings()
    m = params.markets
    for start in range(0, len(ops), params.op_slots):
        book = build_order_ops(
            book,
            ops[start : start + params.op_slots],
            tags=tags,
            batch_id=BATCH_ID,
            funding=(0,) * m,
            new_blinding=blinding,
        ).book
    fills = [
        GroupFill(buy=ops[2 * k].order, sell=ops[2 * k + 1].order, quantity=1)
        for k in range(n_fills)
    ]
    outcome = build_settle_fills(
        book,
        fills,
        tags=tags,
        batch_id=BATCH_ID,
        timestamp=NOW,
        prices=market_prices(m),
        funding=(0,) * m,
        fee_bps=fee_bps(m),
        imf_bps=imf_bps(m),
        mmf_bps=mmf_bps(m),
        new_blinding=blinding,
    )
    return outcome.inputs


def solvency_walk_chunks(
    params: CircuitParams, accounts: int | None = None
) -> list[SolvencyWalkWitness]:
    """Every SOLVENCY WALK chunk witness of a book with ``accounts`` funded accounts
    (default: one full chunk, ``4^chunk_levels``)."""
    n = 4**params.chunk_levels if accounts is None else accounts
    book = funded_book(params, n)
    m = params.markets
    return build_solvency_walk(book, market_prices(m), (0,) * m, random.Random(5))


def solvency_walk_first_chunk(params: CircuitParams) -> dict[str, object]:
    return solvency_walk_chunks(params)[0].to_circuit_inputs()
