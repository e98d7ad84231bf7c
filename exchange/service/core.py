"""The service core: lifecycle (fast open, circuit setup, load), the state lock and persistence.

``ServiceCore.open`` is fast (keys, oracle, database); ``ServiceCore.setup``
builds the circuits (minutes on a cold cache), then creates genesis or
restores the operator from the database. ``start`` does both, with setup in a
background thread when asked, so ``/v1/health`` answers while circuits build
(``state`` setting_up, with progress). ``stop`` may be called at any moment,
also during setup or a proof: it kills the node child processes of this
process, so a build or a proof in flight ends at once; nothing half done is
committed (see ``exchange.service``).
"""

import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from nacl.public import SealedBox

from exchange import keys
from exchange.core.config import Settings
from exchange.errors import Unavailable
from exchange.models import BatchJobRow, SolvencyJobRow
from exchange.operator import ProveFn, RejectedOrder, wall_clock
from exchange.operator.common import DEFAULT_FUNDING_RULES
from exchange.operator.slots import SlotsOperator
from exchange.ratelimit import IntakeLimits
from exchange.service import processes
from exchange.service.engine import Engine, check_genesis_state
from exchange.service.results import HealthReport, SetupProgress
from exchange.store import Change, Store, StoreError
from exchange.store_writer import GroupWriter, Ticket
from oracle.client import HttpOracle
from oracle.service import load_or_create_key
from oracle.signer import Oracle, OracleError, SimulatedOracle
from prover import jobs
from prover.account_book import random_blinding
from prover.circuits import build_statement
from verifier import poseidon
from verifier.account_state import SlottedOrder
from verifier.eddsa import Signature
from verifier.field import R
from verifier.ledger.rules import RiskRules
from verifier.protocol import Tags

log = logging.getLogger("darkpool.service")


@dataclass
class Pending:
    """An order accepted while a batch held the state lock; listed when it is released."""

    order: SlottedOrder
    signature: Signature
    commitment: int


class ServiceCore:
    """State shared by the intake and job halves of ``exchange.service.Service``."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], int] = wall_clock,
        prove: ProveFn | None = None,
        oracle: Oracle | None = None,
    ) -> None:
        self.settings = settings
        self._given_oracle = oracle
        self._clock = clock
        # The operator is not the trust root: hash with the native Poseidon when
        # installed (bit-exact, tests/verifier/test_poseidon_native.py) unless
        # DARKPOOL_POSEIDON says otherwise.
        if poseidon.ENV_PROBLEM is not None:
            raise ValueError(poseidon.ENV_PROBLEM)
        if not os.environ.get(poseidon.BACKEND_ENV) and poseidon.native_available():
            poseidon.set_backend("native")
        # Proofs: serially in this process by default; on Dask with
        # DARKPOOL_PROOF_WORKERS >= 2 or DARKPOOL_DASK_SCHEDULER (prover.jobs).
        self._pool: jobs.ProofPool | None = None
        if prove is None:
            self._pool = jobs.pool_from_env()
            prove = self._pool
        self._prove_impl: ProveFn = prove
        self._prove = jobs.ProgressProve(self._prove_impl, self._proof_landed)
        self.tags = Tags.for_exchange(settings.exchange_id)
        self.engine = Engine()  # the slots state: exchange.service.engine
        self._lock = threading.Lock()
        self._intake = threading.RLock()  # re-entered by _recover from _list_pending
        self._batch_guard = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._jobs: queue.Queue[str | None] = queue.Queue()  # solvency job ids
        self._pending: list[Pending] = []
        self._listed: dict[int, int] = {}  # commitment -> order index
        self.batch_in_progress = False
        self._current_job: SolvencyJobRow | None = None
        self._current_batch: BatchJobRow | None = None
        self._blinding_stream: tuple[int, int] | None = None  # (batch id, next counter)
        self._setup_started = time.monotonic()
        self._setup_done = 0
        self._setup_current: str | None = None
        self._setup_error: str | None = None
        self._store: Store | None = None
        self._writer: GroupWriter | None = None
        self._durable_len = 0  # ledger entries stored: the views show no more than these
        self.op: SlotsOperator
        self.keys: keys.OperatorKeys
        self.oracle: Oracle

    def _clock_ms(self) -> int:
        """Now in Unix milliseconds: the wall clock's, or the injected seconds clock's x 1000."""
        if self._clock is wall_clock:
            return time.time_ns() // 1_000_000
        return self._clock() * 1000

    # ------------------------------------------------------------ lifecycle

    @property
    def store(self) -> Store:
        if self._store is None:
            raise Unavailable("the exchange is not open")
        return self._store

    def start(self, *, background: bool = True, setup_in_background: bool = False) -> None:
        """``open`` then ``setup``; with ``setup_in_background`` setup runs in a thread."""
        self.open()
        if setup_in_background:
            self._spawn(lambda: self.setup(background=background), "setup")
        else:
            self.setup(background=background)

    def open(self) -> None:
        """Keys, oracle and database: quick, so health can answer before setup."""
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.limits = IntakeLimits(
            per_ip_per_minute=s.requests_per_ip_per_minute,
            orders_per_account_per_minute=s.orders_per_account_per_minute,
        )
        self.keys = keys.load_or_create(s.resolved_key_dir, s.operator_token)
        self.oracle = self._connect_oracle()
        self._box = SealedBox(self.keys.box)
        self._store = Store(s.resolved_database_url)
        genesis = self._store.entries(0, 1)
        if genesis:  # a list-state database is refused (one line): exchange.core.config
            try:
                check_genesis_state(genesis[0])
            except ValueError:
                self._store.close()
                raise
        self._writer = GroupWriter(
            self._store, max_group=s.commit_group_max, on_durable=self._stored
        )
        self._setup_started = time.monotonic()

    def _connect_oracle(self) -> Oracle:
        """The oracle given to the constructor, else ``darkpool oracle serve`` over HTTP.

        With ``oracle_url`` the operator never holds the oracle's key: it pins
        the key the oracle publishes and checks every report. Without one, a
        development oracle runs in this process with its key in its own
        directory (``oracle_key_dir``, never the operator's ``key_dir``) — for
        tests and local runs only: its marks are not independent of the operator
        (``darkpool serve`` prints a warning; the demo starts the oracle process).
        """
        if self._given_oracle is not None:
            return self._given_oracle
        s = self.settings
        if s.oracle_url:
            try:
                return HttpOracle(s.oracle_url, exchange_id=s.exchange_id, markets=len(s.markets))
            except OracleError as exc:
                raise Unavailable(str(exc)) from None
        key_dir = s.resolved_oracle_key_dir.resolve()
        if (
            key_dir == s.resolved_key_dir.resolve()
            or s.resolved_key_dir.resolve() in key_dir.parents
        ):
            raise Unavailable("the oracle's key dir must not be the operator's key dir")
        log.warning(
            "development oracle in this process: its marks are not independent of the "
            "operator; production: `darkpool oracle serve` + DARKPOOL_ORACLE_URL"
        )
        return SimulatedOracle(
            s.start_prices(),
            self.tags.oracle,
            seed=s.oracle_seed,
            max_step_bps=s.oracle_step_bps,
            key=load_or_create_key(key_dir),
        )

    def setup(self, *, background: bool = True) -> None:
        """Build every circuit (cached), create genesis or restore, then start the workers."""
        s = self.settings
        try:
            for statement in self.engine.statements:
                if self._stop.is_set():
                    return
                self._setup_current = statement
                build_statement(statement, s.profile, s.exchange_id)
                self._setup_done += 1
            self._setup_current = None
            if self._stop.is_set():
                return
            self._create_or_load()
        except Exception as exc:
            if self._stop.is_set():
                log.info("setup ended by stop")
                return
            self._setup_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.exception("setup failed")
            raise
        self._after_setup(background)
        self._ready.set()

    def _create_or_load(self) -> None:
        s = self.settings
        if self.store.ledger_length() == 0:
            log.info("empty database: creating genesis")
            self.op = self.engine.create(
                **self._operator_wiring(),
                insurance_pubkey=self.keys.insurance.public_key(),
                insurance_fund=s.insurance_fund,
                min_deposit=s.min_deposit,
                risk=RiskRules(
                    sweep_interval_batches=s.sweep_interval_batches,
                    sweep_interval_s=s.sweep_interval_s,
                    liquidation_fee_bps=tuple(m.mmf_bps // 2 for m in s.markets),
                ),
                funding=None
                if not s.funding_interval_s
                else replace(DEFAULT_FUNDING_RULES, interval_s=s.funding_interval_s),
            )
            self.store.write(
                entries=[e.to_dict() for e in self.op.ledger.entries], **self._stored_state()
            )
            self._durable_len = len(self.op.ledger)
        else:
            self._load()
            # A batch that was proving when the process stopped runs first (with its
            # recorded report), so orders queued during it are listed after it, as
            # they would have been.
            self._resume_batches()
        with self._mutating():
            pass  # lists orders that were pending when the process stopped

    def _resume_batches(self) -> None:
        """Hook for the job half: re-run batches whose proofs were pending at the stop."""

    def _next_blinding(self) -> int:
        """The operator's leaf blindings: random, except inside a batch (see ``_batch_blindings``)."""
        if self._blinding_stream is None:
            return random_blinding()
        batch_id, k = self._blinding_stream
        self._blinding_stream = (batch_id, k + 1)
        secret = hashlib.blake2b(
            bytes(self.keys.box), digest_size=32, person=b"dp-batch-blind"
        ).digest()
        msg = batch_id.to_bytes(8, "big") + k.to_bytes(8, "big")
        digest = hashlib.blake2b(msg, key=secret, digest_size=64).digest()
        return int.from_bytes(digest, "big") % R  # 512 bits mod r: bias < 2^-250

    @contextmanager
    def _batch_blindings(self, batch_id: int) -> Iterator[None]:
        """Blindings of batch ``batch_id`` from a keyed PRF (secret key, batch id, counter).

        Hiding as random ones (the key is secret) but reproducible: a batch
        re-run after a restart builds the same witnesses, so it publishes the
        same roots an uninterrupted run would have.
        """
        self._blinding_stream = (batch_id, 0)
        try:
            yield
        finally:
            self._blinding_stream = None

    def _after_setup(self, background: bool) -> None:
        """Hook for the job half: queue unfinished jobs and start its threads."""

    def _fresh_marks_for_withdrawal(self) -> None:
        """Hook for the job half: the batch a withdrawal or solvency job needs first (funding due,
        stale marks)."""

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._stop.is_set()

    def require_ready(self) -> None:
        """Raise ``Unavailable`` unless setup has finished (used by every route but health)."""
        if self.ready:
            return
        p = self.setup_progress()
        if self._stop.is_set():
            raise Unavailable("the exchange is stopping")
        if p.error is not None:
            raise Unavailable(f"the exchange failed to set up: {p.error}")
        raise Unavailable(f"the exchange is setting up ({p.done}/{p.total} circuits built)")

    def setup_progress(self) -> SetupProgress:
        return SetupProgress(
            done=self._setup_done,
            total=len(self.engine.statements),
            current=self._setup_current,
            elapsed_s=round(time.monotonic() - self._setup_started, 3),
            error=self._setup_error,
        )

    def health(self) -> HealthReport:
        progress = self.setup_progress()
        if self._stop.is_set():
            return HealthReport("stopping", progress)
        if not self._ready.is_set():
            return HealthReport("failed" if progress.error else "setting_up", progress)
        return HealthReport(
            "ready",
            progress,
            batch_in_progress=self.batch_in_progress,
            ledger_entries=len(self.op.ledger),
            pending_orders=len(self._pending),
        )

    def stop(self) -> None:
        """Stop threads, kill this process's node children (setup, proofs), close the database."""
        self._stop.set()
        self._on_stop()
        if self._pool is not None:
            self._pool.close()
        processes.kill_children()
        for t in self._threads:
            t.join(timeout=3)
            if t.is_alive():  # a build blocked on a cache lock, say: daemon, ends with us
                log.warning("thread %s still running at stop", t.name)
        if self._writer is not None:
            self._writer.close()  # stores what is queued: its requests were not answered yet
        if self._store is not None:
            self._store.close()

    def interrupt(self) -> None:
        """From a signal handler: refuse new work and kill node children now (``stop`` follows).

        A reaper thread keeps killing children until the process ends, so a
        prover that a worker was about to start when the signal came dies too.
        """
        if self._stop.is_set():
            return
        self._stop.set()
        threading.Thread(target=processes.reap_forever, name="darkpool-reaper", daemon=True).start()

    def _on_stop(self) -> None:
        """Hook for the job half: wake its worker."""

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=f"darkpool-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def _operator_wiring(self) -> dict[str, Any]:
        """What the operator gets from the service both at genesis and when restored."""
        s = self.settings
        return {
            "markets": s.market_specs(),
            "oracle": self.oracle,
            "profile": s.profile,
            "exchange_id": s.exchange_id,
            "clock": self._clock,
            "prove": self._prove,
            "new_blinding": self._next_blinding,
            "operator_key": self.keys.ledger,
        }

    def _load(self) -> None:
        """(Re)build the operator and the pending queue from the database."""
        decrypted: dict[int, tuple[SlottedOrder, Signature]] = {}
        pending: list[Pending] = []
        for row in self.store.orders():
            order, signature = self._open(row.ciphertext)
            h = int(row.commitment)
            decrypted[h] = (order, signature)
            if row.status == "pending":
                pending.append(Pending(order, signature, h))
        self.op = self.engine.restore(
            self.store, self._operator_wiring(), self.store.entries(), decrypted
        )
        self._listed = {h: i for i, h in enumerate(self.op.commitments)}
        self._pending = [p for p in pending if p.commitment not in self._listed]
        self._durable_len = len(self.op.ledger)

    def _open(self, ciphertext: bytes) -> tuple[SlottedOrder, Signature]:
        raise NotImplementedError  # the intake half decrypts

    def _stored_state(self) -> dict[str, Any]:
        """``Change`` fields storing the private state after the last entry (engine-specific)."""
        return self.engine.stored(self.op)

    def _proof_landed(self) -> None:
        job = self._current_job
        if job is not None:  # live progress of a solvency job: one proof per chunk
            job.done += 1
            self.store.save_job(job)
        batch = self._current_batch
        if batch is not None:  # live progress of a batch: one proof per settle group
            batch.proofs_done += 1
            self.store.save_batch_job(batch)

    # ------------------------------------------------------------ persistence

    @property
    def writer(self) -> GroupWriter:
        if self._writer is None:
            raise Unavailable("the exchange is not open")
        return self._writer

    @property
    def durable_entries(self) -> int:
        """Ledger entries committed to the database: views never show more than these."""
        return self._durable_len

    def _stored(self, changes: Sequence[Change]) -> None:
        """Writer thread, after a group committed: advance the durable ledger length."""
        for c in changes:
            for e in c.entries:
                self._durable_len = max(self._durable_len, int(e["index"]) + 1)

    @contextmanager
    def _mutating(self) -> Iterator[None]:
        """Hold the state lock; on the way out list every order that queued meanwhile."""
        with self._lock:
            if self.writer.broken:
                self._recover()
            try:
                yield
            finally:
                # At a stop, queued orders stay pending: a batch cut short by the stop
                # runs again first on restart and they are listed after it.
                if not self._stop.is_set():
                    with self._intake:
                        self._list_pending()

    def _recover(self) -> None:
        """After a failed group commit: reload memory from the database (caller holds _lock)."""
        with self._intake:
            self.writer.flush()
            if not self.writer.broken:
                return
            log.error("a group commit failed; reloading state from the database")
            self._load()
            self.writer.reset()

    def _submit(self, change: Change) -> Ticket:
        """Queue a change just made in memory (caller holds _lock); Unavailable if refused."""
        try:
            return self.writer.submit(change)
        except StoreError:
            self._recover()
            raise Unavailable("the change could not be stored; nothing changed") from None

    def _persist(self, **changes: Any) -> None:
        """Store one change (caller holds _lock) and wait until it is durable.

        If it cannot be stored, memory is reloaded from the database (dropping
        this change and any queued after it) and ``Unavailable`` is raised.
        """
        ticket = self._submit(Change(**changes))
        try:
            ticket.wait()
        except StoreError:
            self._recover()
            raise Unavailable("the change could not be stored; nothing changed") from None

    def _await(self, ticket: Ticket) -> None:
        """Wait (holding no lock) until ``ticket`` is durable; Unavailable if it failed."""
        try:
            ticket.wait()
        except StoreError:
            if self._lock.acquire(blocking=False):  # else the lock's holder recovers
                try:
                    self._recover()
                finally:
                    self._lock.release()
            raise Unavailable("the change could not be stored; nothing changed") from None

    def _list_pending(self) -> None:
        """Append queued orders to the order list (caller holds _lock and _intake).

        Their rows are already queued or stored as ``pending``; the listing is
        queued after them without waiting (nobody waits on it: a crash before
        it is stored lists them again on restart).
        """
        if not self._pending or self.writer.broken:
            return
        start = len(self.op.ledger)
        listed: dict[int, int] = {}
        for p in self._pending:
            try:
                listed[p.commitment] = self.op.append_order(p.order, p.signature, p.commitment)
            except RejectedOrder as exc:  # capacity was reserved at acceptance: a bug
                log.error("pending order could not be listed: %s", exc.reason)
        entries = [e.to_dict() for e in self.op.ledger.entries[start:]]
        try:
            self.writer.submit(Change(entries=entries, listed=listed))
        except StoreError:
            self._recover()
            return
        self._listed.update(listed)
        self._pending = [p for p in self._pending if p.commitment not in listed]
