"""Liquidation: positions of an account below maintenance margin move to the insurance fund.

Rules (DESIGN.md section 4, issue 11 items 1 and 4; dYdX v4 ``x/clob``
liquidations as the model):

- An account is liquidatable iff ``equity < MMR`` at the batch's marks
  (``exchange.domain.margin``; equity exactly at MMR is healthy).
- **Order of markets**: largest maintenance contribution ``|s| * P * mmf``
  first, ties by market id.
- **Transfer**: ``q`` lots of market m move to the insurance account (index
  0, ``FEE_ACCOUNT``) at the mark ``P``: the account's position shrinks by
  ``q`` toward zero and its balance moves by ``sign(s) * q * P``; the fund
  takes the opposite. A transfer at the mark leaves both equities unchanged.
- **Fee**: ``min(ceil(q * P * liquidation_fee_bps / 10^4), max(equity, 0))``
  to the fund — capped at the account's remaining equity, so the fee itself
  never creates bad debt.
- **Partial**: in each market, ``q`` is the *smallest* number of lots after
  which (transfer and fee) the account meets **initial** margin; if no ``q``
  up to ``|s|`` does, the whole position moves and the next market follows.
  ``q - 1`` lots would not have restored IMR (``step_quantity``'s contract,
  which the liquidate statement checks the same way).
- **Bad debt**: an account with ``equity < 0`` cannot restore IMR; the fund
  first pays ``covered = min(-equity, max(fund equity, 0))`` into it. If that
  brings equity to 0 every position moves to the fund at the mark with fee
  0; otherwise the remaining ``shortfall`` is deleveraged
  (``exchange.domain.adl``) and no position moves to the fund.

Conservation: every step moves lots and quote units between the account and
the fund (or ADL counterparties), so sum of positions per market and sum of
balances never change. Integers only, no I/O; never imports the service layer
or the prover.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exchange.domain import adl, margin
from exchange.domain.margin import RiskParams
from exchange.domain.matching import AccountEntry
from verifier import accounting
from verifier.accounting import liquidation_fee
from verifier.params import BPS_DENOM
from verifier.protocol import FEE_ACCOUNT


class LiquidationError(ValueError):
    """A liquidation was asked for an account that is unknown or not liquidatable."""


@dataclass(frozen=True)
class LiquidationStep:
    """``lots`` (> 0) of ``market`` moved from ``account`` to the fund at ``price``; ``fee`` to the fund."""

    account: int
    market: int
    lots: int
    price: int
    fee: int


@dataclass(frozen=True)
class Liquidation:
    """What one liquidation did.

    ``covered``: quote units the fund paid into the account (bad debt it
    absorbed); ``shortfall``: bad debt left for auto-deleveraging, whose
    trades are ``deleveraging``. ``restored_initial``: the account ends at or
    above initial margin (always true unless every position was closed).
    """

    account: int
    equity_before: int
    steps: tuple[LiquidationStep, ...]
    covered: int
    shortfall: int
    deleveraging: tuple[adl.Deleveraging, ...]
    restored_initial: bool

    @property
    def fee_total(self) -> int:
        return sum(s.fee for s in self.steps)

    @property
    def partial(self) -> bool:
        """Some position was left open (the account was only partly liquidated)."""
        return self.restored_initial and not self.deleveraging and bool(self.steps)


def after_transfer(
    entry: AccountEntry, market: int, lots: int, price: int, fee: int
) -> AccountEntry:
    """The account after ``lots`` of its ``market`` position move to the fund at ``price``."""
    s = entry.positions[market]
    if not 0 < lots <= abs(s):
        raise LiquidationError(f"cannot move {lots} lots of a position of {s}")
    sign = 1 if s > 0 else -1
    positions = list(entry.positions)
    positions[market] = s - sign * lots
    return AccountEntry(entry.balance + sign * lots * price - fee, tuple(positions))


def _fund_after(fund: AccountEntry, step: LiquidationStep, sign: int) -> AccountEntry:
    positions = list(fund.positions)
    positions[step.market] += sign * step.lots
    return AccountEntry(fund.balance - sign * step.lots * step.price + step.fee, tuple(positions))


def _restores(
    entry: AccountEntry, market: int, lots: int, marks: Sequence[int], params: RiskParams
) -> tuple[bool, AccountEntry, int]:
    eq = accounting.equity(entry.balance, entry.positions, marks)
    price = marks[market]
    fee = liquidation_fee(lots, price, params.liquidation_fee_bps[market], eq)
    new = after_transfer(entry, market, lots, price, fee)
    return margin.health(new.balance, new.positions, marks, params).meets_initial, new, fee


def step_quantity(
    entry: AccountEntry, market: int, marks: Sequence[int], params: RiskParams
) -> int:
    """Smallest q in [1, |s|] whose transfer (and fee) restores initial margin, else |s|.

    Exact: ``BPS_DENOM * (E - fee(q)) - (W - q * P * imf)`` is at most
    ``u(q) = max(BPS_DENOM * E - q*P*lf, 0) - W + q*P*imf``, which increases
    in q; so every q below the first root of ``u`` fails (found by binary
    search) and, since the fee's rounding costs less than one quote unit,
    a short upward scan from there finds the first q that succeeds.
    """
    size = abs(entry.positions[market])
    if size == 0:
        raise LiquidationError(f"no position in market {market}")
    price = marks[market]
    h = margin.health(entry.balance, entry.positions, marks, params)
    imf, lf = params.imf_bps[market], params.liquidation_fee_bps[market]

    def upper(q: int) -> int:
        return max(BPS_DENOM * h.equity - q * price * lf, 0) - h.initial_scaled + q * price * imf

    if upper(size) < 0:
        return size
    lo, hi = 1, size
    while lo < hi:
        mid = (lo + hi) // 2
        if upper(mid) >= 0:
            hi = mid
        else:
            lo = mid + 1
    for q in range(lo, size + 1):
        if _restores(entry, market, q, marks, params)[0]:
            return q
    return size


def _market_order(entry: AccountEntry, marks: Sequence[int], params: RiskParams) -> list[int]:
    contributions = [
        (abs(s) * p * mmf, -m)
        for m, (s, p, mmf) in enumerate(zip(entry.positions, marks, params.mmf_bps, strict=True))
        if s != 0
    ]
    return [-neg_m for _, neg_m in sorted(contributions, reverse=True)]


def liquidate(
    book: Mapping[int, AccountEntry],
    account: int,
    marks: Sequence[int],
    params: RiskParams,
    *,
    fund: int = FEE_ACCOUNT,
) -> tuple[dict[int, AccountEntry], Liquidation]:
    """Liquidate ``account`` (see the module rules); returns the new book and the record.

    Raises LiquidationError if the account is unknown, is the fund, or is not
    below maintenance margin; MarginError on inconsistent vectors.
    """
    if account == fund:
        raise LiquidationError("the insurance fund is never liquidated")
    if account not in book or fund not in book:
        raise LiquidationError(f"account {account} or fund {fund} is not in the book")
    entry = book[account]
    h = margin.health(entry.balance, entry.positions, marks, params)
    if not h.liquidatable:
        raise LiquidationError(f"account {account} is at or above maintenance margin")
    new_book = dict(book)
    steps: list[LiquidationStep] = []
    covered = shortfall = 0
    deleveraging: tuple[adl.Deleveraging, ...] = ()

    if h.equity < 0:
        fund_entry = new_book[fund]
        available = max(accounting.equity(fund_entry.balance, fund_entry.positions, marks), 0)
        covered = min(-h.equity, available)
        new_book[fund] = AccountEntry(fund_entry.balance - covered, fund_entry.positions)
        entry = AccountEntry(entry.balance + covered, entry.positions)
        new_book[account] = entry
        shortfall = -h.equity - covered
        if shortfall > 0:
            new_book, deleveraging = adl.deleverage(
                new_book, account, shortfall, marks, params, fund=fund
            )
            entry = new_book[account]

    if not deleveraging:
        for market in _market_order(entry, marks, params):
            s = entry.positions[market]
            q = step_quantity(entry, market, marks, params)
            ok, after, fee = _restores(entry, market, q, marks, params)
            step = LiquidationStep(account, market, q, marks[market], fee)
            steps.append(step)
            new_book[fund] = _fund_after(new_book[fund], step, 1 if s > 0 else -1)
            entry = after
            new_book[account] = entry
            if ok:
                break

    final = margin.health(entry.balance, entry.positions, marks, params)
    record = Liquidation(
        account=account,
        equity_before=h.equity,
        steps=tuple(steps),
        covered=covered,
        shortfall=shortfall,
        deleveraging=deleveraging,
        restored_initial=final.meets_initial and any(s != 0 for s in entry.positions),
    )
    return new_book, record


def liquidatable_accounts(
    book: Mapping[int, AccountEntry],
    marks: Sequence[int],
    params: RiskParams,
    *,
    fund: int = FEE_ACCOUNT,
) -> list[int]:
    """Indices (ascending) of every account other than the fund with equity < MMR."""
    return [
        i
        for i in sorted(book)
        if i != fund and margin.is_liquidatable(book[i].balance, book[i].positions, marks, params)
    ]


def liquidate_all(
    book: Mapping[int, AccountEntry],
    marks: Sequence[int],
    params: RiskParams,
    *,
    fund: int = FEE_ACCOUNT,
) -> tuple[dict[int, AccountEntry], list[Liquidation]]:
    """Liquidate until no account is below MMR (deleveraging can push a counterparty below).

    A flat account with negative equity is liquidated (the fund covers what
    it can) only while the fund's equity is positive; what is left is bad
    debt no trade can recover, visible in solvency. Terminates: each
    liquidation restores IMR or closes every position of the account, or
    moves fund equity into a flat account until one of them reaches 0.
    """
    current = dict(book)
    done: list[Liquidation] = []
    limit = 2 + 2 * len(current) * (1 + sum(abs(s) for e in current.values() for s in e.positions))
    for _ in range(limit):
        fund_entry = current[fund]
        fund_equity = accounting.equity(fund_entry.balance, fund_entry.positions, marks)
        todo = [
            i
            for i in liquidatable_accounts(current, marks, params, fund=fund)
            if any(current[i].positions) or fund_equity > 0
        ]
        if not todo:
            return current, done
        current, record = liquidate(current, todo[0], marks, params, fund=fund)
        done.append(record)
    raise LiquidationError("liquidation did not converge")  # pragma: no cover - see docstring
