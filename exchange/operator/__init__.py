"""The in-process operators: whole exchange state in memory, every change proven.

``exchange.operator.slots.SlotsOperator`` (recycling-order state, the
default) and the legacy list-state ``Operator`` (``state`` +
``transitions``; being retired). ``common`` holds what every operator module
shares: the refusal errors, ``ProveFn`` and the clock.
"""

from exchange.domain import MarketSpec
from exchange.operator.common import (
    DuplicateOrder,
    OperatorError,
    ProveFn,
    RejectedOrder,
    SignatureRejected,
    UnknownAccount,
    wall_clock,
)
from exchange.operator.state import BatchSummary, OperatorState
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
