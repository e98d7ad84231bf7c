"""Witnesses for LIQUIDATE on the account-state leaf (``circuits/liquidate.circom``).

``build_liquidation_step`` takes the operator's ``AccountBook``, the
liquidated account, the market and the lot count the operator chose
(``exchange.domain.liquidation.step_quantity`` decides them on the settled
balances; this module only executes them), settles both accounts' funding
(the account's and the insurance fund's, index 0), applies the step to a COPY
of the book and returns the circuit input, the public inputs and the new
book. It checks every rule the circuit enforces (eligibility, cover, lots,
minimality), so a refused step raises ``LiquidationStatementError`` and
leaves the caller's book untouched. The fee formula is
``verifier.accounting.liquidation_fee`` and the public layout
``verifier.statements.liquidate`` (one copy each). Pure: never runs node.
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
from verifier.statements import liquidate as public
from verifier.statements.liquidate import (
    LiquidateStepPublic,
    LiquidationStatementError,
)

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "LiquidationOutcome",
    "build_liquidation_step",
    "template_args",
]

TEMPLATE = "LiquidateStep"
PUBLIC = list(public.PUBLIC_NAMES)


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """LiquidateStep(ACC_LEVELS, M); no domain tag is hashed in this statement."""
    return [params.account_levels, params.markets]


@dataclass(frozen=True)
class LiquidationOutcome(BookOutcome):
    """``BookOutcome`` (the book after the step) and what the step did.

    ``fee``: quote units to the fund (capped); ``fee_raw``: the uncapped fee;
    ``cover``: quote units the fund paid into an account with negative equity;
    ``funding_paid`` / ``fund_funding_paid``: the pending funding each paid.
    """

    public: LiquidateStepPublic
    lots: int
    fee: int
    fee_raw: int
    cover: int
    funding_paid: int
    fund_funding_paid: int


def build_liquidation_step(
    book: AccountBook,
    *,
    account: int,
    market: int,
    lots: int,
    continuation: bool,
    prices: Sequence[int],
    funding: Sequence[int],
    imf_bps: Sequence[int],
    mmf_bps: Sequence[int],
    liquidation_fee_bps: Sequence[int],
    new_blinding: Callable[[], int] = random_blinding,
) -> LiquidationOutcome:
    """Execute one step on a copy of ``book``; raises LiquidationStatementError if
    the inputs could not satisfy the circuit (unknown account, lots out of range,
    account not eligible after funding, a shortfall the fund cannot cover, a
    non-minimal step, a balance or position out of range)."""
    params = book.params
    m = params.markets
    if account == INSURANCE_ACCOUNT:
        raise LiquidationStatementError("the insurance fund is never liquidated")
    vectors = (prices, funding, imf_bps, mmf_bps, liquidation_fee_bps)
    if any(len(v) != m for v in vectors):
        raise LiquidationStatementError(f"expected {m} prices, funding indices and fractions")
    if not 0 <= market < m:
        raise LiquidationStatementError(f"market {market} does not exist")
    try:
        record = book.record(account)
        fund_record = book.record(INSURANCE_ACCOUNT)
    except BookError as exc:
        raise LiquidationStatementError(str(exc)) from exc
    before = book.settle_funding(record, funding)
    fund_before = book.settle_funding(fund_record, funding)
    s = before.positions[market]
    if not 1 <= lots <= abs(s):
        raise LiquidationStatementError(f"cannot move {lots} lots of a position of {s}")
    eligible = accounting.meets_margin(
        before.balance, before.positions, prices, imf_bps if continuation else mmf_bps
    )
    if eligible:
        raise LiquidationStatementError(
            "account is not below "
            + ("initial" if continuation else "maintenance")
            + " margin after funding"
        )
    equity = accounting.equity(before.balance, before.positions, prices)
    cover = max(-equity, 0)
    fund_equity = accounting.equity(fund_before.balance, fund_before.positions, prices)
    if cover > max(fund_equity, 0):
        raise LiquidationStatementError("the fund cannot cover the shortfall (needs ADL)")
    equity_pos = equity + cover
    price, lf = prices[market], liquidation_fee_bps[market]
    fee_raw = accounting.fee(lots, price, lf)
    fee = accounting.liquidation_fee(lots, price, lf, equity_pos)
    prev_fee_raw = accounting.fee(lots - 1, price, lf)
    prev_fee = accounting.liquidation_fee(lots - 1, price, lf, equity_pos)
    moved = lots if s > 0 else -lots
    positions = list(before.positions)
    positions[market] -= moved
    fund_positions = list(fund_before.positions)
    fund_positions[market] += moved
    new_balance = before.balance + cover + moved * price - fee
    fund_balance = fund_before.balance - cover - moved * price + fee
    restored = accounting.meets_margin(new_balance, positions, prices, imf_bps)
    if not restored and lots != abs(s):
        raise LiquidationStatementError(
            "a step that does not restore IMR must move the whole position"
        )
    if restored and lots > 1:
        weighted_prev = accounting.weighted_notional(positions, prices, imf_bps) + (
            price * imf_bps[market]
        )
        if BPS_DENOM * (equity_pos - prev_fee) >= weighted_prev:
            raise LiquidationStatementError(f"{lots - 1} lots would already restore IMR")
    try:
        for value, bits, what in (
            (new_balance, BALANCE_BITS, "balance"),
            (fund_balance, BALANCE_BITS, "fund balance"),
            *((p, POSITION_BITS, "position") for p in (*positions, *fund_positions)),
        ):
            signed_to_field(value, bits, what)
    except FieldError as exc:
        raise LiquidationStatementError(str(exc)) from exc

    work = book.copy()
    old_root = work.root
    blinding, fund_blinding = new_blinding(), new_blinding()
    opening = {**work.opening(account), "blindingNew": blinding}
    after = replace(before, balance=new_balance, positions=tuple(positions), blinding=blinding)
    work.put(account, after)
    fund_opening = {**work.opening(INSURANCE_ACCOUNT), "blindingNew": fund_blinding}
    fund_after = replace(
        fund_before, balance=fund_balance, positions=tuple(fund_positions), blinding=fund_blinding
    )
    work.put(INSURANCE_ACCOUNT, fund_after)
    step = LiquidateStepPublic(
        old_root=old_root,
        new_root=work.root,
        account=account,
        market=market,
        continuation=continuation,
        closed_all=not restored,
        flat_after=not any(positions),
        prices=tuple(prices),
        funding=tuple(funding),
        imf_bps=tuple(imf_bps),
        mmf_bps=tuple(mmf_bps),
        liquidation_fee_bps=tuple(liquidation_fee_bps),
    )
    pub = step.signals()
    inputs = named_public_inputs(pub, PUBLIC, dict.fromkeys(public.PER_MARKET, m))
    inputs.update(opening)
    # The fund's leaf reads the same names, prefixed: fundPubX, ..., fundSiblings.
    inputs.update(
        {
            "fundSiblings" if name == "accSiblings" else "fund" + name[0].upper() + name[1:]: value
            for name, value in fund_opening.items()
        }
    )
    inputs.update(
        {
            "lots": lots,
            "feeRaw": fee_raw,
            "fee": fee,
            "prevFeeRaw": prev_fee_raw,
            "prevFee": prev_fee,
        }
    )
    return LiquidationOutcome(
        inputs=inputs,
        public_inputs=pub,
        book=work,
        public=step,
        lots=lots,
        fee=fee,
        fee_raw=fee_raw,
        cover=cover,
        funding_paid=record.funding_payment(funding),
        fund_funding_paid=fund_record.funding_payment(funding),
    )
