"""The in-process operator: whole exchange state in memory, every change proven.

``state`` holds the data and the read-only views (and snapshot / restore);
``transitions`` holds every proven change (account ops, orders, batches,
solvency). Callers use ``Operator``.
"""

from exchange.domain import MarketSpec
from exchange.operator.state import (
    BatchSummary,
    DuplicateOrder,
    OperatorError,
    OperatorState,
    ProveFn,
    RejectedOrder,
    SignatureRejected,
    UnknownAccount,
    wall_clock,
)
from exchange.operator.transitions import Operator

__all__ = [
    "BatchSummary",
    "DuplicateOrder",
    "MarketSpec",
    "Operator",
    "OperatorError",
    "OperatorState",
    "ProveFn",
    "RejectedOrder",
    "SignatureRejected",
    "UnknownAccount",
    "wall_clock",
]
