"""The next window of 100,000 maintenance configurations, across every recurrence form and
a spread of time zones. Target: under 1 s.

The baseline, measured in the same run, is the least any engine must do per configuration:
turn one local wall-clock time into a UTC instant in its zone.

    .venv/bin/python -m bench.schedule [--count 100000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

from upkeep.maintenance.schedule import next_occurrences, parse_schedule, to_utc

TARGET_SECONDS = 1.0
ZONES = [
    "UTC", "Pacific Standard Time", "Eastern Standard Time", "W. Europe Standard Time",
    "GMT Standard Time", "India Standard Time", "AUS Eastern Standard Time", "Tokyo Standard Time",
    "Central Standard Time", "E. South America Standard Time", "New Zealand Standard Time",
    "America/Santiago", "Asia/Kolkata", "Europe/Helsinki",
]  # fmt: skip
RECURRENCES = [
    "Day", "3Days", "6Hours", "12Hours", "Week", "2Weeks Saturday,Sunday",
    "Week Monday,Wednesday,Friday", "Month", "Month day1,day15", "3Months day28",
    "Month Second Tuesday Offset4", "Month Last Sunday", "Month Fourth Monday Offset-2",
    "2Months First Friday",
]  # fmt: skip


def windows(count: int, rng: random.Random) -> list[dict[str, str]]:
    made = []
    for _ in range(count):
        start = (
            datetime(2024, 1, 1) + (datetime(2026, 12, 31) - datetime(2024, 1, 1)) * rng.random()
        )
        made.append(
            {
                "startDateTime": start.strftime("%Y-%m-%d %H:%M"),
                "timeZone": rng.choice(ZONES),
                "recurEvery": rng.choice(RECURRENCES),
                "duration": rng.choice(["01:30", "02:00", "03:55"]),
                "expirationDateTime": "2035-12-31 23:59",
            }
        )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    count = parser.parse_args().count
    fields = windows(count, random.Random(7))

    started = time.perf_counter()
    schedules = [parse_schedule(window) for window in fields]
    parsed = time.perf_counter() - started

    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    started = time.perf_counter()
    found = [next_occurrences(schedule, now, 1) for schedule in schedules]
    expanded = time.perf_counter() - started
    assert all(found)

    started = time.perf_counter()
    for schedule in schedules:
        to_utc(schedule.start, schedule.zone)
    baseline = time.perf_counter() - started

    print(f"configurations        : {count:,}")
    print(f"parse and validate    : {parsed:6.3f} s ({parsed / count * 1e6:5.1f} us each)")
    print(f"next window           : {expanded:6.3f} s ({expanded / count * 1e6:5.1f} us each)")
    print(f"baseline (1 to_utc)   : {baseline:6.3f} s ({baseline / count * 1e6:5.1f} us each)")
    print(f"ratio next/baseline   : {expanded / baseline:.1f}x")
    verdict = "meets" if expanded < TARGET_SECONDS else "MISSES"
    print(f"target                : under {TARGET_SECONDS:.0f} s ({verdict})")


if __name__ == "__main__":
    main()
