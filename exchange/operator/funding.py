"""Funding updates, shared by both in-process operators (issue 11).

``FundingUpdates`` appends ``funding`` entries: the next cumulative funding
index per market from a signed report's mark and index prices
(``verifier.funding``, the one formula the verifier recomputes), at most once
per genesis ``funding.interval_s``, and refuses a batch the verifier would
fail as "funding overdue". The indices are public ledger data. The live
operator (``exchange.operator.Operator`` through ``RiskEngine``) only
publishes them; the recycling-order operator (``exchange.operator.slots``)
settles them into every leaf its statements touch (``funding[M]`` public
inputs). The host provides the attributes listed on the class.
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
    funding_clock: int | None  # start of the current interval (last update, or first batch)

    @property
    def roots(self) -> Roots:
        raise NotImplementedError

    def funding_due(self, report: OracleReport) -> bool:
        """The genesis funding interval has passed since the last update (at report time).

        Always False without genesis funding rules. Publish the update
        (``update_funding``) at the batch's own report before the batch: a
        batch whose report is more than ``interval_s`` after the last update
        (or the first batch, before any) fails verification ("funding overdue").
        """
        rules, last = self.funding_rules, self.funding_timestamp
        if rules is None:
            return False
        return last is None or report.timestamp - last >= rules.interval_s

    def _check_funding_overdue(self, report: OracleReport) -> None:
        """OperatorError if a batch at ``report`` would fail darkpool-verify as funding overdue."""
        rules, clock = self.funding_rules, self.funding_clock
        if rules is not None and clock is not None and report.timestamp - clock > rules.interval_s:
            raise OperatorError(
                f"funding overdue: publish a funding update (update_funding) before this batch "
                f"({report.timestamp - clock} s since the last, genesis interval "
                f"{rules.interval_s} s)"
            )

    def update_funding(self, report: OracleReport) -> LedgerEntry:
        """Append the next funding indices computed from the report (a ``funding`` entry)."""
        self._check_report(report)
        rules = self.funding_rules
        if rules is None:
            raise OperatorError("genesis has no funding rules: no funding updates")
        if not self.funding_due(report):
            raise OperatorError(f"funding was updated less than {rules.interval_s} s ago")
        try:
            indices = funding_math.next_indices(
                self.funding_indices,
                report.marks,
                report.index,
                premium_divisor=rules.premium_divisor,
                clamp_bps=rules.clamp_bps,
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
        self.funding_timestamp = self.funding_clock = report.timestamp
        return entry
