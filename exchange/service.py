"""The running exchange: the in-memory ``Operator`` + the database + the batcher + solvency jobs.

Concurrency (one process; API handlers run in worker threads):

* ``_lock`` is the ONE lock for state mutation. Whoever changes operator
  state holds it for the whole change, including its proof: account ops,
  cancels, batches, solvency jobs, and listing an order. A change is made in
  memory, then written by one ``Store.write`` transaction (ledger entries +
  the operator snapshot they lead to + order rows). If that write fails, the
  in-memory state is thrown away and reloaded from the database, so memory
  never runs ahead of what is durable for longer than one change.
* ``_intake`` is a short lock around order intake and the queue of pending
  orders. An order that arrives while ``_lock`` is free is validated and
  listed at once (its ``order`` ledger entry is committed with its row). An
  order that arrives while ``_lock`` is held — typically a batch that is
  proving, which takes seconds — is NOT blocked for the proof: it is fully
  validated against the current state plus the pending queue (signature,
  commitment, ranges, expiry, duplicates, pre-trade margin), stored as a
  ``pending`` row (ciphertext only) and answered 202 ``pending``. Whoever
  releases ``_lock`` first lists every pending order, in acceptance order,
  with their ledger entries; so time priority is acceptance order. Listing
  re-checks only uniqueness and capacity (counted at acceptance): a batch that
  moved the marks in between cannot un-accept an order; settlement re-checks
  margin fill by fill in the circuit.
* The batcher thread runs a batch every ``batch_interval_s`` when there is at
  least one live order (an empty market produces no empty proofs);
  ``POST /v1/admin/batch`` runs one now (409 while one is running).

Recovery: on start the service loads the latest snapshot and every ledger
entry, decrypts the stored ciphertexts in memory and rebuilds the operator
(``Operator.restore`` checks the rebuilt roots equal the ledger's). A batch
that was proving when the process died was never committed, so it simply runs
again; pending orders are listed; unfinished solvency jobs run again.

This module never stores or logs an order plaintext or a key, and never lets a
request change state unless every check passed.
"""

import base64
import binascii
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import SealedBox

from exchange import keys
from exchange.core.config import Settings
from exchange.models import SolvencyJobRow
from exchange.operator import (
    BatchSummary,
    Operator,
    OperatorError,
    ProveFn,
    RejectedOrder,
    wall_clock,
)
from exchange.oracle import OracleError, SimulatedOracle
from exchange.store import NewOrder, Store
from prover import toolchain
from verifier import auth
from verifier.babyjub import Point
from verifier.eddsa import Signature, SignatureError, check_signature, public_key_to_dict
from verifier.encoding import AccountState, Order
from verifier.export import LedgerEntry
from verifier.field import FieldError
from verifier.merkle import MerkleTree
from verifier.protocol import STATEMENTS, Tags, is_expired

log = logging.getLogger("darkpool.service")


class ServiceError(Exception):
    """A request the service refuses; ``status`` is the HTTP status, the message one line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class _Pending:
    order: Order
    signature: Signature
    commitment: int


class Service:
    """One exchange instance; ``start()`` loads or creates it, ``stop()`` ends its threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], int] = wall_clock,
        prove: ProveFn | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._prove_impl = prove if prove is not None else toolchain.prove_inputs
        self.tags = Tags.for_exchange(settings.exchange_id)
        self._lock = threading.Lock()
        self._intake = threading.Lock()
        self._batch_guard = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._pending: list[_Pending] = []
        self._listed: dict[int, int] = {}  # commitment -> order index
        self.batch_in_progress = False
        self._current_job: SolvencyJobRow | None = None
        self.op: Operator
        self.store: Store
        self.keys: keys.OperatorKeys
        self.oracle: SimulatedOracle

    # ------------------------------------------------------------ lifecycle

    def start(self, *, background: bool = True) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.keys = keys.load_or_create(s.resolved_key_dir, s.operator_token)
        self.oracle = SimulatedOracle(
            s.start_prices(),
            self.tags.oracle,
            seed=s.oracle_seed,
            max_step_bps=s.oracle_step_bps,
            key=self.keys.oracle,
        )
        self._box = SealedBox(self.keys.box)
        self.store = Store(s.resolved_database_url)
        if self.store.ledger_length() == 0:
            log.info("empty database: creating genesis")
            self.op = Operator(
                markets=s.market_specs(),
                oracle=self.oracle,
                insurance_pubkey=self.keys.insurance.public_key(),
                insurance_fund=s.insurance_fund,
                profile=s.profile,
                exchange_id=s.exchange_id,
                clock=self._clock,
                prove=self._prove,
            )
            self.store.write(
                entries=[e.to_dict() for e in self.op.ledger.entries], snapshot=self._snapshot()
            )
        else:
            self._load()
        with self._mutating():
            pass  # lists orders that were pending when the process stopped
        for job in self.store.unfinished_jobs():
            self._jobs.put(job.id)
        if background:
            self._spawn(self._job_worker, "solvency-jobs")
            if s.batch_interval_s > 0:
                self._spawn(self._batcher, "batcher")

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(None)
        for t in self._threads:
            t.join(timeout=60)
        self.store.close()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=f"darkpool-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def _load(self) -> None:
        """(Re)build the operator and the pending queue from the database."""
        snapshot = self.store.latest_snapshot()
        if snapshot is None:
            raise ServiceError(500, "the database has ledger entries but no snapshot")
        decrypted: dict[int, tuple[Order, Signature]] = {}
        pending: list[_Pending] = []
        for row in self.store.orders():
            order, signature = self._open(row.ciphertext)
            h = int(row.commitment)
            decrypted[h] = (order, signature)
            if row.status == "pending":
                pending.append(_Pending(order, signature, h))
        s = self.settings
        self.op = Operator.restore(
            markets=s.market_specs(),
            oracle=self.oracle,
            entries=self.store.entries(),
            snapshot=snapshot,
            orders=decrypted,
            profile=s.profile,
            exchange_id=s.exchange_id,
            clock=self._clock,
            prove=self._prove,
        )
        self._listed = {h: i for i, h in enumerate(self.op.commitments)}
        self._pending = [p for p in pending if p.commitment not in self._listed]

    def _snapshot(self) -> dict[str, Any]:
        snap = self.op.snapshot()
        snap["account_root"] = str(self.op.account_tree.root)
        return snap

    def _prove(
        self, artifacts: toolchain.CircuitArtifacts, inputs: Mapping[str, object]
    ) -> tuple[dict[str, Any], list[str]]:
        result = self._prove_impl(artifacts, inputs)
        job = self._current_job
        if job is not None:  # live progress of a solvency job: one proof per chunk
            job.done += 1
            self.store.save_job(job)
        return result

    @contextmanager
    def _mutating(self) -> Iterator[None]:
        """Hold the state lock; on the way out list every order that queued meanwhile."""
        with self._lock:
            try:
                yield
            finally:
                with self._intake:
                    self._list_pending()

    def _persist(self, **changes: Any) -> None:
        """Write one change; if that fails, drop the in-memory change by reloading."""
        try:
            self.store.write(**changes)
        except Exception:
            log.exception("database write failed; reloading state from the database")
            self._load()
            raise ServiceError(503, "the change could not be stored; nothing changed") from None

    def _list_pending(self) -> None:
        """Append queued orders to the order list (caller holds _lock and _intake)."""
        if not self._pending:
            return
        start = len(self.op.ledger)
        listed: dict[int, int] = {}
        for p in self._pending:
            try:
                listed[p.commitment] = self.op.append_order(p.order, p.signature, p.commitment)
            except RejectedOrder as exc:  # capacity was reserved at acceptance: a bug
                log.error("pending order could not be listed: %s", exc.reason)
        entries = [e.to_dict() for e in self.op.ledger.entries[start:]]
        self._persist(entries=entries, listed=listed)
        self._listed.update(listed)
        self._pending = [p for p in self._pending if p.commitment not in listed]

    # ------------------------------------------------------------ views

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "batch_in_progress": self.batch_in_progress,
            "ledger_entries": len(self.op.ledger),
            "pending_orders": len(self._pending),
        }

    def info(self) -> dict[str, Any]:
        op = self.op
        genesis = op.ledger.entries[0].body
        report = op.latest_report
        return {
            "exchange_id": op.exchange_id,
            "profile": op.profile,
            "params": genesis["params"],
            "markets": genesis["markets"],
            "operator_box_public_key": bytes(self.keys.box.public_key).hex(),
            "oracle_pubkey": genesis["oracle_pubkey"],
            "vkey_hashes": genesis["vkey_hashes"],
            "roots": op.ledger.roots.to_dict(),
            "total_collateral": str(op.total_collateral),
            "ledger_entries": len(op.ledger),
            "next_batch_id": op.next_batch_id,
            "latest_oracle": report.to_dict() if report is not None else None,
            "batch_interval_s": self.settings.batch_interval_s,
        }

    def roots(self) -> dict[str, Any]:
        op = self.op
        return {
            "ledger_index": len(op.ledger) - 1,
            "roots": op.ledger.roots.to_dict(),
            "total_collateral": str(op.total_collateral),
        }

    def ledger_page(self, start: int, limit: int) -> dict[str, Any]:
        entries = self.op.ledger.entries
        return {
            "start": start,
            "total": len(entries),
            "entries": [e.to_dict() for e in entries[start : start + limit]],
        }

    def ledger_entry(self, index: int) -> dict[str, Any]:
        entries = self.op.ledger.entries
        if not 0 <= index < len(entries):
            raise ServiceError(404, f"ledger entry {index} does not exist")
        return entries[index].to_dict()

    def vkey(self, statement: str) -> dict[str, Any]:
        if statement not in STATEMENTS:
            raise ServiceError(404, f"unknown statement {statement!r}")
        return self.op.artifacts(statement).verification_key()

    def _account(self, index: int) -> AccountState:
        state = self.op.accounts.get(index)
        if state is None:
            raise ServiceError(404, f"account {index} does not exist")
        return state

    # ------------------------------------------------------------ request auth

    def authenticate(
        self,
        *,
        account: str | None,
        timestamp: str | None,
        signature: str | None,
        method: str,
        target: str,
        body: bytes,
    ) -> int:
        """Verify the auth headers of a request and burn its signature; returns the account."""
        try:
            index, ts, sig = auth.parse_headers(account, timestamp, signature)
        except auth.AuthError as exc:
            raise ServiceError(401, str(exc)) from None
        state = self.op.accounts.get(index)
        if state is None:
            raise ServiceError(401, f"account {index} does not exist")
        window = self.settings.auth_window_s
        now = self._clock()
        try:
            claim = auth.verify_request(
                auth_tag=self.tags.auth,
                account=index,
                timestamp=ts,
                signature=sig,
                pubkey=Point(state.pub_x, state.pub_y),
                method=method,
                target=target,
                body=body,
                now=now,
                window=window,
            )
        except (auth.AuthError, FieldError) as exc:
            raise ServiceError(401, str(exc)) from None
        if not self.store.use_nonce(
            account=index, message=claim.message, expires_at=ts + window + 1, now=now
        ):
            raise ServiceError(401, "replayed request: this signature was already used")
        return index

    # ------------------------------------------------------------ account ops

    def open_account(
        self, pubkey: Point, amount: int, timestamp: int, signature: Signature
    ) -> tuple[int, int]:
        """Open an account for ``pubkey`` after checking the possession signature."""
        now = self._clock()
        if abs(now - timestamp) > self.settings.auth_window_s:
            raise ServiceError(401, f"timestamp {timestamp} is too far from now ({now})")
        try:
            msg = auth.open_account_message(self.tags.auth, pubkey, amount, timestamp)
            check_signature(msg, signature, pubkey)
        except FieldError as exc:
            raise ServiceError(422, str(exc)) from None
        except SignatureError as exc:
            raise ServiceError(401, f"possession signature rejected: {exc}") from None
        # Replay guard keyed by a pseudo account -1: opens have no index yet.
        if not self.store.use_nonce(
            account=-1, message=msg, expires_at=timestamp + self.settings.auth_window_s + 1, now=now
        ):
            raise ServiceError(409, "replayed open request")
        with self._mutating():
            try:
                index = self.op.open_account(pubkey, amount)
            except OperatorError as exc:
                raise ServiceError(422, str(exc)) from None
            entry = self.op.ledger.entries[-1]
            self._persist(entries=[entry.to_dict()], snapshot=self._snapshot())
        return index, entry.index

    def deposit(self, index: int, amount: int) -> tuple[AccountState, int]:
        with self._mutating():
            self._account(index)
            try:
                state = self.op.deposit(index, amount)
            except OperatorError as exc:
                raise ServiceError(422, str(exc)) from None
            entry = self.op.ledger.entries[-1]
            self._persist(entries=[entry.to_dict()], snapshot=self._snapshot())
        return state, entry.index

    def withdraw(self, index: int, amount: int, signature: Signature) -> tuple[AccountState, int]:
        with self._mutating():
            self._account(index)
            try:
                state = self.op.withdraw(index, amount, signature)
            except OperatorError as exc:
                status = 401 if "signature" in str(exc) else 422
                raise ServiceError(status, str(exc)) from None
            entry = self.op.ledger.entries[-1]
            self._persist(entries=[entry.to_dict()], snapshot=self._snapshot())
        return state, entry.index

    # ------------------------------------------------------------ orders

    def _open(self, ciphertext: bytes) -> tuple[Order, Signature]:
        try:
            plaintext = self._box.decrypt(ciphertext)
        except CryptoError:
            raise ServiceError(400, "ciphertext does not open with the operator key") from None
        try:
            return auth.parse_order_plaintext(plaintext)
        except auth.OrderFormatError as exc:
            raise ServiceError(400, str(exc)) from None

    def submit_order(self, commitment: int, ciphertext_b64: str) -> tuple[str, int | None]:
        """Decrypt, check and accept an order; returns ("listed", index) or ("pending", None)."""
        try:
            ciphertext = base64.b64decode(ciphertext_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ServiceError(400, "ciphertext is not valid base64") from None
        order, signature = self._open(ciphertext)
        with self._intake:
            if commitment in self._listed or any(p.commitment == commitment for p in self._pending):
                raise ServiceError(409, "duplicate order: this commitment was already accepted")
            pending = [(p.order, p.commitment) for p in self._pending]
            try:
                h = self.op.validate_order(order, signature, pending=pending)
            except RejectedOrder as exc:
                unknown = exc.reason.startswith("account ") and "does not exist" in exc.reason
                status = 404 if unknown else 422
                if exc.reason.startswith("duplicate"):
                    status = 409
                raise ServiceError(status, exc.reason) from None
            if h != commitment:
                raise ServiceError(422, "commitment does not match the decrypted order")
            received = time.time_ns() // 1_000_000
            if self._lock.acquire(blocking=False):
                try:
                    # Nothing may be queued while _lock is free; keep order anyway.
                    self._list_pending()
                    index = self.op.append_order(order, signature, h)
                    entry = self.op.ledger.entries[-1]
                    self._persist(
                        entries=[entry.to_dict()],
                        new_orders=[NewOrder(h, ciphertext, received, "listed", index)],
                    )
                    self._listed[h] = index
                finally:
                    self._lock.release()
                return "listed", index
            try:
                self.store.write(new_orders=[NewOrder(h, ciphertext, received, "pending")])
            except Exception:
                log.exception("could not store a pending order")
                raise ServiceError(503, "the order could not be stored; nothing changed") from None
            self._pending.append(_Pending(order, signature, h))
            return "pending", None

    def _order_lookup(self, commitment: int) -> tuple[Order, int | None]:
        index = self._listed.get(commitment)
        if index is not None:
            return self.op.order_terms(index), index
        for p in self._pending:
            if p.commitment == commitment:
                return p.order, None
        raise ServiceError(404, "no such order")

    def order_owner(self, commitment: int) -> int:
        return self._order_lookup(commitment)[0].account

    def order_view(self, commitment: int) -> dict[str, Any]:
        order, index = self._order_lookup(commitment)
        filled, cancelled = self.op.order_status(index) if index is not None else (0, False)
        if index is None:
            status = "pending"
        elif cancelled:
            status = "cancelled"
        elif filled >= order.size:
            status = "filled"
        elif is_expired(order.expiry, self._clock()):
            status = "expired"
        else:
            status = "open"
        return {
            "commitment": str(commitment),
            "status": status,
            "order_index": index,
            "account": order.account,
            "market": order.market,
            "side": order.side,
            "size": str(order.size),
            "limit_price": str(order.limit_price),
            "expiry": order.expiry,
            "filled": str(filled),
        }

    def cancel(self, commitment: int, signature: Signature) -> int:
        _, index = self._order_lookup(commitment)
        if index is None:
            raise ServiceError(409, "order is pending (a batch is running); cancel it after")
        with self._mutating():
            try:
                self.op.cancel(index, signature)
            except OperatorError as exc:
                status = 401 if "signature" in str(exc) else 409
                raise ServiceError(status, str(exc)) from None
            self._persist(snapshot=self._snapshot(), cancelled=[commitment])
        return index

    def _live_orders(self) -> bool:
        now = self._clock()
        for index in list(self._listed.values()):
            view_filled, cancelled = self.op.order_status(index)
            order = self.op.order_terms(index)
            if not cancelled and view_filled < order.size and not is_expired(order.expiry, now):
                return True
        return False

    # ------------------------------------------------------------ account views

    def account_view(self, index: int) -> dict[str, Any]:
        state = self._account(index)
        orders = [
            self.order_view(h)
            for h, i in sorted(self._listed.items(), key=lambda kv: kv[1])
            if self.op.order_terms(i).account == index
        ]
        orders += [self.order_view(p.commitment) for p in self._pending if p.order.account == index]
        return {
            "account": index,
            "pubkey": public_key_to_dict(Point(state.pub_x, state.pub_y)),
            "balance": str(state.balance),
            "positions": [str(x) for x in state.positions],
            "nonce": state.nonce,
            "blinding": str(state.blinding),
            "leaf": str(state.leaf()),
            "account_root": str(self.op.account_tree.root),
            "orders": orders,
        }

    def inclusion(self, index: int, root: int | None) -> dict[str, Any]:
        """Opening + path of ``index`` under ``root`` (current, or one in a stored snapshot)."""
        self._account(index)
        current = self.op.account_tree.root
        if root is None or root == current:
            state, tree = self.op.accounts[index], self.op.account_tree
        else:
            snap = self.store.snapshot_with_root(root)
            if snap is None:
                raise ServiceError(404, "unknown account root")
            states = [_state_from_json(a) for a in snap["accounts"]]
            if index >= len(states):
                raise ServiceError(404, f"account {index} did not exist under that root")
            state = states[index]
            tree = MerkleTree.from_leaves([a.leaf() for a in states], self.op.params.account_depth)
        path = tree.path(index)
        return {
            "account": index,
            "root": str(tree.root),
            "leaf": str(state.leaf()),
            "siblings": [str(x) for x in path.siblings],
            "opening": _state_to_json(state),
        }

    # ------------------------------------------------------------ batches

    def run_batch(self) -> tuple[BatchSummary, int]:
        """Match, prove and commit one batch now; returns it and the number of orders listed after."""
        if not self._batch_guard.acquire(blocking=False):
            raise ServiceError(409, "a batch is already running")
        try:
            with self._mutating():
                self.batch_in_progress = True
                try:
                    op = self.op
                    now = self._clock()
                    if op.latest_report is not None:
                        now = max(now, op.latest_report.timestamp)
                    report = self.oracle.report(op.next_batch_id, now)
                    try:
                        summary = op.run_batch(report)
                    except OperatorError as exc:
                        raise ServiceError(500, f"batch failed: {exc}") from None
                    self._persist(entries=[summary.entry.to_dict()], snapshot=self._snapshot())
                finally:
                    self.batch_in_progress = False
                listed_after = len(self._pending)
            return summary, listed_after
        finally:
            self._batch_guard.release()

    def _batcher(self) -> None:
        interval = self.settings.batch_interval_s
        while not self._stop.wait(interval):
            try:
                if self._live_orders():
                    self.run_batch()
            except ServiceError as exc:
                if exc.status != 409:
                    log.error("batch failed: %s", exc.reason)
            except Exception:
                log.exception("batch failed")

    # ------------------------------------------------------------ solvency

    def start_solvency(self, shock_bps: int | None) -> str:
        if self.op.latest_report is None:
            raise ServiceError(409, "no oracle marks yet: run a batch first")
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
        k = self.op.params.chunk_size
        return max(1, -(-len(self.op.accounts) // k))

    def job_view(self, job_id: str) -> dict[str, Any]:
        job = self.store.job(job_id)
        if job is None:
            raise ServiceError(404, f"no solvency job {job_id!r}")
        entry = self.ledger_entry(job.ledger_index) if job.ledger_index is not None else None
        return {
            "id": job.id,
            "status": job.status,
            "shock_bps": job.shock_bps,
            "done": job.done,
            "total": job.total,
            "error": job.error,
            "entry": entry,
        }

    def run_solvency_job(self, job_id: str) -> None:
        job = self.store.job(job_id)
        if job is None or job.status in ("done", "failed"):
            return
        with self._mutating():
            job.status, job.done, job.total = "running", 0, self._solvency_chunks()
            self.store.save_job(job)
            report = self.op.latest_report
            assert report is not None  # checked when the job was queued
            self._current_job = job
            try:
                if job.shock_bps is not None:
                    report = self.oracle.shocked(report, job.shock_bps)
                entry: LedgerEntry = self.op.prove_solvency(
                    report, stress=job.shock_bps is not None
                )
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
                log.exception("solvency job %s failed", job_id)


def _state_to_json(a: AccountState) -> dict[str, Any]:
    return {
        "pub_x": str(a.pub_x),
        "pub_y": str(a.pub_y),
        "balance": str(a.balance),
        "positions": [str(x) for x in a.positions],
        "nonce": a.nonce,
        "blinding": str(a.blinding),
    }


def _state_from_json(a: Mapping[str, Any]) -> AccountState:
    return AccountState(
        int(a["pub_x"]),
        int(a["pub_y"]),
        int(a["balance"]),
        tuple(int(x) for x in a["positions"]),
        int(a["nonce"]),
        int(a["blinding"]),
    )


__all__ = ["Service", "ServiceError", "wall_clock"]
