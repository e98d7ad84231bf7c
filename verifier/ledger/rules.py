"""Risk-engine rules fixed in genesis and the replay's risk bookkeeping (issue 11).

``RiskRules`` is genesis ``risk`` (how often a health sweep is due, the
liquidation fee per market); ``FundingRules`` is genesis ``funding`` (the
interval and the premium formula of ``verifier.funding``). Both are optional:
a ledger without them may hold no ``sweep``/``liquidation`` (resp.
``funding``) entry. ``RiskProgress`` is what the replay carries from entry to
entry (and in the ``--state`` file) to enforce them: pending liquidations,
batches and seconds since the last sweep, the funding indices.

Pure data and strict parsers (``EntryError`` with a one-line reason).
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from verifier.ledger.parse import (
    EntryError,
    IntRecord,
    Range,
    as_list,
    get,
    int_fields,
    mapping,
    sint,
    uint,
)
from verifier.params import BPS_DENOM

__all__ = ["FundingRules", "RiskProgress", "RiskRules"]


@dataclass(frozen=True)
class RiskRules:
    """Genesis ``risk``: health-sweep interval and liquidation fee per market.

    ``sweep_interval_batches`` = N > 0: a batch fails when N batches have
    passed since the last sweep (or genesis). ``sweep_interval_s`` = T > 0: a
    batch fails when its entry time is more than T seconds after the last
    sweep (before any sweep: after the first batch). 0 disables a rule.
    ``liquidation_fee_bps[m] < mmf_bps[m]`` (the fee fits in the margin a
    liquidation releases).
    """

    sweep_interval_batches: int
    sweep_interval_s: int
    liquidation_fee_bps: tuple[int, ...]

    @classmethod
    def from_json(cls, obj: object, mmf_bps: Sequence[int]) -> "RiskRules":
        what = "genesis risk"
        d = mapping(obj, what)
        fees_raw = as_list(get(d, "liquidation_fee_bps", what), f"{what}.liquidation_fee_bps")
        if len(fees_raw) != len(mmf_bps):
            raise EntryError(f"{what}.liquidation_fee_bps has {len(fees_raw)} entries")
        fees = tuple(uint(f, f"{what}.liquidation_fee_bps[{i}]") for i, f in enumerate(fees_raw))
        for m, (fee, mmf) in enumerate(zip(fees, mmf_bps, strict=True)):
            if not fee < mmf:
                raise EntryError(f"{what}.liquidation_fee_bps[{m}] must be below mmf_bps {mmf}")
        return cls(
            **int_fields(d, what, ("sweep_interval_batches",)),
            sweep_interval_s=uint(d.get("sweep_interval_s", 0), f"{what}.sweep_interval_s"),
            liquidation_fee_bps=fees,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "liquidation_fee_bps": list(self.liquidation_fee_bps)}


@dataclass(frozen=True)
class FundingRules(IntRecord):
    """Genesis ``funding``: ``verifier.funding``'s parameters and the update interval.

    A ``funding`` entry pays every whole ``interval_s`` (oracle seconds)
    elapsed since the last paid interval, at least one
    (``verifier.funding.elapsed_intervals``); ``premium_divisor`` >= 1 and
    ``clamp_bps`` in [0, 10^4] are the index formula's.
    """

    interval_s: int
    premium_divisor: int
    clamp_bps: int

    what: ClassVar[str] = "genesis funding"
    ranges: ClassVar[Mapping[str, Range]] = {
        "interval_s": (1, None),
        "premium_divisor": (1, None),
        "clamp_bps": (0, BPS_DENOM),
    }


def _opt_uint(d: Mapping[str, Any], key: str) -> int | None:
    value = d.get(key)
    return None if value is None else uint(value, f"state.risk.{key}")


@dataclass
class RiskProgress:
    """The replay's risk bookkeeping between entries (and runs).

    ``pending``: accounts the last health sweep (entry ``sweep_entry``) found
    below maintenance margin that no liquidation has handled yet; the next
    batch fails while any is left. ``batches_since_sweep`` / ``sweep_clock``
    (entry time of the last sweep, or of the first batch) drive the overdue
    rules. ``funding_indices`` are the latest published indices (empty before
    the first update) and ``funding_timestamp`` that update's report time;
    ``funding_clock`` is the oracle time the funding-overdue rule and the
    next update's elapsed intervals count from: the end of the last paid
    interval (``verifier.funding.elapsed_intervals``), or the first batch's
    report time before any update.
    The counters feed ``darkpool-verify --json``.
    """

    batches_since_sweep: int = 0
    sweep_clock: int | None = None
    sweep_entry: int | None = None
    pending: list[int] = field(default_factory=list)
    sweeps: int = 0
    liquidations: int = 0
    liquidation_steps: int = 0
    funding_updates: int = 0
    adl_events: int = 0
    adl_trades: int = 0
    funding_indices: list[int] = field(default_factory=list)
    funding_timestamp: int | None = None
    funding_entry: int | None = None
    funding_clock: int | None = None

    def copy(self) -> "RiskProgress":
        return RiskProgress.from_dict(self.to_dict())

    def counts(self) -> dict[str, int]:
        """The ``--json`` summary (``adl_events``: deleverage entries; ``adl_trades``: their trades)."""
        return {
            "health_sweeps": self.sweeps,
            "liquidations": self.liquidations,
            "liquidation_steps": self.liquidation_steps,
            "funding_updates": self.funding_updates,
            "adl_events": self.adl_events,
            "adl_trades": self.adl_trades,
            "batches_since_sweep": self.batches_since_sweep,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches_since_sweep": self.batches_since_sweep,
            "sweep_clock": self.sweep_clock,
            "sweep_entry": self.sweep_entry,
            "pending": list(self.pending),
            "sweeps": self.sweeps,
            "liquidations": self.liquidations,
            "liquidation_steps": self.liquidation_steps,
            "funding_updates": self.funding_updates,
            "adl_events": self.adl_events,
            "adl_trades": self.adl_trades,
            "funding_indices": [str(f) for f in self.funding_indices],
            "funding_timestamp": self.funding_timestamp,
            "funding_entry": self.funding_entry,
            "funding_clock": self.funding_clock,
        }

    @classmethod
    def from_dict(cls, obj: object) -> "RiskProgress":
        d = mapping(obj, "state.risk")
        return cls(
            batches_since_sweep=uint(d.get("batches_since_sweep", 0), "state.risk.batches"),
            sweep_clock=_opt_uint(d, "sweep_clock"),
            sweep_entry=_opt_uint(d, "sweep_entry"),
            pending=[uint(x, "state.risk.pending") for x in as_list(d.get("pending", []), "p")],
            sweeps=uint(d.get("sweeps", 0), "state.risk.sweeps"),
            liquidations=uint(d.get("liquidations", 0), "state.risk.liquidations"),
            liquidation_steps=uint(d.get("liquidation_steps", 0), "state.risk.steps"),
            funding_updates=uint(d.get("funding_updates", 0), "state.risk.funding_updates"),
            adl_events=uint(d.get("adl_events", 0), "state.risk.adl_events"),
            adl_trades=uint(d.get("adl_trades", 0), "state.risk.adl_trades"),
            funding_indices=[
                sint(f, "state.risk.funding_indices")
                for f in as_list(d.get("funding_indices", []), "funding_indices")
            ],
            funding_timestamp=_opt_uint(d, "funding_timestamp"),
            funding_entry=_opt_uint(d, "funding_entry"),
            funding_clock=_opt_uint(d, "funding_clock"),
        )
