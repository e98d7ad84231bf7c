"""Liquidation steps: the base step layout and the rules over a liquidation's steps.

The base of the statement ``verifier.statements.liquidate`` (whose step
adds the funding indices). A liquidation is one or more step proofs, each moving
part or all of one market position of an account below maintenance margin
to the insurance fund (index 0) at the batch's mark, with a capped fee. The
circuit proves each step (eligibility, cover, transfer, fee, minimality);
this module recomputes a step's public inputs from ledger data
(``public_inputs``) and checks the sequence rules only the verifier can see
(``check_steps``):

- the first step of an account has ``continuation = 0`` (so the circuit
  proved it was below MMR);
- ``continuation = 1`` only right after a step of the same account with
  ``closedAll = 1`` and ``flatAfter = 0`` (it closed a market and is still
  below IMR with positions left);
- a step with ``closedAll = 1`` and ``flatAfter = 0`` is followed by a
  continuation of the same account (a liquidation never stops half-way);
- each step's ``oldAccountRoot`` is the previous step's ``newAccountRoot``.

Pure functions, no I/O. Never imports prover/ or exchange/ and never runs node.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from verifier.field import is_canonical, require_canonical, unsigned_in_range
from verifier.params import BPS_BITS, MAX_MARKETS, PRICE_BITS

# Mirrors LIQ_EQUITY_BITS() in circuits/lib/liquidation.circom.
EQUITY_BITS = 100
_FIXED_SIGNALS = 7


class LiquidationStatementError(ValueError):
    """Liquidation data that cannot describe a step (bad shape or range)."""


def signal_count(markets: int) -> int:
    return _FIXED_SIGNALS + 4 * markets


@dataclass(frozen=True)
class LiquidationStepPublic:
    """One step's public inputs, decoded (all plain integers)."""

    old_root: int
    new_root: int
    account: int
    market: int
    continuation: bool
    closed_all: bool
    flat_after: bool
    prices: tuple[int, ...]
    imf_bps: tuple[int, ...]
    mmf_bps: tuple[int, ...]
    liquidation_fee_bps: tuple[int, ...]

    def signals(self) -> list[int]:
        """[oldAccountRoot, newAccountRoot, account, market, continuation, closedAll,
        flatAfter, prices[M], imfBps[M], mmfBps[M], liqFeeBps[M]] (declaration order)."""
        m = len(self.prices)
        if not 1 <= m <= MAX_MARKETS:
            raise LiquidationStatementError(f"1..{MAX_MARKETS} markets are required")
        for vec in (self.imf_bps, self.mmf_bps, self.liquidation_fee_bps):
            if len(vec) != m:
                raise LiquidationStatementError("one fraction per market is required")
        if not 0 <= self.market < m:
            raise LiquidationStatementError(f"market {self.market} does not exist")
        if self.account == 0:
            raise LiquidationStatementError("the insurance fund (account 0) is never liquidated")
        return [
            require_canonical(self.old_root, "oldAccountRoot"),
            require_canonical(self.new_root, "newAccountRoot"),
            unsigned_in_range(self.account, 32, "account"),
            self.market,
            int(self.continuation),
            int(self.closed_all),
            int(self.flat_after),
            *(unsigned_in_range(p, PRICE_BITS, "price") for p in self.prices),
            *(unsigned_in_range(f, BPS_BITS, "imf_bps") for f in self.imf_bps),
            *(unsigned_in_range(f, BPS_BITS, "mmf_bps") for f in self.mmf_bps),
            *(
                unsigned_in_range(f, BPS_BITS, "liquidation_fee_bps")
                for f in self.liquidation_fee_bps
            ),
        ]

    @classmethod
    def from_signals(cls, signals: Sequence[int], markets: int) -> "LiquidationStepPublic":
        if len(signals) != signal_count(markets):
            raise LiquidationStatementError(
                f"expected {signal_count(markets)} public signals, got {len(signals)}"
            )
        if not all(is_canonical(s) for s in signals):
            raise LiquidationStatementError("a public signal is not a field element")
        flags = signals[4:7]
        if any(f not in (0, 1) for f in flags):
            raise LiquidationStatementError("continuation/closedAll/flatAfter must be 0 or 1")
        m = markets
        base = _FIXED_SIGNALS
        return cls(
            old_root=signals[0],
            new_root=signals[1],
            account=signals[2],
            market=signals[3],
            continuation=bool(flags[0]),
            closed_all=bool(flags[1]),
            flat_after=bool(flags[2]),
            prices=tuple(signals[base : base + m]),
            imf_bps=tuple(signals[base + m : base + 2 * m]),
            mmf_bps=tuple(signals[base + 2 * m : base + 3 * m]),
            liquidation_fee_bps=tuple(signals[base + 3 * m : base + 4 * m]),
        )


def check_steps(
    steps: Sequence[LiquidationStepPublic],
    *,
    start_root: int,
    prices: Sequence[int],
    imf_bps: Sequence[int],
    mmf_bps: Sequence[int],
    liquidation_fee_bps: Sequence[int],
) -> tuple[tuple[int, ...], int, list[str]]:
    """Check a batch's liquidation steps in ledger order.

    Returns ``(liquidated accounts in order of their first step, root after
    the last step, reasons)``; ``reasons`` is empty iff every rule in the
    module docstring holds and each step used the batch's marks and the
    genesis fractions.
    """
    reasons: list[str] = []
    liquidated: list[int] = []
    root = start_root
    previous: LiquidationStepPublic | None = None
    for i, step in enumerate(steps):
        label = f"liquidation step {i} (account {step.account})"
        if step.old_root != root:
            reasons.append(f"{label}: oldAccountRoot does not follow the previous root")
        if step.prices != tuple(prices):
            reasons.append(f"{label}: prices differ from the batch's signed marks")
        if (step.imf_bps, step.mmf_bps, step.liquidation_fee_bps) != (
            tuple(imf_bps),
            tuple(mmf_bps),
            tuple(liquidation_fee_bps),
        ):
            reasons.append(f"{label}: margin or fee fractions differ from genesis")
        must_continue = previous is not None and previous.closed_all and not previous.flat_after
        if step.continuation:
            if not must_continue or previous is None or previous.account != step.account:
                reasons.append(f"{label}: continuation without a preceding unfinished step")
        else:
            if must_continue and previous is not None:
                reasons.append(
                    f"liquidation of account {previous.account} stopped below initial margin"
                )
            liquidated.append(step.account)
        root = step.new_root
        previous = step
    if previous is not None and previous.closed_all and not previous.flat_after:
        reasons.append(f"liquidation of account {previous.account} stopped below initial margin")
    return tuple(liquidated), root, reasons
