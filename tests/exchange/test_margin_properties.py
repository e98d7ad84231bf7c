"""Margin arithmetic of the matching domain: fill-size search and the intake check.

``max_fill_quantity`` must return exactly the largest margin-feasible quantity
— checked against brute force over every q, with small marks so that fee
rounding (which makes feasibility non-monotone for position-reducing fills)
is exercised. ``pre_trade_margin_ok`` is tied to settlement: an order it
accepts fills completely in a batch whose mark equals its limit.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain import (
    AccountEntry,
    MarketSpec,
    RestingOrder,
    SkipReason,
    match_batch,
    max_fill_quantity,
    pre_trade_margin_ok,
)
from tests.exchange.strategies import market_specs
from verifier import accounting
from verifier.encoding import BUY, SELL, Order

TIMESTAMP = 50


@st.composite
def market_lists(draw: st.DrawFn) -> list[MarketSpec]:
    return draw(market_specs(draw(st.integers(1, 3)), imf=(2, 5000)))


@st.composite
def entries(draw: st.DrawFn, n_markets: int, price_scale: int) -> AccountEntry:
    positions = tuple(draw(st.integers(-40, 40)) for _ in range(n_markets))
    # Near-zero equity makes margin bind (including accounts already below IMR that
    # may only trade towards flat); a rich account leaves the other side as the limit.
    equity = draw(st.one_of(st.integers(-5 * price_scale, 20 * price_scale), st.just(10**12)))
    balance = equity - draw(st.integers(0, price_scale)) * positions[0]
    return AccountEntry(balance, positions)


def feasible(
    entry: AccountEntry, market: int, lots: int, cash: int, marks: list[int], imf: list[int]
) -> bool:
    positions = list(entry.positions)
    positions[market] += lots
    return accounting.meets_margin(entry.balance + cash, positions, marks, imf)


def brute_force_max(
    buyer: AccountEntry,
    seller: AccountEntry,
    market: int,
    limit: int,
    marks: list[int],
    markets: list[MarketSpec],
) -> int:
    imf = [m.imf_bps for m in markets]
    best = 0
    for q in range(1, limit + 1):
        e = accounting.fill_effect(q, marks[market], markets[market].fee_bps)
        if feasible(buyer, market, q, e.buyer_balance_delta, marks, imf) and feasible(
            seller, market, -q, e.seller_balance_delta, marks, imf
        ):
            best = q
    return best


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_max_fill_quantity_is_the_largest_feasible_quantity(data: st.DataObject) -> None:
    markets = data.draw(market_lists())
    scale = data.draw(st.sampled_from([1, 3, 20, 500]))
    marks = [data.draw(st.integers(1, scale)) for _ in markets]
    market = data.draw(st.integers(0, len(markets) - 1))
    buyer = data.draw(entries(len(markets), scale))
    seller = data.draw(entries(len(markets), scale))
    limit = data.draw(st.integers(0, 80))
    got = max_fill_quantity(buyer, seller, market, limit, marks, markets)
    assert got == brute_force_max(buyer, seller, market, limit, marks, markets)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_pre_trade_ok_orders_fill_completely_when_the_mark_is_at_their_limit(
    data: st.DataObject,
) -> None:
    markets = data.draw(market_lists())
    marks = [data.draw(st.integers(1, 2000)) for _ in markets]
    market = data.draw(st.integers(0, len(markets) - 1))
    trader = data.draw(entries(len(markets), 2000))
    side = data.draw(st.sampled_from([BUY, SELL]))
    limit = data.draw(st.integers(1, 4000))
    o = Order(1, market, side, data.draw(st.integers(1, 30)), limit, TIMESTAMP, salt=7)
    if not pre_trade_margin_ok(trader, o, marks, markets):
        return
    # A counterparty with unlimited collateral; settlement happens at mark = limit.
    at_limit = list(marks)
    at_limit[market] = limit
    other = AccountEntry(10**15, tuple(-s for s in trader.positions))
    counter = Order(2, market, SELL if side == BUY else BUY, o.size, limit, TIMESTAMP, salt=8)
    result = match_batch(
        [RestingOrder(0, o, 1), RestingOrder(1, counter, 2)],
        {0: AccountEntry(0, (0,) * len(markets)), 1: trader, 2: other},
        at_limit,
        markets,
        TIMESTAMP,
    )
    assert result.filled.get(0) == o.size, result.skipped


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_pre_trade_check_is_exactly_its_documented_rule(data: st.DataObject) -> None:
    markets = data.draw(market_lists())
    imf = [m.imf_bps for m in markets]
    marks = [data.draw(st.integers(1, 500)) for _ in markets]
    trader = data.draw(entries(len(markets), 500))

    def draw_order(salt: int) -> Order:
        return Order(
            1,
            data.draw(st.integers(0, len(markets) - 1)),
            data.draw(st.sampled_from([BUY, SELL])),
            data.draw(st.integers(1, 20)),
            data.draw(st.integers(1, 1000)),
            TIMESTAMP,
            salt=salt,
        )

    resting = [
        RestingOrder(i, draw_order(i), i, filled=0) for i in range(data.draw(st.integers(0, 3)))
    ]
    o = draw_order(99)
    balance, positions = trader.balance, list(trader.positions)
    for x, lots in [(r.order, r.remaining) for r in resting] + [(o, o.size)]:
        e = accounting.fill_effect(lots, x.limit_price, markets[x.market].fee_bps)
        if x.side == BUY:
            balance, positions[x.market] = (
                balance + e.buyer_balance_delta,
                positions[x.market] + lots,
            )
        else:
            balance, positions[x.market] = (
                balance + e.seller_balance_delta,
                positions[x.market] - lots,
            )
    at_limit = list(marks)
    at_limit[o.market] = o.limit_price
    expected = accounting.meets_margin(balance, positions, marks, imf) and accounting.meets_margin(
        balance, positions, at_limit, imf
    )
    assert pre_trade_margin_ok(trader, o, marks, markets, open_orders=resting) is expected


def test_pre_trade_boundary_one_lot() -> None:
    # Mark 100 = limit, imf 10%, no fee: balance 100 affords exactly 10 lots.
    spec = MarketSpec(0, "X", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=0)
    flat = AccountEntry(100, (0,))
    assert pre_trade_margin_ok(flat, Order(1, 0, BUY, 10, 100, TIMESTAMP, salt=0), [100], [spec])
    assert not pre_trade_margin_ok(
        flat, Order(1, 0, BUY, 11, 100, TIMESTAMP, salt=0), [100], [spec]
    )
    # A buy limit above the mark: with balance 150, 10 lots at 110 pass when valued
    # at the limit (equity 150 >= 110) but not at the mark (equity 50 < 100).
    richer = AccountEntry(150, (0,))
    above = Order(1, 0, BUY, 10, 110, TIMESTAMP, salt=0)
    assert pre_trade_margin_ok(richer, above, [110], [spec])
    assert not pre_trade_margin_ok(richer, above, [100], [spec])
    assert pre_trade_margin_ok(AccountEntry(200, (0,)), above, [100], [spec])


def test_margin_limited_seller_is_skipped_and_buyer_keeps_its_priority() -> None:
    spec = MarketSpec(0, "X", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=0)
    accounts = {
        0: AccountEntry(0, (0,)),
        1: AccountEntry(10**9, (0,)),
        2: AccountEntry(0, (0,)),  # cannot short a single lot
        3: AccountEntry(30, (0,)),  # can short exactly 3 lots at 100
    }
    orders = [
        RestingOrder(0, Order(1, 0, BUY, 5, 100, TIMESTAMP, salt=0), 1),
        RestingOrder(1, Order(2, 0, SELL, 5, 100, TIMESTAMP, salt=1), 2),
        RestingOrder(2, Order(3, 0, SELL, 5, 100, TIMESTAMP, salt=2), 3),
    ]
    result = match_batch(orders, accounts, [100], [spec], TIMESTAMP)
    assert [(f.buy_index, f.sell_index, f.quantity) for f in result.fills] == [(0, 2, 3)]
    assert result.skipped == {1: SkipReason.MARGIN_LIMITED, 2: SkipReason.MARGIN_LIMITED}
    assert result.accounts[3] == AccountEntry(330, (-3,))


def test_fee_rounding_can_make_a_smaller_reducing_fill_the_largest_feasible() -> None:
    """Feasibility is not monotone while a position shrinks: found by the window scan.

    Mark 10, imf 100 bps, fee 50 bps. The seller is long 30 lots with equity 2,
    slack0 = 10_000*2 - 30*10*100 = -10_000. Selling q lots gives slack
    -10_000 + 1_000*q - 10_000*ceil(50*q/10_000 * 10): q=20 -> 0 (fee 1), but
    q=21..25 -> negative (fee 2), and q<20 -> negative. So the largest
    feasible q <= 25 is 20.
    """
    spec = MarketSpec(0, "X", 1, 1, imf_bps=100, mmf_bps=50, fee_bps=50)
    seller = AccountEntry(2 - 300, (30,))
    buyer = AccountEntry(10**9, (0,))
    assert max_fill_quantity(buyer, seller, 0, 25, [10], [spec]) == 20
    assert brute_force_max(buyer, seller, 0, 25, [10], [spec]) == 20
    # Below 20 lots the released margin does not yet cover the deficit and fee.
    assert (
        max_fill_quantity(buyer, seller, 0, 19, [10], [spec])
        == 0
        == brute_force_max(buyer, seller, 0, 19, [10], [spec])
    )
    result = match_batch(
        [
            RestingOrder(0, Order(2, 0, SELL, 25, 10, TIMESTAMP, salt=0), 1),
            RestingOrder(1, Order(1, 0, BUY, 25, 10, TIMESTAMP, salt=1), 2),
        ],
        {0: AccountEntry(0, (0,)), 1: buyer, 2: seller},
        [10],
        [spec],
        TIMESTAMP,
    )
    # After the 20-lot fill the seller's slack is exactly 0; any further lot costs
    # at least one unit of fee (fees round up per fill), so nothing more fits:
    # splitting a trade into small fills cannot dodge the fee.
    assert [(f.quantity, f.fee_each) for f in result.fills] == [(20, 1)]
    assert result.accounts[2] == AccountEntry(2 - 300 + 200 - 1, (10,))
