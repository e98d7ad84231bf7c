"""Restoring the operator from its stored ledger: risk clocks and genesis keys.

``replay_clocks`` advances the batch, health-sweep and funding clocks over
one stored entry exactly as the verifier counts them
(``verifier.ledger.risk``), so a restored operator refuses the same
overdue batches as the one that wrote the ledger. ``genesis_key_problem``
names an operator or oracle key other than the ones genesis publishes.
Used by ``exchange.operator.slots.SlotsOperator.restore``. Pure: no I/O.
"""

from collections.abc import Mapping
from typing import Any, Protocol

from verifier.babyjub import Point
from verifier.eddsa import PrivateKey, public_key_to_dict
from verifier.funding import elapsed_intervals
from verifier.ledger.rules import FundingRules

__all__ = ["RiskClocks", "genesis_key_problem", "replay_clocks"]


class RiskClocks(Protocol):
    """The operator attributes ``replay_clocks`` moves."""

    last_batch_timestamp: int | None
    batches_since_sweep: int
    sweep_clock: int | None
    funding_rules: FundingRules | None
    funding_clock: int | None
    funding_timestamp: int | None
    funding_indices: tuple[int, ...]
    pending_liquidations: list[int]


def replay_clocks(op: RiskClocks, e: Mapping[str, Any]) -> None:
    """Advance ``op``'s clocks over stored entry ``e`` (a ledger entry's JSON)."""
    kind = e["kind"]
    if kind == "batch":
        op.last_batch_timestamp = int(e["oracle"]["timestamp"])
        op.batches_since_sweep += 1
        if op.sweep_clock is None:
            op.sweep_clock = int(e["time"])
        if op.funding_clock is None:
            op.funding_clock = op.last_batch_timestamp
    elif kind == "sweep":
        op.batches_since_sweep = 0
        op.sweep_clock = int(e["time"])
        op.pending_liquidations = [int(i) for i in e["flagged"] if int(i) != 0]
    elif kind in ("liquidation", "deleverage"):
        done = int(e["account"])
        op.pending_liquidations = [i for i in op.pending_liquidations if i != done]
    elif kind == "funding":
        op.funding_indices = tuple(int(f) for f in e["indices"])
        timestamp = int(e["oracle"]["timestamp"])
        rules = op.funding_rules
        if rules is None:  # the legacy list Operator adopts genesis rules after its replay
            op.funding_clock = timestamp
        else:
            updated = op.funding_timestamp is not None
            _, op.funding_clock = elapsed_intervals(
                timestamp, op.funding_clock, updated, rules.interval_s
            )
        op.funding_timestamp = timestamp


def genesis_key_problem(
    genesis: Mapping[str, Any], operator_key: PrivateKey, oracle_key: Point
) -> str | None:
    """Why genesis refuses these keys (its operator_pubkey / oracle_pubkey differ), or None."""
    if genesis["operator_pubkey"] != public_key_to_dict(operator_key.public_key()):
        return "the operator key differs from the one published in genesis"
    if genesis["oracle_pubkey"] != public_key_to_dict(oracle_key):
        return "the oracle key differs from the one pinned in genesis"
    return None
