"""Batch matching: property tests over random books and accounts, plus worked examples.

Every expected number in the examples is derived by hand from DESIGN.md
section 4 (fill at the mark, fee = ceil(q*P*fee_bps/10_000) per side); the
properties replay the engine's fills independently through
``verifier.accounting``.
"""

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.domain import (
    AccountEntry,
    BatchResult,
    BookError,
    MarketError,
    MarketSpec,
    MatchingError,
    OrderBook,
    RestingOrder,
    SkipReason,
    match_batch,
)
from exchange.domain.matching import may_cross
from tests.exchange.strategies import market_specs
from verifier import accounting
from verifier.encoding import BUY, SELL, Order

TIMESTAMP = 1_000


@dataclass(frozen=True)
class Batch:
    orders: list[RestingOrder]
    accounts: dict[int, AccountEntry]
    marks: list[int]
    markets: list[MarketSpec]
    max_fills: int | None


@st.composite
def batches(draw: st.DrawFn, *, max_orders: int = 30) -> Batch:
    n_markets = draw(st.integers(1, 3))
    markets = draw(market_specs(n_markets, imf=(100, 3000), max_fee_bps=60))
    # Small marks exercise fee rounding; large ones the ordinary case.
    marks = [draw(st.one_of(st.integers(1, 30), st.integers(100, 50_000))) for _ in markets]
    n_traders = draw(st.integers(2, 5))
    accounts: dict[int, AccountEntry] = {
        0: AccountEntry(draw(st.integers(0, 10**6)), (0,) * n_markets)
    }
    columns: list[list[int]] = []
    for _ in range(n_markets):
        col = [draw(st.integers(-15, 15)) for _ in range(n_traders - 1)]
        columns.append([*col, -sum(col)])  # open interest nets to zero
    for t in range(n_traders):
        # Balances from "broke" to "rich" so margin binds in some batches and not in others.
        scale = max(marks) * 20
        balance = draw(st.one_of(st.integers(-scale, scale), st.integers(scale, 50 * scale)))
        accounts[t + 1] = AccountEntry(balance, tuple(columns[m][t] for m in range(n_markets)))
    n_orders = draw(st.integers(2, max_orders))
    indices = draw(
        st.lists(
            st.integers(0, 4 * max_orders + 4), min_size=n_orders, max_size=n_orders, unique=True
        )
    )
    orders = []
    for index in indices:
        market = draw(st.integers(0, n_markets - 1))
        size = draw(st.integers(1, 20))
        side = draw(st.sampled_from([BUY, SELL]))
        # Mostly inside the limit (offset towards the eligible side), sometimes outside.
        offset = draw(st.integers(-1, 3))
        # Now and then an order of the fee account (0), which must never trade.
        account = 0 if draw(st.integers(0, 9)) == 0 else draw(st.integers(1, n_traders))
        order = Order(
            account=account,
            market=market,
            side=side,
            size=size,
            limit_price=max(1, marks[market] + (offset if side == BUY else -offset)),
            expiry=TIMESTAMP + draw(st.integers(-1, 6)),
            salt=index,
        )
        filled = draw(st.one_of(st.just(0), st.integers(0, size)))
        orders.append(
            RestingOrder(
                index,
                order,
                commitment=index + 1,
                filled=filled,
                cancelled=draw(st.integers(0, 9)) == 0,
            )
        )
    max_fills = draw(st.one_of(st.none(), st.none(), st.integers(0, 6)))
    return Batch(orders, accounts, marks, markets, max_fills)


def run(b: Batch) -> BatchResult:
    return match_batch(b.orders, b.accounts, b.marks, b.markets, TIMESTAMP, b.max_fills)


def eligible(r: RestingOrder, marks: Sequence[int]) -> bool:
    o = r.order
    mark = marks[o.market]
    inside = mark <= o.limit_price if o.side == BUY else mark >= o.limit_price
    return (
        not r.cancelled and r.remaining > 0 and o.expiry >= TIMESTAMP and o.account != 0 and inside
    )


def check_batch(b: Batch, result: BatchResult) -> None:
    """Every invariant of a batch, checked against an independent replay."""
    by_index = {r.index: r for r in b.orders}
    imf = [m.imf_bps for m in b.markets]
    states = dict(b.accounts)
    traded: dict[int, int] = defaultdict(int)
    fee_total = 0
    volume = [0] * len(b.markets)
    if b.max_fills is not None:
        assert len(result.fills) <= b.max_fills
    for f in result.fills:
        buy, sell = by_index[f.buy_index], by_index[f.sell_index]
        assert buy.order.side == BUY and sell.order.side == SELL
        assert buy.order.market == sell.order.market == f.market
        assert eligible(buy, b.marks) and eligible(sell, b.marks)  # expiry, cancel, limits
        assert f.price == b.marks[f.market]
        assert f.price <= buy.order.limit_price and f.price >= sell.order.limit_price
        assert buy.order.account != sell.order.account
        assert f.quantity >= 1
        assert f.fee_each == -(-f.quantity * f.price * b.markets[f.market].fee_bps // 10_000)
        # Replay through the accounting module; both sides must meet IMR after every fill.
        effect = accounting.fill_effect(f.quantity, f.price, b.markets[f.market].fee_bps)
        for account, lots, cash in (
            (buy.order.account, f.quantity, effect.buyer_balance_delta),
            (sell.order.account, -f.quantity, effect.seller_balance_delta),
        ):
            bal, pos = states[account]
            new_pos = list(pos)
            new_pos[f.market] += lots
            states[account] = AccountEntry(bal + cash, tuple(new_pos))
            assert accounting.meets_margin(bal + cash, new_pos, b.marks, imf)
        traded[f.buy_index] += f.quantity
        traded[f.sell_index] += f.quantity
        fee_total += 2 * f.fee_each
        volume[f.market] += f.quantity
    fee_bal, fee_pos = states[0]
    states[0] = AccountEntry(fee_bal + fee_total, fee_pos)
    assert result.accounts == states
    assert result.fee_total == fee_total
    assert tuple(volume) == result.volume

    # Conservation: open interest nets to the same value, balances sum to the collateral.
    for m in range(len(b.markets)):
        assert sum(e.positions[m] for e in result.accounts.values()) == sum(
            e.positions[m] for e in b.accounts.values()
        )
    assert sum(e.balance for e in result.accounts.values()) == sum(
        e.balance for e in b.accounts.values()
    )
    # Every account that traded meets IMR after the batch.
    for account in {by_index[i].order.account for i in traded}:
        e = result.accounts[account]
        assert accounting.meets_margin(e.balance, e.positions, b.marks, imf)

    # Filled amounts: never overfilled, reported exactly for the orders that traded.
    assert set(result.filled) == set(traded)
    for index, q in traded.items():
        r = by_index[index]
        assert result.filled[index] == r.filled + q <= r.order.size

    # Skip reasons agree with eligibility; traded orders were never skipped as ineligible.
    for r in b.orders:
        reason = result.skipped.get(r.index)
        if not eligible(r, b.marks):
            assert reason in {
                SkipReason.CANCELLED,
                SkipReason.FILLED,
                SkipReason.EXPIRED,
                SkipReason.INSURANCE_ACCOUNT,
                SkipReason.OUTSIDE_LIMIT,
            }
            assert r.index not in traded
        else:
            assert reason in {
                None,
                SkipReason.MARGIN_LIMITED,
                SkipReason.SELF_TRADE,
                SkipReason.BATCH_FULL,
            }

    # Time priority: an eligible earlier order left with lots while a later order on
    # the same market and side traded must have been margin-limited or a self-trade.
    for later in traded:
        lr = by_index[later]
        for r in b.orders:
            if (
                r.index < later
                and r.order.market == lr.order.market
                and r.order.side == lr.order.side
                and eligible(r, b.marks)
                and r.filled + traded.get(r.index, 0) < r.order.size
            ):
                assert result.skipped.get(r.index) in {
                    SkipReason.MARGIN_LIMITED,
                    SkipReason.SELF_TRADE,
                }, (r.index, later)


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(batches())
def test_batch_invariants(b: Batch) -> None:
    before = (list(b.orders), dict(b.accounts))
    check_batch(b, run(b))
    assert (b.orders, b.accounts) == before  # inputs untouched


@settings(max_examples=100, deadline=None)
@given(batches(), st.randoms(use_true_random=False))
def test_result_independent_of_input_order(b: Batch, rnd: random.Random) -> None:
    shuffled = list(b.orders)
    rnd.shuffle(shuffled)
    assert run(b) == match_batch(shuffled, b.accounts, b.marks, b.markets, TIMESTAMP, b.max_fills)


@given(batches(), st.lists(st.integers(1, 60_000), min_size=3, max_size=3))
def test_no_fill_at_any_mark_unless_live_orders_may_cross(b: Batch, marks: list[int]) -> None:
    """The batcher's wake-up rule (may_cross) is necessary for a fill at any mark."""
    live = [r.order for r in b.orders if not r.cancelled and r.remaining > 0]
    if may_cross(live):
        return
    for batch_marks in (b.marks, marks[: len(b.marks)]):
        result = match_batch(b.orders, b.accounts, batch_marks, b.markets, TIMESTAMP, b.max_fills)
        assert not result.fills


def test_may_cross_needs_two_accounts_and_crossing_limits() -> None:
    def o(account: int, side: int, limit: int, market: int = 0) -> Order:
        return Order(account, market, side, 1, limit, TIMESTAMP, account * 100 + limit)

    assert may_cross([o(1, BUY, 100), o(2, SELL, 100)])  # equal limits cross at P = 100
    assert not may_cross([o(1, BUY, 99), o(2, SELL, 100)])  # buy below the sell
    assert not may_cross([o(1, BUY, 100), o(1, SELL, 90)])  # one account's own pair
    assert not may_cross([o(1, BUY, 100), o(2, SELL, 90, market=1)])  # different markets
    assert not may_cross([o(0, BUY, 100), o(2, SELL, 90)])  # the fee account never trades
    # The best buy is the seller's own, but the second account's buy still crosses.
    assert may_cross([o(1, BUY, 100), o(2, BUY, 95), o(1, SELL, 90)])
    assert not may_cross([o(1, BUY, 100), o(2, BUY, 85), o(1, SELL, 90)])


@settings(max_examples=100, deadline=None)
@given(batches())
def test_max_fills_truncates_the_uncapped_batch(b: Batch) -> None:
    """A cap only cuts the fill list short: the capped fills are a prefix of the uncapped ones."""
    uncapped = match_batch(b.orders, b.accounts, b.marks, b.markets, TIMESTAMP)
    cap = b.max_fills if b.max_fills is not None else len(uncapped.fills) // 2
    capped = match_batch(b.orders, b.accounts, b.marks, b.markets, TIMESTAMP, cap)
    assert capped.fills == uncapped.fills[: len(capped.fills)]
    assert len(capped.fills) == min(cap, len(uncapped.fills))


# ---------------------------------------------------------------- examples


BTC = MarketSpec(
    id=0, symbol="BTC-PERP", lot_size=1, tick_size=1, imf_bps=1000, mmf_bps=500, fee_bps=10
)
ETH = MarketSpec(
    id=1, symbol="ETH-PERP", lot_size=1, tick_size=1, imf_bps=500, mmf_bps=250, fee_bps=0
)
MARKETS = [BTC, ETH]
RICH = 10**9


def order(
    index: int,
    account: int,
    side: int,
    size: int,
    limit: int,
    *,
    market: int = 0,
    expiry: int = TIMESTAMP,
    filled: int = 0,
    cancelled: bool = False,
) -> RestingOrder:
    return RestingOrder(
        index,
        Order(account, market, side, size, limit, expiry, salt=index),
        commitment=1000 + index,
        filled=filled,
        cancelled=cancelled,
    )


def book(*balances: int) -> dict[int, AccountEntry]:
    out = {0: AccountEntry(0, (0, 0))}
    for i, bal in enumerate(balances, start=1):
        out[i] = AccountEntry(bal, (0, 0))
    return out


def test_exact_partial_fill() -> None:
    orders = [order(0, 1, BUY, 10, 105), order(1, 2, SELL, 4, 95)]
    result = match_batch(orders, book(RICH, RICH), [100, 50], MARKETS, TIMESTAMP)
    # 4 lots at the mark 100: notional 400, fee ceil(400*10/10_000) = 1 each.
    assert [(f.buy_index, f.sell_index, f.quantity, f.price, f.fee_each) for f in result.fills] == [
        (0, 1, 4, 100, 1)
    ]
    assert result.filled == {0: 4, 1: 4}
    assert result.accounts[1] == AccountEntry(RICH - 400 - 1, (4, 0))
    assert result.accounts[2] == AccountEntry(RICH + 400 - 1, (-4, 0))
    assert result.volume == (4, 0)
    assert result.skipped == {}


def test_order_filled_to_exactly_its_size_with_fees() -> None:
    orders = [
        order(0, 1, BUY, 50, 2000),
        order(1, 2, SELL, 20, 1900),
        order(2, 3, SELL, 30, 2000),
        order(3, 4, SELL, 5, 1000),  # eligible but nothing left to buy
    ]
    result = match_batch(orders, book(RICH, RICH, RICH, RICH), [2000, 50], MARKETS, TIMESTAMP)
    # fee_each = ceil(q*2000*10 / 10_000) = 2q exactly
    assert [(f.sell_index, f.quantity, f.fee_each) for f in result.fills] == [
        (1, 20, 40),
        (2, 30, 60),
    ]
    assert result.filled == {0: 50, 1: 20, 2: 30}
    assert result.fee_total == 200
    assert result.accounts[0].balance == 200
    assert result.accounts[1] == AccountEntry(RICH - 50 * 2000 - 100, (50, 0))
    assert 3 not in result.filled and 3 not in result.skipped


def test_margin_limited_fill_is_reduced_to_the_boundary() -> None:
    # Mark 100, imf 10%, fee 10 bps. A flat buyer with balance B after q lots has
    # equity B - ceil(q/10) and needs 10*q: with B = 70, q = 6 passes (69 >= 60),
    # q = 7 fails (69 < 70).
    orders = [
        order(0, 1, BUY, 10, 100),
        order(1, 2, SELL, 10, 100),
        order(2, 3, BUY, 10, 100),  # a later, well-funded buyer takes the rest
    ]
    accounts = book(70, RICH, RICH)
    marks = [100, 50]
    result = match_batch(orders, accounts, marks, MARKETS, TIMESTAMP)
    assert [(f.buy_index, f.quantity) for f in result.fills] == [(0, 6), (2, 4)]
    assert result.skipped == {0: SkipReason.MARGIN_LIMITED}
    assert result.filled == {0: 6, 1: 10, 2: 4}
    imf = [m.imf_bps for m in MARKETS]
    for q, ok in ((6, True), (7, False)):
        effect = accounting.fill_effect(q, 100, BTC.fee_bps)
        assert accounting.meets_margin(70 + effect.buyer_balance_delta, [q, 0], marks, imf) is ok
    assert result.accounts[1] == AccountEntry(70 - 600 - 1, (6, 0))


def test_broke_order_is_skipped_without_blocking_the_queue() -> None:
    orders = [order(0, 1, BUY, 5, 100), order(1, 2, BUY, 5, 100), order(2, 3, SELL, 5, 100)]
    result = match_batch(orders, book(5, RICH, RICH), [100, 50], MARKETS, TIMESTAMP)
    assert [(f.buy_index, f.quantity) for f in result.fills] == [(1, 5)]
    assert result.skipped == {0: SkipReason.MARGIN_LIMITED}


def test_reducing_an_underwater_position_is_allowed_when_it_restores_margin() -> None:
    # Account 1 is long 10 at mark 100 with balance -950: equity 50 < IMR 100.
    # Selling 5 leaves equity 49 (fee 1) and IMR 50: refused; selling 6+ is allowed,
    # selling all 10 leaves equity 49 (fee 1) and IMR 0.
    accounts = {
        0: AccountEntry(0, (0, 0)),
        1: AccountEntry(-950, (10, 0)),
        2: AccountEntry(RICH, (-10, 0)),
    }
    orders = [order(0, 1, SELL, 10, 100), order(1, 2, BUY, 10, 100)]
    result = match_batch(orders, accounts, [100, 50], MARKETS, TIMESTAMP)
    assert [(f.quantity, f.fee_each) for f in result.fills] == [(10, 1)]
    assert result.accounts[1] == AccountEntry(-950 + 1000 - 1, (0, 0))


def test_self_trade_skips_the_younger_order() -> None:
    orders = [order(0, 1, BUY, 5, 100), order(1, 1, SELL, 5, 100), order(2, 2, SELL, 5, 100)]
    result = match_batch(orders, book(RICH, RICH), [100, 50], MARKETS, TIMESTAMP)
    assert [(f.buy_index, f.sell_index) for f in result.fills] == [(0, 2)]
    assert result.skipped == {1: SkipReason.SELF_TRADE}


def test_ineligible_orders_report_their_reason() -> None:
    orders = [
        order(0, 1, BUY, 5, 99),  # mark 100 above the buy limit
        order(1, 2, SELL, 5, 101),  # mark below the sell limit
        order(2, 1, BUY, 5, 100, expiry=TIMESTAMP - 1),
        order(3, 1, BUY, 5, 100, cancelled=True),
        order(4, 1, BUY, 5, 100, filled=5),
        order(5, 0, BUY, 5, 100),
        order(6, 2, SELL, 5, 100, expiry=TIMESTAMP),  # expiry == timestamp is still live
        order(7, 1, BUY, 2, 100, filled=1),
    ]
    result = match_batch(orders, book(RICH, RICH), [100, 50], MARKETS, TIMESTAMP)
    assert result.skipped == {
        0: SkipReason.OUTSIDE_LIMIT,
        1: SkipReason.OUTSIDE_LIMIT,
        2: SkipReason.EXPIRED,
        3: SkipReason.CANCELLED,
        4: SkipReason.FILLED,
        5: SkipReason.INSURANCE_ACCOUNT,
    }
    assert [(f.buy_index, f.sell_index, f.quantity) for f in result.fills] == [(7, 6, 1)]
    assert result.filled == {7: 2, 6: 1}


def test_markets_match_independently_at_their_own_marks() -> None:
    orders = [
        order(0, 1, BUY, 3, 60, market=1),
        order(1, 2, SELL, 3, 100),
        order(2, 2, SELL, 2, 40, market=1),
        order(3, 1, BUY, 1, 100),
    ]
    result = match_batch(orders, book(RICH, RICH), [100, 50], MARKETS, TIMESTAMP)
    assert [(f.market, f.price, f.quantity) for f in result.fills] == [(0, 100, 1), (1, 50, 2)]
    assert result.volume == (1, 2)


def test_max_fills_marks_the_rest_batch_full() -> None:
    orders = [
        order(0, 1, BUY, 1, 100),
        order(1, 2, SELL, 1, 100),
        order(2, 1, BUY, 1, 100),
        order(3, 2, SELL, 1, 100),
    ]
    result = match_batch(orders, book(RICH, RICH), [100, 50], MARKETS, TIMESTAMP, max_fills=1)
    assert len(result.fills) == 1
    assert result.skipped == {2: SkipReason.BATCH_FULL, 3: SkipReason.BATCH_FULL}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"imf_bps": 500, "mmf_bps": 500}, "must exceed mmf_bps"),
        ({"imf_bps": 10_001, "mmf_bps": 1}, "exceeds"),
        ({"mmf_bps": 0}, "mmf_bps must be a positive"),
        ({"fee_bps": 1000}, "below imf_bps"),
        ({"fee_bps": -1}, "fee_bps must be"),
        ({"lot_size": 0}, "lot_size"),
        ({"symbol": ""}, "symbol"),
    ],
)
def test_market_spec_validation(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "id": 0,
        "symbol": "X",
        "lot_size": 1,
        "tick_size": 1,
        "imf_bps": 1000,
        "mmf_bps": 500,
        "fee_bps": 5,
    }
    with pytest.raises(MarketError, match=message):
        MarketSpec(**{**base, **kwargs})  # type: ignore[arg-type]


def test_market_spec_round_trips_through_dict() -> None:
    assert MarketSpec.from_dict(BTC.to_dict()) == BTC


def test_inconsistent_inputs_raise() -> None:
    orders = [order(0, 9, BUY, 1, 100)]
    with pytest.raises(MatchingError, match="unknown account"):
        match_batch(orders, book(RICH), [100, 50], MARKETS, TIMESTAMP)
    with pytest.raises(MatchingError, match="marks"):
        match_batch([], book(RICH), [100], MARKETS, TIMESTAMP)
    with pytest.raises(MatchingError, match="fee account"):
        match_batch([], {1: AccountEntry(0, (0, 0))}, [100, 50], MARKETS, TIMESTAMP)
    with pytest.raises(MatchingError, match="twice"):
        match_batch([order(0, 1, BUY, 1, 100)] * 2, book(RICH), [100, 50], MARKETS, TIMESTAMP)
    with pytest.raises(MarketError, match="ids"):
        match_batch([], book(RICH), [100, 50], [ETH, BTC], TIMESTAMP)


def test_order_book_tracks_fills_and_cancels() -> None:
    ob = OrderBook()
    a = ob.add(Order(1, 0, BUY, 5, 100, TIMESTAMP, salt=1), commitment=11)
    b = ob.add(Order(2, 0, SELL, 5, 100, TIMESTAMP, salt=2), commitment=12)
    assert (a.index, b.index) == (0, 1)
    result = match_batch(list(ob), book(RICH, RICH), [100, 50], MARKETS, TIMESTAMP)
    ob.record_fills(result.filled)
    assert ob.get(0).filled == 5 and ob.open_orders() == []
    c = ob.add(Order(1, 0, BUY, 5, 100, TIMESTAMP, salt=3), commitment=13)
    ob.cancel(c.index)
    with pytest.raises(BookError, match="already cancelled"):
        ob.cancel(c.index)
    with pytest.raises(BookError, match="cancelled"):
        ob.record_fills({c.index: 1})
    with pytest.raises(BookError, match="outside"):
        ob.record_fills({0: 6})
    with pytest.raises(BookError, match="no order"):
        ob.get(3)
