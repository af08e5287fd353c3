"""The schedule engine: every recurEvery form, parsed and expanded at the right instants,
in non-UTC time zones, across daylight-saving changes, month ends and leap years."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from upkeep.maintenance.schedule import (
    Frequency,
    Recurrence,
    ScheduleError,
    next_occurrences,
    occurrence_at,
    parse_recurrence,
    parse_schedule,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def window(recur: str, start: str, zone: str = "UTC", duration: str = "02:00", **more: str) -> dict:
    return {
        "startDateTime": start,
        "timeZone": zone,
        "recurEvery": recur,
        "duration": duration,
        **more,
    }


def starts(
    recur: str, start: str, zone: str, count: int, after: datetime | None = None, **more: str
) -> list[datetime]:
    schedule = parse_schedule(window(recur, start, zone, **more))
    return [o.start for o in next_occurrences(schedule, after or schedule.start_utc, count)]


# --- grammar -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Day", Recurrence(Frequency.DAY)),
        ("day", Recurrence(Frequency.DAY)),
        ("1Day", Recurrence(Frequency.DAY)),
        ("3Days", Recurrence(Frequency.DAY, 3)),
        ("20days", Recurrence(Frequency.DAY, 20)),
        ("6Hours", Recurrence(Frequency.HOUR, 6)),
        ("8Hour", Recurrence(Frequency.HOUR, 8)),
        ("Week", Recurrence(Frequency.WEEK)),
        ("3Weeks", Recurrence(Frequency.WEEK, 3)),
        ("Week Saturday,Sunday", Recurrence(Frequency.WEEK, weekdays=(5, 6))),
        ("2Weeks Saturday,Sunday", Recurrence(Frequency.WEEK, 2, weekdays=(5, 6))),
        ("week Monday, Tuesday", Recurrence(Frequency.WEEK, weekdays=(0, 1))),
        ("Month", Recurrence(Frequency.MONTH)),
        ("2Months", Recurrence(Frequency.MONTH, 2)),
        ("Month day23,day24", Recurrence(Frequency.MONTH, month_days=(23, 24))),
        ("Month day23, day24", Recurrence(Frequency.MONTH, month_days=(23, 24))),
        ("3Months day30", Recurrence(Frequency.MONTH, 3, month_days=(30,))),
        ("Month Last Sunday", Recurrence(Frequency.MONTH, week_of_month=-1, weekday=6)),
        ("Month Fourth Monday", Recurrence(Frequency.MONTH, week_of_month=4, weekday=0)),
        ("1Month Second Tuesday", Recurrence(Frequency.MONTH, week_of_month=2, weekday=1)),
        (
            "Month Second Tuesday Offset2",
            Recurrence(Frequency.MONTH, week_of_month=2, weekday=1, offset_days=2),
        ),
        (
            "Month Last Sunday Offset-3",
            Recurrence(Frequency.MONTH, week_of_month=-1, weekday=6, offset_days=-3),
        ),
        (
            "Month Third Sunday Offset6",
            Recurrence(Frequency.MONTH, week_of_month=3, weekday=6, offset_days=6),
        ),
    ],
)
def test_every_documented_recurrence_form_parses(text: str, expected: Recurrence) -> None:
    assert parse_recurrence(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "is not a recurrence"),
        ("Fortnight", "is not a recurrence"),
        ("5Hours", "at least 6 hours apart"),
        ("0Days", "must be 1 to"),
        ("Day Monday", "cannot follow"),
        ("Week Funday", "is not a weekday"),
        ("Month day32", "is not a day of the month"),
        ("Month day0", "is not a day of the month"),
        ("Month Fifth Monday", "neither a list of days"),
        ("Month Last", "neither a list of days"),
        ("Month Second Tuesday Offset7", "is not an offset"),
        ("Month Second Tuesday Offset-7", "is not an offset"),
        ("Month Second Caturday", "is not a weekday"),
        ("Month Second Tuesday Offset2 Again", "neither a list of days"),
    ],
)
def test_recurrences_that_cannot_be_scheduled_are_rejected(text: str, complaint: str) -> None:
    with pytest.raises(ScheduleError, match=complaint) as raised:
        parse_recurrence(text)
    assert raised.value.field == "recurEvery"


# --- expansion -----------------------------------------------------------------------


def test_daily_window_keeps_its_local_time_across_spring_forward() -> None:
    assert starts("Day", "2026-03-06 09:00", "Pacific Standard Time", 4) == [
        utc(2026, 3, 6, 17),  # PST, UTC-8
        utc(2026, 3, 7, 17),
        utc(2026, 3, 8, 16),  # PDT, UTC-7 from 2026-03-08
        utc(2026, 3, 9, 16),
    ]


def test_weekly_weekend_window_across_autumn_change_in_europe() -> None:
    assert starts("Week Saturday,Sunday", "2026-10-17 22:00", "W. Europe Standard Time", 5) == [
        utc(2026, 10, 17, 20),  # CEST, UTC+2
        utc(2026, 10, 18, 20),
        utc(2026, 10, 24, 20),
        utc(2026, 10, 25, 21),  # CET, UTC+1 from 2026-10-25
        utc(2026, 10, 31, 21),
    ]


def test_saturday_after_patch_tuesday_with_an_offset_across_dst() -> None:
    # second Tuesday + 4 days, 23:00 New York time
    assert starts(
        "Month Second Tuesday Offset4", "2026-01-01 23:00", "Eastern Standard Time", 3
    ) == [
        utc(2026, 1, 18, 4),  # Sat 2026-01-17 23:00 EST
        utc(2026, 2, 15, 4),  # Sat 2026-02-14 23:00 EST
        utc(2026, 3, 15, 3),  # Sat 2026-03-14 23:00 EDT
    ]


def test_negative_offset_moves_back_from_the_last_weekday() -> None:
    # last Sunday of Feb 2026 is the 22nd; three days earlier is Thursday the 19th
    assert starts("Month Last Sunday Offset-3", "2026-02-01 10:00", "UTC", 2) == [
        utc(2026, 2, 19, 10),
        utc(2026, 3, 26, 10),  # last Sunday of March is the 29th
    ]


def test_offset_can_carry_an_occurrence_into_the_next_month() -> None:
    # last Sunday of May 2026 is the 31st; six days later is 6 June
    assert starts("Month Last Sunday Offset6", "2026-05-01 08:00", "UTC", 2) == [
        utc(2026, 6, 6, 8),
        utc(2026, 7, 4, 8),  # last Sunday of June is the 28th
    ]


def test_an_occurrence_carried_into_a_month_is_found_from_inside_that_month() -> None:
    # last Sunday of January 2027 is the 31st: its window falls on 6 February
    found = starts("Month Last Sunday Offset6", "2026-12-01 08:00", "UTC", 2, after=utc(2027, 2, 2))
    assert found == [utc(2027, 2, 6, 8), utc(2027, 3, 6, 8)]


def test_fourth_monday_in_india_has_no_dst() -> None:
    assert starts("Month Fourth Monday", "2026-01-01 02:00", "India Standard Time", 3) == [
        utc(2026, 1, 25, 20, 30),  # Mon 2026-01-26 02:00 IST
        utc(2026, 2, 22, 20, 30),
        utc(2026, 3, 22, 20, 30),
    ]


def test_month_days_a_month_lacks_are_skipped_and_leap_days_count() -> None:
    found = starts("Month day29,day30,day31", "2027-12-01 00:00", "UTC", 8)
    assert found == [
        utc(2027, 12, 29), utc(2027, 12, 30), utc(2027, 12, 31),
        utc(2028, 1, 29), utc(2028, 1, 30), utc(2028, 1, 31),
        utc(2028, 2, 29),  # 2028 is a leap year; February has no 30th or 31st
        utc(2028, 3, 29),
    ]  # fmt: skip
    assert utc(2027, 2, 28) not in starts("Month day29", "2027-01-01 00:00", "UTC", 3)


def test_bare_month_repeats_on_the_start_day_and_skips_short_months() -> None:
    assert starts("Month", "2026-01-31 22:00", "UTC", 4) == [
        utc(2026, 1, 31, 22),
        utc(2026, 3, 31, 22),
        utc(2026, 5, 31, 22),
        utc(2026, 7, 31, 22),
    ]


def test_every_second_month_on_two_days() -> None:
    assert starts("2Months day8,day20", "2026-01-10 06:00", "UTC", 4) == [
        utc(2026, 1, 20, 6),  # the 8th of January is before the start
        utc(2026, 3, 8, 6),
        utc(2026, 3, 20, 6),
        utc(2026, 5, 8, 6),
    ]


def test_bare_week_repeats_on_the_start_weekday() -> None:
    assert starts("2Weeks", "2026-11-25 20:00", "UTC", 3) == [
        utc(2026, 11, 25, 20),
        utc(2026, 12, 9, 20),
        utc(2026, 12, 23, 20),
    ]


def test_every_second_week_counts_weeks_from_the_start_week() -> None:
    # starts on Wednesday 2026-11-25; that week's Monday has passed, and next week is odd
    assert starts("2Weeks Monday", "2026-11-25 20:00", "UTC", 2) == [
        utc(2026, 12, 7, 20),
        utc(2026, 12, 21, 20),
    ]


def test_every_three_days() -> None:
    assert starts("3Days", "2026-02-27 12:00", "UTC", 3) == [
        utc(2026, 2, 27, 12),
        utc(2026, 3, 2, 12),
        utc(2026, 3, 5, 12),
    ]


def test_start_inside_the_spring_forward_gap_begins_when_the_gap_ends() -> None:
    # 02:30 does not exist in Los Angeles on 2026-03-08: clocks go from 02:00 to 03:00
    assert starts("Day", "2026-03-07 02:30", "Pacific Standard Time", 3) == [
        utc(2026, 3, 7, 10, 30),  # 02:30 PST
        utc(2026, 3, 8, 10, 0),  # 03:00 PDT, the end of the gap
        utc(2026, 3, 9, 9, 30),  # 02:30 PDT
    ]


def test_start_inside_the_autumn_overlap_takes_the_first_instant() -> None:
    # 01:30 happens twice in Los Angeles on 2026-11-01; the first is still PDT
    assert starts("Day", "2026-10-31 01:30", "Pacific Standard Time", 3) == [
        utc(2026, 10, 31, 8, 30),
        utc(2026, 11, 1, 8, 30),  # 01:30 PDT, not 01:30 PST (09:30Z)
        utc(2026, 11, 2, 9, 30),
    ]


def test_gap_in_the_southern_hemisphere() -> None:
    # Sydney springs forward on 2026-10-04 from 02:00 to 03:00 (UTC+10 -> UTC+11)
    assert starts("Day", "2026-10-03 02:15", "AUS Eastern Standard Time", 2)[1] == utc(
        2026, 10, 3, 16, 0
    )


def test_hourly_recurrence_is_elapsed_time_across_dst() -> None:
    assert starts("6Hours", "2026-03-07 23:00", "Pacific Standard Time", 4) == [
        utc(2026, 3, 8, 7),
        utc(2026, 3, 8, 13),
        utc(2026, 3, 8, 19),
        utc(2026, 3, 9, 1),
    ]


def test_no_window_starts_after_the_expiration() -> None:
    found = starts("Day", "2026-01-01 10:00", "UTC", 10, expirationDateTime="2026-01-03 10:00")
    assert found == [utc(2026, 1, 1, 10), utc(2026, 1, 2, 10), utc(2026, 1, 3, 10)]


def test_next_occurrences_include_a_window_starting_exactly_at_after() -> None:
    schedule = parse_schedule(window("Day", "2026-01-01 10:00"))
    assert next_occurrences(schedule, utc(2026, 1, 5, 10), 1)[0].start == utc(2026, 1, 5, 10)
    assert next_occurrences(schedule, utc(2026, 1, 5, 10, 1), 1)[0].start == utc(2026, 1, 6, 10)


def test_windows_last_their_duration() -> None:
    schedule = parse_schedule(window("Day", "2026-03-07 23:00", "Pacific Standard Time", "03:55"))
    for occurrence in next_occurrences(schedule, schedule.start_utc, 3):
        assert occurrence.end - occurrence.start == timedelta(hours=3, minutes=55)


def test_the_open_window_at_an_instant() -> None:
    schedule = parse_schedule(window("Day", "2026-01-01 10:00", duration="01:30"))
    assert occurrence_at(schedule, utc(2026, 1, 4, 11)).start == utc(2026, 1, 4, 10)
    assert occurrence_at(schedule, utc(2026, 1, 4, 11, 30)) is None


def test_the_seed_documents_window() -> None:
    schedule = parse_schedule(
        window(
            "Day",
            "2021-08-21 01:18",
            "India Standard Time",
            "01:30",
            expirationDateTime="2221-05-19 03:30",
        )
    )
    occurrence = next_occurrences(schedule, utc(2026, 11, 26, 12), 1)[0]
    assert occurrence.start == utc(2026, 11, 26, 19, 48)  # 01:18 IST on the 27th
    assert occurrence.end == utc(2026, 11, 26, 21, 18)


# --- window fields -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "complaint"),
    [
        ({"duration": "01:29"}, "duration", "outside the 01:30 to 03:55"),
        ({"duration": "03:56"}, "duration", "outside the 01:30 to 03:55"),
        ({"duration": "2h"}, "duration", "not a duration"),
        ({"duration": "02:61"}, "duration", "not a duration"),
        ({"startDateTime": "2026-02-30 10:00"}, "startDateTime", "not a valid date"),
        ({"startDateTime": "2026/01/01 10:00"}, "startDateTime", "YYYY-MM-DD hh:mm"),
        ({"startDateTime": ""}, "startDateTime", "a value is required"),
        ({"timeZone": "Mars Standard Time"}, "timeZone", "not a known time zone"),
        ({"expirationDateTime": "2026-01-01 09:00"}, "expirationDateTime", "not after the start"),
        (
            {"recurEvery": "Month day31", "expirationDateTime": "2026-01-20 00:00"},
            "recurEvery",
            "never produces a window",
        ),
    ],
)
def test_window_fields_that_break_a_rule_name_the_field(
    changes: dict[str, str], field: str, complaint: str
) -> None:
    fields = {**window("Day", "2026-01-01 10:00"), **changes}
    with pytest.raises(ScheduleError, match=complaint) as raised:
        parse_schedule(fields)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "zone", ["India Standard Time", "india standard time", "Asia/Kolkata", "asia/kolkata"]
)
def test_windows_and_iana_zone_names_are_accepted_without_case(zone: str) -> None:
    schedule = parse_schedule(window("Day", "2026-01-01 10:00", zone))
    assert schedule.start_utc == utc(2026, 1, 1, 4, 30)


def test_utc_offset_zones_of_windows_are_accepted() -> None:
    assert parse_schedule(window("Day", "2026-01-01 10:00", "UTC-08")).start_utc == utc(
        2026, 1, 1, 18
    )


def test_the_default_duration_is_the_longest_window() -> None:
    fields = window("Day", "2026-01-01 10:00")
    del fields["duration"]
    assert parse_schedule(fields).duration == timedelta(hours=3, minutes=55)
