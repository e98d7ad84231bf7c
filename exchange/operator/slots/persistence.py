"""Persistence of the slots operator: per-account rows, a small private state, restore.

What a service stores so that a restarted operator continues exactly where
it stopped (issue 12, Deliver 5), each change costing O(touched accounts):

* account rows: ``take_dirty()`` returns ``prover.account_book.account_row``
  of every account changed since the last call (all of them the first time);
  the service keeps the newest row per account;
* ``private_state()``: what neither the rows nor the ledger hold (cancel
  signatures of pending cancels, fills of orders their slot no longer shows,
  the latest marks, total collateral, the last batch's reasons):
  O(live orders + orders that traded), not O(accounts);
* the accepted orders' terms and owner signatures, by commitment.

``SlotsOperator.restore`` rebuilds the rest from the signed ledger: which
orders were accepted (``order`` entries, also those after the private
state, e.g. appended by intake since), which each batch placed or cancelled
(its ORDER OPS proofs' public ``places`` and ``cancels``; an order neither
placed nor cancelled by its first batch stays unplaced), the slot each
order holds, pending places and cancels, and the batch / sweep / funding
clocks. The rebuilt account root must be the
ledger's latest and every slot in the rows must hold the order the replay
says; otherwise restore refuses with a one-line OperatorError.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from exchange.domain import BookError as DomainBookError
from exchange.operator.common import OperatorError
from exchange.operator.restoring import genesis_key_problem, replay_clocks
from exchange.operator.slots.batch import SlotsPlanner
from exchange.operator.slots.state import AcceptedOrder
from prover.account_book import BookError, account_row, book_from_rows
from verifier.account_state import SlottedOrder, order_hash
from verifier.eddsa import Signature, signature_from_dict, signature_to_dict
from verifier.export import LedgerError
from verifier.ledger.rules import FundingRules, RiskRules
from verifier.oracle import OracleReport

__all__ = ["PRIVATE_STATE_VERSION", "SlotsPersistence"]

PRIVATE_STATE_VERSION = 1
# Entries that change what the rows or the private state hold: none may follow the private state.
_STATEFUL = ("account_op", "cancel", "batch", "liquidation", "deleverage")


class SlotsPersistence(SlotsPlanner):
    """``take_dirty``, ``private_state`` and the body of ``SlotsOperator.restore``."""

    risk_rules: RiskRules | None
    funding_rules: FundingRules | None
    batches_since_sweep: int
    sweep_clock: int | None
    funding_clock: int | None
    funding_timestamp: int | None
    pending_liquidations: list[int]

    def take_dirty(self) -> dict[int, dict[str, Any]]:
        """Account rows (``account_row``, SECRET) of the accounts changed since the last call.

        The first call after construction returns every account; after
        ``restore``, only those changed since. Clears the record.
        """
        changed = sorted(self.book.changed)
        self.book.changed.clear()
        return {index: account_row(self.book, index) for index in changed}

    def private_state(self) -> dict[str, Any]:
        """JSON of the private state the rows and the ledger do not hold (SECRET).

        ``{"version", "ledger_index" (the last entry it covers),
        "total_collateral", "latest_report", "cancel_signatures" {order: sig}
        (pending cancels), "finished_fills" {order: lots}, "order_reasons"
        {order: reason}}``; integers of unbounded size as decimal strings.
        """
        report = self.latest_report
        return {
            "version": PRIVATE_STATE_VERSION,
            "ledger_index": len(self.ledger) - 1,
            "total_collateral": str(self.total_collateral),
            "latest_report": None if report is None else report.to_json(),
            "cancel_signatures": {
                str(i): signature_to_dict(sig)
                for i in self.pending_cancels
                if (sig := self.accepted[i].cancel_signature) is not None
            },
            "finished_fills": {str(i): f for i, f in sorted(self.finished_fills.items())},
            "order_reasons": {str(i): r for i, r in sorted(self.order_reasons.items())},
        }

    # ------------------------------------------------------------ restore

    def _restore(
        self,
        entries: Sequence[Mapping[str, Any]],
        rows: Mapping[int, Mapping[str, Any]],
        private: Mapping[str, Any],
        orders: Mapping[int, tuple[SlottedOrder, Signature]],
    ) -> None:
        """Rebuild everything from the stored pieces (see the module docstring)."""
        if private.get("version") != PRIVATE_STATE_VERSION:
            raise OperatorError(f"private state version {private.get('version')!r} is not 1")
        covered = int(private["ledger_index"])
        latest = private["latest_report"]
        reports = [] if latest is None else [latest]
        for i, e in enumerate(entries):
            try:
                self.ledger.restore(e)
            except LedgerError as exc:
                raise OperatorError(str(exc)) from None
            kind = e["kind"]
            if i == 0:
                self._adopt_genesis(e)
            if kind in _STATEFUL and i > covered:
                raise OperatorError(f"entry {i} ({kind}) is newer than the private state")
            replay_clocks(self, e)
            if kind == "order":
                self._restore_order(i, e, orders)
            elif kind == "cancel":
                held = self.accepted_order(int(e["commitment"]))
                held.cancel_accepted = True
                self.pending_cancels.append(held.index)
            elif kind == "batch":
                self._replay_batch(e)
                self.next_batch_id = int(e["batch_id"]) + 1
            if i > covered and "oracle" in e:
                reports.append(e["oracle"])
        try:
            self.book = book_from_rows(
                self.params,
                [rows[i] for i in sorted(rows)],
                expected_root=self.ledger.roots.account,
            )
        except BookError as exc:
            raise OperatorError(f"account rows: {exc}") from None
        for index, row in rows.items():
            if int(row["index"]) != index:
                raise OperatorError(f"account row {index} is stored as account {row['index']}")
        self._restore_slots_and_fills(private)
        for index in self.pending_cancels:
            sig = private["cancel_signatures"].get(str(index))
            if sig is None:
                raise OperatorError(f"pending cancel of order {index} has no stored signature")
            self.accepted[index].cancel_signature = signature_from_dict(sig)
        self.total_collateral = int(private["total_collateral"])
        markets = self.params.markets
        for report in reports:
            parsed = OracleReport.from_json(report, markets)
            if self.latest_report is None or parsed.seq > self.latest_report.seq:
                self.latest_report = parsed
        self.order_reasons = {int(i): str(r) for i, r in private["order_reasons"].items()}
        if self.roots != self.ledger.roots:
            raise OperatorError("restored state does not reproduce the ledger's latest roots")

    def _adopt_genesis(self, raw: Mapping[str, Any]) -> None:
        """Genesis must be this operator's (keys, markets, parameters); take its rules."""
        problem = genesis_key_problem(raw, self.operator_key, self.oracle.public_key)
        if problem is not None:
            raise OperatorError(problem)
        if raw.get("state") != "slots":
            raise OperatorError("genesis is not a slots ledger")
        if raw["params"] != self.params.to_dict():
            raise OperatorError(f"genesis parameters are not profile {self.profile!r}'s")
        if raw["markets"] != [m.to_dict() for m in self.markets]:
            raise OperatorError("genesis markets differ from the configured markets")
        genesis = self.ledger.genesis
        self.min_deposit = int(raw.get("min_deposit", 0))
        self.limits = genesis.limits
        self.risk_rules = genesis.risk
        self.funding_rules = genesis.funding

    def _restore_order(
        self, i: int, e: Mapping[str, Any], orders: Mapping[int, tuple[SlottedOrder, Signature]]
    ) -> None:
        h = int(e["commitment"])
        stored = orders.get(h)
        if stored is None:
            raise OperatorError(f"order entry {i} has no stored order")
        order, signature = stored
        if order_hash(self.tags.order, order) != h:
            raise OperatorError(f"the stored order of entry {i} does not open its commitment")
        index = int(e["order_index"])
        if index != len(self.accepted):
            raise OperatorError(
                f"order entry {i} has order_index {index}, not {len(self.accepted)}"
            )
        self._accept(AcceptedOrder(index, order, h, signature))
        self.pending_places.append(index)

    def _replay_batch(self, e: Mapping[str, Any]) -> None:
        """What batch entry ``e`` did to the pending orders, from its ORDER OPS proofs' public
        places and cancels (chain order: places, then cancels); the rest stayed unplaced."""
        ops = [p for p in e["proofs"] if p["statement"] == "order_ops"]
        for key, cancelled in (("places", False), ("cancels", True)):
            for h in (int(h) for p in ops for h in p[key]):
                if h:
                    self._slot_written(self.accepted_order(h).index, cancelled=cancelled)
        for index in self.pending_places:
            held = self.accepted[index]
            if not (held.placed or held.cancel_accepted):
                held.unplaced = True  # expired before the batch, or its place was refused
        self.pending_places = []
        self.pending_cancels = []

    def _restore_slots_and_fills(self, private: Mapping[str, Any]) -> None:
        """Check every row slot holds the order the replay put there; set fills and finished orders."""
        written = {key: self.accepted[i].commitment for key, i in self._in_slot.items()}
        in_rows = {
            (account, slot): content.commitment
            for account, contents in self.book.slots.items()
            for slot, content in contents.items()
        }
        if written != in_rows:
            wrong = sorted(set(written.items()) ^ set(in_rows.items()))[0][0]
            raise OperatorError(
                f"account {wrong[0]}'s slot {wrong[1]} does not hold the order the ledger put there"
            )
        self.finished_fills = {int(i): int(f) for i, f in private["finished_fills"].items()}
        fills = dict(self.finished_fills)
        for (account, slot), index in self._in_slot.items():
            content = self.book.slots[account][slot]
            if not self.accepted[index].cancelled and content.filled:
                fills[index] = content.filled
        try:
            self.orders.record_fills(fills)
        except DomainBookError as exc:
            raise OperatorError(f"private state: {exc}") from None
        for held in self.accepted:  # as the live operator stops them from matching
            if held.cancel_accepted or held.unplaced or held.replaced:
                self._finish(held.index)
