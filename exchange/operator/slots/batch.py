"""Batches of the slots operator: ORDER OPS proofs, matching at the marks, SETTLE FILLS groups.

One batch is one ``batch`` entry whose proofs chain the account root
(``verifier.batch_chain``):

1. ORDER OPS, ``op_slots`` ops per proof: first the places of the orders
   accepted since the last batch (acceptance order), then the cancels
   accepted since the last batch (ledger order). An order that expired (at
   the report's time) or was cancelled before any batch placed it is not
   placed: short-lived orders cost no proof and free their slot. Its cancel,
   if any, is still executed (the verifier requires every cancel entry to be
   executed by the next batch, ``verifier.batch_chain``): a cancel op may
   find the slot empty or holding an older id and writes the order with
   filled = size, so it can never be placed or fill. Intake keeps a slot
   busy while its order has a cancel waiting, so no place replaces an order
   this batch cancels. A proof is all places or all cancels (the circuit's
   public ``cancels[j]`` is positional).
2. Matching: the domain engine (``exchange.domain.match_batch``: batch
   auction at the marks, time priority = sequence number, per-fill initial
   margin) over the orders each slot holds after step 1.
3. SETTLE FILLS, ``group_fills`` fills per group proof (funding settled on
   every touched account, fee account credited once per group). A fill the
   witness builder refuses (e.g. a reduce-only order that would not reduce)
   never blocks the batch: the order it names sits this batch out with the
   builder's reason and the batch is matched again.

Everything is built on copies of the ``AccountBook`` first; the operator
proves, appends the entry and only then commits (``SlotsBatches.run_batch``).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exchange.domain import BatchResult, RestingOrder, SkipReason, match_batch
from exchange.operator.common import OperatorError
from exchange.operator.slots.intake import SlotsIntake, op_number
from oracle.signer import OracleReport
from prover.account_book import AccountBook
from prover.statements.order_ops import OpsError, OrderOp, OrderOpsOutcome, build_order_ops
from prover.statements.settle_fills import (
    FillsError,
    GroupFill,
    SettleFillsOutcome,
    build_settle_fills,
)
from verifier.protocol import FEE_ACCOUNT, is_expired

__all__ = ["BatchPlan", "SlotsPlanner"]

# Skip reasons an order's status already says (cancelled, filled, expired).
_SHOWN_BY_STATUS = {str(SkipReason.CANCELLED), str(SkipReason.FILLED), str(SkipReason.EXPIRED)}


@dataclass(frozen=True)
class BatchPlan:
    """Every witness of one batch, built and chained, nothing proven yet.

    ``ops`` are the ORDER OPS outcomes in chain order (``op_orders``: the
    sequence numbers each executes); ``groups`` the SETTLE FILLS outcomes;
    ``dropped`` places the builder refused (never proven; the order is
    refused with that reason); ``refused`` orders that sat the batch out;
    ``expired`` orders accepted since the last batch that expired before
    they were placed (no op; finished).
    """

    ops: tuple[OrderOpsOutcome, ...]
    op_orders: tuple[tuple[int, ...], ...]
    groups: tuple[SettleFillsOutcome, ...]
    result: BatchResult
    dropped: Mapping[int, str]
    refused: Mapping[int, str]
    expired: tuple[int, ...] = ()

    @property
    def book(self) -> AccountBook:
        """The account book after the last proof."""
        return self.groups[-1].book if self.groups else self.ops[-1].book


class _FillRefused(Exception):
    def __init__(self, orders: Sequence[int], reason: str) -> None:
        super().__init__(reason)
        self.orders = tuple(orders)
        self.reason = reason


class SlotsPlanner(SlotsIntake):
    """Builds a batch's witnesses (no proving, no state change)."""

    def has_order_ops(self, timestamp: int | None = None) -> bool:
        """A batch at report time ``timestamp`` (default: the clock) would prove an ORDER OPS op:
        a cancel is pending, or a pending order has not expired (dead ones need no batch)."""
        now = self._clock() if timestamp is None else timestamp
        return bool(self.pending_cancels) or any(
            not is_expired(self.accepted[i].order.expiry, now) for i in self.pending_places
        )

    def plan_batch(self, report: OracleReport) -> BatchPlan:
        """Order ops, matching and fill groups for a batch at ``report`` (changes nothing)."""
        expired = tuple(
            i
            for i in self.pending_places
            if is_expired(self.accepted[i].order.expiry, report.timestamp)
            and not self.accepted[i].cancel_accepted
        )
        ops, op_orders, dropped = self._plan_ops(set(expired))
        book = ops[-1].book if ops else self.book
        refused: dict[int, str] = {}
        while True:
            result = self._match(book, report, excluded=set(dropped) | set(refused))
            try:
                groups = self._build_groups(book, report, result)
            except _FillRefused as bad:
                for index in bad.orders:
                    refused[index] = f"settlement refused this order's fill: {bad.reason}"
                continue
            if not groups and not ops:
                groups = self._build_groups(book, report, None)  # one empty group
            return BatchPlan(
                tuple(ops), tuple(op_orders), tuple(groups), result, dropped, refused, expired
            )

    # ------------------------------------------------------------ order ops

    def _plan_ops(
        self, expired: set[int]
    ) -> tuple[list[OrderOpsOutcome], list[tuple[int, ...]], dict[int, str]]:
        """ORDER OPS outcomes: places (not of ``expired`` or cancelled orders), then cancels."""
        k = self.params.op_slots
        book = self.book
        outcomes: list[OrderOpsOutcome] = []
        op_orders: list[tuple[int, ...]] = []
        dropped: dict[int, str] = {}
        queue = [
            i
            for i in self.pending_places
            if i not in expired and not self.accepted[i].cancel_accepted
        ]
        while queue:
            chunk = queue[:k]
            try:
                outcome = self._build_ops(book, chunk, cancel=False)
            except OpsError as exc:
                # Intake checked every rule a place must meet, so this is a
                # state the intake did not foresee: refuse that order, never halt.
                bad = chunk[op_number(str(exc)) or 0]
                dropped[bad] = f"could not be placed in its slot: {exc}"
                queue.remove(bad)
                continue
            outcomes.append(outcome)
            op_orders.append(tuple(chunk))
            book = outcome.book
            queue = queue[k:]
        cancels = list(self.pending_cancels)
        for start in range(0, len(cancels), k):
            chunk = cancels[start : start + k]
            try:
                outcome = self._build_ops(book, chunk, cancel=True)
            except OpsError as exc:
                raise OperatorError(f"an accepted cancel cannot be executed: {exc}") from None
            outcomes.append(outcome)
            op_orders.append(tuple(chunk))
            book = outcome.book
        return outcomes, op_orders, dropped

    def _build_ops(
        self, book: AccountBook, chunk: Sequence[int], *, cancel: bool
    ) -> OrderOpsOutcome:
        ops = []
        for index in chunk:
            held = self.accepted[index]
            signature = held.cancel_signature if cancel else held.signature
            if signature is None:
                raise OperatorError(f"order {index} has no cancel signature")
            ops.append(OrderOp(held.order, signature, cancel=cancel))
        return build_order_ops(
            book,
            ops,
            tags=self.tags,
            batch_id=self.next_batch_id,
            funding=self.funding_indices,
            new_blinding=self._new_blinding,
        )

    # ------------------------------------------------------------ matching

    def _match(self, book: AccountBook, report: OracleReport, *, excluded: set[int]) -> BatchResult:
        """The domain engine over the open orders each slot holds after the order ops."""
        # An order in its slot after the order ops is its slot's newest order
        # (placed now) or the one the slot held before: O(used slots), not O(orders).
        candidates = set(self._in_slot.values())
        for owners in self._slot_owner.values():
            candidates.update(owners.values())
        orders: list[RestingOrder] = []
        for index in sorted(candidates - excluded):  # time priority
            r = self.orders.get(index)
            held = self.accepted[index]
            _, content = book.slot_of(held.order.account, held.order.order_id)
            if r.is_open and content is not None and content.commitment == held.commitment:
                orders.append(r)
        accounts = {i: self.settled_entry(rec) for i, rec in book.records.items()}
        return match_batch(
            orders,
            accounts,
            report.prices,
            self.markets,
            report.timestamp,
            fee_account=FEE_ACCOUNT,
        )

    # ------------------------------------------------------------ fill groups

    def _build_groups(
        self, book: AccountBook, report: OracleReport, result: BatchResult | None
    ) -> list[SettleFillsOutcome]:
        """SETTLE FILLS witnesses, ``group_fills`` per group; _FillRefused names a bad fill's orders."""
        n = self.params.group_fills
        fills = [] if result is None else list(result.fills)
        if result is not None and not fills:
            return []
        chunks = [fills[i : i + n] for i in range(0, len(fills), n)] or [[]]
        outcomes: list[SettleFillsOutcome] = []
        for chunk in chunks:
            group = [
                GroupFill(
                    buy=self.accepted[f.buy_index].order,
                    sell=self.accepted[f.sell_index].order,
                    quantity=f.quantity,
                )
                for f in chunk
            ]
            try:
                outcome = build_settle_fills(
                    book,
                    group,
                    tags=self.tags,
                    batch_id=self.next_batch_id,
                    timestamp=report.timestamp,
                    prices=report.prices,
                    funding=self.funding_indices,
                    fee_bps=self.fee_bps,
                    imf_bps=self.imf_bps,
                    mmf_bps=self.mmf_bps,
                    new_blinding=self._new_blinding,
                )
            except FillsError as exc:
                found = re.match(r"fill (\d+)(?: (buy|sell))?", str(exc))
                if found is None or not chunk:
                    raise OperatorError(f"settlement failed: {exc}") from None
                fill = chunk[int(found.group(1))]
                side = found.group(2)
                orders = {"buy": [fill.buy_index], "sell": [fill.sell_index]}.get(
                    side or "", [fill.buy_index, fill.sell_index]
                )
                raise _FillRefused(orders, str(exc)) from None
            outcomes.append(outcome)
            book = outcome.book
        return outcomes

    def _record_reasons(self, plan: BatchPlan) -> None:
        """Keep why each order did not trade (fully) in this batch, for its owner's view."""
        reasons = {k: str(v) for k, v in plan.result.skipped.items()}
        reasons.update(plan.refused)
        reasons.update(plan.dropped)
        self.order_reasons = {i: r for i, r in reasons.items() if r not in _SHOWN_BY_STATUS}
