"""Batch-auction matching at the oracle mark, with per-fill initial-margin checks.

The operator's pure matching engine: given resting orders, hidden account
balances/positions, the batch's marks and the market specs, it decides which
fills a batch contains. Every balance, fee and margin number comes from
``verifier.accounting`` (the one implementation shared with prover and
verifier); this module only decides *which* fills to try. Integers only, no
I/O, deterministic; never imports the service layer, the prover or anything
that touches keys, blindings or the network.

Rules (DESIGN.md section 5, choices written down here):

- Eligible: not cancelled, ``remaining > 0``, not expired
  (``timestamp <= expiry``), not an order of the fee account, and inside its
  limit at the mark (buy: ``mark <= limit``; sell: ``mark >= limit``).
- Per market (in market id order), buys and sells are walked in time priority
  (lowest order-list index first) with two pointers; each pairing trades
  ``q <= min(remaining_buy, remaining_sell)`` lots at the mark.
- Margin: fills are applied one after another to the running account states,
  exactly as settlement applies them, and each fill must leave *both*
  accounts at or above initial margin (``accounting.meets_margin`` at the
  marks with ``imf_bps``). If the full quantity would not, ``q`` is reduced to
  the largest quantity that keeps both accounts above IMR; if no positive
  quantity does, the order(s) that cannot trade even one lot against this
  counterparty are skipped for the rest of the batch (``MARGIN_LIMITED``,
  never cancelled). When each side could trade alone but no common quantity
  exists (only possible through fee rounding), the younger order is skipped.
- Self-trade: when the buy and sell at the pointers belong to the same account,
  the younger order (higher index) is skipped for this batch (``SELF_TRADE``),
  so the older order keeps its priority.
- ``max_fills`` caps the number of fills; eligible orders not reached are
  reported as ``BATCH_FULL``.
- Ranges (liveness): a fill is made only if both accounts, and the fee account
  after its fees, stay inside what the circuits represent
  (``accounting.representable``: signed 96-bit balances, signed 48-bit
  positions); ``q`` is reduced like a margin limit, and an order that cannot
  trade one lot is skipped as ``OUT_OF_RANGE``. So no fill the matcher makes
  can fail the settlement witness on a range, and one such order never blocks
  a batch.

Cost: one sort of the orders plus a linear walk per market; a margin-limited
pairing adds a binary search (``O(log q)`` margin checks).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from exchange.domain.book import RestingOrder
from exchange.domain.markets import MarketSpec, check_markets, imf_vector
from verifier import accounting
from verifier.account_state import SlottedOrder
from verifier.encoding import BUY, Order
from verifier.params import BALANCE_BITS, BPS_DENOM, POSITION_BITS
from verifier.protocol import FEE_ACCOUNT, is_expired


class MatchingError(ValueError):
    """The inputs of a batch are inconsistent (unknown account, wrong vector length, ...)."""


class AccountEntry(NamedTuple):
    """The part of an account the engine needs: balance (quote units) and positions (lots)."""

    balance: int
    positions: tuple[int, ...]


AccountBook = Mapping[int, AccountEntry]
"""Account index -> entry. Keys, nonces and blindings live with the operator, not here."""


class SkipReason(StrEnum):
    """Why an order did not trade (fully) in a batch."""

    CANCELLED = "cancelled"
    FILLED = "filled"
    EXPIRED = "expired"
    INSURANCE_ACCOUNT = "fee_account"  # account 0 (verifier.protocol.FEE_ACCOUNT) never trades
    OUTSIDE_LIMIT = "outside_limit"
    MARGIN_LIMITED = "margin_limited"
    SELF_TRADE = "self_trade"
    BATCH_FULL = "batch_full"
    OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True)
class Fill:
    """``quantity`` lots between a buy and a sell order at ``price`` (the mark); each pays ``fee_each``."""

    buy_index: int
    sell_index: int
    market: int
    quantity: int
    price: int
    fee_each: int


@dataclass(frozen=True)
class BatchResult:
    """Outcome of one batch.

    ``accounts`` is the whole book after the batch (fee account credited with
    ``fee_total``); ``filled`` holds the new filled amount of every order that
    traded; ``skipped`` the reason for every order that was ineligible or was
    passed over. An eligible order that simply found no counterparty is in
    neither.
    """

    fills: tuple[Fill, ...]
    accounts: dict[int, AccountEntry]
    volume: tuple[int, ...]
    fee_total: int
    filled: dict[int, int]
    skipped: dict[int, SkipReason]


def _after_fill(entry: AccountEntry, market: int, lots: int, cash: int) -> AccountEntry:
    return AccountEntry(*accounting.apply_fill(entry.balance, entry.positions, market, lots, cash))


class _FillSide:
    """One account's side of a prospective fill in one market at the mark."""

    def __init__(
        self,
        entry: AccountEntry,
        market: int,
        is_buyer: bool,
        marks: Sequence[int],
        imf: Sequence[int],
        fee_bps: int,
    ) -> None:
        self.entry = entry
        self.market = market
        self.is_buyer = is_buyer
        self.marks = marks
        self.imf = imf
        self.fee_bps = fee_bps
        self.mark = marks[market]

    def after(self, quantity: int) -> AccountEntry:
        effect = accounting.fill_effect(quantity, self.mark, self.fee_bps)
        if self.is_buyer:
            return _after_fill(self.entry, self.market, quantity, effect.buyer_balance_delta)
        return _after_fill(self.entry, self.market, -quantity, effect.seller_balance_delta)

    def ok(self, quantity: int) -> bool:
        new = self.after(quantity)
        return accounting.representable(new.balance, new.positions) and accounting.meets_margin(
            new.balance, new.positions, self.marks, self.imf
        )

    def stuck_reason(self) -> "SkipReason":
        """Why no quantity works: a range bound (one lot already leaves it) or margin."""
        one = self.after(1)
        if not accounting.representable(one.balance, one.positions):
            return SkipReason.OUT_OF_RANGE
        return SkipReason.MARGIN_LIMITED

    def largest_ok(self, limit: int) -> int:
        """Largest q in [1, limit] after which this account meets IMR; 0 if there is none.

        Why this is exact: trading at the mark leaves equity unchanged except
        for the fee, so post-trade slack is ``slack0 + c*(|s| - |s±q|) -
        BPS_DENOM*fee(q)`` with ``c = mark*imf``. Once the position stops
        shrinking (q >= lots-to-flat) slack is non-increasing in q: the feasible
        q form a prefix there, found by binary search. While the position
        shrinks, slack gains ``c`` per lot and loses at most ``k = mark*fee``
        per lot plus under one unit of fee rounding, and ``c > k`` (markets
        require fee < imf); so below ``(-slack0 - 9999) / (c - k)`` nothing is
        feasible and only a short window has to be scanned. The bounds only
        prune: every answer is confirmed with ``accounting.meets_margin``.
        """
        if limit < 1:
            return 0
        position = self.entry.positions[self.market]
        to_flat = max(0, position if not self.is_buyer else -position)
        low = max(to_flat, 1)
        if limit >= low:
            if self.ok(limit):
                return limit
            if self.ok(low):
                good, bad = low, limit
                while bad - good > 1:
                    mid = (good + bad) // 2
                    if self.ok(mid):
                        good = mid
                    else:
                        bad = mid
                return good
            if to_flat <= 1:
                return 0
            limit = to_flat - 1
        # Position-shrinking region [1, limit] with limit < to_flat.
        if self.ok(limit):
            return limit
        slack0 = accounting.margin_slack(
            self.entry.balance, self.entry.positions, self.marks, self.imf
        )
        gain = self.mark * (self.imf[self.market] - self.fee_bps)
        need = -slack0 - (BPS_DENOM - 1)
        lowest = max(1, -(-need // gain))
        for q in range(limit - 1, lowest - 1, -1):
            if self.ok(q):
                return q
        return 0


def _largest_joint(buyer: _FillSide, seller: _FillSide, limit: int) -> int:
    """Largest q in [1, limit] acceptable to both sides, or 0."""
    q = limit
    while True:
        qb = buyer.largest_ok(q)
        if qb == 0:
            return 0
        qs = seller.largest_ok(qb)
        if qs in (0, qb):
            return qs
        q = qs


def _check_inputs(
    accounts: AccountBook,
    marks: Sequence[int],
    markets: Sequence[MarketSpec],
    fee_account: int,
) -> None:
    check_markets(markets)
    if len(marks) != len(markets):
        raise MatchingError(f"{len(marks)} marks for {len(markets)} markets")
    for m, mark in enumerate(marks):
        if mark < 1:
            raise MatchingError(f"mark of market {m} must be positive, got {mark}")
    if fee_account not in accounts:
        raise MatchingError(f"fee account {fee_account} is not in the account book")
    for index, entry in accounts.items():
        if len(entry.positions) != len(markets):
            raise MatchingError(f"account {index} has {len(entry.positions)} positions")


def max_fill_quantity(
    buyer: AccountEntry,
    seller: AccountEntry,
    market: int,
    limit: int,
    marks: Sequence[int],
    markets: Sequence[MarketSpec],
) -> int:
    """Largest q in [0, limit] such that a q-lot fill at the mark leaves both accounts >= IMR."""
    imf = imf_vector(markets)
    fee_bps = markets[market].fee_bps
    return _largest_joint(
        _FillSide(buyer, market, True, marks, imf, fee_bps),
        _FillSide(seller, market, False, marks, imf, fee_bps),
        limit,
    )


def _ineligible(r: RestingOrder, mark: int, timestamp: int, fee_account: int) -> SkipReason | None:
    o = r.order
    if r.cancelled:
        return SkipReason.CANCELLED
    if r.remaining <= 0:
        return SkipReason.FILLED
    if is_expired(o.expiry, timestamp):
        return SkipReason.EXPIRED
    if o.account == fee_account:
        # The fee account is the insurance fund; it never trades (DESIGN.md section 3).
        return SkipReason.INSURANCE_ACCOUNT
    inside = mark <= o.limit_price if o.side == BUY else mark >= o.limit_price
    return None if inside else SkipReason.OUTSIDE_LIMIT


def match_batch(
    orders: Sequence[RestingOrder],
    accounts: AccountBook,
    marks: Sequence[int],
    markets: Sequence[MarketSpec],
    timestamp: int,
    max_fills: int | None = None,
    *,
    fee_account: int = FEE_ACCOUNT,
) -> BatchResult:
    """Fills of one batch; see the module docstring for the rules. Inputs are not modified."""
    _check_inputs(accounts, marks, markets, fee_account)
    if max_fills is not None and max_fills < 0:
        raise MatchingError("max_fills must be non-negative")
    n_markets = len(markets)
    imf = imf_vector(markets)

    by_index = sorted(orders, key=lambda r: r.index)
    buys: list[list[RestingOrder]] = [[] for _ in range(n_markets)]
    sells: list[list[RestingOrder]] = [[] for _ in range(n_markets)]
    skipped: dict[int, SkipReason] = {}
    previous = -1
    for r in by_index:
        if r.index == previous:
            raise MatchingError(f"order index {r.index} appears twice")
        previous = r.index
        o = r.order
        if not 0 <= o.market < n_markets:
            raise MatchingError(f"order {r.index} names unknown market {o.market}")
        if o.account not in accounts:
            raise MatchingError(f"order {r.index} belongs to unknown account {o.account}")
        reason = _ineligible(r, marks[o.market], timestamp, fee_account)
        if reason is not None:
            skipped[r.index] = reason
        else:
            (buys if o.side == BUY else sells)[o.market].append(r)

    states: dict[int, AccountEntry] = dict(accounts)
    fills: list[Fill] = []
    volume = [0] * n_markets
    fee_total = 0
    filled: dict[int, int] = {}

    for market in range(n_markets):
        spec = markets[market]
        mark = marks[market]
        bs, ss = buys[market], sells[market]
        left = {r.index: r.remaining for r in (*bs, *ss)}
        i = j = 0
        while i < len(bs) and j < len(ss):
            if max_fills is not None and len(fills) >= max_fills:
                break
            b, s = bs[i], ss[j]
            ba, sa = b.order.account, s.order.account
            if ba == sa:
                if b.index > s.index:
                    skipped[b.index] = SkipReason.SELF_TRADE
                    i += 1
                else:
                    skipped[s.index] = SkipReason.SELF_TRADE
                    j += 1
                continue
            buyer = _FillSide(states[ba], market, True, marks, imf, spec.fee_bps)
            seller = _FillSide(states[sa], market, False, marks, imf, spec.fee_bps)
            want = min(left[b.index], left[s.index])
            q = _largest_joint(buyer, seller, want)
            if q == 0:
                buyer_stuck = buyer.largest_ok(want) == 0
                seller_stuck = seller.largest_ok(want) == 0
                if not buyer_stuck and not seller_stuck:
                    # Only fee rounding can get here; drop the younger order.
                    buyer_stuck = b.index > s.index
                    seller_stuck = not buyer_stuck
                if buyer_stuck:
                    skipped[b.index] = buyer.stuck_reason()
                    i += 1
                if seller_stuck:
                    skipped[s.index] = seller.stuck_reason()
                    j += 1
                continue
            effect = accounting.fill_effect(q, mark, spec.fee_bps)
            fee_entry = states[fee_account]
            if not accounting.representable(
                fee_entry.balance + fee_total + effect.fee_total, fee_entry.positions
            ):
                # The fee account could not hold this fill's fees: nothing more
                # trades in this market (the circuits could not prove it).
                for r in (*bs[i:], *ss[j:]):
                    skipped.setdefault(r.index, SkipReason.OUT_OF_RANGE)
                break
            states[ba] = _after_fill(states[ba], market, q, effect.buyer_balance_delta)
            states[sa] = _after_fill(states[sa], market, -q, effect.seller_balance_delta)
            fills.append(Fill(b.index, s.index, market, q, mark, effect.fee_each))
            volume[market] += q
            fee_total += effect.fee_total
            left[b.index] -= q
            left[s.index] -= q
            filled[b.index] = b.order.size - left[b.index]
            filled[s.index] = s.order.size - left[s.index]
            i += left[b.index] == 0
            j += left[s.index] == 0
        if max_fills is not None and len(fills) >= max_fills:
            for r in (*bs[i:], *ss[j:]):
                if left[r.index] > 0 and r.index not in skipped:
                    skipped[r.index] = SkipReason.BATCH_FULL

    fee_entry = states[fee_account]
    states[fee_account] = AccountEntry(fee_entry.balance + fee_total, fee_entry.positions)
    return BatchResult(
        fills=tuple(fills),
        accounts=states,
        volume=tuple(volume),
        fee_total=fee_total,
        filled=filled,
        skipped=skipped,
    )


def pre_trade_margin_ok(
    account: AccountEntry,
    order: Order,
    marks: Sequence[int],
    markets: Sequence[MarketSpec],
    *,
    open_orders: Sequence[RestingOrder] = (),
) -> bool:
    """Conservative intake check: could this account afford ``order`` (and its open orders)?

    Rule: every open order of the account (its remaining size) and ``order``
    (its full size) are assumed filled at their own limit prices, each paying
    its fee at that price. The resulting state must meet initial margin
    valued twice — at the current ``marks``, and at the marks with the
    order's market moved to the order's limit. The first catches an order
    whose limit is far from the market (a buy paying more than the positions
    are worth now); the second is exactly the settlement check of a batch
    whose mark equals the limit, the worst mark at which the order can trade.
    It is a heuristic against spam: settlement re-checks margin at the batch
    mark, fill by fill, so accepting an order here never lets an account trade
    below IMR.
    """
    check_markets(markets)
    if len(marks) != len(markets):
        raise MatchingError(f"{len(marks)} marks for {len(markets)} markets")
    if len(account.positions) != len(markets):
        raise MatchingError(f"account has {len(account.positions)} positions")
    if not 0 <= order.market < len(markets):
        raise MatchingError(f"order names unknown market {order.market}")
    pending: list[tuple[Order, int]] = [(r.order, r.remaining) for r in open_orders if r.is_open]
    pending.append((order, order.size))
    worst = account
    for o, lots in pending:
        if o.account != order.account:
            raise MatchingError("open orders must belong to the same account as the order")
        effect = accounting.fill_effect(lots, o.limit_price, markets[o.market].fee_bps)
        if o.side == BUY:
            worst = _after_fill(worst, o.market, lots, effect.buyer_balance_delta)
        else:
            worst = _after_fill(worst, o.market, -lots, effect.seller_balance_delta)
    imf = imf_vector(markets)
    at_limit = list(marks)
    at_limit[order.market] = order.limit_price
    return accounting.meets_margin(
        worst.balance, worst.positions, marks, imf
    ) and accounting.meets_margin(worst.balance, worst.positions, at_limit, imf)


def intake_range_problem(
    account: AccountEntry,
    order: Order,
    markets: Sequence[MarketSpec],
    *,
    open_orders: Sequence[RestingOrder] = (),
) -> str | None:
    """Why ``order`` could take its account outside the circuits' ranges, or None.

    Worst cases, each assuming the account's open orders (remaining size) and
    ``order`` (full size) fill at their limits: in every market, all buys
    (position up, balance down by notional + fee) and, separately, all sells
    (position down, balance up by notional - fee). Each extreme must be
    ``accounting.representable``. Settlement can then never be asked to prove
    an account outside its ranges through orders accepted here; the matcher
    still checks every fill (``OUT_OF_RANGE``).
    """
    if not 0 <= order.market < len(markets):
        raise MatchingError(f"order names unknown market {order.market}")
    pending = [(r.order, r.remaining) for r in open_orders if r.is_open]
    pending.append((order, order.size))
    up = list(account.positions)
    down = list(account.positions)
    low = high = account.balance
    for o, lots in pending:
        if o.account != order.account:
            raise MatchingError("open orders must belong to the same account as the order")
        effect = accounting.fill_effect(lots, o.limit_price, markets[o.market].fee_bps)
        if o.side == BUY:
            up[o.market] += lots
            low += effect.buyer_balance_delta
        else:
            down[o.market] -= lots
            high += effect.seller_balance_delta
    for m in range(len(markets)):
        for position in (up[m], down[m]):
            if not accounting.representable(0, [position]):
                return (
                    f"position limit: account {order.account} could hold {position} lots in "
                    f"market {m} if its open orders filled; the circuits hold at most "
                    f"{(1 << (POSITION_BITS - 1)) - 1} either way"
                )
    if not (accounting.representable(low, up) and accounting.representable(high, down)):
        return (
            f"balance limit: account {order.account}'s balance could leave the circuits' "
            f"signed {BALANCE_BITS}-bit range if its open orders filled"
        )
    return None


def may_cross(orders: Sequence[Order | SlottedOrder]) -> bool:
    """Whether some batch mark could fill any of ``orders`` (the live ones; any order type).

    A fill at mark P needs a buy with ``limit >= P`` and a sell with ``limit
    <= P`` of two different accounts in one market, so some buy limit must be
    >= some other account's sell limit. False means every batch now would
    prove no fill whatever the mark: the batcher need not run one. Necessary,
    not sufficient (margin may still refuse). Orders of the fee account never
    trade. O(len(orders)).
    """
    # Per (market, side) and account: the best limit (highest buy, lowest sell).
    best: dict[tuple[int, int], dict[int, int]] = {}
    for o in orders:
        if o.account == FEE_ACCOUNT:
            continue
        worth = o.limit_price if o.side == BUY else -o.limit_price
        per_account = best.setdefault((o.market, o.side), {})
        per_account[o.account] = max(worth, per_account.get(o.account, worth))
    for (market, side), buyers in best.items():
        sellers = best.get((market, 1 - BUY), {})
        if side != BUY or not sellers:
            continue
        # Two accounts each side suffice: the best pair of distinct accounts is among them.
        top_buys = sorted(((w, a) for a, w in buyers.items()), reverse=True)[:2]
        top_sells = sorted(((w, a) for a, w in sellers.items()), reverse=True)[:2]
        for buy_limit, buyer in top_buys:
            for neg_sell, seller in top_sells:
                if buyer != seller and buy_limit >= -neg_sell:
                    return True
    return False
