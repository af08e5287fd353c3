"""Rollout safety, an Upkeep extension to maintenance configurations.

Two optional ``extensionProperties`` (strings, as every extension property is):

- ``maxConcurrency``: how many of a run's machines are patched at once, a number ("10")
  or a percentage of the run's machines ("25%", rounded up, at least one);
- ``maxErrors``: how many machines may fail before the run stops starting others, a
  number or a percentage (rounded down). As in AWS Systems Manager, the run stops once the
  failures *exceed* it: "0" stops after the first failure.

Without them a run patches every machine at once and never stops, as Azure does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

MAX_CONCURRENCY, MAX_ERRORS = "maxConcurrency", "maxErrors"
_AMOUNT = re.compile(r"^\s*(\d+)\s*(%?)\s*$")


def check_amount(key: str, value: str) -> None:
    """Raise ValueError unless ``value`` is a valid amount for ``key``."""
    found = _AMOUNT.match(value) if isinstance(value, str) else None
    lowest = 1 if key == MAX_CONCURRENCY else 0
    if (
        found is None
        or int(found.group(1)) < lowest
        or (found.group(2) and int(found.group(1)) > 100)
    ):
        raise ValueError(
            f"{key} '{value}' must be a whole number (at least {lowest}) or a percentage"
            f" from {lowest}% to 100%"
        )


@dataclass(frozen=True)
class Rollout:
    max_concurrency: str | None = None
    max_errors: str | None = None

    @classmethod
    def of(cls, extension_properties: dict[str, Any] | None) -> Rollout:
        """The rollout settings among a configuration's extension properties."""
        named = {key.lower(): value for key, value in (extension_properties or {}).items()}
        return cls(named.get(MAX_CONCURRENCY.lower()), named.get(MAX_ERRORS.lower()))

    def concurrency(self, machines: int) -> int:
        """How many of ``machines`` may be patched at once."""
        if self.max_concurrency is None:
            return machines
        number, percent = _amount(self.max_concurrency)
        return max(1, math.ceil(machines * number / 100)) if percent else number

    def tolerated_errors(self, machines: int) -> int | None:
        """How many failed machines the run tolerates; None: any number."""
        if self.max_errors is None:
            return None
        number, percent = _amount(self.max_errors)
        return math.floor(machines * number / 100) if percent else number

    def as_document(self) -> dict[str, str]:
        settings = {MAX_CONCURRENCY: self.max_concurrency, MAX_ERRORS: self.max_errors}
        return {key: value for key, value in settings.items() if value is not None}


def _amount(value: str) -> tuple[int, bool]:
    found = _AMOUNT.match(value)
    assert found is not None  # checked when the configuration was stored
    return int(found.group(1)), bool(found.group(2))
