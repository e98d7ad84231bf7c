"""Group commit (exchange.store_writer) on SQLite and PostgreSQL, without circuits.

A group is one transaction: every change in it or none; a waiter is answered
only after its group committed; changes queued while a commit runs share the
next one (one commit for many); a failed group fails every change queued
after it and the writer refuses work until reset.
"""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from exchange.store import Change, NewOrder, Store, StoreError
from exchange.store_writer import GroupWriter

MS = 1_764_500_000_123


def _entry(i: int) -> dict[str, object]:
    return {"index": i, "kind": "order" if i else "genesis"}


def test_a_group_is_one_transaction(database_url: str) -> None:
    store = Store(database_url)
    try:
        # A row inserted and listed in the same group; then a cancel of it.
        store.write_group(
            [
                Change(entries=[_entry(0)], new_orders=[NewOrder(5, b"c", MS, "pending")]),
                Change(entries=[_entry(1)], listed={5: 0}),
                Change(cancelled=[5]),
            ]
        )
        [row] = store.orders()
        assert (row.status, row.order_index, store.ledger_length()) == ("cancelled", 0, 2)
        # A group whose last change fails stores none of its changes.
        with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError
            store.write_group(
                [
                    Change(entries=[_entry(2)], new_orders=[NewOrder(6, b"d", MS, "pending")]),
                    Change(entries=[_entry(1)]),  # duplicate index
                ]
            )
        with pytest.raises(StoreError, match="no order row"):
            store.write_group([Change(entries=[_entry(2)]), Change(listed={99: 1})])
        assert store.ledger_length() == 2 and [r.commitment for r in store.orders()] == ["5"]
    finally:
        store.close()


class _GatedStore(Store):
    """A store whose first group commit waits for ``gate`` (a slow fsync, say)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.group_sizes: list[int] = []

    def write_group(self, changes: Sequence[Change]) -> None:
        if not self.group_sizes:
            self.entered.set()
            assert self.gate.wait(30)
        self.group_sizes.append(len(changes))
        super().write_group(changes)


@contextmanager
def _gated_writer(database_url: str, **options: Any) -> Iterator[tuple[_GatedStore, GroupWriter]]:
    """A ``_GatedStore`` and a ``GroupWriter(store, **options)``; both closed afterwards."""
    store = _GatedStore(database_url)
    writer = GroupWriter(store, **options)
    try:
        yield store, writer
    finally:
        writer.close()
        store.close()


def test_changes_queued_during_a_commit_share_the_next_and_wait_for_it(
    database_url: str,
) -> None:
    commits: list[int] = []
    durable: list[int] = []
    with _gated_writer(
        database_url,
        on_durable=lambda cs: durable.extend(int(e["index"]) for c in cs for e in c.entries),
    ) as (store, writer):
        event.listen(store.engine, "commit", lambda _conn: commits.append(1))
        first = writer.submit(Change(entries=[_entry(0)]))
        assert store.entered.wait(30)  # the writer is inside the first commit
        rest = [writer.submit(Change(entries=[_entry(i)])) for i in range(1, 41)]
        assert not first.done and not any(t.done for t in rest)  # nobody answered yet
        assert durable == [] and store.ledger_length() == 0
        store.gate.set()
        for t in [first, *rest]:
            t.wait(30)
        assert store.group_sizes == [1, 40]  # 40 changes, one transaction
        assert len(commits) == 2
        assert durable == list(range(41)) and store.ledger_length() == 41
        assert (writer.groups, writer.changes) == (2, 41)


def test_max_group_one_commits_every_change_alone(database_url: str) -> None:
    with _gated_writer(database_url, max_group=1) as (store, writer):
        tickets = [writer.submit(Change(entries=[_entry(0)]))]
        assert store.entered.wait(30)
        tickets += [writer.submit(Change(entries=[_entry(i)])) for i in range(1, 5)]
        store.gate.set()
        for t in tickets:
            t.wait(30)
        assert store.group_sizes == [1] * 5


def test_a_failed_group_fails_everything_after_it_until_reset(database_url: str) -> None:
    with _gated_writer(database_url) as (store, writer):
        ok = writer.submit(Change(entries=[_entry(0)]))
        assert store.entered.wait(30)
        bad = writer.submit(Change(entries=[_entry(1)]))
        dup = writer.submit(Change(entries=[_entry(0)]))  # same group as `bad`: fails it
        after = writer.submit(Change(entries=[_entry(2)]))
        store.gate.set()
        ok.wait(30)
        for t in (bad, dup, after):
            with pytest.raises(StoreError, match="could not be stored"):
                t.wait(30)
        assert writer.broken
        with pytest.raises(StoreError, match="earlier write failed"):
            writer.submit(Change(entries=[_entry(1)]))
        assert store.ledger_length() == 1  # only the first group
        writer.reset()
        writer.submit(Change(entries=[_entry(1)])).wait(30)
        assert store.ledger_length() == 2


def test_close_stores_what_is_queued(database_url: str) -> None:
    with _gated_writer(database_url) as (store, writer):
        tickets = [writer.submit(Change(entries=[_entry(0)]))]
        assert store.entered.wait(30)
        tickets += [writer.submit(Change(entries=[_entry(i)])) for i in (1, 2)]
        store.gate.set()
        writer.close()
        assert all(t.done for t in tickets) and store.ledger_length() == 3
        with pytest.raises(StoreError, match="closed"):
            writer.submit(Change(entries=[_entry(3)]))
