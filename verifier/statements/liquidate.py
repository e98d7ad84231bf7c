"""Public side of LIQUIDATE on the account-state leaf (``circuits/liquidate.circom``).

The liquidation statement of the recycling-order state (8-input account
leaf with funding checkpoints, quaternary account tree), on the base step of
``verifier.statements.liquidation_steps``. A step's public inputs are the
base step's plus ``funding[M]``, the funding indices both rewritten accounts (the
liquidated one and the insurance fund, index 0) settle to before anything
else; the circuit writes them as the new checkpoints. The sequence rules a
verifier checks over a batch's steps are the base rules
(``verifier.statements.liquidation_steps.check_steps``: first step below MMR,
continuation only after an unfinished step of the same account, roots chain,
the batch's marks and genesis fractions) plus one: every step settles to the
ledger's funding indices (``check_liquidate_steps``).

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
from verifier.params import BPS_BITS, FUNDING_BITS, MAX_MARKETS, PRICE_BITS
from verifier.statements.liquidation_steps import (
    LiquidationStatementError,
    LiquidationStepPublic,
    check_steps,
)
from verifier.statements.vectors import market_vectors, require_signals

__all__ = [
    "PER_MARKET",
    "PUBLIC_NAMES",
    "LiquidateStepPublic",
    "LiquidationStatementError",
    "check_liquidate_steps",
    "signal_count",
]

# Circuit public inputs in declaration order; PER_MARKET ones have one entry per market.
PUBLIC_NAMES: tuple[str, ...] = (
    "oldAccRoot",
    "newAccRoot",
    "account",
    "market",
    "continuation",
    "closedAll",
    "flatAfter",
    "prices",
    "funding",
    "imfBps",
    "mmfBps",
    "liqFeeBps",
)
PER_MARKET = frozenset({"prices", "funding", "imfBps", "mmfBps", "liqFeeBps"})
_FIXED_SIGNALS = 7


def signal_count(markets: int) -> int:
    return _FIXED_SIGNALS + 5 * markets


@dataclass(frozen=True)
class LiquidateStepPublic(LiquidationStepPublic):
    """One step's public inputs, decoded; ``funding`` holds signed funding indices
    (quote units per lot). The roots are the quaternary account tree's."""

    funding: tuple[int, ...]

    def signals(self) -> list[int]:
        """[oldAccRoot, newAccRoot, account, market, continuation, closedAll, flatAfter,
        prices[M], funding[M], imfBps[M], mmfBps[M], liqFeeBps[M]] (declaration order).

        Raises LiquidationStatementError on bad shapes or ranges."""
        m = len(self.prices)
        if not 1 <= m <= MAX_MARKETS:
            raise LiquidationStatementError(f"1..{MAX_MARKETS} markets are required")
        for vec in (self.funding, self.imf_bps, self.mmf_bps, self.liquidation_fee_bps):
            if len(vec) != m:
                raise LiquidationStatementError("one funding index and fraction per market")
        if not 0 <= self.market < m:
            raise LiquidationStatementError(f"market {self.market} does not exist")
        if self.account == 0:
            raise LiquidationStatementError("the insurance fund (account 0) is never liquidated")
        try:
            return [
                require_canonical(self.old_root, "oldAccRoot"),
                require_canonical(self.new_root, "newAccRoot"),
                unsigned_in_range(self.account, 32, "account"),
                self.market,
                int(self.continuation),
                int(self.closed_all),
                int(self.flat_after),
                *(unsigned_in_range(p, PRICE_BITS, "price") for p in self.prices),
                *(signed_to_field(f, FUNDING_BITS, "funding index") for f in self.funding),
                *(unsigned_in_range(f, BPS_BITS, "imf_bps") for f in self.imf_bps),
                *(unsigned_in_range(f, BPS_BITS, "mmf_bps") for f in self.mmf_bps),
                *(
                    unsigned_in_range(f, BPS_BITS, "liquidation_fee_bps")
                    for f in self.liquidation_fee_bps
                ),
            ]
        except FieldError as exc:
            raise LiquidationStatementError(str(exc)) from exc

    @classmethod
    def from_signals(cls, signals: Sequence[int], markets: int) -> "LiquidateStepPublic":
        require_signals(signals, signal_count(markets), LiquidationStatementError)
        flags = signals[4:7]
        if any(f not in (0, 1) for f in flags):
            raise LiquidationStatementError("continuation/closedAll/flatAfter must be 0 or 1")
        prices, raw_funding, imf, mmf, fee = market_vectors(signals, _FIXED_SIGNALS, markets, 5)
        try:
            funding = tuple(field_to_signed(f, FUNDING_BITS, "funding index") for f in raw_funding)
        except FieldError as exc:
            raise LiquidationStatementError(str(exc)) from exc
        return cls(
            old_root=signals[0],
            new_root=signals[1],
            account=signals[2],
            market=signals[3],
            continuation=bool(flags[0]),
            closed_all=bool(flags[1]),
            flat_after=bool(flags[2]),
            prices=prices,
            funding=funding,
            imf_bps=imf,
            mmf_bps=mmf,
            liquidation_fee_bps=fee,
        )


def check_liquidate_steps(
    steps: Sequence[LiquidateStepPublic],
    *,
    start_root: int,
    prices: Sequence[int],
    funding: Sequence[int],
    imf_bps: Sequence[int],
    mmf_bps: Sequence[int],
    liquidation_fee_bps: Sequence[int],
) -> tuple[tuple[int, ...], int, list[str]]:
    """Check a batch's liquidation steps in ledger order.

    The base rules (``verifier.statements.liquidation_steps.check_steps``)
    plus: every step settles to ``funding``, the ledger's current funding
    indices (signed). Returns ``(liquidated accounts in order of their first
    step, root after the last step, reasons)``; ``reasons`` is empty iff every
    rule holds.
    """
    liquidated, root, reasons = check_steps(
        steps,
        start_root=start_root,
        prices=prices,
        imf_bps=imf_bps,
        mmf_bps=mmf_bps,
        liquidation_fee_bps=liquidation_fee_bps,
    )
    for i, step in enumerate(steps):
        if step.funding != tuple(funding):
            reasons.append(
                f"liquidation step {i} (account {step.account}): "
                "funding indices differ from the ledger's"
            )
    return liquidated, root, reasons
