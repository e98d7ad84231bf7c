"""Price feeds: where the oracle's prices come from, behind one interface.

``PriceFeed`` is what the oracle service signs from. A real feed (an exchange
aggregator, a median of venues) implements it and plugs into
``oracle.service`` unchanged; ``SimulatedFeed`` is the seeded integer random
walk the demo and tests use. Prices are integers in ticks per market, never
floats; a feed that cannot give a price raises ``FeedError``.
"""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from verifier.params import BPS_DENOM, PRICE_BITS

__all__ = ["FeedError", "PriceFeed", "Quote", "SimulatedFeed"]


class FeedError(ValueError):
    """The feed has no valid price (bad configuration, a source that did not answer)."""


@dataclass(frozen=True)
class Quote:
    """One reading of a feed: mark and index (spot) price per market, integer ticks.

    ``marks`` are what settlement and margin use (the circuits' ``prices``);
    ``index`` is the underlying's price, which funding compares marks with.
    """

    marks: tuple[int, ...]
    index: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.marks or len(self.index) != len(self.marks):
            raise FeedError("a quote needs one mark and one index price per market")
        for p in (*self.marks, *self.index):
            if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p < 1 << PRICE_BITS:
                raise FeedError(f"price {p!r} is not a positive {PRICE_BITS}-bit integer")


class PriceFeed(Protocol):
    """A source of integer prices (ticks) per market."""

    @property
    def markets(self) -> int:
        """How many markets every price tuple covers."""
        ...

    def quote(self, seq: int, timestamp: int) -> Quote:
        """Mark and index prices for report ``seq`` at unix second ``timestamp`` (oracle clock).

        Real feeds read their source at ``timestamp`` and ignore ``seq``;
        simulated ones may step on ``seq`` so that runs are reproducible.
        Raises ``FeedError`` when there is no valid price.
        """
        ...


class SimulatedFeed:
    """Seeded integer random walk per market (demo and tests only; nothing here is a market).

    The prices for report ``seq`` are the walk after ``seq`` steps from
    ``start_prices``, so they do not depend on the order reports are asked
    for. Each step moves a price by a uniform integer in
    ``[-max_step_bps, +max_step_bps]`` basis points of itself (at least one
    tick of movement range), floored at 1 tick. The index price sits
    ``premium_bps`` of the mark below it (0: index = mark), so funding has a
    mark-index gap to act on. ``shocks`` maps a report ``seq`` to a move in
    bps per market applied on top of that step (a scripted crash for the demo;
    later steps walk on from the shocked prices).
    """

    def __init__(
        self,
        start_prices: Sequence[int],
        *,
        seed: int = 0,
        max_step_bps: int = 50,
        premium_bps: int = 0,
        shocks: Mapping[int, Sequence[int]] | None = None,
    ) -> None:
        if not start_prices:
            raise FeedError("the feed needs at least one market")
        for p in start_prices:
            if not isinstance(p, int) or not 1 <= p < 1 << PRICE_BITS:
                raise FeedError(f"start price {p!r} is not a positive {PRICE_BITS}-bit integer")
        if not 0 <= max_step_bps <= BPS_DENOM:
            raise FeedError("max_step_bps must be in [0, 10000]")
        if not 0 <= premium_bps < BPS_DENOM:
            raise FeedError("premium_bps must be in [0, 10000)")
        self._premium_bps = premium_bps
        self._shocks = {int(k): tuple(v) for k, v in (shocks or {}).items()}
        for seq, move in self._shocks.items():
            if seq < 1 or len(move) != len(start_prices):
                raise FeedError("a shock names a report seq >= 1 and one bps move per market")
            if any(not -BPS_DENOM < b <= BPS_DENOM for b in move):
                raise FeedError("a shock moves a price by more than -100% .. +100%")
        self._rng = random.Random(seed)
        self._max_step_bps = max_step_bps
        self._path: list[tuple[int, ...]] = [tuple(start_prices)]

    @property
    def markets(self) -> int:
        return len(self._path[0])

    def prices_at(self, seq: int) -> tuple[int, ...]:
        """The walk's prices after ``seq`` steps (extends the cached path as needed)."""
        if seq < 0:
            raise FeedError("report sequence number must be non-negative")
        while len(self._path) <= seq:
            step = [self._step(p) for p in self._path[-1]]
            move = self._shocks.get(len(self._path))
            if move is not None:
                step = [
                    max(1, p * (BPS_DENOM + b) // BPS_DENOM)
                    for p, b in zip(step, move, strict=True)
                ]
            self._path.append(tuple(step))
        return self._path[seq]

    def quote(self, seq: int, timestamp: int) -> Quote:
        marks = self.prices_at(seq)
        index = tuple(max(1, p - p * self._premium_bps // BPS_DENOM) for p in marks)
        return Quote(marks, index)

    def _step(self, price: int) -> int:
        span = max(1, price * self._max_step_bps // BPS_DENOM)
        moved = price + self._rng.randint(-span, span)
        return min(max(moved, 1), (1 << PRICE_BITS) - 1)
