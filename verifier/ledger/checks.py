"""What every per-kind check of the replay shares (``ReplayChecks``, base of its mixins).

``verifier.ledger.replay._Replayer`` is assembled from mixins, one per group
of entry kinds (``RiskChecks``, ``SolvencyChecks``, ``SlotsChecks``,
``SlotsRiskChecks``). Each reads the replayer's state and calls methods
another part defines; this base declares those once:

* the attributes ``genesis``, ``state``, ``keys`` and ``commitment_set``
  (set by ``_Replayer.__init__``);
* ``_proof`` and ``_use_report`` (``_Replayer``) and ``before_batch`` /
  ``after_batch`` (``RiskChecks``): stubs here, the real methods come earlier
  in the replayer's method order;
* ``funding_indices``: the replay's current cumulative funding index per market;
* ``open_batch`` / ``close_batch``: the batch-entry rules both ledger states
  share (batch id and report timestamp strictly increase, the risk rules
  allow the batch, the report is usable; then the bookkeeping).

Pure: no I/O. Never imports prover or exchange.
"""

from collections.abc import Mapping

from verifier import groth16
from verifier.ledger.entries import BatchEntry, Genesis
from verifier.ledger.parse import EntryError
from verifier.ledger.state import ReplayState
from verifier.oracle import OracleReport

__all__ = ["ReplayChecks"]


class ReplayChecks:
    """Shared state, cross-mixin stubs and shared batch rules of the replayer; see the module."""

    genesis: Genesis
    state: ReplayState
    keys: Mapping[str, tuple[groth16.PreparedVerificationKey, object]]
    commitment_set: set[int]

    def _proof(
        self, statement: str, obj: object, expected: list[int], index: int, label: str
    ) -> None:
        """Compare a proof's public signals with ``expected`` and queue it (``_Replayer``)."""
        raise NotImplementedError

    def _use_report(self, report: OracleReport, time: int, what: str) -> None:
        """Check a report an entry relies on and make it the latest (``_Replayer``)."""
        raise NotImplementedError

    def before_batch(self, time: int, report_time: int) -> None:
        """Fail a batch the risk rules forbid (``RiskChecks``)."""
        raise NotImplementedError

    def after_batch(self, time: int, report_time: int) -> None:
        """Count a batch for the risk rules (``RiskChecks``)."""
        raise NotImplementedError

    def _funding_overdue(self, report_time: int) -> None:
        """Fail an entry at a report past the genesis funding interval (``RiskChecks``)."""
        raise NotImplementedError

    def funding_indices(self) -> list[int]:
        """The current cumulative funding index per market (zeros before the first update)."""
        return list(self.state.risk.funding_indices or [0] * self.genesis.params.markets)

    def open_batch(self, e: BatchEntry) -> OracleReport:
        """The rules every batch entry starts with; returns its (usable) oracle report.

        Raises EntryError: batch id not above the last, a batch the risk rules
        forbid (``before_batch``), a report timestamp not after the last
        batch's, or a report the entry may not use (``_use_report``).
        """
        s = self.state
        if s.last_batch_id is not None and e.batch_id <= s.last_batch_id:
            raise EntryError(f"batch_id {e.batch_id} does not increase (last {s.last_batch_id})")
        self.before_batch(e.time, e.oracle.timestamp)
        report = e.oracle
        last_ts = s.last_batch_timestamp
        if last_ts is not None and report.timestamp <= last_ts:
            raise EntryError(
                f"batch timestamp {report.timestamp} (its oracle report's) does not increase "
                f"(last batch at {last_ts})"
            )
        self._use_report(report, e.time, "oracle report")
        return report

    def close_batch(self, e: BatchEntry) -> None:
        """Record a batch entry that passed every check (id, timestamp, count, risk rules)."""
        s = self.state
        s.last_batch_id = e.batch_id
        s.last_batch_timestamp = e.oracle.timestamp
        s.batches += 1
        self.after_batch(e.time, e.oracle.timestamp)
