"""Resource Graph's per-caller quota: so many queries in each window of a few seconds.

Azure documents 15 queries per 5-second window per user and reports the state in every
response (``x-ms-user-quota-remaining``, ``x-ms-user-quota-resets-after``); a caller over
the quota gets a 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    remaining: int
    resets_after: float  # seconds

    def headers(self) -> dict[str, str]:
        seconds = math.ceil(self.resets_after)
        hours, minutes = divmod(seconds // 60, 60)
        headers = {
            "x-ms-user-quota-remaining": str(self.remaining),
            "x-ms-user-quota-resets-after": f"{hours:02}:{minutes:02}:{seconds % 60:02}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, seconds))
        return headers


class Throttle:
    """Fixed windows per caller, opened by the caller's first query."""

    def __init__(
        self, quota: int = 15, window: float = 5.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.quota = quota
        self.window = window
        self._now = now
        self._windows: dict[str, tuple[float, int]] = {}

    def take(self, caller: str) -> Allowance:
        """Count one query of ``caller`` if the quota allows it."""
        now = self._now()
        opened, used = self._windows.get(caller, (now, 0))
        if now - opened >= self.window:
            opened, used = now, 0
            self._forget_closed(now)
        resets_after = self.window - (now - opened)
        if used >= self.quota:
            return Allowance(False, 0, resets_after)
        self._windows[caller] = (opened, used + 1)
        return Allowance(True, self.quota - used - 1, resets_after)

    def _forget_closed(self, now: float) -> None:
        if len(self._windows) > 10_000:
            self._windows = {
                caller: state
                for caller, state in self._windows.items()
                if now - state[0] < self.window
            }
