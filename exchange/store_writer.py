"""Group commit: one writer thread stores queued state changes, many per transaction.

The intake validates an order and applies it in memory in a few
milliseconds; committing it alone costs one fsync (10-20 ms on SQLite,
a round trip on PostgreSQL). ``GroupWriter`` decouples the two: callers
``submit`` a ``Change`` (in the order they applied it in memory, i.e. while
holding the service's state lock) and ``wait`` on the returned ``Ticket``;
the writer takes every change queued so far (up to ``max_group``), stores
them in order with ``Store.write_group`` (one transaction, so one fsync) and
then wakes their waiters. A request is answered only after its ticket
resolved, so an acknowledged change is durable: a crash loses only changes
nobody was told about.

Failure: if a group does not commit, that group and every change queued
after it fail (their waiters get ``StoreError``) and the writer is *broken*:
``submit`` raises at once until ``reset``. Memory is then ahead of the
database, so the owner must reload its state from the database (under its
state lock) and call ``reset`` (``exchange.service.core``).

``max_group=1`` commits every change alone: the per-order-commit baseline of
``benchmarks/intake.py``.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

from exchange.store import Change, Store, StoreError

log = logging.getLogger("darkpool.store")


class Ticket:
    """The outcome of one submitted change: ``wait`` returns once it is durable."""

    def __init__(self, change: Change) -> None:
        self.change = change
        self._done = threading.Event()
        self._error: str | None = None

    def _resolve(self, error: str | None) -> None:
        self._error = error
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until stored; ``StoreError`` if the group failed or ``timeout`` (s) passed."""
        if not self._done.wait(timeout):
            raise StoreError("timed out waiting for the database")
        if self._error is not None:
            raise StoreError(self._error)


class GroupWriter:
    """A single writer thread for ``store``; see the module docstring.

    ``on_durable(changes)`` is called by the writer thread after each
    committed group, before its waiters wake (e.g. to advance the count of
    ledger entries that may be shown).
    """

    def __init__(
        self,
        store: Store,
        *,
        max_group: int = 512,
        on_durable: Callable[[Sequence[Change]], None] | None = None,
    ) -> None:
        if max_group < 1:
            raise ValueError("max_group must be >= 1")
        self._store = store
        self.max_group = max_group
        self._on_durable = on_durable
        self._cv = threading.Condition()
        self._queue: deque[Ticket] = deque()
        self._broken: str | None = None
        self._closing = False
        self.groups = 0  # committed groups (statistics)
        self.changes = 0  # committed changes
        self._thread = threading.Thread(target=self._run, name="darkpool-writer", daemon=True)
        self._thread.start()

    @property
    def broken(self) -> bool:
        return self._broken is not None

    def submit(self, change: Change) -> Ticket:
        """Queue ``change`` after every change submitted before; ``StoreError`` if broken/closed."""
        ticket = Ticket(change)
        with self._cv:
            if self._broken is not None:
                raise StoreError(f"an earlier write failed ({self._broken}); state is reloading")
            if self._closing:
                raise StoreError("the database writer is closed")
            self._queue.append(ticket)
            self._cv.notify()
        return ticket

    def reset(self) -> None:
        """Accept changes again after a failure (the owner has reloaded its state)."""
        with self._cv:
            self._broken = None

    def flush(self) -> None:
        """Wait until everything submitted so far is stored (or failed)."""
        with self._cv:
            last = self._queue[-1] if self._queue else None
        if last is not None:
            last._done.wait()

    def close(self) -> None:
        """Store what is queued, then stop the thread."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closing:
                    self._cv.wait()
                if not self._queue:
                    return  # closing and drained
                group = [
                    self._queue.popleft() for _ in range(min(self.max_group, len(self._queue)))
                ]
            try:
                self._store.write_group([t.change for t in group])
            except Exception as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.exception("group commit of %d changes failed", len(group))
                with self._cv:
                    self._broken = reason
                    failed = group + list(self._queue)
                    self._queue.clear()
                for t in failed:
                    t._resolve(f"the change could not be stored: {reason}")
                continue
            self.groups += 1
            self.changes += len(group)
            if self._on_durable is not None:
                try:
                    self._on_durable([t.change for t in group])
                except Exception:
                    log.exception("on_durable callback failed")
            for t in group:
                t._resolve(None)
