"""Public side of ADL RANKING COMPLETENESS (``circuits/adl_walk.circom``) and its replay rule.

A ``deleverage`` entry's trades prove each counterparty's rank key and the
verifier checks they come in ranking order (``verifier.statements.deleverage``);
the walk proves nobody was skipped. For every market ``m`` the entry
deleverages, the ``ranking`` proofs walk the account tree as it was right
before market m's first trade (root ``R_m``) in chunks of ``4^chunk_levels``
accounts (as the health sweep does) and each chunk proves ``count`` = how many
of its accounts rank ABOVE a threshold on the counterparties' side:
``a != 0`` (the fund is never counted), ``side * s_m(a) >= 1`` and
``rank_key(a) > threshold_key`` or (``==`` and ``a < threshold_index``), the
key taken from a's leaf after paying its pending funding, at the marks
(``ranked_above``; the circuit uses the deleverage statement's rank-key
template).

The verifier derives every public input but ``subRoot`` and ``count``
(``expected_walk``): the side is the opposite of the bankrupt's position in
m; the threshold is the LAST trade of m: ``(its rank key, its counterparty)``,
or ``(0, 4^account_levels)`` ("everyone") when that counterparty is the fund.
``check_walk`` then requires chunks 0..n-1 whose subroots rebuild ``R_m`` and
``sum(count) == trades in m - 1``. Why that is complete: the earlier
counterparties of m are distinct, on the side, not the fund and ranked
strictly above the last one (the ranking-order rule), and their leaves at
``R_m`` are the ones their trades opened (no other trade of m touches them),
so they are among the counted accounts; equal counts make the two sets equal:
no account that outranks the last counterparty was left out (and when the
fund closes the market, every trader on the side was used first).

Pure functions, no I/O. Never imports prover/ or exchange/ and never runs node.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from verifier.field import (
    FieldError,
    field_to_signed,
    require_canonical,
    signed_to_field,
    unsigned_in_range,
)
from verifier.params import FUNDING_BITS, MARGIN_BITS, MAX_MARKETS, PRICE_BITS
from verifier.quadtree import QuadTreeError, quad_root_from_subroots
from verifier.statements.vectors import market_vectors, require_signals

__all__ = [
    "INDEX_BITS",
    "PER_MARKET",
    "PUBLIC_NAMES",
    "AdlWalkChunkPublic",
    "AdlWalkError",
    "check_walk",
    "ranked_above",
    "signal_count",
    "walk_threshold",
]

# Circuit public inputs in declaration order; PER_MARKET ones have one entry per market.
PUBLIC_NAMES: tuple[str, ...] = (
    "chunkIndex",
    "subRoot",
    "market",
    "side",
    "thresholdKey",
    "thresholdIndex",
    "count",
    "prices",
    "funding",
)
PER_MARKET = frozenset({"prices", "funding"})
_FIXED_SIGNALS = 7
#: Width of an account index in the circuit's comparison (indices < 2^40).
INDEX_BITS = 40
#: Width of a rank key: 1 + a MARGIN_BITS quotient.
KEY_BITS = MARGIN_BITS + 1


class AdlWalkError(ValueError):
    """Data that cannot describe a ranking chunk (bad shape or range)."""


def signal_count(markets: int) -> int:
    return _FIXED_SIGNALS + 2 * markets


def ranked_above(key: int, index: int, threshold_key: int, threshold_index: int) -> bool:
    """The circuit's order: ``(key, index)`` ranks above the threshold (higher key, then lower index)."""
    return key > threshold_key or (key == threshold_key and index < threshold_index)


def walk_threshold(
    last_counterparty: int, last_key: int, account_levels: int, fund: int = 0
) -> tuple[int, int]:
    """(threshold key, threshold index) of a market whose last ADL trade is against
    ``last_counterparty`` with rank key ``last_key``: that trade itself, or "everyone"
    ``(0, 4^account_levels)`` when the fund closed the market (every trader on the
    side must have been used before the fund)."""
    if last_counterparty == fund:
        return 0, 1 << (2 * account_levels)
    return last_key, last_counterparty


@dataclass(frozen=True)
class AdlWalkChunkPublic:
    """One ranking chunk's public inputs, decoded (side and funding signed)."""

    chunk_index: int
    sub_root: int
    market: int
    side: int
    threshold_key: int
    threshold_index: int
    count: int
    prices: tuple[int, ...]
    funding: tuple[int, ...]

    def signals(self) -> list[int]:
        """The flat public inputs in declaration order. Raises AdlWalkError."""
        m = len(self.prices)
        if not 1 <= m <= MAX_MARKETS or len(self.funding) != m:
            raise AdlWalkError("one price and funding index per market")
        if not 0 <= self.market < m:
            raise AdlWalkError(f"market {self.market} does not exist")
        if self.side not in (1, -1):
            raise AdlWalkError(f"side {self.side} is not +1 or -1")
        try:
            return [
                unsigned_in_range(self.chunk_index, 32, "chunk index"),
                require_canonical(self.sub_root, "subRoot"),
                self.market,
                signed_to_field(self.side, 2, "side"),
                unsigned_in_range(self.threshold_key, KEY_BITS, "threshold key"),
                unsigned_in_range(self.threshold_index, INDEX_BITS, "threshold index"),
                unsigned_in_range(self.count, 32, "count"),
                *(unsigned_in_range(p, PRICE_BITS, "mark") for p in self.prices),
                *(signed_to_field(f, FUNDING_BITS, "funding index") for f in self.funding),
            ]
        except FieldError as exc:
            raise AdlWalkError(str(exc)) from exc

    @classmethod
    def from_signals(cls, signals: Sequence[int], markets: int) -> "AdlWalkChunkPublic":
        """Decode ``signals`` (a proof's public signals). Raises AdlWalkError."""
        require_signals(signals, signal_count(markets), AdlWalkError)
        prices, raw_funding = market_vectors(signals, _FIXED_SIGNALS, markets, 2)
        try:
            side = field_to_signed(signals[3], 2, "side")
            funding = tuple(field_to_signed(f, FUNDING_BITS, "funding index") for f in raw_funding)
        except FieldError as exc:
            raise AdlWalkError(str(exc)) from exc
        return cls(
            chunk_index=signals[0],
            sub_root=signals[1],
            market=signals[2],
            side=side,
            threshold_key=signals[4],
            threshold_index=signals[5],
            count=signals[6],
            prices=prices,
            funding=funding,
        )


def check_walk(
    chunks: Sequence[AdlWalkChunkPublic],
    *,
    market: int,
    side: int,
    threshold: tuple[int, int],
    start_root: int,
    prices: Sequence[int],
    funding: Sequence[int],
    account_levels: int,
    chunk_levels: int,
    traded_before_last: int,
) -> list[str]:
    """Check one market's ranking walk against what the entry's trades imply.

    ``start_root`` is the account root before the market's first ADL trade,
    ``side`` the counterparties' side (+1 long, -1 short), ``threshold`` from
    ``walk_threshold``, ``traded_before_last`` the number of the market's
    trades before its last. Returns the reasons (empty iff the walk holds).
    """
    where = f"ranking of market {market}"
    if not chunks:
        return [f"{where}: no ranking chunks"]
    reasons: list[str] = []
    for i, c in enumerate(chunks):
        if c.chunk_index != i:
            reasons.append(f"{where}: chunk {i} has chunkIndex {c.chunk_index}")
        if c.market != market or c.side != side:
            reasons.append(f"{where}: chunk {i} walks market {c.market} side {c.side:+d}")
        if (c.threshold_key, c.threshold_index) != threshold:
            reasons.append(
                f"{where}: chunk {i} threshold ({c.threshold_key}, {c.threshold_index}), "
                f"the last trade implies {threshold}"
            )
        if c.prices != tuple(prices):
            reasons.append(f"{where}: chunk {i} prices differ from the report's marks")
        if c.funding != tuple(funding):
            reasons.append(f"{where}: chunk {i} funding indices differ from the ledger's")
    if reasons:
        return reasons
    try:
        root = quad_root_from_subroots([c.sub_root for c in chunks], chunk_levels, account_levels)
    except QuadTreeError as exc:
        return [f"{where}: cannot rebuild the account root: {exc}"]
    if root != start_root:
        return [f"{where}: the chunks do not rebuild the account root before the market's trades"]
    ranked = sum(c.count for c in chunks)
    if ranked != traded_before_last:
        last = (
            "the fund" if threshold[1] >= 1 << (2 * account_levels) else f"account {threshold[1]}"
        )
        skipped = " (an outranking account was skipped)" if ranked > traded_before_last else ""
        reasons.append(
            f"{where}: {ranked} account(s) rank above the last counterparty ({last}), "
            f"{traded_before_last} were deleveraged before it{skipped}"
        )
    return reasons
