"""The one source of "now": code that needs the time takes a clock, so tests can set it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: Returns the current instant as an aware UTC datetime.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)
