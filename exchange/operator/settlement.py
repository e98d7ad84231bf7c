"""Settlement planning: match a batch and build every witness before anything is proven.

``SettlementPlanner`` (a base of ``Operator``) turns the book and the batch's
report into fills and ``settle_batch`` witnesses. A fill whose witness the
builder refuses never blocks the batch (issue 10, liveness): the order it
names sits the batch out with the builder's reason and the batch is matched
again. Changes no state; ``Operator.run_batch`` proves and commits.
"""

import re
from collections.abc import Mapping, Sequence

from exchange.domain import (
    AccountEntry,
    BatchResult,
    SkipReason,
    match_batch,
)
from exchange.operator.state import OperatorState
from oracle.signer import OracleReport
from prover.statements.settle_batch import (
    Fill,
    SettleBatchOutcome,
    build_settle_batch,
)
from verifier.encoding import AccountState
from verifier.merkle import MerkleTree
from verifier.protocol import FEE_ACCOUNT

__all__ = ["SettlementPlanner"]

# Skip reasons an order's status already says (cancelled, filled, expired).
_SHOWN_BY_STATUS = {str(SkipReason.CANCELLED), str(SkipReason.FILLED), str(SkipReason.EXPIRED)}


class _FillRefused(Exception):
    """The settlement witness builder refused ``fill`` with ``reason`` (one line)."""

    def __init__(self, fill: Fill, reason: str) -> None:
        super().__init__(reason)
        self.fill = fill
        self.reason = reason


class SettlementPlanner(OperatorState):
    """Matching and witness building for ``Operator.run_batch`` (no proving, no state change)."""

    def _plan_settlement(
        self, report: OracleReport
    ) -> tuple[BatchResult, list[Fill], list[SettleBatchOutcome], dict[int, str]]:
        """Match and build every settlement witness (nothing proven, nothing changed).

        A fill whose witness cannot be built (a rule the matcher does not know,
        or a range it missed) is never allowed to block the batch: the order the
        builder names (or both) sits this batch out with its reason, and the batch is
        matched again without them. Each round removes at least one order, so
        this ends.
        """
        refused: dict[int, str] = {}
        while True:
            result = match_batch(
                [r for r in self.book if r.index not in refused],
                {i: AccountEntry.of(a) for i, a in self.accounts.items()},
                report.prices,
                self.markets,
                report.timestamp,
                fee_account=FEE_ACCOUNT,
            )
            fills = [
                Fill(
                    buy=self.signed_order(f.buy_index),
                    sell=self.signed_order(f.sell_index),
                    quantity=f.quantity,
                )
                for f in result.fills
            ]
            try:
                return result, fills, self._build_settlement(report, fills), refused
            except _FillRefused as bad:
                reason = f"settlement refused this order's fill: {bad.reason}"
                # The builder names the side it refuses ("buy ...", "sell ...");
                # when it names neither, both orders sit out.
                sides = set(re.findall(r"\b(buy|sell)\b", bad.reason)) or {"buy", "sell"}
                for side in sides:
                    refused[(bad.fill.buy if side == "buy" else bad.fill.sell).index] = reason

    def _build_settlement(
        self, report: OracleReport, fills: Sequence[Fill]
    ) -> list[SettleBatchOutcome]:
        """Witnesses for ``fills`` in chunks of the circuit's slots; _FillRefused names a bad fill."""
        slots = self.params.fill_slots
        chunks = [list(fills[i : i + slots]) for i in range(0, len(fills), slots)] or [[]]
        tree, states = self.account_tree, dict(self.accounts)
        fill_tree, filled = self.fill_tree, dict(self.filled)
        outcomes: list[SettleBatchOutcome] = []
        for chunk in chunks:
            try:
                outcome = self._build_chunk(report, chunk, tree, states, fill_tree, filled)
            except ValueError as exc:
                # Find the first fill of the chunk that fails on its own turn.
                t, st, ft, fl = tree, states, fill_tree, filled
                for fill in chunk:
                    try:
                        one = self._build_chunk(report, [fill], t, st, ft, fl)
                    except ValueError as one_exc:
                        raise _FillRefused(fill, str(one_exc)) from None
                    t, st, ft, fl = one.accounts, one.account_states, one.fill_tree, one.filled
                raise _FillRefused(chunk[0], str(exc)) from None
            outcomes.append(outcome)
            tree, states = outcome.accounts, outcome.account_states
            fill_tree, filled = outcome.fill_tree, outcome.filled
        return outcomes

    def _build_chunk(
        self,
        report: OracleReport,
        chunk: Sequence[Fill],
        tree: MerkleTree,
        states: Mapping[int, AccountState],
        fill_tree: MerkleTree,
        filled: Mapping[int, int],
    ) -> SettleBatchOutcome:
        return build_settle_batch(
            params=self.params,
            order_tag=self.tags.order,
            accounts=tree,
            account_states=states,
            fill_tree=fill_tree,
            filled=filled,
            orders=self.order_tree,
            fills=chunk,
            prices=report.prices,
            fee_bps=self.fee_bps,
            imf_bps=self.imf_bps,
            batch_id=self.next_batch_id,
            timestamp=report.timestamp,
            new_blinding=self._new_blinding,
        )

    def _record_reasons(self, result: BatchResult, refused: Mapping[int, str]) -> None:
        """Keep why each order did not trade (fully) in this batch, for its owner's view."""
        reasons = {k: str(v) for k, v in result.skipped.items()}
        reasons.update(refused)
        self.order_reasons = {i: r for i, r in reasons.items() if r not in _SHOWN_BY_STATUS}
