"""The explorer's verification view: ``darkpool-verify``'s replay of the server's own export.

``VerificationRunner.start`` exports the running operator's ledger to a
temporary directory (``Operator.export``, the same files ``darkpool export``
writes) and replays it with ``verifier.ledger.replay`` through
``verifier.source.DirectorySource`` — the code path of ``darkpool-verify DIR``
— in one background thread. At most one run at a time; a request while one
runs, or within ``cooldown_s`` of the last run on a ledger of the same
length, returns the existing run, so the public button cannot queue
unbounded work.

This is a convenience, not a trust anchor: the server checks itself, with the
verification keys it ships. The page says so; a trader should run the
verifier on their own machine, with pinned keys.
"""

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier import ledger as verifier_ledger
from verifier.source import DirectorySource

log = logging.getLogger("darkpool.explorer")

Exporter = Callable[[Path], object]


@dataclass
class VerificationRun:
    """One replay: ``status`` is running, valid, invalid or error."""

    number: int
    entries: int
    started_at: float
    status: str = "running"
    phase: str = "export"
    done: int = 0
    total: int = 0
    finished_at: float | None = None
    first_failure: dict[str, Any] | None = None
    failures: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"


class VerificationRunner:
    """Runs replays of ``export(dir)`` one at a time in a daemon thread."""

    def __init__(
        self, export: Exporter, ledger_length: Callable[[], int], *, cooldown_s: float = 30.0
    ) -> None:
        self._export = export
        self._length = ledger_length
        self._cooldown_s = cooldown_s
        self._lock = threading.Lock()
        self._runs = 0
        self.latest: VerificationRun | None = None

    def start(self) -> tuple[VerificationRun, bool]:
        """(the run, whether it is new). Reuses a running run, or a recent one of this length."""
        with self._lock:
            current = self.latest
            n = self._length()
            if current is not None:
                recent = (
                    current.finished_at is not None
                    and time.time() - current.finished_at < self._cooldown_s
                )
                if not current.finished or (recent and current.entries == n):
                    return current, False
            self._runs += 1
            run = VerificationRun(number=self._runs, entries=n, started_at=time.time())
            self.latest = run
        thread = threading.Thread(
            target=self._run, args=(run,), name="darkpool-explorer-verify", daemon=True
        )
        thread.start()
        return run, True

    def wait(self, timeout: float) -> VerificationRun | None:
        """Block until the latest run finishes (tests and the CLI); returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.latest
            if run is None or run.finished:
                return run
            time.sleep(0.05)
        return self.latest

    def _run(self, run: VerificationRun) -> None:
        def progress(phase: str, done: int, total: int) -> None:
            run.phase, run.done, run.total = phase, done, total

        try:
            with tempfile.TemporaryDirectory(prefix="darkpool-explorer-verify-") as tmp:
                directory = Path(tmp) / "ledger"
                self._export(directory)
                run.phase = "replay"
                src = DirectorySource(directory)
                manifest = src.manifest()
                report = verifier_ledger.replay(
                    manifest=manifest,
                    genesis=src.genesis(),
                    entries=src.entry,
                    vkeys=src.vkeys(),
                    progress=progress,
                )
            out = report.to_dict()
            run.report = out
            run.entries = int(out.get("entries") or run.entries)
            run.first_failure = out.get("first_failure")
            run.failures = len(out.get("failures") or [])
            run.status = "valid" if report.ok else "invalid"
        except Exception as exc:  # the page shows it; the server keeps running
            log.exception("explorer verification failed to run")
            run.error = f"{type(exc).__name__}: {exc}"[:300]
            run.status = "error"
        finally:
            run.finished_at = time.time()
