"""The store on SQLite and PostgreSQL: one atomic write per change, 64-bit times, replay guard.

Fast (no circuits). Each case runs on both backends (``database_url`` in
tests/conftest.py); the PostgreSQL cases skip without a server, except in CI.
"""

import pytest
from sqlalchemy import BigInteger, inspect

from exchange.models import AuthNonceRow, OrderRow, SolvencyJobRow
from exchange.store import NewOrder, Store, StoreError

MS_2026 = 1_764_500_000_123  # Unix milliseconds: above 2^31 (the overflow)
AFTER_2038 = 2**33  # Unix seconds after 2038


def test_times_and_indices_are_64_bit_columns(database_url: str) -> None:
    store = Store(database_url)
    try:
        cols = inspect(store.engine)
        for table, names in (
            (OrderRow.__tablename__, ("received_at", "order_index")),
            (AuthNonceRow.__tablename__, ("expires_at", "account")),
            (SolvencyJobRow.__tablename__, ("created_at", "ledger_index", "done", "total")),
        ):
            types = {c["name"]: c["type"] for c in cols.get_columns(table)}
            for name in names:
                assert isinstance(types[name], BigInteger) or "BIGINT" in str(types[name]), (
                    table,
                    name,
                    types[name],
                )
    finally:
        store.close()


def test_write_round_trip_with_large_values(database_url: str) -> None:
    store = Store(database_url)
    try:
        entry = {"index": 0, "kind": "genesis", "note": "x" * 10}
        snapshot = {"ledger_index": 0, "account_root": str(2**250), "accounts": []}
        store.write(
            entries=[entry],
            snapshot=snapshot,
            new_orders=[NewOrder(2**200, b"\x00\xff" * 40, MS_2026, "pending")],
        )
        store.write(listed={2**200: 2**33})
        assert store.ledger_length() == 1 and store.entries() == [entry]
        assert store.latest_snapshot() == snapshot
        assert store.snapshot_with_root(2**250) == snapshot
        (row,) = store.orders()
        assert (row.received_at, row.status, row.order_index) == (MS_2026, "listed", 2**33)
        assert row.ciphertext == b"\x00\xff" * 40
        job = SolvencyJobRow(id="a" * 32, status="queued", created_at=AFTER_2038, total=3)
        store.save_job(job)
        loaded = store.job("a" * 32)
        assert loaded is not None and loaded.created_at == AFTER_2038
        assert [j.id for j in store.unfinished_jobs()] == ["a" * 32]
    finally:
        store.close()


def test_a_failed_write_changes_nothing(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.write(entries=[{"index": 0, "kind": "genesis"}])
        with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError
            store.write(
                entries=[{"index": 1, "kind": "order"}, {"index": 0, "kind": "dup"}],
                new_orders=[NewOrder(7, b"c", MS_2026, "pending")],
            )
        assert store.ledger_length() == 1 and store.orders() == []
    finally:
        store.close()


def test_nonce_is_used_once_and_expires(database_url: str) -> None:
    store = Store(database_url)
    try:
        now = MS_2026 // 1000
        args = {"account": 2**33, "message": 2**250, "expires_at": AFTER_2038}
        assert store.use_nonce(**args, now=now)
        assert not store.use_nonce(**args, now=now)  # a replay
        assert store.use_nonce(**{**args, "message": 2**250 + 1}, now=now)
        assert store.use_nonce(**args, now=AFTER_2038 + 1)  # expired rows are swept
    finally:
        store.close()


def test_account_rows_are_stored_per_change_and_read_at_a_ledger_index(
    database_url: str,
) -> None:
    """Slots state: a change stores only the rows it touched, at its snapshot's index;
    the book at index i is the latest row per account up to i; rows need a snapshot."""
    store = Store(database_url)
    try:

        def change(index: int, rows: dict[int, str]) -> None:
            snapshot = {"ledger_index": index, "account_root": str(index), "private": {}}
            entry = {"index": index, "kind": "account_op"}
            store.write(
                entries=[entry], snapshot=snapshot, rows={a: {"v": v} for a, v in rows.items()}
            )

        change(0, {0: "a0"})
        change(1, {1: "b1", 2: "c1"})
        change(2, {1: "b2"})
        change(3, {})  # touched nothing (an order, a cancel): no rows
        assert store.account_rows() == {0: {"v": "a0"}, 1: {"v": "b2"}, 2: {"v": "c1"}}
        assert store.account_rows(1) == {0: {"v": "a0"}, 1: {"v": "b1"}, 2: {"v": "c1"}}
        assert store.account_rows(0) == {0: {"v": "a0"}}
        with pytest.raises(StoreError, match="need the snapshot"):
            store.write(entries=[{"index": 4, "kind": "x"}], rows={5: {"v": "x"}})
        assert store.ledger_length() == 4 and 5 not in store.account_rows()
    finally:
        store.close()
