"""The in-process operator: whole exchange state in memory, every change proven.

``exchange.operator.slots.SlotsOperator`` (the recycling-order "slots"
state; the legacy list-state operator is retired) holds the state and proves
every change. ``common`` holds the refusal errors, ``ProveFn`` and the
clock; ``proving`` (``ProvingMixin``), ``funding`` (``FundingUpdates``) and
``restoring`` (risk clocks and genesis key checks on restore) are the
operator's building blocks outside ``slots``.
"""

from exchange.domain import MarketSpec
from exchange.operator.common import (
    INSURANCE_WITHDRAWAL_REFUSED,
    DuplicateOrder,
    OperatorError,
    ProveFn,
    RejectedOrder,
    SignatureRejected,
    UnknownAccount,
    wall_clock,
)

__all__ = [
    "INSURANCE_WITHDRAWAL_REFUSED",
    "DuplicateOrder",
    "MarketSpec",
    "OperatorError",
    "ProveFn",
    "RejectedOrder",
    "SignatureRejected",
    "UnknownAccount",
    "wall_clock",
]
