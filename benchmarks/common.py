"""Small helpers shared by the benchmarks: timing, a plain-text table, JSON results.

Benchmarks report numbers; they never assert on timings (tests do not either).
Results go to ``benchmarks/results/<name>.json`` (gitignored) together with
the machine they were measured on, so numbers from different machines are
never compared blindly. This module runs no external tools itself.
"""

import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds over several runs of one operation."""

    best: float
    median: float
    runs: int

    def scaled(self, divisor: int) -> "Timing":
        """Per-item timing when each run processed ``divisor`` items."""
        return Timing(best=self.best / divisor, median=self.median / divisor, runs=self.runs)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize(samples: Sequence[float]) -> Timing:
    """Best and median of raw samples (seconds)."""
    if not samples:
        raise ValueError("no timing samples")
    return Timing(best=min(samples), median=statistics.median(samples), runs=len(samples))


def time_once(fn: Callable[[], object]) -> tuple[float, object]:
    """Run ``fn`` once; return (seconds, its result)."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def time_call(fn: Callable[[], object], *, repeat: int, warmup: int = 0) -> Timing:
    """Best and median of ``repeat`` timed calls of ``fn`` after ``warmup`` untimed ones."""
    if repeat < 1:
        raise ValueError("repeat must be >= 1")
    for _ in range(warmup):
        fn()
    return summarize([time_once(fn)[0] for _ in range(repeat)])


def format_seconds(seconds: float) -> str:
    """Human scale: µs / ms / s with three significant digits."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def print_table(
    rows: Sequence[Mapping[str, object]], columns: Sequence[str], *, file: TextIO | None = None
) -> None:
    """Print ``rows`` as an aligned text table with the given column order.

    Floats are shown as seconds (see ``format_seconds``) unless already
    formatted by the caller as strings; missing cells print as ``-``.
    """

    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return format_seconds(value)
        return str(value)

    table = [[cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in table)) for i, col in enumerate(columns)]
    out = sys.stdout if file is None else file
    lines = [
        "  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)),
        "  ".join("-" * w for w in widths),
        *("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table),
    ]
    print("\n".join(lines), file=out)


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(tool_versions: Mapping[str, str] | None = None) -> dict[str, object]:
    """Where the numbers were measured: CPU count, load average (1, 5, 15 min, when
    written: other work on a shared machine inflates the absolute times), OS,
    Python, library and tool versions."""
    return {
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "py_ecc": _package_version("py-ecc"),
        "tools": dict(tool_versions or {}),
    }


def write_json(
    name: str, data: Mapping[str, object], *, tool_versions: Mapping[str, str] | None = None
) -> Path:
    """Write ``{"benchmark", "measured_at", "machine", **data}`` to results/<name>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(tool_versions),
        **data,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path
