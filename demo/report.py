"""The demo's bookkeeping: traders, counters and the closing summary table."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.table import Table

from verifier.eddsa import PrivateKey

__all__ = ["DemoStats", "Trader", "summary_table"]


@dataclass
class Trader:
    name: str
    key: PrivateKey
    deposit: int
    index: int = -1
    orders: list[int] = field(default_factory=list)  # commitments


@dataclass
class DemoStats:
    fills: int = 0
    batches: int = 0
    batch_proofs: int = 0
    solvency_jobs: int = 0
    rejected: list[str] = field(default_factory=list)
    proofs: dict[str, int] = field(default_factory=dict)
    ledger_entries: int = 0
    risk: dict[str, int] = field(default_factory=dict)  # ReplayReport risk counts
    steps: list[tuple[str, float]] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)


def summary_table(
    stats: DemoStats,
    traders: int,
    markets: Sequence[str],
    statements: Sequence[str],
    total: float,
    ok: bool,
) -> Table:
    """The closing table: counts, proofs per statement (of the ledger's state), time per
    phase and the verification result."""
    table = Table(title="darkpool demo summary (over HTTP)")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("traders", str(traders))
    table.add_row("markets", ", ".join(markets))
    table.add_row("ledger entries", str(stats.ledger_entries))
    table.add_row("batches", str(stats.batches))
    table.add_row("fills", str(stats.fills))
    table.add_row("orders refused (4xx)", str(len(stats.rejected)))
    table.add_row("solvency jobs (one a stress test)", str(stats.solvency_jobs))
    for s in statements:
        table.add_row(f"{s} proofs verified", str(stats.proofs.get(s, 0)))
    table.add_row("proofs verified in total", str(sum(stats.proofs.values())))
    for name in ("health_sweeps", "liquidations", "funding_updates"):
        table.add_row(name.replace("_", " "), str(stats.risk.get(name, 0)))
    for label, seconds in stats.steps:
        table.add_row(f"time: {label}", f"{seconds:.1f}s")
    table.add_row("total time", f"{total:.1f}s")
    passed = sum(ok for _, ok, _ in stats.checks)
    table.add_row("checks passed", f"{passed}/{len(stats.checks)}")
    table.add_row("verification", "[green]ALL VERIFIED[/]" if ok else "[bold red]FAILED[/]")
    return table
