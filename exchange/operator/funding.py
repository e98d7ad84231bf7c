"""Funding updates of the in-process operator (issue 11).

``FundingUpdates`` appends ``funding`` entries: the next cumulative funding
index per market from a signed report's mark and index prices
(``verifier.funding``, the one formula the verifier recomputes), paying every
whole genesis ``funding.interval_s`` elapsed since the last paid one, and
refuses a batch the verifier would fail as "funding overdue". The indices
are public ledger data; the operator (``exchange.operator.slots``, through
``SlotsRiskEngine``) settles them into every leaf its statements touch
(``funding[M]`` public inputs). The host provides the attributes listed on
the class.
"""

from exchange.operator.common import OperatorError
from exchange.operator.proving import ProvingMixin
from verifier import funding as funding_math
from verifier.export import LedgerEntry, Roots
from verifier.ledger.rules import FundingRules
from verifier.oracle import OracleReport

__all__ = ["FundingUpdates"]


class FundingUpdates(ProvingMixin):
    """``funding_due``, ``update_funding`` and the batch's funding-overdue check."""

    funding_rules: FundingRules | None
    funding_indices: tuple[int, ...]
    funding_timestamp: int | None  # report time of the last update
    funding_clock: int | None  # end of the last paid interval (or the first batch's report)

    @property
    def roots(self) -> Roots:
        raise NotImplementedError

    def funding_due(self, report: OracleReport) -> bool:
        """A funding interval has ended since the last paid one (at report time).

        Always False without genesis funding rules (``funding_intervals``). Publish the update
        (``update_funding``) at the batch's own report before the batch: a
        batch whose report is ``interval_s`` or more after the last paid interval
        (or the first batch, before any) fails verification ("funding overdue").
        """
        return self.funding_intervals(report) > 0

    def funding_intervals(self, report: OracleReport) -> int:
        """Whole funding intervals an update at ``report`` would pay (0: not due; no rules: 0).

        ``verifier.funding.elapsed_intervals``, the replay's schedule: the
        first update pays at least one, every later one each whole genesis
        ``interval_s`` since the end of the last paid interval
        (``funding_clock``), so a late update loses no interval.
        """
        rules = self.funding_rules
        if rules is None:
            return 0
        updated = self.funding_timestamp is not None
        k, _ = funding_math.elapsed_intervals(
            report.timestamp, self.funding_clock, updated, rules.interval_s
        )
        return k

    def funding_due_at(self, time: int) -> bool:
        """A batch at report time ``time`` would pay a funding interval (the batcher's timer).

        False before the first batch (nobody holds a position: the first
        batch's own update starts the schedule) and without genesis rules.
        """
        rules, clock = self.funding_rules, self.funding_clock
        if rules is None or clock is None:
            return False
        updated = self.funding_timestamp is not None
        return funding_math.elapsed_intervals(time, clock, updated, rules.interval_s)[0] > 0

    def _check_funding_overdue(self, report: OracleReport) -> None:
        """OperatorError if a batch, sweep, liquidation, withdrawal or solvency report at
        ``report`` would fail darkpool-verify as funding overdue."""
        rules, clock = self.funding_rules, self.funding_clock
        if rules is not None and clock is not None and report.timestamp - clock >= rules.interval_s:
            raise OperatorError(
                f"funding overdue: publish a funding update (update_funding) first "
                f"({report.timestamp - clock} s since the last, genesis interval "
                f"{rules.interval_s} s)"
            )

    def update_funding(self, report: OracleReport) -> LedgerEntry:
        """Append the next funding indices computed from the report (a ``funding`` entry).

        Pays every whole interval elapsed since the last paid one
        (``funding_intervals``); OperatorError if none has (or without rules).
        """
        self._check_report(report)
        rules = self.funding_rules
        if rules is None:
            raise OperatorError("genesis has no funding rules: no funding updates")
        updated = self.funding_timestamp is not None
        k, clock = funding_math.elapsed_intervals(
            report.timestamp, self.funding_clock, updated, rules.interval_s
        )
        if k == 0:
            raise OperatorError(f"funding was updated less than {rules.interval_s} s ago")
        try:
            indices = funding_math.next_indices(
                self.funding_indices,
                report.marks,
                report.index,
                premium_divisor=rules.premium_divisor,
                clamp_bps=rules.clamp_bps,
                intervals=k,
            )
        except funding_math.FundingMathError as exc:
            raise OperatorError(f"funding: {exc}") from None
        roots = self.roots
        entry = self.ledger.append(
            "funding",
            roots,
            roots,
            {"oracle": report.to_json(), "indices": [str(f) for f in indices]},
            time=self._entry_time(report),
        )
        self.latest_report = report
        self.funding_indices = indices
        self.funding_timestamp, self.funding_clock = report.timestamp, clock
        return entry
