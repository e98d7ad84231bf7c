"""Persistence of the running exchange: one SQL database (SQLite file or PostgreSQL).

Every state change the service makes is one ``Change``: new ledger entries,
the operator snapshot that corresponds to them (under the slots state: the
small private state plus one row per account the change touched), new /
changed order rows and a job update. ``write_group`` stores several
changes in ONE transaction (the service's single writer,
``exchange.store_writer``, groups whatever queued meanwhile), so after a
crash the database holds a prefix of the changes, each one whole. Only
portable SQL (SQLAlchemy Core / SQLModel); SQLite gets WAL mode and a busy timeout so the
API threads and the batcher can write concurrently.

Never stores an order plaintext or a private key; snapshots hold blindings and
balances (private state) and must be treated as secret like the database.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, event, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, create_engine, delete, select

from exchange.models import (
    AccountRowRow,
    AuthNonceRow,
    BatchJobRow,
    LedgerEntryRow,
    OrderRow,
    SnapshotRow,
    SolvencyJobRow,
)


class StoreError(RuntimeError):
    """The database is unreachable or inconsistent."""


@dataclass(frozen=True)
class NewOrder:
    commitment: int
    ciphertext: bytes
    received_at: int
    status: str
    order_index: int | None = None


@dataclass(frozen=True)
class Change:
    """One state change of the service: what ``Store.write`` / ``Store.write_group`` store.

    ``entries`` are ledger entries as dicts (``LedgerEntry.to_dict``),
    ``snapshot`` the operator snapshot they lead to, ``rows`` account index ->
    account row of the accounts changed since the last change (slots state;
    stored at the snapshot's ``ledger_index``, so ``rows`` needs a
    ``snapshot``), ``new_orders`` inserted
    order rows, ``listed`` commitment -> order index of rows now listed,
    ``cancelled`` commitments of rows now cancelled, ``job`` a solvency job row
    and ``batch_job`` a batch job row to upsert.
    """

    entries: Sequence[Mapping[str, Any]] = ()
    snapshot: Mapping[str, Any] | None = None
    rows: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    new_orders: Sequence[NewOrder] = ()
    listed: Mapping[int, int] = field(default_factory=dict)
    cancelled: Sequence[int] = ()
    job: SolvencyJobRow | None = None
    batch_job: BatchJobRow | None = None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Typed access to the service tables; every method opens its own short session."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        SQLModel.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ writes

    def write(
        self,
        *,
        entries: Iterable[Mapping[str, Any]] = (),
        snapshot: Mapping[str, Any] | None = None,
        rows: Mapping[int, Mapping[str, Any]] | None = None,
        new_orders: Sequence[NewOrder] = (),
        listed: Mapping[int, int] | None = None,
        cancelled: Iterable[int] = (),
        job: SolvencyJobRow | None = None,
    ) -> None:
        """Apply one state change atomically (all or nothing)."""
        self.write_group(
            [
                Change(
                    entries=list(entries),
                    snapshot=snapshot,
                    rows=dict(rows or {}),
                    new_orders=new_orders,
                    listed=dict(listed or {}),
                    cancelled=list(cancelled),
                    job=job,
                )
            ]
        )

    def write_group(self, changes: Sequence[Change]) -> None:
        """Apply ``changes`` in ONE transaction (one commit, one fsync).

        All or nothing: on any error (a duplicate ledger index or commitment, a
        listed / cancelled commitment without a row) nothing is stored and the
        error propagates (``StoreError`` for a missing row). SQLAlchemy Core,
        not ORM objects (this is the intake's hot path): the group's inserts go
        first, one multi-row statement per table (ledger entries and order rows
        are keyed, so their order is free; snapshots keep theirs), then the
        status updates and job rows in the order the changes were made.
        """
        if not changes:
            return
        entries = [
            {"index": e["index"], "kind": e["kind"], "data": json.dumps(e)}
            for c in changes
            for e in c.entries
        ]
        orders = [
            {
                "commitment": str(o.commitment),
                "ciphertext": o.ciphertext,
                "received_at": o.received_at,
                "status": o.status,
                "order_index": o.order_index,
            }
            for c in changes
            for o in c.new_orders
        ]
        rows = []
        for c in changes:
            if not c.rows:
                continue
            if c.snapshot is None:
                raise StoreError("account rows need the snapshot they belong to")
            at = c.snapshot["ledger_index"]
            rows += [
                {"ledger_index": at, "account": account, "data": json.dumps(row)}
                for account, row in c.rows.items()
            ]
        with self.engine.begin() as conn:
            if entries:
                conn.execute(insert(LedgerEntryRow), entries)
            if orders:
                conn.execute(insert(OrderRow), orders)
            if rows:
                conn.execute(insert(AccountRowRow), rows)
            for c in changes:
                self._apply(conn, c)

    @staticmethod
    def _apply(conn: Connection, c: Change) -> None:
        """The non-insert part of one change: snapshot, status updates, job rows."""
        if c.snapshot is not None:
            conn.execute(
                insert(SnapshotRow).values(
                    ledger_index=c.snapshot["ledger_index"],
                    account_root=str(c.snapshot["account_root"]),
                    data=json.dumps(c.snapshot),
                )
            )
        by_commitment = col(OrderRow.commitment)
        for commitment, index in c.listed.items():
            done = conn.execute(
                update(OrderRow)
                .where(by_commitment == str(commitment))
                .values(status="listed", order_index=index)
            )
            if done.rowcount != 1:
                raise StoreError(f"no order row for listed commitment {commitment}")
        for commitment in c.cancelled:
            done = conn.execute(
                update(OrderRow).where(by_commitment == str(commitment)).values(status="cancelled")
            )
            if done.rowcount != 1:
                raise StoreError(f"no order row for cancelled commitment {commitment}")
        for row in (c.job, c.batch_job):
            if row is not None:
                with Session(bind=conn) as s:
                    s.merge(row)
                    s.flush()

    def use_nonce(self, *, account: int, message: int, expires_at: int, now: int) -> bool:
        """Record a request signature; False if it was already used (a replay)."""
        with Session(self.engine) as s:
            s.exec(delete(AuthNonceRow).where(col(AuthNonceRow.expires_at) < now))
            s.add(AuthNonceRow(account=account, message=str(message), expires_at=expires_at))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return False
        return True

    def save_batch_job(self, job: BatchJobRow) -> None:
        """Upsert a batch job row now (progress; the state changes go through ``write``)."""
        with Session(self.engine) as s:
            s.merge(job)
            s.commit()

    def batch_job(self, batch_id: int) -> BatchJobRow | None:
        with Session(self.engine) as s:
            return s.get(BatchJobRow, batch_id)

    def proving_batches(self) -> list[BatchJobRow]:
        """Batches whose proofs were running when the operator stopped (oldest first)."""
        with Session(self.engine) as s:
            q = select(BatchJobRow).where(BatchJobRow.status == "proving")
            return list(s.exec(q.order_by(col(BatchJobRow.batch_id))))

    def save_job(self, job: SolvencyJobRow) -> None:
        with Session(self.engine) as s:
            s.merge(job)
            s.commit()

    # ------------------------------------------------------------ reads

    def ledger_length(self) -> int:
        with Session(self.engine) as s:
            return int(s.exec(select(func.count()).select_from(LedgerEntryRow)).one())

    def entries(self, start: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        with Session(self.engine) as s:
            q = select(LedgerEntryRow).where(col(LedgerEntryRow.index) >= start)
            q = q.order_by(col(LedgerEntryRow.index))
            if limit is not None:
                q = q.limit(limit)
            return [json.loads(r.data) for r in s.exec(q)]

    def latest_snapshot(self) -> dict[str, Any] | None:
        with Session(self.engine) as s:
            row = s.exec(select(SnapshotRow).order_by(col(SnapshotRow.id).desc()).limit(1)).first()
            return json.loads(row.data) if row is not None else None

    def snapshot_with_root(self, account_root: int) -> dict[str, Any] | None:
        with Session(self.engine) as s:
            row = s.exec(
                select(SnapshotRow)
                .where(SnapshotRow.account_root == str(account_root))
                .order_by(col(SnapshotRow.id).desc())
                .limit(1)
            ).first()
            return json.loads(row.data) if row is not None else None

    def account_rows(self, ledger_index: int | None = None) -> dict[int, dict[str, Any]]:
        """Account index -> its latest stored row up to ``ledger_index`` (None: the latest).

        The slots state's accounts as they were after that ledger entry (every
        change stores the rows of the accounts it touched).
        """
        latest = select(func.max(col(AccountRowRow.id)))
        if ledger_index is not None:
            latest = latest.where(col(AccountRowRow.ledger_index) <= ledger_index)
        latest = latest.group_by(col(AccountRowRow.account))
        with Session(self.engine) as s:
            q = select(AccountRowRow).where(col(AccountRowRow.id).in_(latest))
            return {r.account: json.loads(r.data) for r in s.exec(q)}

    def orders(self) -> list[OrderRow]:
        """All order rows in acceptance order."""
        with Session(self.engine) as s:
            return list(s.exec(select(OrderRow).order_by(col(OrderRow.id))))

    def job(self, job_id: str) -> SolvencyJobRow | None:
        with Session(self.engine) as s:
            return s.get(SolvencyJobRow, job_id)

    def unfinished_jobs(self) -> list[SolvencyJobRow]:
        with Session(self.engine) as s:
            q = select(SolvencyJobRow).where(col(SolvencyJobRow.status).in_(["queued", "running"]))
            return list(s.exec(q.order_by(col(SolvencyJobRow.created_at))))
