"""Public side of the list-state SOLVENCY CHUNK (retired): ``verifier.statements.solvency_base``.

The chunk walk lives in ``solvency_base`` (shared with the slots
``solvency_walk``); this name stays only until the list state's code is deleted.
"""

from verifier.statements.solvency_base import (
    DEFICIT_BITS,
    EQUITY_BITS,
    FUND_BITS,
    SUM_BALANCE_BITS,
    SUM_POSITION_BITS,
    ChunkPublic,
    SolvencyError,
    SolvencyResult,
    SolvencyTotals,
    check_solvency,
    public_inputs,
    totals_commitment,
)

__all__ = [
    "DEFICIT_BITS",
    "EQUITY_BITS",
    "FUND_BITS",
    "SUM_BALANCE_BITS",
    "SUM_POSITION_BITS",
    "ChunkPublic",
    "SolvencyError",
    "SolvencyResult",
    "SolvencyTotals",
    "check_solvency",
    "public_inputs",
    "totals_commitment",
]
