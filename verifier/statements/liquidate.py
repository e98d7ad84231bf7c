"""Public side of the list-state LIQUIDATE (retired): ``verifier.statements.liquidation_steps``.

The step layout without funding and the step rules live in
``liquidation_steps`` (shared with the slots ``liquidate_staged``); this
name stays only until the list state's code is deleted.
"""

from verifier.statements.liquidation_steps import (
    EQUITY_BITS,
    LiquidationStatementError,
    LiquidationStepPublic,
    check_steps,
    signal_count,
)

__all__ = [
    "EQUITY_BITS",
    "LiquidationStatementError",
    "LiquidationStepPublic",
    "check_steps",
    "signal_count",
]
