"""Properties of the schedule engine, checked against an independent, brute-force expansion.

The reference walks the calendar day by day, asks "does this date match the rule?" with
its own arithmetic, and turns wall-clock times into instants by trying every UTC offset the
zone uses (scanning minute by minute through a daylight-saving gap). The engine jumps
straight to the window it needs; both must agree.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, reject, settings
from hypothesis import strategies as st

from upkeep.maintenance.schedule import (
    WEEKDAYS,
    Frequency,
    Recurrence,
    Schedule,
    ScheduleError,
    next_occurrences,
    parse_schedule,
)

ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute daylight-saving shift
    "Asia/Kolkata",
    "Pacific/Auckland",
    "America/Santiago",
]
ORDINALS = ["First", "Second", "Third", "Fourth", "Last"]


@st.composite
def recurrences(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["hour", "day", "week", "month-days", "month-weekday"]))
    if kind == "hour":
        return f"{draw(st.integers(6, 48))}Hours"
    if kind == "day":
        return f"{draw(st.integers(1, 12))}Days"
    if kind == "week":
        days = draw(st.lists(st.sampled_from(WEEKDAYS), max_size=4, unique=True))
        listed = ",".join(day.title() for day in days)
        return f"{draw(st.integers(1, 4))}Weeks {listed}".strip()
    count = draw(st.integers(1, 4))
    if kind == "month-days":
        days = draw(st.lists(st.integers(1, 31), max_size=4, unique=True))
        return f"{count}Months {','.join(f'day{day}' for day in days)}".strip()
    ordinal = draw(st.sampled_from(ORDINALS))
    weekday = draw(st.sampled_from(WEEKDAYS)).title()
    offset = draw(st.integers(-6, 6))
    suffix = f" Offset{offset}" if offset else ""
    return f"{count}Months {ordinal} {weekday}{suffix}"


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    start = draw(st.datetimes(datetime(2021, 1, 1), datetime(2031, 12, 31))).replace(
        second=0, microsecond=0
    )
    fields = {
        "startDateTime": start.strftime("%Y-%m-%d %H:%M"),
        "timeZone": draw(st.sampled_from(ZONES)),
        "recurEvery": draw(recurrences()),
        "duration": draw(st.sampled_from(["01:30", "02:00", "03:55"])),
    }
    if draw(st.booleans()):
        expiration = start + timedelta(days=draw(st.integers(60, 900)))
        fields["expirationDateTime"] = expiration.strftime("%Y-%m-%d %H:%M")
    try:
        return parse_schedule(fields)
    except ScheduleError:  # e.g. day31 every 4 months expiring within 60 days: no window
        reject()


# --- the reference -------------------------------------------------------------------


def reference_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose wall-clock time is ``local``; in a gap, the first after it."""
    offsets = {
        (local + timedelta(hours=hours)).replace(tzinfo=zone).utcoffset()
        for hours in range(-48, 49, 6)
    }
    candidates = sorted(
        (local - offset).replace(tzinfo=UTC) for offset in offsets if offset is not None
    )
    exact = [u for u in candidates if u.astimezone(zone).replace(tzinfo=None) == local]
    if exact:
        return exact[0]
    moment = candidates[0]
    while moment.astimezone(zone).replace(tzinfo=None) <= local:
        moment += timedelta(minutes=1)
    return moment


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def reference_matches(rule: Recurrence, origin: date, day: date) -> bool:
    if rule.frequency is Frequency.DAY:
        return (day - origin).days % rule.interval == 0
    if rule.frequency is Frequency.WEEK:
        monday = origin - timedelta(days=origin.weekday())
        week = (day - monday).days // 7
        return week % rule.interval == 0 and day.weekday() in (rule.weekdays or (origin.weekday(),))
    if rule.weekday is None:
        steps = month_index(day) - month_index(origin)
        return steps % rule.interval == 0 and day.day in (rule.month_days or (origin.day,))
    base = day - timedelta(days=rule.offset_days)
    steps = month_index(base) - month_index(origin)
    if steps < 0 or steps % rule.interval or base.weekday() != rule.weekday:
        return False
    if rule.week_of_month == -1:
        return base.day + 7 > calendar.monthrange(base.year, base.month)[1]
    return (base.day - 1) // 7 == (rule.week_of_month or 1) - 1


def reference_starts(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    rule = schedule.recurrence
    found: list[datetime] = []
    if rule.frequency is Frequency.HOUR:
        moment = schedule.start_utc
        while len(found) < count:
            if moment >= after:
                found.append(moment)
            moment += timedelta(hours=rule.interval)
    else:
        origin = schedule.start.date()
        day = max(
            origin, (after - timedelta(days=2)).astimezone(schedule.zone).date() - timedelta(days=7)
        )
        for _ in range(count * 40 * 31 * rule.interval):
            if day >= origin and reference_matches(rule, origin, day):
                moment = reference_instant(
                    datetime.combine(day, schedule.start.time()), schedule.zone
                )
                if moment >= after:
                    found.append(moment)
                    if len(found) == count:
                        break
            day += timedelta(days=1)
    if schedule.expiration_utc is not None:
        found = [moment for moment in found if moment <= schedule.expiration_utc]
    return found


# --- properties ----------------------------------------------------------------------

COUNT = 12


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), lead=st.integers(-400, 4000))
def test_windows_match_an_independent_expansion(schedule: Schedule, lead: int) -> None:
    after = schedule.start_utc + timedelta(days=lead, minutes=lead * 7)
    found = [occurrence.start for occurrence in next_occurrences(schedule, after, COUNT)]
    assert found == reference_starts(schedule, max(after, schedule.start_utc), COUNT)


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), index=st.integers(0, 30), before=st.integers(0, 4 * 24 * 60))
def test_the_next_window_is_found_from_just_before_any_window(
    schedule: Schedule, index: int, before: int
) -> None:
    windows = reference_starts(schedule, schedule.start_utc, index + 1)
    if len(windows) <= index:
        return  # the schedule expires before that many windows
    after = max(windows[index] - timedelta(minutes=before), schedule.start_utc)
    found = [occurrence.start for occurrence in next_occurrences(schedule, after, 3)]
    assert found == reference_starts(schedule, after, 3)


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), lead=st.integers(0, 2000))
def test_windows_increase_stay_in_range_and_last_their_duration(
    schedule: Schedule, lead: int
) -> None:
    after = schedule.start_utc + timedelta(days=lead)
    found = next_occurrences(schedule, after, COUNT)
    starts = [occurrence.start for occurrence in found]
    assert starts == sorted(set(starts))
    for occurrence in found:
        assert occurrence.start >= max(after, schedule.start_utc)
        assert schedule.expiration_utc is None or occurrence.start <= schedule.expiration_utc
        assert occurrence.end - occurrence.start == schedule.duration


@settings(max_examples=200, deadline=None)
@given(schedule=schedules())
def test_non_hourly_windows_start_at_the_configured_wall_clock_time(schedule: Schedule) -> None:
    if schedule.recurrence.frequency is Frequency.HOUR:
        return
    for occurrence in next_occurrences(schedule, schedule.start_utc, COUNT):
        local = occurrence.start.astimezone(schedule.zone).replace(tzinfo=None)
        # equal, or later only when the configured time fell into a daylight-saving gap
        assert local.time() == schedule.start.time() or (
            local > datetime.combine(local.date(), schedule.start.time())
            and local - datetime.combine(local.date(), schedule.start.time()) <= timedelta(hours=1)
        )
