"""The exchange's pure trading domain: markets, the order book, batch matching, margin at intake.

Everything here is integer arithmetic on in-memory values — no I/O, no
clocks, no randomness, no keys or blindings — so it can be property-tested and
benchmarked alone. Margin and fee numbers always come from
``verifier.accounting``; this package never re-implements them and never
imports the service layer or the prover.
"""

from exchange.domain.book import BookError, OrderBook, RestingOrder
from exchange.domain.markets import MarketError, MarketSpec, check_markets
from exchange.domain.matching import (
    AccountBook,
    AccountEntry,
    BatchResult,
    Fill,
    MatchingError,
    SkipReason,
    intake_range_problem,
    match_batch,
    max_fill_quantity,
    pre_trade_margin_ok,
)

__all__ = [
    "AccountBook",
    "AccountEntry",
    "BatchResult",
    "BookError",
    "Fill",
    "MarketError",
    "MarketSpec",
    "MatchingError",
    "OrderBook",
    "RestingOrder",
    "SkipReason",
    "check_markets",
    "intake_range_problem",
    "match_batch",
    "max_fill_quantity",
    "pre_trade_margin_ok",
]
