"""Witnesses for AUTO-DELEVERAGING on the account-state leaf (``circuits/deleverage.circom``).

``build_deleverage_trade`` takes the operator's ``AccountBook`` and one trade
the operator chose (``exchange.domain.adl`` decides bankrupt, counterparty,
market, lots and the bankruptcy price on the settled balances; this module
only executes it), settles the funding of every account it touches (the
fund's, on the first trade, the bankrupt's and the counterparty's), applies it
to a COPY of the book and returns the circuit input, the public inputs and the
new book. It checks every rule the circuit enforces (the fund cannot cover,
opposite sides, lots = min of the two sides, ranges), so a refused trade
raises ``DeleverageError`` and leaves the caller's book untouched. The rank
key, split and price formulas and the public layout are
``verifier.statements.deleverage`` (one copy each). Pure: never runs node.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from prover.account_book import (
    INSURANCE_ACCOUNT,
    AccountBook,
    BookError,
    BookOutcome,
    random_blinding,
)
from prover.statements.layout import named_public_inputs
from verifier import accounting
from verifier.field import FieldError, signed_to_field
from verifier.params import BALANCE_BITS, BPS_DENOM, POSITION_BITS, CircuitParams
from verifier.protocol import Tags
from verifier.statements import deleverage as public
from verifier.statements.deleverage import DeleverageError, DeleverageTradePublic, rank_key

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "DeleverageOutcome",
    "build_deleverage_trade",
    "build_deleveraging",
    "template_args",
]

TEMPLATE = "DeleverageStep"
PUBLIC = list(public.PUBLIC_NAMES)


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """DeleverageStep(ACC_LEVELS, M); no domain tag is hashed in this statement."""
    return [params.account_levels, params.markets]


@dataclass(frozen=True)
class DeleverageOutcome(BookOutcome):
    """``BookOutcome`` (the book after the trade) and what it did.

    ``cover``: quote units the fund paid into the bankrupt account (first
    trade only); ``shortfall``: the bad debt left after it (first trade; else
    the value passed in).
    """

    public: DeleverageTradePublic
    cover: int
    shortfall: int


def _prefixed(prefix: str, opening: dict[str, object]) -> dict[str, object]:
    """``opening`` renamed for a second leaf: pubX -> cpPubX, accSiblings -> cpSiblings."""
    return {
        f"{prefix}Siblings" if name == "accSiblings" else prefix + name[0].upper() + name[1:]: v
        for name, v in opening.items()
    }


def build_deleverage_trade(
    book: AccountBook,
    *,
    bankrupt: int,
    counterparty: int,
    market: int,
    lots: int,
    price: int,
    first: bool,
    prices: Sequence[int],
    funding: Sequence[int],
    shortfall: int = 0,
    new_blinding: Callable[[], int] = random_blinding,
) -> DeleverageOutcome:
    """Execute one ADL trade on a copy of ``book``.

    ``shortfall``: ignored when ``first`` (the builder computes it); later
    trades pass the first trade's. Raises DeleverageError if the inputs could
    not satisfy the circuit (unknown accounts, the fund could cover, same-side
    or empty positions, lots not the smaller side, a value out of range).
    """
    m = book.params.markets
    if bankrupt == INSURANCE_ACCOUNT:
        raise DeleverageError("the insurance fund (account 0) is never deleveraged")
    if counterparty == bankrupt:
        raise DeleverageError("an account cannot deleverage against itself")
    if len(prices) != m or len(funding) != m:
        raise DeleverageError(f"expected {m} prices and funding indices")
    if not 0 <= market < m:
        raise DeleverageError(f"market {market} does not exist")
    try:
        record = book.record(bankrupt)
        book.record(counterparty)
        fund_record = book.record(INSURANCE_ACCOUNT)
    except BookError as exc:
        raise DeleverageError(str(exc)) from exc

    work = book.copy()
    old_root = work.root
    inputs: dict[str, object] = {}
    cover = 0
    if first:
        fund_before = work.settle_funding(fund_record, funding)
        before = work.settle_funding(record, funding)
        equity = accounting.equity(before.balance, before.positions, prices)
        fund_equity = accounting.equity(fund_before.balance, fund_before.positions, prices)
        cover = max(fund_equity, 0)
        shortfall = -(equity + cover)
        if shortfall < 1:
            raise DeleverageError("the fund can cover this account: liquidate it instead")
        fund_blinding = new_blinding()
        inputs.update(
            _prefixed("fund", {**work.opening(INSURANCE_ACCOUNT), "blindingNew": fund_blinding})
        )
        work.put(
            INSURANCE_ACCOUNT,
            replace(fund_before, balance=fund_before.balance - cover, blinding=fund_blinding),
        )
    else:
        blank = book.blank_opening()
        inputs.update(_prefixed("fund", {k: blank[k] for k in work.opening(bankrupt)}))
        inputs["fundBlindingNew"] = 0

    before = work.settle_funding(work.record(bankrupt), funding)
    s = before.positions[market]
    blinding = new_blinding()
    opening = {**work.opening(bankrupt), "blindingNew": blinding}
    positions_before = before.positions
    if s == 0:
        raise DeleverageError(f"the bankrupt account holds nothing in market {market}")
    moved = lots if s > 0 else -lots
    after = replace(
        before,
        balance=before.balance + cover + moved * price,
        positions=tuple(p - moved if k == market else p for k, p in enumerate(before.positions)),
        blinding=blinding,
    )
    work.put(bankrupt, after)

    cp_before = work.settle_funding(work.record(counterparty), funding)
    c = cp_before.positions[market]
    if c * s >= 0:
        raise DeleverageError(f"counterparty {counterparty} does not hold the opposite side")
    if not 1 <= lots <= min(abs(s), abs(c)) or lots not in (abs(s), abs(c)):
        raise DeleverageError(
            f"lots must be the smaller of the two sides ({abs(s)}, {abs(c)}), not {lots}"
        )
    key = rank_key(cp_before.balance, cp_before.positions, prices)
    # The circuit's witness of the key's division: 10^4 * N = q * E + r.
    cp_equity = accounting.equity(cp_before.balance, cp_before.positions, prices)
    notional_scaled = BPS_DENOM * sum(
        abs(p) * q for p, q in zip(cp_before.positions, prices, strict=True)
    )
    quotient, remainder = divmod(notional_scaled, cp_equity) if cp_equity > 0 else (0, 0)
    cp_blinding = new_blinding()
    cp_opening = {**work.opening(counterparty), "blindingNew": cp_blinding}
    cp_after = replace(
        cp_before,
        balance=cp_before.balance - moved * price,
        positions=tuple(p + moved if k == market else p for k, p in enumerate(cp_before.positions)),
        blinding=cp_blinding,
    )
    work.put(counterparty, cp_after)
    try:
        for value, bits, what in (
            (after.balance, BALANCE_BITS, "balance"),
            (cp_after.balance, BALANCE_BITS, "counterparty balance"),
            *((p, POSITION_BITS, "position") for p in (*after.positions, *cp_after.positions)),
        ):
            signed_to_field(value, bits, what)
    except FieldError as exc:
        raise DeleverageError(str(exc)) from exc

    trade = DeleverageTradePublic(
        old_root=old_root,
        new_root=work.root,
        bankrupt=bankrupt,
        counterparty=counterparty,
        market=market,
        first=first,
        shortfall=shortfall,
        lots=lots,
        price=price,
        rank_key=key,
        counterparty_closed=lots == abs(c),
        bankrupt_positions=tuple(positions_before),
        prices=tuple(prices),
        funding=tuple(funding),
    )
    pub = trade.signals()
    inputs.update(named_public_inputs(pub, PUBLIC, dict.fromkeys(public.PER_MARKET, m)))
    inputs.update({k: v for k, v in opening.items() if k != "positions"})
    inputs.update(_prefixed("cp", cp_opening))
    inputs.update({"keyQuotient": quotient, "keyRemainder": remainder})
    return DeleverageOutcome(
        inputs=inputs, public_inputs=pub, book=work, public=trade, cover=cover, shortfall=shortfall
    )


def build_deleveraging(
    book: AccountBook,
    *,
    bankrupt: int,
    trades: Sequence[tuple[int, int, int, int]],
    prices: Sequence[int],
    funding: Sequence[int],
    new_blinding: Callable[[], int] = random_blinding,
) -> list[DeleverageOutcome]:
    """Every trade of one ADL, chained: ``trades`` are (counterparty, market, lots, price).

    The first trade pays the fund's cover and fixes the shortfall the others
    carry; each trade runs on the book the previous one left (the last
    outcome's ``book`` is the book after the ADL). Raises DeleverageError as
    ``build_deleverage_trade``; the caller's book is never changed.
    """
    out: list[DeleverageOutcome] = []
    shortfall = 0
    for k, (counterparty, market, lots, price) in enumerate(trades):
        o = build_deleverage_trade(
            out[-1].book if out else book,
            bankrupt=bankrupt,
            counterparty=counterparty,
            market=market,
            lots=lots,
            price=price,
            first=k == 0,
            prices=prices,
            funding=funding,
            shortfall=shortfall,
            new_blinding=new_blinding,
        )
        shortfall = o.shortfall
        out.append(o)
    return out
