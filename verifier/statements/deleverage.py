"""Public side of AUTO-DELEVERAGING (``circuits/deleverage.circom``) and its published rules.

When a liquidated account's negative equity exceeds what the insurance fund
(account 0) can pay, its positions are closed against accounts holding the
opposite side, at the **bankruptcy price**, in a published ranking. One proof
per trade; a ``deleverage`` ledger entry holds every trade of one bankrupt
account (``verifier.ledger.adl``). The rules, written down once here (the
operator's domain engine ``exchange.domain.adl`` imports them):

* **Shortfall**: the first trade proves the fund paid all its positive equity
  into the account and ``shortfall = -(equity + cover) >= 1`` is what is left
  (public: the bad debt the counterparties absorb).
* **Split** (``split_shortfall``): ``D_m = floor(D * n_m / N)`` over the markets
  by notional ``n_m = |s_m| * P_m``, the remainder to the largest notional
  (lowest id on ties).
* **Bankruptcy price** (``bankruptcy_price``): ``P_m + sign(s_m) * ceil(D_m / |s_m|)``,
  floored at 0 (a bankrupt long sells above the mark, a short buys below).
* **Rank key** (``rank_key``): ``1 + floor(10^4 * N / E)`` for equity ``E > 0``
  (leverage in bps, notional ``N = sum |s| * P``), else 0; computed in-circuit
  from the counterparty's own leaf after funding, at the marks, and public.
  Within a market the trades' counterparties come in ``(fund last, rank key
  descending, index ascending)`` order; each closes ``min(remaining, |its
  position|)`` lots. A deleveraged trader checks their rank from their own
  opening: ``rank_key`` of their settled leaf at the report's marks is the
  key published in their trade, and every earlier trade of the market names a
  key at least as high.
* Markets are closed in ascending id; the bankrupt account ends flat.

That no skipped account (one not deleveraged) outranked a deleveraged one is
proven by the entry's ranking walk (``verifier.statements.adl_walk``; the
rank key is one circuit template, ``circuits/lib/rank_key.circom``).

Pure functions, no I/O. Never imports prover/ or exchange/ and never runs node.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from verifier.field import (
    FieldError,
    field_to_signed,
    require_canonical,
    signed_to_field,
    unsigned_in_range,
)
from verifier.params import (
    BPS_DENOM,
    FUNDING_BITS,
    MARGIN_BITS,
    MAX_MARKETS,
    POSITION_BITS,
    PRICE_BITS,
)
from verifier.statements.vectors import market_vectors, require_signals

__all__ = [
    "PER_MARKET",
    "PUBLIC_NAMES",
    "SHORTFALL_BITS",
    "DeleverageError",
    "DeleverageTradePublic",
    "bankruptcy_price",
    "check_trades",
    "rank_key",
    "rank_order",
    "signal_count",
    "split_shortfall",
]

# Circuit public inputs in declaration order; PER_MARKET ones have one entry per market.
PUBLIC_NAMES: tuple[str, ...] = (
    "oldAccRoot",
    "newAccRoot",
    "bankrupt",
    "counterparty",
    "market",
    "first",
    "shortfall",
    "lots",
    "price",
    "rankKey",
    "counterpartyClosed",
    "bankruptPositions",
    "prices",
    "funding",
)
PER_MARKET = frozenset({"bankruptPositions", "prices", "funding"})
_FIXED_SIGNALS = 11
#: LIQ_EQUITY_BITS of circuits/lib/liquidation.circom: the shortfall is below 2^100.
SHORTFALL_BITS = 100


class DeleverageError(ValueError):
    """Data that cannot describe a deleveraging trade (bad shape or range)."""


def signal_count(markets: int) -> int:
    return _FIXED_SIGNALS + 3 * markets


def split_shortfall(
    shortfall: int, positions: Sequence[int], marks: Sequence[int]
) -> tuple[int, ...]:
    """D_m per market (0 where the account holds nothing); sums to ``shortfall``."""
    notional = [abs(s) * p for s, p in zip(positions, marks, strict=True)]
    total = sum(notional)
    if total == 0:
        return tuple(0 for _ in positions)
    shares = [shortfall * n // total for n in notional]
    largest = max(range(len(notional)), key=lambda m: (notional[m], -m))
    shares[largest] += shortfall - sum(shares)
    return tuple(shares)


def bankruptcy_price(position: int, mark: int, share: int) -> int:
    """P + sign(s) * ceil(share / |s|), floored at 0 (quote units per lot)."""
    if position == 0:
        raise DeleverageError("no position, no bankruptcy price")
    step = -(-share // abs(position))
    return max(mark + step if position > 0 else mark - step, 0)


def rank_key(balance: int, positions: Sequence[int], marks: Sequence[int]) -> int:
    """The ADL rank key of a (funding-settled) account at ``marks``: higher deleverages first.

    ``1 + floor(10^4 * N / E)`` for equity ``E > 0`` (leverage in basis points
    plus one), ``0`` for ``E <= 0``; ``N = sum |s| * P``.
    """
    equity = balance + sum(s * p for s, p in zip(positions, marks, strict=True))
    if equity <= 0:
        return 0
    notional = sum(abs(s) * p for s, p in zip(positions, marks, strict=True))
    return 1 + BPS_DENOM * notional // equity


def rank_order(index: int, key: int, fund: int = 0) -> tuple[bool, int, int]:
    """Sort key of a counterparty: the fund last, then rank key descending, then index."""
    return (index == fund, -key, index)


@dataclass(frozen=True)
class DeleverageTradePublic:
    """One trade's public inputs, decoded (positions and funding signed)."""

    old_root: int
    new_root: int
    bankrupt: int
    counterparty: int
    market: int
    first: bool
    shortfall: int
    lots: int
    price: int
    rank_key: int
    counterparty_closed: bool
    bankrupt_positions: tuple[int, ...]
    prices: tuple[int, ...]
    funding: tuple[int, ...]

    def moved(self) -> int:
        """The bankrupt's trade in lots, toward zero: its position becomes s - moved."""
        return self.lots if self.bankrupt_positions[self.market] > 0 else -self.lots

    def positions_after(self) -> tuple[int, ...]:
        out = list(self.bankrupt_positions)
        out[self.market] -= self.moved()
        return tuple(out)

    def signals(self) -> list[int]:
        """The flat public inputs in declaration order. Raises DeleverageError."""
        m = len(self.prices)
        if not 1 <= m <= MAX_MARKETS:
            raise DeleverageError(f"1..{MAX_MARKETS} markets are required")
        if len(self.funding) != m or len(self.bankrupt_positions) != m:
            raise DeleverageError("one position, price and funding index per market")
        if not 0 <= self.market < m:
            raise DeleverageError(f"market {self.market} does not exist")
        if self.bankrupt == 0:
            raise DeleverageError("the insurance fund (account 0) is never deleveraged")
        if self.counterparty == self.bankrupt:
            raise DeleverageError("an account cannot deleverage against itself")
        try:
            return [
                require_canonical(self.old_root, "oldAccRoot"),
                require_canonical(self.new_root, "newAccRoot"),
                unsigned_in_range(self.bankrupt, 32, "bankrupt"),
                unsigned_in_range(self.counterparty, 32, "counterparty"),
                self.market,
                int(self.first),
                unsigned_in_range(self.shortfall, SHORTFALL_BITS, "shortfall"),
                unsigned_in_range(self.lots, POSITION_BITS, "lots"),
                unsigned_in_range(self.price, PRICE_BITS, "price"),
                unsigned_in_range(self.rank_key, MARGIN_BITS + 1, "rank key"),
                int(self.counterparty_closed),
                *(signed_to_field(s, POSITION_BITS, "position") for s in self.bankrupt_positions),
                *(unsigned_in_range(p, PRICE_BITS, "mark") for p in self.prices),
                *(signed_to_field(f, FUNDING_BITS, "funding index") for f in self.funding),
            ]
        except FieldError as exc:
            raise DeleverageError(str(exc)) from exc

    @classmethod
    def from_signals(cls, signals: Sequence[int], markets: int) -> "DeleverageTradePublic":
        """Decode ``signals`` (a proof's public signals). Raises DeleverageError."""
        require_signals(signals, signal_count(markets), DeleverageError)
        if signals[5] not in (0, 1) or signals[10] not in (0, 1):
            raise DeleverageError("first/counterpartyClosed must be 0 or 1")
        raw_positions, prices, raw_funding = market_vectors(signals, _FIXED_SIGNALS, markets, 3)
        try:
            positions = tuple(field_to_signed(s, POSITION_BITS, "position") for s in raw_positions)
            funding = tuple(field_to_signed(f, FUNDING_BITS, "funding index") for f in raw_funding)
        except FieldError as exc:
            raise DeleverageError(str(exc)) from exc
        return cls(
            old_root=signals[0],
            new_root=signals[1],
            bankrupt=signals[2],
            counterparty=signals[3],
            market=signals[4],
            first=bool(signals[5]),
            shortfall=signals[6],
            lots=signals[7],
            price=signals[8],
            rank_key=signals[9],
            counterparty_closed=bool(signals[10]),
            bankrupt_positions=positions,
            prices=prices,
            funding=funding,
        )


def check_trades(
    trades: Sequence[DeleverageTradePublic],
    *,
    bankrupt: int,
    shortfall: int,
    start_root: int,
    prices: Sequence[int],
    funding: Sequence[int],
    fund: int = 0,
) -> tuple[int, list[str]]:
    """Check one bankrupt account's ADL trades in ledger order.

    Rules: at least one trade; every trade names ``bankrupt``, the marks
    ``prices``, the funding indices ``funding`` and ``shortfall``; only trade
    0 is ``first``; roots chain from ``start_root``; the positions chain
    (trade k+1's bankruptPositions are trade k's after its move), start
    non-flat and end flat; each trade is in the lowest market the bankrupt
    still holds; its price is ``bankruptcy_price`` of that market from the
    step-0 positions and ``split_shortfall(shortfall, ...)``; within a
    market the counterparties come in ``rank_order``. Returns ``(root after
    the last trade, reasons)``; ``reasons`` is empty iff every rule holds.
    """
    reasons: list[str] = []
    if not trades:
        return start_root, ["a deleveraging has at least one trade"]
    start = trades[0].bankrupt_positions
    if not any(start):
        reasons.append("trade 0: the bankrupt account holds no position")
        return start_root, reasons
    try:
        shares = split_shortfall(shortfall, start, prices)
    except ValueError as exc:
        return start_root, [f"trade 0: {exc}"]
    root = start_root
    positions = start
    previous: tuple[int, tuple[bool, int, int]] | None = None
    for k, t in enumerate(trades):
        where = f"ADL trade {k} (counterparty {t.counterparty})"
        if t.bankrupt != bankrupt:
            reasons.append(f"{where}: deleverages account {t.bankrupt}, not {bankrupt}")
        if t.first != (k == 0):
            reasons.append(f"{where}: only trade 0 pays the fund's cover (first)")
        if t.shortfall != shortfall:
            reasons.append(f"{where}: shortfall {t.shortfall}, the entry says {shortfall}")
        if t.prices != tuple(prices):
            reasons.append(f"{where}: prices differ from the report's marks")
        if t.funding != tuple(funding):
            reasons.append(f"{where}: funding indices differ from the ledger's")
        if t.old_root != root:
            reasons.append(f"{where}: oldAccRoot does not follow the previous trade")
        if t.bankrupt_positions != positions:
            reasons.append(f"{where}: the bankrupt's positions do not follow the previous trade")
        held = [m for m, s in enumerate(positions) if s != 0]
        if not held:
            reasons.append(f"{where}: the bankrupt account is already flat")
            break
        if t.market != held[0]:
            reasons.append(f"{where}: closes market {t.market} before market {held[0]}")
        elif t.price != bankruptcy_price(start[t.market], prices[t.market], shares[t.market]):
            expected = bankruptcy_price(start[t.market], prices[t.market], shares[t.market])
            reasons.append(f"{where}: price {t.price} is not the bankruptcy price {expected}")
        order = rank_order(t.counterparty, t.rank_key, fund)
        if previous is not None and previous[0] == t.market and not previous[1] < order:
            reasons.append(
                f"{where}: rank key {t.rank_key} is out of the ADL ranking "
                f"(after {'the fund' if previous[1][0] else f'key {-previous[1][1]}'}, "
                f"account {previous[1][2]})"
            )
        previous = (t.market, order)
        root = t.new_root
        if t.market < len(positions) and t.lots <= abs(positions[t.market]):
            positions = t.positions_after()
        if reasons:
            break
    if not reasons and any(positions):
        reasons.append(f"the bankrupt account {bankrupt} still holds positions after ADL")
    return root, reasons
