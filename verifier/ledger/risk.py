"""Risk-engine entries and their replay checks: health sweeps, liquidations, funding (issue 11).

Three entry kinds (docs/ledger.md):

* ``sweep``: ``health_sweep`` chunk proofs over the whole account tree at a
  real signed report, and ``flagged``, the accounts whose proven flag says
  ``10^4 * equity < sum |s| * P * mmf_bps``. Changes no root.
* ``liquidation``: ``liquidate`` step proofs of one account at a real signed
  report, chained from ``roots_before.account`` to ``roots_after.account``.
* ``funding``: the new cumulative funding index per market, computed from a
  real signed report's mark and index prices (``verifier.funding``). Changes
  no root.

Rules the replay adds (``RiskChecks``, mixed into the replayer):

* before every batch: no account flagged by the last sweep is left
  unliquidated ("account i was below maintenance margin at the health sweep
  of entry j and was not liquidated before this batch"), no sweep is
  overdue under genesis ``risk`` ("health sweep overdue: ..."), and no
  funding update is overdue under genesis ``funding`` ("funding overdue:
  ...": the batch's report is more than ``interval_s`` after the last
  update's report, or after the first batch's before any update); the same
  funding-overdue rule holds for sweeps, liquidations, deleverages and
  withdrawals (``account_op``), which judge and settle accounts after their
  funding (at stale indices a sweep would pass an account the owed funding
  puts below maintenance margin, a withdrawal would pass margin on a balance
  not yet charged);
* a sweep's proofs rebuild the current account root at the report's marks,
  the replay's funding indices and the genesis maintenance fractions, and
  ``flagged`` equals the proven flags; a liquidation's steps follow
  ``verifier.statements.liquidate.check_liquidate_steps`` with public
  inputs recomputed from the report, the funding indices and genesis
  (``verifier.ledger.risk_slots``);
* a funding entry pays every whole genesis ``funding.interval_s`` elapsed
  since the schedule's clock (``verifier.funding.elapsed_intervals``; none
  elapsed: "funding update at report time T, S s after ...") and every index
  equals the previous index plus that many times the formula's delta at its
  report ("funding index of market m is X, but ..."), so an operator that
  lets intervals pass without an update still owes (and pays) every one.

Pure: no I/O. Never imports prover or exchange.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from verifier.funding import FundingMathError, elapsed_intervals, next_indices
from verifier.ledger.entries import (
    Entry,
    Genesis,
    ProofData,
    register,
)
from verifier.ledger.parse import EntryError, as_list, get, sint, uint
from verifier.ledger.risk_slots import SlotsRiskChecks
from verifier.oracle import OracleReport

__all__ = ["FundingEntry", "LiquidationEntry", "RiskChecks", "SweepEntry"]


@register
@dataclass(frozen=True, kw_only=True)
class SweepEntry(Entry):
    """A health sweep: health_sweep chunk proofs over the whole account tree at a signed report.

    ``flagged`` is the operator's list of accounts below maintenance margin;
    the replay recomputes it from the proofs' flags and requires equality.
    """

    kind: ClassVar[str] = "sweep"
    may_change: ClassVar[frozenset[str]] = frozenset()

    oracle: OracleReport
    chunks: tuple[ProofData, ...]
    flagged: tuple[int, ...]

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "SweepEntry":
        flagged_raw = as_list(get(d, "flagged", "sweep"), "sweep flagged")
        return cls(
            **header,
            oracle=genesis.report(d, "sweep"),
            chunks=ProofData.list_from_json(d, "chunks", "sweep", "sweep proof"),
            flagged=tuple(uint(x, "sweep flagged") for x in flagged_raw),
        )

    def body_json(self) -> dict[str, Any]:
        return {
            "oracle": self.oracle.to_json(),
            "chunks": [c.to_json() for c in self.chunks],
            "flagged": list(self.flagged),
        }


@register
@dataclass(frozen=True, kw_only=True)
class LiquidationEntry(Entry):
    """The liquidation of one account: its liquidate step proofs, in order, at a signed report."""

    kind: ClassVar[str] = "liquidation"
    may_change: ClassVar[frozenset[str]] = frozenset({"account"})

    account: int
    oracle: OracleReport
    steps: tuple[ProofData, ...]

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "LiquidationEntry":
        steps = ProofData.list_from_json(d, "steps", "liquidation", "liquidation proof")
        if not steps:
            raise EntryError("a liquidation has at least one step")
        return cls(
            **header,
            account=uint(get(d, "account", "liquidation"), "liquidation account"),
            oracle=genesis.report(d, "liquidation"),
            steps=steps,
        )

    def body_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "oracle": self.oracle.to_json(),
            "steps": [s.to_json() for s in self.steps],
        }


@register
@dataclass(frozen=True, kw_only=True)
class FundingEntry(Entry):
    """A funding update: the new cumulative funding index per market at a signed report."""

    kind: ClassVar[str] = "funding"
    may_change: ClassVar[frozenset[str]] = frozenset()

    oracle: OracleReport
    indices: tuple[int, ...]

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "FundingEntry":
        raw = as_list(get(d, "indices", "funding"), "funding indices")
        if len(raw) != genesis.params.markets:
            raise EntryError(
                f"funding lists {len(raw)} indices for {genesis.params.markets} markets"
            )
        return cls(
            **header,
            oracle=genesis.report(d, "funding"),
            indices=tuple(sint(x, f"funding indices[{m}]") for m, x in enumerate(raw)),
        )

    def body_json(self) -> dict[str, Any]:
        return {"oracle": self.oracle.to_json(), "indices": [str(f) for f in self.indices]}


class RiskChecks(SlotsRiskChecks):
    """The replay's risk rules; mixed into ``verifier.ledger.replay._Replayer``.

    The sweep and liquidation proofs are checked in ``verifier.ledger.risk_slots``;
    the bookkeeping is here.
    """

    # -- batches ------------------------------------------------------------

    def before_batch(self, time: int, report_time: int) -> None:
        """Fail a batch (entry time ``time``, report time ``report_time``) the risk rules forbid."""
        risk = self.state.risk
        if risk.pending:
            raise EntryError(
                f"account {risk.pending[0]} was below maintenance margin at the health sweep "
                f"of entry {risk.sweep_entry} and was not liquidated before this batch"
            )
        self._funding_overdue(report_time)
        rules = self.genesis.risk
        if rules is None:
            return
        since = "genesis" if risk.sweep_entry is None else f"the sweep of entry {risk.sweep_entry}"
        n = rules.sweep_interval_batches
        if n and risk.batches_since_sweep >= n:
            raise EntryError(
                f"health sweep overdue: {risk.batches_since_sweep} batches since {since} "
                f"(genesis requires one every {n})"
            )
        t = rules.sweep_interval_s
        if t and risk.sweep_clock is not None and time - risk.sweep_clock > t:
            raise EntryError(
                f"health sweep overdue: {time - risk.sweep_clock} s since "
                f"{'the first batch' if risk.sweep_entry is None else since} "
                f"(genesis requires one every {t} s)"
            )

    def after_batch(self, time: int, report_time: int) -> None:
        risk = self.state.risk
        risk.batches_since_sweep += 1
        if risk.sweep_clock is None:
            risk.sweep_clock = time
        if risk.funding_clock is None:
            risk.funding_clock = report_time

    def _funding_overdue(self, report_time: int) -> None:
        """Genesis ``funding``: a batch, sweep, liquidation, deleverage, withdrawal or
        solvency report (real or stress) needs an update less than ``interval_s`` of oracle
        time before it: at ``interval_s`` an interval has ended (``elapsed_intervals`` pays it).

        Counted on report timestamps (the clock of the funding interval rule)
        from the end of the last paid interval (the last update's report
        time unless it was late: ``verifier.funding.elapsed_intervals``), or,
        before any update, from the first batch's. No grace: the operator publishes the
        update at the batch's own report as soon as ``interval_s`` has
        passed, so an honest entry is always less than ``interval_s`` after it (an
        entry exactly ``interval_s`` after it would settle an ended interval at the old
        indices).
        """
        rules, risk = self.genesis.funding, self.state.risk
        if rules is None or risk.funding_clock is None:
            return
        gap = report_time - risk.funding_clock
        if gap >= rules.interval_s:
            if risk.funding_entry is None:
                since = "the first batch"
            elif risk.funding_clock == risk.funding_timestamp:
                since = f"the funding update of entry {risk.funding_entry}"
            else:  # a late update paid whole intervals: the clock is where they end
                since = f"the end of the last interval paid (entry {risk.funding_entry})"
            raise EntryError(
                f"funding overdue: {gap} s of oracle time since {since} "
                f"(genesis requires a funding update every {rules.interval_s} s)"
            )

    # -- kinds --------------------------------------------------------------

    def sweep(self, e: SweepEntry) -> None:
        g = self.genesis
        if g.risk is None:
            raise EntryError("a health sweep in a ledger whose genesis has no risk rules")
        report = e.oracle
        self._use_report(report, e.time, "oracle report")
        self._funding_overdue(report.timestamp)  # flags are judged after funding
        flagged = self._slots_sweep_flags(e, report)
        if tuple(e.flagged) != flagged:
            raise EntryError(
                f"flagged lists {list(e.flagged)}, but the proofs flag {list(flagged)}"
            )
        risk = self.state.risk
        # The fund (index 0) is never liquidated; its health is visible in solvency.
        risk.pending = [i for i in flagged if i != 0]
        risk.sweep_entry = e.index
        risk.sweep_clock = e.time
        risk.batches_since_sweep = 0
        risk.sweeps += 1

    def liquidation(self, e: LiquidationEntry) -> None:
        g = self.genesis
        if g.risk is None:
            raise EntryError("a liquidation in a ledger whose genesis has no risk rules")
        report = e.oracle
        self._use_report(report, e.time, "oracle report")
        self._funding_overdue(report.timestamp)  # the steps settle funding first
        if not 0 < e.account < self.state.account_count:
            raise EntryError(f"liquidation of account {e.account}, which is not a trader's")
        steps = self._slots_liquidation_steps(e, report)
        risk = self.state.risk
        risk.pending = [i for i in risk.pending if i != e.account]
        risk.liquidations += 1
        risk.liquidation_steps += steps

    def funding(self, e: FundingEntry) -> None:
        g = self.genesis
        rules = g.funding
        if rules is None:
            raise EntryError("a funding update in a ledger whose genesis has no funding rules")
        report = e.oracle
        self._use_report(report, e.time, "oracle report")
        risk = self.state.risk
        clock, updated = risk.funding_clock, risk.funding_timestamp is not None
        try:
            k, next_clock = elapsed_intervals(report.timestamp, clock, updated, rules.interval_s)
        except FundingMathError as exc:
            raise EntryError(f"funding: {exc}") from None
        if k == 0:
            assert clock is not None  # elapsed_intervals pays at least one before any update
            since = (
                f"the update of entry {risk.funding_entry}"
                if clock == risk.funding_timestamp
                else f"the funding interval ending at {clock} (entry {risk.funding_entry})"
            )
            raise EntryError(
                f"funding update at report time {report.timestamp}, "
                f"{report.timestamp - clock} s after {since} "
                f"(genesis interval {rules.interval_s} s)"
            )
        previous = self.funding_indices()
        try:
            expected = next_indices(
                previous,
                report.marks,
                report.index,
                premium_divisor=rules.premium_divisor,
                clamp_bps=rules.clamp_bps,
                intervals=k,
            )
        except FundingMathError as exc:
            raise EntryError(f"funding: {exc}") from None
        for m, (theirs, ours) in enumerate(zip(e.indices, expected, strict=True)):
            if theirs != ours:
                raise EntryError(
                    f"funding index of market {m} is {theirs}, but the signed report gives "
                    f"{ours} (previous {previous[m]}, mark {report.marks[m]}, "
                    f"index price {report.index[m]}{f', {k} elapsed intervals' if k > 1 else ''})"
                )
        risk.funding_indices = list(expected)
        risk.funding_timestamp, risk.funding_clock = report.timestamp, next_clock
        risk.funding_entry = e.index
        risk.funding_updates += 1
