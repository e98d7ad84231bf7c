"""What the replay keeps between entries and between runs (``darkpool-verify --state``).

``ReplayState`` is the public state after entry ``last_index``; ``to_dict`` /
``from_dict`` are the state file's JSON (``verifier.state`` reads and writes
the file). ``SolvencySummary`` is the latest solvency report's conclusion.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier.ledger.entries import Roots
from verifier.ledger.parse import EntryError, as_list, field_element, hex64, mapping, uint
from verifier.ledger.rules import RiskProgress
from verifier.oracle import OracleReport

__all__ = ["ReplayState", "SolvencySummary"]


@dataclass(frozen=True)
class SolvencySummary:
    """The latest solvency report and what the verifier concluded about it."""

    entry_index: int
    stress: bool
    solvent: bool
    account_root: int
    total_collateral: int
    balance: int
    positions: tuple[int, ...]
    deficit: int
    fund: int
    prices: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_index": self.entry_index,
            "stress": self.stress,
            "solvent": self.solvent,
            "account_root": str(self.account_root),
            "total_collateral": str(self.total_collateral),
            "balance": str(self.balance),
            "positions": [str(p) for p in self.positions],
            "deficit": str(self.deficit),
            "fund": str(self.fund),
            "prices": [str(p) for p in self.prices],
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "SolvencySummary":
        return cls(
            entry_index=int(obj["entry_index"]),
            stress=bool(obj["stress"]),
            solvent=bool(obj["solvent"]),
            account_root=int(obj["account_root"]),
            total_collateral=int(obj["total_collateral"]),
            balance=int(obj["balance"]),
            positions=tuple(int(p) for p in obj["positions"]),
            deficit=int(obj["deficit"]),
            fund=int(obj["fund"]),
            prices=tuple(int(p) for p in obj["prices"]),
        )


@dataclass
class ReplayState:
    """Everything needed to continue a replay after entry ``last_index``.

    ``order_commitments`` is the full public order list: it is needed anyway to
    check that commitments are unique, and it rebuilds the order tree in O(n).
    ``last_entry_hash`` and ``entry_hashes`` (the hash of every verified
    entry, genesis first) let a later run name an already verified entry that
    was rewritten (the ledger is append-only; ``verifier.ledger.resume``). ``last_time`` is the last
    entry's operator time, ``last_batch_timestamp`` the last batch's (oracle)
    timestamp, ``latest_report`` the newest oracle report seen so far and
    ``risk`` the sweep/liquidation/funding bookkeeping (``verifier.ledger.rules``);
    ``pending_cancels`` the commitments of the ``cancel`` entries since the
    last batch (slots ledgers: the next batch must execute them, in order);
    ``unplaced_orders`` maps the commitment of every published order no
    batch placed yet to its sequence number (slots ledgers: a batch may
    place only these; the state file lists the sequence numbers).
    """

    ledger_id: str
    last_index: int
    last_entry_hash: str
    roots: Roots
    order_commitments: list[int]
    total_collateral: int
    last_batch_id: int | None
    account_count: int
    entries_verified: int = 0
    batches: int = 0
    proofs_verified: int = 0
    latest_solvency: SolvencySummary | None = None
    last_time: int = 0
    last_batch_timestamp: int | None = None
    latest_report: OracleReport | None = None
    entry_hashes: list[str] = field(default_factory=list)
    risk: RiskProgress = field(default_factory=RiskProgress)
    pending_cancels: list[int] = field(default_factory=list)
    unplaced_orders: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger_id": self.ledger_id,
            "last_index": self.last_index,
            "last_entry_hash": self.last_entry_hash,
            "roots": self.roots.to_dict(),
            "order_commitments": [str(c) for c in self.order_commitments],
            "total_collateral": str(self.total_collateral),
            "last_batch_id": self.last_batch_id,
            "account_count": self.account_count,
            "entries_verified": self.entries_verified,
            "batches": self.batches,
            "proofs_verified": self.proofs_verified,
            "latest_solvency": (
                None if self.latest_solvency is None else self.latest_solvency.to_dict()
            ),
            "last_time": self.last_time,
            "last_batch_timestamp": self.last_batch_timestamp,
            "latest_report": (None if self.latest_report is None else self.latest_report.to_json()),
            "entry_hashes": list(self.entry_hashes),
            "risk": self.risk.to_dict(),
            "pending_cancels": [str(h) for h in self.pending_cancels],
            "unplaced_orders": list(self.unplaced_orders.values()),
        }

    @classmethod
    def from_dict(cls, obj: object) -> "ReplayState":
        """Parse a stored state; raises ValueError (any kind) if it is malformed."""
        d = mapping(obj, "state")
        try:
            solvency = d.get("latest_solvency")
            last_batch = d.get("last_batch_id")
            last_batch_ts = d.get("last_batch_timestamp")
            report = d.get("latest_report")
            state = cls(
                ledger_id=hex64(d["ledger_id"], "state.ledger_id"),
                last_index=uint(d["last_index"], "state.last_index"),
                last_entry_hash=hex64(d["last_entry_hash"], "state.last_entry_hash"),
                roots=Roots.parse(d["roots"], "state.roots"),
                order_commitments=[
                    field_element(c, "state.order_commitments")
                    for c in as_list(d["order_commitments"], "state.order_commitments")
                ],
                total_collateral=uint(d["total_collateral"], "state.total_collateral"),
                last_batch_id=None if last_batch is None else uint(last_batch, "batch id"),
                account_count=uint(d["account_count"], "state.account_count"),
                entries_verified=uint(d.get("entries_verified", 0), "entries_verified"),
                batches=uint(d.get("batches", 0), "state.batches"),
                proofs_verified=uint(d.get("proofs_verified", 0), "state.proofs_verified"),
                latest_solvency=(
                    None
                    if solvency is None
                    else SolvencySummary.from_dict(mapping(solvency, "state.latest_solvency"))
                ),
                last_time=uint(d.get("last_time", 0), "state.last_time"),
                last_batch_timestamp=(
                    None if last_batch_ts is None else uint(last_batch_ts, "batch timestamp")
                ),
                latest_report=(
                    None
                    if report is None
                    else OracleReport.from_json(report, len(report["marks"]), "state report")
                ),
                entry_hashes=[
                    hex64(h, "state.entry_hashes")
                    for h in as_list(d.get("entry_hashes", []), "state.entry_hashes")
                ],
                risk=RiskProgress.from_dict(d.get("risk", {})),
                pending_cancels=[
                    field_element(h, "state.pending_cancels")
                    for h in as_list(d.get("pending_cancels", []), "state.pending_cancels")
                ],
            )
            state.unplaced_orders = _unplaced(d, state.order_commitments)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"state is missing or mistypes {exc}") from None
        except EntryError as exc:
            raise ValueError(str(exc)) from None
        hashes = state.entry_hashes
        if hashes and (len(hashes) != state.last_index + 1 or hashes[-1] != state.last_entry_hash):
            raise ValueError("state.entry_hashes do not end at entry last_index's hash")
        return state


def _unplaced(d: Mapping[str, Any], commitments: list[int]) -> dict[int, int]:
    """``unplaced_orders``: increasing sequence numbers of published orders -> {commitment: number}."""
    out: dict[int, int] = {}
    last = -1
    for raw in as_list(d.get("unplaced_orders", []), "state.unplaced_orders"):
        number = uint(raw, "state.unplaced_orders")
        if number <= last or number >= len(commitments):
            raise EntryError(f"state.unplaced_orders: {number} is not a new published order")
        out[commitments[number]] = last = number
    return out
