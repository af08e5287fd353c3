"""Maintenance windows: parse and validate them, and expand them into occurrences.

Pure functions, no I/O and no clock: callers pass the instants they care about.

A window is laid out in its own time zone: every occurrence starts at the same local
wall-clock time, so its UTC instant moves across daylight-saving changes. A start that
falls into a spring-forward gap begins when the gap ends (the first instant the wall clock
has passed it); a start in an autumn overlap takes the first of the two instants. The
duration is elapsed time. No occurrence starts after the expiration.

``recurEvery`` grammar (case-insensitive; the count defaults to 1, units singular or plural):

- ``[n]Hour(s)``, n >= 6 (hours are elapsed time, counted from the start instant);
- ``[n]Day(s)``;
- ``[n]Week(s) [Monday,...,Sunday]`` (weeks run Monday to Sunday; the week holding the start
  is week 0; without weekdays, the start's weekday);
- ``[n]Month(s) [dayN,...]`` (without days, the start's day of the month; a month without
  that day is skipped);
- ``[n]Month(s) First|Second|Third|Fourth|Last <Weekday> [Offset-6 ... Offset6]`` (the offset
  moves the occurrence by whole days, possibly into the next or previous month).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from upkeep.maintenance.timezones import resolve_time_zone

#: Window length limits of the InGuestPatch scope.
SHORTEST_WINDOW = timedelta(hours=1, minutes=30)
LONGEST_WINDOW = timedelta(hours=3, minutes=55)
#: Used when a configuration gives no duration (Azure: "a default based on the scope").
DEFAULT_WINDOW = LONGEST_WINDOW
#: Time a machine keeps at the end of a window for its reboot, unless the reboot setting is
#: Never: no update starts that would run into it (Azure's figures).
REBOOT_RESERVE = {"Linux": timedelta(minutes=15), "Windows": timedelta(minutes=10)}
#: The expected time of one update: a Windows update, or a Linux batch of three packages.
UPDATE_TIME = timedelta(minutes=15)
SHORTEST_HOURLY_RECURRENCE = 6
LONGEST_INTERVAL = 999

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}


class ScheduleError(ValueError):
    """A window field breaks a rule. ``field`` is its name inside ``maintenanceWindow``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Frequency(enum.Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Recurrence:
    frequency: Frequency
    interval: int = 1
    #: Weekly: the weekdays (0 = Monday); empty means the start's weekday.
    weekdays: tuple[int, ...] = ()
    #: Monthly by dates: the days of the month; empty (and no weekday) means the start's day.
    month_days: tuple[int, ...] = ()
    #: Monthly by weekday: 1-4 or -1 for the last, with the weekday and a day offset.
    week_of_month: int | None = None
    weekday: int | None = None
    offset_days: int = 0


class Occurrence(NamedTuple):
    """One window, as UTC instants."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    """A parsed, valid maintenance window."""

    start: datetime  # local wall-clock time in ``zone``, naive
    duration: timedelta
    zone: ZoneInfo
    recurrence: Recurrence
    expiration: datetime | None  # local wall-clock time, naive; None = never
    start_utc: datetime
    expiration_utc: datetime | None

    def expires_before(self, instant: datetime) -> bool:
        return self.expiration_utc is not None and self.expiration_utc <= instant


# --- parsing -------------------------------------------------------------------------

_RECURRENCE = re.compile(r"^\s*(\d*)\s*(hours?|days?|weeks?|months?)(?![a-z])\s*(.*?)\s*$", re.I)
_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$")
_DURATION = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_MONTH_DAY = re.compile(r"^day(\d{1,2})$", re.I)
_OFFSET = re.compile(r"^offset([+-]?\d+)$", re.I)


def parse_recurrence(text: str) -> Recurrence:
    found = _RECURRENCE.match(text) if isinstance(text, str) else None
    if not found:
        raise ScheduleError(
            "recurEvery",
            f"'{text}' is not a recurrence; write [n]Hours, [n]Days, [n]Weeks [weekdays] or"
            " [n]Months [dayN,... | First..Fourth|Last <weekday> [OffsetK]]",
        )
    count, unit, rest = found.groups()
    interval = int(count) if count else 1
    if not 1 <= interval <= LONGEST_INTERVAL:
        raise ScheduleError("recurEvery", f"the count in '{text}' must be 1 to {LONGEST_INTERVAL}")
    frequency = Frequency(unit.lower().rstrip("s"))
    if frequency in (Frequency.HOUR, Frequency.DAY):
        if rest:
            raise ScheduleError("recurEvery", f"'{rest}' cannot follow '{unit}' in '{text}'")
        if frequency is Frequency.HOUR and interval < SHORTEST_HOURLY_RECURRENCE:
            raise ScheduleError(
                "recurEvery",
                f"'{text}' recurs every {interval} hours; windows must be at least"
                f" {SHORTEST_HOURLY_RECURRENCE} hours apart",
            )
        return Recurrence(frequency, interval)
    if frequency is Frequency.WEEK:
        return Recurrence(frequency, interval, weekdays=_weekday_list(rest, text))
    return _monthly(interval, rest, text)


def _weekday_list(rest: str, text: str) -> tuple[int, ...]:
    if not rest:
        return ()
    days = set()
    for item in rest.split(","):
        name = item.strip().lower()
        if name not in WEEKDAYS:
            raise ScheduleError(
                "recurEvery", f"'{item.strip()}' in '{text}' is not a weekday (Monday ... Sunday)"
            )
        days.add(WEEKDAYS.index(name))
    return tuple(sorted(days))


def _monthly(interval: int, rest: str, text: str) -> Recurrence:
    if not rest:
        return Recurrence(Frequency.MONTH, interval)
    if rest.lower().startswith("day"):
        days = set()
        for item in rest.split(","):
            found = _MONTH_DAY.match(item.strip())
            if not found or not 1 <= int(found.group(1)) <= 31:
                raise ScheduleError(
                    "recurEvery",
                    f"'{item.strip()}' in '{text}' is not a day of the month (day1 ... day31)",
                )
            days.add(int(found.group(1)))
        return Recurrence(Frequency.MONTH, interval, month_days=tuple(sorted(days)))
    words = rest.split()
    if len(words) not in (2, 3) or words[0].lower() not in ORDINALS:
        raise ScheduleError(
            "recurEvery",
            f"'{rest}' in '{text}' is neither a list of days (day1,day15) nor"
            " '<First|Second|Third|Fourth|Last> <weekday> [OffsetK]'",
        )
    if words[1].lower() not in WEEKDAYS:
        raise ScheduleError(
            "recurEvery", f"'{words[1]}' in '{text}' is not a weekday (Monday ... Sunday)"
        )
    offset = 0
    if len(words) == 3:
        found = _OFFSET.match(words[2])
        if not found or not -6 <= int(found.group(1)) <= 6:
            raise ScheduleError(
                "recurEvery",
                f"'{words[2]}' in '{text}' is not an offset; write Offset-6 ... Offset6",
            )
        offset = int(found.group(1))
    return Recurrence(
        Frequency.MONTH,
        interval,
        week_of_month=ORDINALS[words[0].lower()],
        weekday=WEEKDAYS.index(words[1].lower()),
        offset_days=offset,
    )


def parse_local_time(text: Any, field: str) -> datetime:
    """``2026-11-26 09:30`` (seconds optional) -> a naive wall-clock datetime."""
    found = _DATE_TIME.match(text) if isinstance(text, str) else None
    if not found:
        raise ScheduleError(
            field, f"'{text}' is not a date and time in the form 'YYYY-MM-DD hh:mm'"
        )
    year, month, day, hour, minute, second = (int(part or 0) for part in found.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as error:
        raise ScheduleError(field, f"'{text}' is not a valid date and time: {error}") from None


def parse_duration(text: Any) -> timedelta:
    """``HH:MM`` (seconds optional) within the InGuestPatch limits of 01:30 to 03:55."""
    found = _DURATION.match(text) if isinstance(text, str) else None
    if not found or int(found.group(2)) > 59 or int(found.group(3) or 0) > 59:
        raise ScheduleError("duration", f"'{text}' is not a duration in the form 'HH:MM'")
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    duration = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not SHORTEST_WINDOW <= duration <= LONGEST_WINDOW:
        raise ScheduleError(
            "duration",
            f"'{text}' is outside the 01:30 to 03:55 that an InGuestPatch window may last",
        )
    return duration


def parse_schedule(window: Mapping[str, Any]) -> Schedule:
    """Validate a ``maintenanceWindow`` object; raise :class:`ScheduleError` on the first fault."""
    for field in ("startDateTime", "timeZone", "recurEvery"):
        if not window.get(field):
            raise ScheduleError(field, "a value is required for a recurring InGuestPatch window")
    try:
        zone = resolve_time_zone(window["timeZone"])
    except ValueError as error:
        raise ScheduleError("timeZone", str(error)) from None
    start = parse_local_time(window["startDateTime"], "startDateTime")
    recurrence = parse_recurrence(window["recurEvery"])
    duration = parse_duration(window["duration"]) if window.get("duration") else DEFAULT_WINDOW
    expiration = None
    if window.get("expirationDateTime"):
        expiration = parse_local_time(window["expirationDateTime"], "expirationDateTime")
        if expiration <= start:
            raise ScheduleError(
                "expirationDateTime",
                f"'{window['expirationDateTime']}' is not after the start"
                f" '{window['startDateTime']}'",
            )
    schedule = Schedule(
        start=start,
        duration=duration,
        zone=zone,
        recurrence=recurrence,
        expiration=expiration,
        start_utc=to_utc(start, zone),
        expiration_utc=to_utc(expiration, zone) if expiration else None,
    )
    if not next_occurrences(schedule, schedule.start_utc, 1):
        raise ScheduleError(
            "recurEvery",
            f"'{window['recurEvery']}' starting {window['startDateTime']} never produces a"
            f" window before the expiration {window['expirationDateTime']}",
        )
    return schedule


# --- local time ----------------------------------------------------------------------


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time; a time in a gap moves to the end of the gap,
    a time that happens twice takes the first."""
    return _instant(local.replace(tzinfo=zone))


def _instant(local: datetime) -> datetime:
    """:func:`to_utc` for an aware wall-clock time (fold 0)."""
    instant = local.astimezone(UTC)
    back = instant.astimezone(local.tzinfo)
    # comparing the fields, not the datetimes: aware datetimes compare as instants
    if (back.minute, back.hour, back.day, back.second) == (
        local.minute,
        local.hour,
        local.day,
        local.second,
    ):
        return instant  # the wall-clock time exists: no gap
    zone = local.tzinfo
    local = local.replace(tzinfo=None)
    # In a gap: the end of the gap is the first instant whose wall-clock time is later.
    early = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(early, instant), max(early, instant)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) > local:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


# --- expansion -----------------------------------------------------------------------


def next_occurrences(schedule: Schedule, after: datetime, count: int) -> list[Occurrence]:
    """The first ``count`` windows that start at or after ``after`` (an aware instant)."""
    found: list[Occurrence] = []
    for start in _starts_from(schedule, max(after, schedule.start_utc)):
        if schedule.expiration_utc is not None and start > schedule.expiration_utc:
            break
        found.append(Occurrence(start, start + schedule.duration))
        if len(found) == count:
            break
    return found


def occurrence_at(schedule: Schedule, instant: datetime) -> Occurrence | None:
    """The window open at ``instant``, if one is."""
    for occurrence in next_occurrences(schedule, instant - schedule.duration, 2):
        if occurrence.start <= instant < occurrence.end:
            return occurrence
    return None


def _starts_from(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """UTC starts at or after ``after`` (which is not before the schedule's start), in order."""
    recurrence = schedule.recurrence
    if recurrence.frequency is Frequency.HOUR:
        period = timedelta(hours=recurrence.interval)
        steps = -(-(after - schedule.start_utc) // period)  # ceiling division
        start = schedule.start_utc + steps * period
        while True:
            yield start
            start += period
    clock_time, zone = schedule.start.time(), schedule.zone
    for day in _local_days_from(schedule, after.astimezone(zone).date()):
        start = _instant(datetime.combine(day, clock_time, zone))
        if start >= after:
            yield start


def _local_days_from(schedule: Schedule, first: date) -> Iterator[date]:
    """Local dates that have a window, in order, from about ``first`` on (never before the
    schedule's start date); may begin a little before ``first``."""
    recurrence = schedule.recurrence
    origin = schedule.start.date()
    first = max(first, origin)
    if recurrence.frequency is Frequency.DAY:
        step = recurrence.interval
        day = origin + timedelta(days=(first - origin).days // step * step)
        while True:
            yield day
            day += timedelta(days=step)
    elif recurrence.frequency is Frequency.WEEK:
        yield from _weekly_days(schedule, first)
    else:
        yield from _monthly_days(schedule, first)


def _weekly_days(schedule: Schedule, first: date) -> Iterator[date]:
    recurrence = schedule.recurrence
    origin = schedule.start.date()
    anchor = origin - timedelta(days=origin.weekday())  # Monday of week 0
    weekdays = recurrence.weekdays or (origin.weekday(),)
    week = (first - anchor).days // 7 // recurrence.interval * recurrence.interval
    while True:
        monday = anchor + timedelta(weeks=week)
        for weekday in weekdays:
            day = monday + timedelta(days=weekday)
            if day >= origin:
                yield day
        week += recurrence.interval


def _monthly_days(schedule: Schedule, first: date) -> Iterator[date]:
    recurrence = schedule.recurrence
    origin = schedule.start.date()
    origin_index = origin.year * 12 + origin.month - 1
    # an offset can pull a month's occurrence into the previous month: start one step back
    months = (first.year * 12 + first.month - 1 - origin_index) // recurrence.interval - 1
    index = origin_index + max(months, 0) * recurrence.interval
    while True:
        year, month = divmod(index, 12)
        for day in sorted(_days_in_month(recurrence, origin, year, month + 1)):
            if day >= origin:
                yield day
        index += recurrence.interval


def _days_in_month(recurrence: Recurrence, origin: date, year: int, month: int) -> list[date]:
    if recurrence.weekday is not None and recurrence.week_of_month is not None:
        return [_nth_weekday(year, month, recurrence) + timedelta(days=recurrence.offset_days)]
    days = recurrence.month_days or (origin.day,)
    return [date(year, month, day) for day in days if day <= _month_length(year, month)]


def _nth_weekday(year: int, month: int, recurrence: Recurrence) -> date:
    weekday, ordinal = recurrence.weekday or 0, recurrence.week_of_month or 1
    if ordinal == -1:
        last = date(year, month, _month_length(year, month))
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    first_match = first + timedelta(days=(weekday - first.weekday()) % 7)
    return first_match + timedelta(weeks=ordinal - 1)


def _month_length(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def format_local(instant: datetime, zone: ZoneInfo) -> str:
    """``2026-11-26 09:30 +05:30`` in the given zone."""
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M %z")
