"""The recycling-order ("slots") operator: AccountBook state, ORDER OPS / SETTLE FILLS batches.

The in-process operator (the legacy list-state operator is retired), writing
a ``"state": "slots"`` ledger (per-account order slots in the account leaf,
quaternary account tree, proven cancels). ``state`` holds the data,
``intake`` orders and cancels, ``batch`` the batch plan, ``persistence``
account rows, private state and restore, ``operator`` every proven change.
Callers use ``SlotsOperator``.
"""

from exchange.operator.slots.operator import SlotsBatchSummary, SlotsOperator
from exchange.operator.slots.state import (
    SLOTS_STATEMENTS,
    AcceptedOrder,
    OrderConflict,
    UnknownOrder,
)

__all__ = [
    "SLOTS_STATEMENTS",
    "AcceptedOrder",
    "OrderConflict",
    "SlotsBatchSummary",
    "SlotsOperator",
    "UnknownOrder",
]
