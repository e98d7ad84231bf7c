"""Persistence of the running exchange: one SQL database (SQLite file or PostgreSQL).

Every state change the service makes is one ``Store.write`` call: new ledger
entries, the operator snapshot that corresponds to them, new / changed order
rows and a solvency job update go into ONE transaction, so after a crash the
database holds either all of a change or none of it. Only portable SQL
(SQLAlchemy Core / SQLModel); SQLite gets WAL mode and a busy timeout so the
API threads and the batcher can write concurrently.

Never stores an order plaintext or a private key; snapshots hold blindings and
balances (private state) and must be treated as secret like the database.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, create_engine, delete, select

from exchange.models import (
    AuthNonceRow,
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
        new_orders: Sequence[NewOrder] = (),
        listed: Mapping[int, int] | None = None,
        cancelled: Iterable[int] = (),
        job: SolvencyJobRow | None = None,
    ) -> None:
        """Apply one state change atomically (all or nothing)."""
        with Session(self.engine) as s:
            for e in entries:
                s.add(LedgerEntryRow(index=e["index"], kind=e["kind"], data=json.dumps(e)))
            if snapshot is not None:
                s.add(
                    SnapshotRow(
                        ledger_index=snapshot["ledger_index"],
                        account_root=str(snapshot["account_root"]),
                        data=json.dumps(snapshot),
                    )
                )
            for o in new_orders:
                s.add(
                    OrderRow(
                        commitment=str(o.commitment),
                        ciphertext=o.ciphertext,
                        received_at=o.received_at,
                        status=o.status,
                        order_index=o.order_index,
                    )
                )
            s.flush()
            for commitment, index in (listed or {}).items():
                row = s.exec(select(OrderRow).where(OrderRow.commitment == str(commitment))).one()
                row.status, row.order_index = "listed", index
                s.add(row)
            for commitment in cancelled:
                row = s.exec(select(OrderRow).where(OrderRow.commitment == str(commitment))).one()
                row.status = "cancelled"
                s.add(row)
            if job is not None:
                s.merge(job)
            s.commit()

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
