"""Signed price reports: the report record, the ``Oracle`` interface and the signer.

A report is (batch id, timestamp, integer prices in ticks per market) signed
with the oracle's EdDSA-Poseidon key over
``verifier.encoding.oracle_message(ORACLE_TAG, ...)``; the verifier checks that
signature and that every proof used exactly those prices.

``OracleSigner`` signs prices from a ``PriceFeed`` with a key the operator
never holds: in production it runs in its own process (``darkpool oracle
serve``, ``oracle.app``) and the operator reaches it over HTTP
(``oracle.client.HttpOracle``). With a clock it signs at its own time and
refuses a request whose time is more than ``max_skew_s`` from it.
``SimulatedOracle`` is the same signer over a ``SimulatedFeed`` without a
clock, for in-process tests of the operator. Never uses floats, never does I/O.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from oracle.feed import FeedError, PriceFeed, SimulatedFeed
from verifier.babyjub import Point
from verifier.eddsa import (
    PrivateKey,
    SerializationError,
    Signature,
    signature_from_dict,
    signature_to_dict,
    verify_poseidon,
)
from verifier.encoding import oracle_message
from verifier.field import FieldError
from verifier.params import BPS_DENOM, PRICE_BITS, TIME_BITS

__all__ = [
    "DEFAULT_MAX_SKEW_S",
    "Oracle",
    "OracleError",
    "OracleReport",
    "OracleSigner",
    "SimulatedOracle",
]

#: How far (seconds) a requested report time may be from the oracle's clock.
DEFAULT_MAX_SKEW_S = 30


class OracleError(ValueError):
    """A price report is malformed, refused, or its signature does not verify."""


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

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "OracleReport":
        """Inverse of ``to_dict``; raises OracleError on a missing or malformed field."""
        try:
            batch_id = _integer(obj["batch_id"], "batch_id", 64)
            timestamp = _integer(obj["timestamp"], "timestamp", TIME_BITS)
            raw = obj["prices"]
            if not isinstance(raw, list) or not raw:
                raise OracleError("report prices must be a non-empty list")
            prices = tuple(_integer(p, "price", PRICE_BITS) for p in raw)
            signature = signature_from_dict(obj["signature"])
        except KeyError as exc:
            raise OracleError(f"report has no field {exc}") from None
        except (SerializationError, TypeError) as exc:
            raise OracleError(f"report signature: {exc}") from None
        return cls(batch_id, timestamp, prices, signature)


def _integer(value: object, name: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OracleError(f"report {name} must be an integer")
    try:
        n = int(value)
    except ValueError:
        raise OracleError(f"report {name} must be a decimal integer") from None
    if not 0 <= n < 1 << bits:
        raise OracleError(f"report {name} {n} is outside [0, 2^{bits})")
    return n


class Oracle(Protocol):
    """What the operator needs from a price source."""

    @property
    def public_key(self) -> Point: ...

    @property
    def oracle_tag(self) -> int: ...

    def report(self, batch_id: int, timestamp: int) -> OracleReport:
        """A signed report for ``batch_id`` near unix second ``timestamp``."""
        ...


class OracleSigner:
    """Signs a ``PriceFeed``'s prices with the oracle key.

    With ``clock`` (unix seconds), a report is signed at the oracle's own time
    (never earlier than its previous report) and a request for a time more than
    ``max_skew_s`` away is refused with ``OracleError``. Without one (tests),
    the requested time is signed as given.
    """

    def __init__(
        self,
        feed: PriceFeed,
        oracle_tag: int,
        *,
        key: PrivateKey | None = None,
        clock: Callable[[], int] | None = None,
        max_skew_s: int = DEFAULT_MAX_SKEW_S,
    ) -> None:
        if max_skew_s < 0:
            raise OracleError("max_skew_s must be non-negative")
        self.feed = feed
        self._tag = oracle_tag
        self._key = key if key is not None else PrivateKey.generate()
        self._clock = clock
        self.max_skew_s = max_skew_s
        self._last_timestamp = 0

    @property
    def public_key(self) -> Point:
        return self._key.public_key()

    @property
    def oracle_tag(self) -> int:
        return self._tag

    @property
    def markets(self) -> int:
        return self.feed.markets

    def now(self) -> int | None:
        """The oracle's clock (unix seconds), or None for a signer without one."""
        return self._clock() if self._clock is not None else None

    def sign(self, batch_id: int, timestamp: int, prices: Sequence[int]) -> OracleReport:
        try:
            msg = oracle_message(self._tag, batch_id, timestamp, prices)
        except FieldError as exc:
            raise OracleError(f"cannot sign report: {exc}") from None
        return OracleReport(batch_id, timestamp, tuple(prices), self._key.sign(msg))

    def report(self, batch_id: int, timestamp: int) -> OracleReport:
        if self._clock is not None:
            now = self._clock()
            if abs(timestamp - now) > self.max_skew_s:
                raise OracleError(
                    f"requested time {timestamp} is {abs(timestamp - now)}s from the oracle's "
                    f"clock ({now}); the limit is {self.max_skew_s}s"
                )
            timestamp = max(now, self._last_timestamp)
        try:
            prices = self.feed.prices(batch_id, timestamp)
        except FeedError as exc:
            raise OracleError(f"no price: {exc}") from None
        report = self.sign(batch_id, timestamp, prices)
        self._last_timestamp = max(self._last_timestamp, timestamp)
        return report


class SimulatedOracle(OracleSigner):
    """A signer over a ``SimulatedFeed`` with a run-time key and no clock (tests only)."""

    def __init__(
        self,
        start_prices: Sequence[int],
        oracle_tag: int,
        *,
        seed: int = 0,
        max_step_bps: int = 50,
        key: PrivateKey | None = None,
    ) -> None:
        try:
            feed = SimulatedFeed(start_prices, seed=seed, max_step_bps=max_step_bps)
        except FeedError as exc:
            raise OracleError(str(exc)) from None
        super().__init__(feed, oracle_tag, key=key)
        self._simulated = feed

    def prices_at(self, batch_id: int) -> tuple[int, ...]:
        return self._simulated.prices_at(batch_id)

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
