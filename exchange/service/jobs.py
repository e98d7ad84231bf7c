"""Jobs: proven batches (on a timer and on demand) and on-demand solvency proofs.

The batcher runs a batch when orders are live, and also when a time-based
health sweep is due (``sweep_due_now``) or a funding interval has ended
(``funding_due_now``), so sweeps and funding keep their timers when nobody
trades.

A batch or a solvency job holds the state lock for its whole proof; orders
arriving meanwhile queue as pending (``exchange.service.intake``). Jobs are
rows in the database, so a job that was queued or running when the process
stopped runs again on the next start.
"""

import json
import logging
import re
import uuid

from exchange.domain.matching import may_cross
from exchange.errors import Conflict, DomainError, Internal, NotFound, Rejected, Unavailable
from exchange.models import BatchJobRow, SolvencyJobRow
from exchange.operator import OperatorError
from exchange.service.core import ServiceCore
from exchange.service.results import BatchDone, JobReport
from oracle.signer import OracleError, OracleReport
from verifier.export import LedgerEntry

log = logging.getLogger("darkpool.service")
_JOB_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex; anything else is not a job
#: A time-based health sweep is run this early, so the batch after it is never overdue.
SWEEP_MARGIN_S = 5


class Jobs(ServiceCore):
    """The proving half of the service: the batcher thread and the solvency job worker."""

    #: Service-clock time at which the latest published batch asked the oracle for its
    #: report (``withdrawal_needs_batch``); None until a batch is published in this process.
    _report_asked_at: int | None = None

    def _after_setup(self, background: bool) -> None:
        for job in self.store.unfinished_jobs():
            self._jobs.put(job.id)
        if background:
            self._spawn(self._job_worker, "solvency-jobs")
            if self.settings.batch_interval_s > 0:
                self._spawn(self._batcher, "batcher")

    def _on_stop(self) -> None:
        self._jobs.put(None)

    # ------------------------------------------------------------ batches

    def run_batch(self) -> BatchDone:
        """Match, prove and commit one batch now (``Conflict`` while one is running)."""
        return self._batch(None)

    def _batch(self, resume: BatchJobRow | None) -> BatchDone:
        """One batch; ``resume`` re-runs a batch left ``proving`` by a stop, with its report.

        The batch job row (report chosen, status ``proving``) is durable before
        the first proof starts, so a batch whose proofs are pending is visible
        (``batch_view``) and survives a restart; its entry and the row's
        ``published`` status are stored in one change.
        """
        if not self._batch_guard.acquire(blocking=False):
            raise Conflict("a batch is already running")
        try:
            with self._mutating():
                self.batch_in_progress = True
                try:
                    op = self.op
                    if resume is None:
                        job = self._new_batch_job()
                    else:
                        job = resume
                        job.starts, job.proofs_done = job.starts + 1, 0
                        self.store.save_batch_job(job)
                    report = OracleReport.from_json(json.loads(job.report), op.params.markets)
                    self._current_batch = job
                    try:
                        first_new = len(op.ledger)
                        try:
                            self._risk_before_batch(report)
                        finally:
                            # Each risk entry is atomic: store what was appended even
                            # if a later step failed (the batch then does not run).
                            if len(op.ledger) > first_new:
                                self._persist(
                                    entries=[e.to_dict() for e in op.ledger.entries[first_new:]],
                                    **self._stored_state(),
                                )
                        with self._batch_blindings(job.batch_id):
                            summary = op.run_batch(report)
                    except OperatorError as exc:
                        job.status, job.error = "failed", str(exc)[:500]
                        self._persist(batch_job=job)
                        raise Internal(f"batch failed: {exc}") from None
                    except Exception:
                        if self._stop.is_set():  # the prover was killed by a stop
                            raise Unavailable("the exchange is stopping; nothing changed") from None
                        raise
                    finally:
                        self._current_batch = None
                    job.status, job.ledger_index = "published", summary.entry.index
                    self._report_asked_at = job.created_at
                    self._persist(
                        entries=[summary.entry.to_dict()], batch_job=job, **self._stored_state()
                    )
                finally:
                    self.batch_in_progress = False
                listed_after = len(self._pending)
            return BatchDone(summary.entry, len(summary.fills), summary.proofs, listed_after)
        finally:
            self._batch_guard.release()

    def _new_batch_job(self) -> BatchJobRow:
        """Fetch the batch's oracle report and store the job as ``proving`` (caller holds _lock)."""
        op = self.op
        now = self._clock()
        if op.latest_report is not None:
            now = max(now, op.latest_report.timestamp)
        try:
            report = self.oracle.report(op.next_batch_id, now)
        except OracleError as exc:
            raise Unavailable(f"oracle: {exc}") from None
        job = BatchJobRow(
            batch_id=op.next_batch_id,
            status="proving",
            report=json.dumps(report.to_json()),
            created_at=self._clock(),
        )
        self._persist(batch_job=job)
        return job

    def _resume_batches(self) -> None:
        for job in self.store.proving_batches():
            if job.batch_id != self.op.next_batch_id:  # cannot happen: entry + status are atomic
                log.error("batch job %d does not match the next batch; dropped", job.batch_id)
                job.status, job.error = "failed", "does not match the ledger"
                self.store.save_batch_job(job)
                continue
            log.info("batch %d was proving at the last stop: running it again", job.batch_id)
            try:
                self._batch(job)
            except DomainError as exc:
                log.error("resumed batch %d failed: %s", job.batch_id, exc.reason)

    def batch_view(self, batch_id: int) -> BatchJobRow:
        """The batch's job row: ``proving`` while its proofs are pending, then ``published``."""
        job = self.store.batch_job(batch_id) if 0 <= batch_id < 2**63 else None
        if job is None:
            raise NotFound(f"no batch {batch_id}")
        if job.status == "published" and (job.ledger_index or 0) >= self.durable_entries:
            job.status = "proving"  # stored, but not yet answered: never show it early
        return job

    def _risk_before_batch(self, report: OracleReport) -> None:
        """Funding update and health sweep (+ liquidations) when genesis says they are due.

        Both use the batch's own report, so the verifier sees one report for
        all of them; a sweep that flags a trader liquidates it before the
        batch (issue 11: the next batch fails verification otherwise).
        """
        op = self.op
        if op.funding_due(report):  # never without genesis funding rules
            op.update_funding(report)
        # A fresh sweep also when a flagged trader is still pending (its liquidation
        # failed earlier): the sweep at this report replaces the list.
        # Due at the batch's own entry time, with a margin for the time it takes to get there.
        due_at = op.next_entry_time(report) + SWEEP_MARGIN_S
        if op.sweep_due(due_at) or op.pending_liquidations:
            done = op.sweep_and_liquidate(report)
            if done:
                log.info("liquidated accounts %s at report %d", list(done), report.seq)

    def _live_orders(self) -> bool:
        """Some live orders could fill at some mark, or accepted cancels wait for a batch.

        Live orders that can never cross (all buys below every other
        account's sells, or one account's own pair) do not make a batch due:
        it would prove no fill (``exchange.domain.matching.may_cross``). The
        live orders are read from the used slots (``SlotsOperator.live_orders``):
        O(used slots) per tick, however many orders were ever accepted.
        """
        if self.engine.has_queued_work(self.op):
            return True
        return may_cross(self.op.live_orders(self._clock()))

    def sweep_due_now(self) -> bool:
        """Genesis ``risk.sweep_interval_s`` (with ``SWEEP_MARGIN_S``) says a sweep is due now.

        The batcher then runs a batch even without live orders, so the health
        sweep and its liquidations happen at fresh signed marks on their own
        timer when nobody trades (the sweep always rides on a batch: reports
        are numbered by batch id, so the batch's report is the sweep's).
        """
        op = self.op
        rules = op.risk_rules
        return (
            rules is not None
            and bool(rules.sweep_interval_s)
            and op.sweep_due(self._clock() + SWEEP_MARGIN_S)
        )

    def funding_due_now(self) -> bool:
        """A genesis funding interval has ended since the last paid one (by the service clock).

        The batcher then runs a batch even without live orders, and the
        funding update rides before it at the batch's report
        (``_risk_before_batch``; reports are numbered by batch id, so an
        update cannot have a report of its own): longs and shorts are paid
        every interval in a quiet market too. A late update would still pay
        every elapsed interval (``verifier.funding.elapsed_intervals``); the
        timer keeps the indices that withdrawals and liquidations settle to
        fresh. False before the first batch (no positions yet).
        """
        return self.op.funding_due_at(self._clock())

    def withdrawal_needs_batch(self) -> bool:
        """A withdrawal now would need a batch first: funding due, or no usable marks.

        True when there is no signed report yet, when the latest one is older
        than genesis ``max_report_age_s`` allows for an entry now, or when a
        funding interval has ended (``funding_due_now``: the withdrawal would
        settle the account at indices an update is owed on) and no published batch
        asked the oracle for its report since. Funding is due in oracle time
        (``op.funding_due(report)`` at the batch's report), which may lag the
        service clock by up to the oracle's skew limit: a batch asked after
        the interval's end whose report is not yet past it publishes no update,
        and running another would publish none either until the oracle's clock
        gets there. Withdrawals then settle at the latest marks, which are not
        funding overdue (their report is within the interval); the batcher's
        own timer (``funding_due_now``) publishes the update.
        """
        op = self.op
        report = op.latest_report
        if report is None:
            return True
        try:
            op.next_entry_time(report)
        except OperatorError:
            return True
        asked = self._report_asked_at
        return self.funding_due_now() and not (asked is not None and op.funding_due_at(asked))

    def _fresh_marks_for_withdrawal(self) -> None:
        """Run a batch before a withdrawal (or a solvency job) that needs one
        (``withdrawal_needs_batch``); at most one per request.

        The batch publishes the funding update before itself at its own fresh
        report (``_risk_before_batch``: reports are numbered by batch id, so an
        update cannot have a report of its own) and the withdrawal then uses
        that report and the new indices: funding update, batch, withdrawal.
        After that batch the need is not checked again (an oracle lagging the
        service clock would otherwise make it a loop). A batch already
        running is waited for and the need checked again. Raises what
        ``run_batch`` raises (Unavailable: no oracle; Internal), and
        Unavailable ("busy, retry") if other batches kept running through
        three looks: the withdrawal is then not made, never made at stale
        funding.
        """
        for _ in range(3):
            if not self.withdrawal_needs_batch():
                return
            try:
                self.run_batch()
                return
            except Conflict:
                with self._batch_guard:
                    pass  # a batch is running: wait for it, then look again
        if self.withdrawal_needs_batch():
            raise Unavailable("batches keep the exchange busy: retry the request")

    def batcher_tick(self) -> bool:
        """One round of the batcher: a batch if orders are live, a sweep or funding is due.

        True if a batch ran.
        """
        if not (self._live_orders() or self.sweep_due_now() or self.funding_due_now()):
            return False
        self.run_batch()
        return True

    def _batcher(self) -> None:
        interval = self.settings.batch_interval_s
        while not self._stop.wait(interval):
            try:
                self.batcher_tick()
            except Conflict:
                pass  # an on-demand batch is running
            except DomainError as exc:
                log.error("batch failed: %s", exc.reason)
            except Exception:
                if not self._stop.is_set():
                    log.exception("batch failed")

    # ------------------------------------------------------------ solvency

    def start_solvency(self, shock_bps: int | None) -> str:
        """Queue a solvency proof (at marks shocked by ``shock_bps`` if given); returns the job id."""
        if self.op.latest_report is None:
            raise Conflict("no oracle marks yet: run a batch first")
        if shock_bps == 0:
            raise Rejected("shock_bps 0 is no stress scenario: omit it for a real-marks report")
        job = SolvencyJobRow(
            id=uuid.uuid4().hex,
            status="queued",
            shock_bps=shock_bps,
            created_at=self._clock(),
            total=self._solvency_chunks(),
        )
        self.store.save_job(job)
        self._jobs.put(job.id)
        return job.id

    def _solvency_chunks(self) -> int:
        return self.engine.solvency_proofs(self.op)

    def job_view(self, job_id: str) -> JobReport:
        job = self.store.job(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None:
            raise NotFound(f"no solvency job {job_id!r}")
        entry = self.op.ledger.entries[job.ledger_index] if job.ledger_index is not None else None
        return JobReport(job, entry)

    def run_solvency_job(self, job_id: str) -> None:
        job = self.store.job(job_id)
        if job is None or job.status in ("done", "failed"):
            return
        try:
            # Funding due (or marks too old for an entry now): the batch runs first and
            # its funding update rides before it, so the proof counts equity after the
            # funding owed; darkpool-verify fails a solvency entry at overdue funding.
            self._fresh_marks_for_withdrawal()
        except DomainError as exc:
            job.status, job.error = "failed", f"the batch before the proof failed: {exc}"[:500]
            self.store.save_job(job)
            return
        with self._mutating():
            job.status, job.done, job.total = "running", 0, self._solvency_chunks()
            self.store.save_job(job)
            report = self.op.latest_report
            assert report is not None  # checked when the job was queued
            self._current_job = job
            try:
                shocks = None if job.shock_bps is None else [job.shock_bps] * self.op.params.markets
                entry: LedgerEntry = self.op.prove_solvency(report, shock_bps=shocks)
            except (OperatorError, OracleError) as exc:
                job.status, job.error = "failed", str(exc)[:500]
                self.store.save_job(job)
                return
            finally:
                self._current_job = None
            job.status, job.ledger_index = "done", entry.index
            self._persist(entries=[entry.to_dict()], job=job)

    def _job_worker(self) -> None:
        while True:
            job_id = self._jobs.get()
            if job_id is None or self._stop.is_set():
                return
            try:
                self.run_solvency_job(job_id)
            except Exception:
                if not self._stop.is_set():
                    log.exception("solvency job %s failed", job_id)
