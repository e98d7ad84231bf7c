"""Intake rate limits: per client IP and per trading account, moving windows in memory.

Spam resistance (issue 12): a request over a limit raises
``exchange.errors.TooManyRequests`` (HTTP 429) with a one-line reason, and
changes nothing. Limits are per process and reset
on restart (they protect capacity, not money: account slots cost the
genesis minimum deposit, and order storage recycles). Built on ``limits``
(MIT) moving-window counters; a limit of 0 disables that check.
"""

from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from exchange.errors import TooManyRequests

__all__ = ["IntakeLimits"]


@dataclass
class IntakeLimits:
    """Per-IP request and per-account order limits, per minute (0 = unlimited)."""

    per_ip_per_minute: int
    orders_per_account_per_minute: int

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._ip = RateLimitItemPerMinute(max(self.per_ip_per_minute, 1))
        self._account = RateLimitItemPerMinute(max(self.orders_per_account_per_minute, 1))

    def hit_ip(self, ip: str) -> None:
        """Count one mutating request from ``ip``; raise TooManyRequests over the limit."""
        if self.per_ip_per_minute and not self._limiter.hit(self._ip, "ip", ip):
            raise TooManyRequests(
                f"rate limit: at most {self.per_ip_per_minute} requests per minute per client"
            )

    def hit_account(self, account: int) -> None:
        """Count one order or cancel of ``account``; raise TooManyRequests over the limit."""
        if self.orders_per_account_per_minute and not self._limiter.hit(
            self._account, "account", str(account)
        ):
            raise TooManyRequests(
                f"rate limit: account {account} may submit at most "
                f"{self.orders_per_account_per_minute} orders per minute"
            )
