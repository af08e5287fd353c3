"""Spans of time as people write them on command lines: ``90s``, ``10m``, ``24h``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_SPAN = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_span(text: str) -> timedelta:
    """``30d``, ``24h``, ``90m``, ``45s``, ``2w`` -> a timedelta; ``ValueError`` otherwise."""
    found = _SPAN.match(text.strip().lower())
    if not found or int(found.group(1)) == 0:
        raise ValueError(
            f"'{text}' is not a span of time; write a number and s, m, h, d or w (e.g. 30d)"
        )
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
