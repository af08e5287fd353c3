"""Time zone names: Windows ids (as Azure uses them) and IANA names, case-insensitively.

The Windows -> IANA table is CLDR's, as maintained in ``tzlocal``; the zone rules come from
the IANA database (``zoneinfo``, with the ``tzdata`` package where the OS has none).
"""

from __future__ import annotations

import zoneinfo
from functools import cache
from zoneinfo import ZoneInfo

from tzlocal.windows_tz import win_tz


@cache
def _names() -> dict[str, str]:
    """Every accepted name, lowercased, mapped to the IANA key it means."""
    names = {name.lower(): name for name in zoneinfo.available_timezones()}
    names.update({windows.lower(): iana for windows, iana in win_tz.items()})
    names.setdefault("utc", "UTC")
    return names


@cache
def resolve_time_zone(name: str) -> ZoneInfo:
    """The zone a Windows id (``India Standard Time``) or IANA name (``Asia/Kolkata``) means."""
    key = _names().get(name.strip().lower()) if isinstance(name, str) else None
    if key is None:
        raise ValueError(
            f"'{name}' is not a known time zone; use a Windows time zone id such as"
            " 'Pacific Standard Time' or an IANA name such as 'America/Los_Angeles'"
        )
    return ZoneInfo(key)
