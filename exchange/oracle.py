"""Mark-price oracle: the ``Oracle`` interface and a deterministic simulated feed.

A report is (batch id, timestamp, integer prices in ticks per market) signed
with the oracle's EdDSA-Poseidon key over
``verifier.encoding.oracle_message(ORACLE_TAG, ...)``; the verifier checks that
signature and that every proof used exactly those prices. The simulated feed is
for demos and tests only: its key is generated at run time and its prices are a
seeded integer random walk, so a run is reproducible but nothing here is a
market. Real feeds plug in behind ``Oracle``. Never uses floats, never does I/O.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from verifier.babyjub import Point
from verifier.eddsa import PrivateKey, Signature, signature_to_dict, verify_poseidon
from verifier.encoding import oracle_message
from verifier.field import FieldError
from verifier.params import BPS_DENOM, PRICE_BITS


class OracleError(ValueError):
    """A price report is malformed or its signature does not verify."""


@dataclass(frozen=True)
class OracleReport:
    """One signed mark-price report; ``prices[m]`` in integer ticks for market m."""

    batch_id: int
    timestamp: int
    prices: tuple[int, ...]
    signature: Signature

    def message(self, oracle_tag: int) -> int:
        return oracle_message(oracle_tag, self.batch_id, self.timestamp, self.prices)

    def verify(self, oracle_tag: int, oracle_pubkey: Point) -> bool:
        try:
            msg = self.message(oracle_tag)
        except FieldError:
            return False
        return verify_poseidon(msg, self.signature, oracle_pubkey)

    def to_dict(self) -> dict[str, Any]:
        """Ledger form (docs/ledger.md): big numbers as decimal strings."""
        return {
            "batch_id": self.batch_id,
            "timestamp": self.timestamp,
            "prices": [str(p) for p in self.prices],
            "signature": signature_to_dict(self.signature),
        }


class Oracle(Protocol):
    """What the operator needs from a price source."""

    @property
    def public_key(self) -> Point: ...

    @property
    def oracle_tag(self) -> int: ...

    def report(self, batch_id: int, timestamp: int) -> OracleReport: ...


class SimulatedOracle:
    """Seeded integer random walk per market, signed with a run-time key.

    The price for ``batch_id`` is the walk after ``batch_id`` steps from
    ``start_prices``, so it does not depend on the order reports are asked
    for. Each step moves a price by a uniform integer in
    ``[-max_step_bps, +max_step_bps]`` basis points of itself (at least one
    tick of movement range), floored at 1 tick.
    """

    def __init__(
        self,
        start_prices: Sequence[int],
        oracle_tag: int,
        *,
        seed: int = 0,
        max_step_bps: int = 50,
        key: PrivateKey | None = None,
    ) -> None:
        if not start_prices:
            raise OracleError("the oracle needs at least one market")
        for p in start_prices:
            if not isinstance(p, int) or not 1 <= p < 1 << PRICE_BITS:
                raise OracleError(f"start price {p!r} is not a positive {PRICE_BITS}-bit integer")
        if not 0 <= max_step_bps <= BPS_DENOM:
            raise OracleError("max_step_bps must be in [0, 10000]")
        self._tag = oracle_tag
        self._key = key if key is not None else PrivateKey.generate()
        self._rng = random.Random(seed)
        self._max_step_bps = max_step_bps
        self._path: list[tuple[int, ...]] = [tuple(start_prices)]

    @property
    def public_key(self) -> Point:
        return self._key.public_key()

    @property
    def oracle_tag(self) -> int:
        return self._tag

    def prices_at(self, batch_id: int) -> tuple[int, ...]:
        """The walk's prices for ``batch_id`` (extends the cached path as needed)."""
        if batch_id < 0:
            raise OracleError("batch id must be non-negative")
        while len(self._path) <= batch_id:
            self._path.append(tuple(self._step(p) for p in self._path[-1]))
        return self._path[batch_id]

    def _step(self, price: int) -> int:
        span = max(1, price * self._max_step_bps // BPS_DENOM)
        moved = price + self._rng.randint(-span, span)
        return min(max(moved, 1), (1 << PRICE_BITS) - 1)

    def sign(self, batch_id: int, timestamp: int, prices: Sequence[int]) -> OracleReport:
        """Sign arbitrary prices (used for shocked stress-test marks)."""
        try:
            msg = oracle_message(self._tag, batch_id, timestamp, prices)
        except FieldError as exc:
            raise OracleError(f"cannot sign report: {exc}") from None
        return OracleReport(batch_id, timestamp, tuple(prices), self._key.sign(msg))

    def report(self, batch_id: int, timestamp: int) -> OracleReport:
        return self.sign(batch_id, timestamp, self.prices_at(batch_id))

    def shocked(self, report: OracleReport, shock_bps: Sequence[int] | int) -> OracleReport:
        """The same report with every price moved by ``shock_bps`` (signed, per market or one for all), re-signed."""
        shocks = [shock_bps] * len(report.prices) if isinstance(shock_bps, int) else list(shock_bps)
        if len(shocks) != len(report.prices):
            raise OracleError("one shock per market is required")
        prices = []
        for p, s in zip(report.prices, shocks, strict=True):
            if not -BPS_DENOM < s <= BPS_DENOM * 100:
                raise OracleError(f"shock {s} bps is out of range")
            prices.append(max(1, p * (BPS_DENOM + s) // BPS_DENOM))
        return self.sign(report.batch_id, report.timestamp, prices)
