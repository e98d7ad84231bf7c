"""The outcome of a replay: failures naming their entry, counters and notes."""

from dataclasses import dataclass, field
from typing import Any

from verifier.ledger.entries import Genesis
from verifier.ledger.state import ReplayState
from verifier.oracle import key_hex

__all__ = ["LedgerFailure", "ReplayReport"]


@dataclass(frozen=True, order=True)
class LedgerFailure:
    """One way the ledger does not hold, at ``entry_index``."""

    entry_index: int
    reason: str

    def __str__(self) -> str:
        return f"entry {self.entry_index}: {self.reason}"


@dataclass
class ReplayReport:
    """The outcome of one replay run."""

    manifest_entries: int
    genesis: Genesis | None
    state: ReplayState | None
    failures: list[LedgerFailure] = field(default_factory=list)
    checked_from: int = 0
    checked_to: int = -1
    proofs_this_run: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    notes: list[str] = field(default_factory=list)
    keys_pinned: bool = False
    genesis_pinned: bool = False
    oracle_key_pinned: bool = False
    solvency_warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def first_failure(self) -> LedgerFailure | None:
        return min(self.failures) if self.failures else None

    def to_dict(self) -> dict[str, Any]:
        first = self.first_failure
        g = self.genesis
        s = self.state
        return {
            "ok": self.ok,
            "ledger_id": None if g is None else g.ledger_id,
            "exchange_id": None if g is None else g.exchange_id,
            "profile": None if g is None else g.params.to_dict(),
            "entries": self.manifest_entries,
            "checked_from": self.checked_from,
            "checked_to": self.checked_to,
            "resumed": self.resumed,
            "batches": None if s is None else s.batches,
            "accounts": None if s is None else s.account_count,
            "orders": None if s is None else len(s.order_commitments),
            "total_collateral": None if s is None else str(s.total_collateral),
            "proofs_verified_total": None if s is None else s.proofs_verified,
            "proofs_verified_this_run": dict(self.proofs_this_run),
            "latest_roots": None if s is None else s.roots.to_dict(),
            "latest_solvency": (
                None if s is None or s.latest_solvency is None else s.latest_solvency.to_dict()
            ),
            "risk": None if s is None else s.risk.counts(),
            "state": None if g is None else g.state,
            "pending_cancels": None if s is None else [str(h) for h in s.pending_cancels],
            "unplaced_orders": None if s is None else list(s.unplaced_orders.values()),
            "vkey_hashes": None if g is None else dict(g.vkey_hashes),
            "keys_pinned": self.keys_pinned,
            "genesis_hash": None if g is None else g.ledger_id,
            "genesis_pinned": self.genesis_pinned,
            "oracle_key": None if g is None else key_hex(g.oracle_pubkey),
            "oracle_key_pinned": self.oracle_key_pinned,
            "operator_key": None if g is None else key_hex(g.operator_pubkey),
            "first_failure": (
                None if first is None else {"entry": first.entry_index, "reason": first.reason}
            ),
            "failures": [
                {"entry": f.entry_index, "reason": f.reason} for f in sorted(self.failures)
            ],
            "notes": list(self.notes),
            "solvency_warnings": list(self.solvency_warnings),
        }
