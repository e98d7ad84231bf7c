"""What the service returns: typed records, no HTTP and no JSON (the API builds its models).

Integers stay Python integers here; turning them into decimal strings for
JSON is the API's job (``exchange.api.routes``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from exchange.models import SolvencyJobRow
from verifier.account_state import AccountRecord, SlottedOrder
from verifier.export import LedgerEntry, Roots
from verifier.oracle import OracleReport


class OrderAccepted(NamedTuple):
    """``status`` is "listed" (in the order list now, at ``order_index``) or "pending"."""

    status: str
    order_index: int | None


class AccountOpDone(NamedTuple):
    """An account op on the ledger: the account's new state and the entry's index."""

    state: AccountRecord
    entry_index: int


@dataclass(frozen=True)
class SetupProgress:
    """Circuit setup before the exchange can serve: ``done`` of ``total`` statements."""

    done: int
    total: int
    current: str | None
    elapsed_s: float
    error: str | None = None


@dataclass(frozen=True)
class HealthReport:
    """``state`` is setting_up | ready | failed | stopping; the counts exist once ready."""

    state: str
    setup: SetupProgress
    batch_in_progress: bool = False
    ledger_entries: int | None = None
    pending_orders: int | None = None


@dataclass(frozen=True)
class ExchangeInfo:
    exchange_id: str
    profile: str
    state: str
    genesis: dict[str, Any]
    operator_box_public_key: bytes
    roots: Roots
    total_collateral: int
    ledger_entries: int
    next_batch_id: int
    latest_oracle: OracleReport | None
    batch_interval_s: float


@dataclass(frozen=True)
class RootsReport:
    ledger_index: int
    roots: Roots
    total_collateral: int


@dataclass(frozen=True)
class LedgerSlice:
    start: int
    total: int
    entries: tuple[LedgerEntry, ...]


@dataclass(frozen=True)
class OrderStatus:
    """An order as its owner sees it; ``status`` is pending | open | filled | cancelled | expired."""

    commitment: int
    status: str
    order_index: int | None
    order: SlottedOrder
    filled: int
    reason: str | None = None
    holds_slot: bool | None = None  # a newer id cannot take its slot yet


@dataclass(frozen=True)
class AccountReport:
    index: int
    state: AccountRecord
    account_root: int
    orders: tuple[OrderStatus, ...]
    liquidations: tuple[int, ...] = ()  # ledger indices of this account's liquidation entries


@dataclass(frozen=True)
class Inclusion:
    """Account ``index``'s leaf under ``root``: its opening and the Merkle siblings bottom-up.

    One (s0, s1, s2) triple per level (quaternary tree), ``opening`` as
    ``prover.account_book.slots_opening`` writes it (with checkpoints and
    order_root). SECRET: for the owner only.
    """

    index: int
    root: int
    leaf: int
    siblings: tuple[tuple[int, int, int], ...]
    opening: Mapping[str, Any]


@dataclass(frozen=True)
class JobReport:
    job: SolvencyJobRow
    entry: LedgerEntry | None


@dataclass(frozen=True)
class BatchDone:
    """A committed batch entry, its fill and proof counts, and orders listed right after."""

    entry: LedgerEntry
    fills: int
    proofs: int
    pending_listed: int
