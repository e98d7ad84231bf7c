"""Auto-deleveraging (ADL): bad debt the insurance fund cannot cover is closed against opposite traders.

When a liquidated account's negative equity exceeds what the fund can pay
(``exchange.domain.liquidation``), its positions are not moved to the fund:
they are closed against accounts holding the opposite side, at the
**bankruptcy price**, in a published ranking. The counterparties' profit
absorbs the shortfall; sum of positions per market and sum of balances are
unchanged.

Rules (written down once, here):

- **Shortfall split**: the shortfall ``D`` is split over the markets where the
  account holds a position in proportion to notional ``n_m = |s_m| * P_m``:
  ``D_m = floor(D * n_m / N)``, the remainder to the market with the largest
  notional (lowest id on ties), so ``sum D_m = D``.
- **Bankruptcy price**: ``P_b,m = P_m + sign(s_m) * ceil(D_m / |s_m|)``
  (a bankrupt long sells above the mark, a bankrupt short buys below it),
  floored at 0. Rounding up leaves the bankrupt account a dust balance in
  ``[0, |s_m|)`` per market instead of new bad debt.
- **Ranking** (profit is not known on hidden positions without entry prices,
  so the key is leverage): ``verifier.statements.deleverage.rank_key``,
  ``1 + floor(10^4 * notional / equity)`` for equity > 0, else 0 — the key
  the deleverage statement proves and publishes. Accounts other than the
  bankrupt one and the fund with a position opposite to ``s_m``, by key
  descending, ties by lower index; the insurance fund last
  (``rank_order``). Each closes ``min(remaining, |its position|)`` lots. Sum
  of positions = 0 guarantees the opposite side holds at least ``|s_m|`` lots.

The split, price and key formulas live in ``verifier.statements.deleverage``
(the verifier recomputes them); this module plans the trades.
Integers only (leverage compared by cross-multiplication), no I/O; never
imports the service layer or the prover.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exchange.domain.margin import RiskParams
from exchange.domain.matching import AccountEntry
from verifier.protocol import FEE_ACCOUNT
from verifier.statements.deleverage import (
    DeleverageError,
    bankruptcy_price,
    rank_key,
    rank_order,
    split_shortfall,
)

__all__ = [
    "Deleveraging",
    "DeleveragingError",
    "bankruptcy_price",
    "deleverage",
    "ranking",
    "split_shortfall",
]


class DeleveragingError(DeleverageError):
    """The opposite side cannot absorb the position (the book breaks sum of positions = 0)."""


@dataclass(frozen=True)
class Deleveraging:
    """``lots`` of ``market`` closed between ``bankrupt`` and ``counterparty`` at ``price``.

    ``rank`` is the counterparty's 0-based place in the market's ranking.
    """

    bankrupt: int
    counterparty: int
    market: int
    lots: int
    price: int
    rank: int


def ranking(
    book: Mapping[int, AccountEntry],
    bankrupt: int,
    market: int,
    marks: Sequence[int],
    *,
    fund: int = FEE_ACCOUNT,
) -> list[int]:
    """Counterparty order for closing the bankrupt account's position in ``market``."""
    side = book[bankrupt].positions[market]
    if side == 0:
        return []
    keys = [
        rank_order(index, rank_key(entry.balance, entry.positions, marks), fund)
        for index, entry in book.items()
        if index != bankrupt and entry.positions[market] * side < 0
    ]
    return [index for _, _, index in sorted(keys)]


def _trade(entry: AccountEntry, market: int, lots: int, price: int) -> AccountEntry:
    """``lots`` (signed: + buys) of ``market`` at ``price``."""
    positions = list(entry.positions)
    positions[market] += lots
    return AccountEntry(entry.balance - lots * price, tuple(positions))


def deleverage(
    book: Mapping[int, AccountEntry],
    bankrupt: int,
    shortfall: int,
    marks: Sequence[int],
    params: RiskParams,
    *,
    fund: int = FEE_ACCOUNT,
) -> tuple[dict[int, AccountEntry], tuple[Deleveraging, ...]]:
    """Close every position of ``bankrupt`` at bankruptcy prices; returns (book, trades)."""
    if shortfall < 0:
        raise DeleveragingError("shortfall must be non-negative")
    if len(marks) != params.markets:
        raise DeleveragingError(f"expected {params.markets} marks")
    new_book = dict(book)
    positions = new_book[bankrupt].positions
    shares = split_shortfall(shortfall, positions, marks)
    trades: list[Deleveraging] = []
    for market, s in enumerate(positions):
        if s == 0:
            continue
        price = bankruptcy_price(s, marks[market], shares[market])
        remaining = abs(s)
        direction = -1 if s > 0 else 1  # the bankrupt account's trade: a long sells
        for rank, other in enumerate(ranking(new_book, bankrupt, market, marks, fund=fund)):
            if remaining == 0:
                break
            lots = min(remaining, abs(new_book[other].positions[market]))
            new_book[bankrupt] = _trade(new_book[bankrupt], market, direction * lots, price)
            new_book[other] = _trade(new_book[other], market, -direction * lots, price)
            trades.append(Deleveraging(bankrupt, other, market, lots, price, rank))
            remaining -= lots
        if remaining:
            raise DeleveragingError(
                f"market {market}: the opposite side holds {abs(s) - remaining} of {abs(s)} lots"
            )
    return new_book, tuple(trades)
