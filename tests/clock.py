"""Test-only: a clock the test moves by hand (``clock.now = t``), for code that takes ``clock=``."""

import time

__all__ = ["ManualClock"]


class ManualClock:
    """Returns ``now`` (unix seconds) until the test changes it; starts at ``start`` or the wall clock."""

    def __init__(self, start: int | None = None) -> None:
        self.now = int(time.time()) if start is None else start

    def __call__(self) -> int:
        return self.now
