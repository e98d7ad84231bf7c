"""Signed price reports: the report record, the ``Oracle`` interface and the signer.

A report is ``verifier.oracle.OracleReport`` (kind MARK, seq, timestamp,
integer mark and index prices in ticks per market) signed with the oracle's
EdDSA-Poseidon key over ``verifier.oracle.report_message``; the verifier checks
that signature and that every proof used exactly those prices. Stress
scenarios are never signed: the verifier derives them from a real report and
a public shock vector (``verifier.oracle.stressed_prices``).

``OracleSigner`` signs prices from a ``PriceFeed`` with a key the operator
never holds: in production it runs in its own process (``darkpool oracle
serve``, ``oracle.app``) and the operator reaches it over HTTP
(``oracle.client.HttpOracle``). With a clock it signs at its own time and
refuses a request whose time is more than ``max_skew_s`` from it.
``SimulatedOracle`` is the same signer over a ``SimulatedFeed`` without a
clock, for in-process tests of the operator. Never uses floats, never does I/O.
"""

from collections.abc import Callable, Sequence
from typing import Protocol

from oracle.feed import FeedError, PriceFeed, SimulatedFeed
from verifier.babyjub import Point
from verifier.eddsa import PrivateKey
from verifier.oracle import OracleFormatError, OracleReport, sign_report

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


class Oracle(Protocol):
    """What the operator needs from a price source."""

    @property
    def public_key(self) -> Point: ...

    @property
    def oracle_tag(self) -> int: ...

    def report(self, seq: int, timestamp: int) -> OracleReport:
        """Signed report number ``seq`` near unix second ``timestamp``."""
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

    def sign(
        self,
        seq: int,
        timestamp: int,
        prices: Sequence[int],
        index: Sequence[int] | None = None,
    ) -> OracleReport:
        """Sign a real mark report with these marks and index prices (default: the marks)."""
        try:
            return sign_report(self._key, self._tag, seq, timestamp, prices, index)
        except OracleFormatError as exc:
            raise OracleError(str(exc)) from None

    def report(self, seq: int, timestamp: int) -> OracleReport:
        if self._clock is not None:
            now = self._clock()
            if abs(timestamp - now) > self.max_skew_s:
                raise OracleError(
                    f"requested time {timestamp} is {abs(timestamp - now)}s from the oracle's "
                    f"clock ({now}); the limit is {self.max_skew_s}s"
                )
            timestamp = max(now, self._last_timestamp)
        try:
            quote = self.feed.quote(seq, timestamp)
        except FeedError as exc:
            raise OracleError(f"no price: {exc}") from None
        if len(quote.marks) != self.feed.markets:
            raise OracleError(f"no price: the feed quoted {len(quote.marks)} markets")
        report = self.sign(seq, timestamp, quote.marks, quote.index)
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
