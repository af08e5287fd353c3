"""Maintenance windows become runs at the right instants, with a clock the tests move: one
install job per assigned machine (static and dynamic), each window once, late and missed
windows, and DST in the configuration's own time zone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import SettableClock
from tests.helpers import MAINTENANCE
from tests.orchestrator.fleet import BERLIN_DAILY, INSTALL, Fleet, utc, window
from upkeep.db.tables import jobs


def test_a_window_gives_each_assigned_machine_one_install_job_at_its_start(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY, installPatches=INSTALL)
    web = fleet.machine("Web", "web-1")
    fleet.machine("Web", "web-2", tags={"tier": "front"})
    fleet.machine("Db", "db-1", tags={"tier": "front"})
    fleet.machine("Web", "win-1", facts={"osType": "Windows"}, tags={"tier": "front"})
    fleet.machine("Other", "lonely")
    fleet.assign(web, "daily", daily)
    dynamic = {"filter": {"osTypes": ["Linux"], "tagSettings": {"tags": {"tier": ["front"]}}}}
    fleet.assign(f"/subscriptions/{fleet.sub}", "front", daily, **dynamic)
    fleet.assign(web, "daily-again", daily)  # matched twice: still one job

    clock.now = utc("2026-11-26 08:59:59")
    assert fleet.tick() == []
    assert fleet.job_of("web-1") is None

    clock.now = utc("2026-11-26 09:00:00.5")
    [run] = fleet.tick()
    assert run.state == "Started"
    assert run.window_start == utc("2026-11-26 09:00")
    assert sorted(key.rsplit("/", 1)[-1] for key in run.machine_keys) == ["db-1", "web-1", "web-2"]
    job = fleet.job_of("web-2")
    assert job is not None
    assert job["kind"] == "install"
    assert job["startedBy"] == "Platform"
    assert job["parameters"]["rebootSetting"] == "IfRequired"
    assert job["parameters"]["linuxParameters"] == {
        **INSTALL["linuxParameters"],
        "maintenanceRunId": f"{daily}/providers/Microsoft.Maintenance/applyUpdates/20261126090000",
    }
    assert job["deadline"] == "2026-11-26T11:00:00.0000000Z"  # the window's end
    for unassigned in ("lonely", "win-1"):
        assert fleet.job_of(unassigned) is None


def test_each_window_runs_once_and_the_next_one_runs_the_next_day(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    web = fleet.machine("Web", "web-1")
    fleet.assign(web, "daily", daily)
    clock.now = utc("2026-11-26 09:00:01")
    assert [run.state for run in fleet.tick()] == ["Started"]
    for later in ("09:00:02", "09:30", "10:59", "23:00"):
        clock.now = utc(f"2026-11-26 {later}")
        assert fleet.tick() == []
    clock.now = utc("2026-11-27 09:00:00")
    [second] = fleet.tick()
    assert second.window_start == utc("2026-11-27 09:00")
    assert [run["window_start"] for run in fleet.runs()] == [
        utc("2026-11-26 09:00"),
        utc("2026-11-27 09:00"),
    ]


def test_a_window_started_while_no_server_ran_still_runs_with_time_left(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    web = fleet.machine("Web", "web-1")
    fleet.assign(web, "daily", daily)
    clock.now = utc("2026-11-26 10:30")  # 30 min left, more than the 15 min reserve
    [run] = fleet.tick()
    assert run.state == "Started"
    job = fleet.job_of("web-1")
    assert job is not None
    assert job["deadline"] == "2026-11-26T11:00:00.0000000Z"


def test_a_window_that_passed_while_no_server_ran_is_recorded_as_missed(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    web = fleet.machine("Web", "web-1")
    fleet.assign(web, "daily", daily)
    clock.now = utc("2026-11-26 10:50")  # inside the reboot reserve
    [missed] = fleet.tick()
    assert missed.state == "Missed"
    assert fleet.job_of("web-1") is None
    [record] = fleet.runs()
    assert record["state"] == "Missed"
    assert "2026-11-26T09:00:00" in record["reason"]
    clock.now = utc("2026-11-27 09:00")
    assert [run.state for run in fleet.tick()] == ["Started"]


def test_days_of_missed_windows_are_each_recorded_once(fleet: Fleet, clock: SettableClock) -> None:
    clock.now = utc("2026-11-26 08:00")
    fleet.configuration("daily", **BERLIN_DAILY)
    clock.now = utc("2026-11-29 12:00")
    assert [(run.state, run.window_start.day) for run in fleet.tick()] == [
        ("Missed", 26),
        ("Missed", 27),
        ("Missed", 28),
        ("Missed", 29),
    ]
    assert fleet.tick() == []


def test_a_changed_schedule_applies_from_the_next_window_and_a_deleted_one_never_runs(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    fleet.configuration("daily", **window("2026-11-01 14:00", "W. Europe Standard Time", "1Day"))
    clock.now = utc("2026-11-26 09:00")
    assert fleet.tick() == []
    clock.now = utc("2026-11-26 13:00")
    assert [run.window_start for run in fleet.tick()] == [utc("2026-11-26 13:00")]
    assert fleet.api.delete(f"{daily}?{MAINTENANCE}").status_code == 200
    clock.now = utc("2026-11-27 13:00")
    assert fleet.tick() == []


def test_an_expired_schedule_stops(fleet: Fleet, clock: SettableClock) -> None:
    clock.now = utc("2026-11-26 08:00")
    expiring = BERLIN_DAILY["maintenanceWindow"] | {"expirationDateTime": "2026-11-27 12:00"}
    fleet.configuration("daily", maintenanceWindow=expiring)
    starts = []
    for day in (26, 27, 28, 29):
        clock.now = utc(f"2026-11-{day} 09:00")
        starts += [run.window_start.day for run in fleet.tick()]
    assert starts == [26, 27]


# (time zone, recurrence, local start, the UTC instants its windows open, worked out by hand)
DST_CASES = [
    pytest.param(
        "Pacific Standard Time", "Day", "2027-03-01 02:30",
        # 2027-03-14 02:30 does not exist in Los Angeles: the window opens at 03:00 PDT
        ["2027-03-13 10:30", "2027-03-14 10:00", "2027-03-15 09:30"],
        id="daily-across-spring-forward",
    ),
    pytest.param(
        "GMT Standard Time", "Week Sunday", "2027-03-01 01:30",
        # London skips 01:00-02:00 on 2027-03-28
        ["2027-03-21 01:30", "2027-03-28 01:00", "2027-04-04 00:30"],
        id="weekly-across-spring-forward",
    ),
    pytest.param(
        "W. Europe Standard Time", "Month Last Sunday", "2027-01-01 01:30",
        ["2027-02-28 00:30", "2027-03-28 00:30", "2027-04-24 23:30"],
        id="monthly-last-sunday",
    ),
    pytest.param(
        "Eastern Standard Time", "Month Second Tuesday Offset2", "2027-01-01 20:00",
        # two days after Patch Tuesday, EST then EDT
        ["2027-02-12 01:00", "2027-03-12 01:00", "2027-04-16 00:00"],
        id="patch-tuesday-offset",
    ),
    pytest.param(
        "Eastern Standard Time", "Day", "2027-10-01 01:30",
        # 2027-11-07 01:30 happens twice in New York: the first one (EDT)
        ["2027-11-06 05:30", "2027-11-07 05:30", "2027-11-08 06:30"],
        id="daily-across-fall-back",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("zone", "every", "start", "instants"), DST_CASES)
def test_windows_open_at_their_local_time_across_dst(
    fleet: Fleet, clock: SettableClock, zone: str, every: str, start: str, instants: list[str]
) -> None:
    clock.now = utc(instants[0]) - timedelta(hours=20)  # after the window before
    fleet.configuration("dst", **window(start, zone, every))
    opened = []
    for instant in map(utc, instants):
        clock.now = instant - timedelta(seconds=1)
        assert fleet.tick() == [], f"nothing opens just before {instant}"
        clock.now = instant
        opened += [run.window_start for run in fleet.tick()]
        clock.now = instant + timedelta(hours=2)
        assert fleet.tick() == [], f"nothing more opens after {instant}"
    assert opened == [utc(instant) for instant in instants]


def test_machines_busy_with_an_operation_get_their_window_job_after_it(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    web = fleet.machine("Web", "web-1")
    fleet.assign(web, "daily", daily)
    assert fleet.api.post(f"{web}/assessPatches?api-version=2025-04-01").status_code == 202
    clock.now = utc("2026-11-26 09:00")
    [run] = fleet.tick()
    assert run.machine_keys == [web.lower()]
    with fleet.store.reading() as connection:
        kinds = [
            row.kind for row in connection.execute(select(jobs.c.kind).order_by(jobs.c.created_at))
        ]
    assert kinds == ["assess", "install"]
    first = fleet.job_of("web-1")
    assert first is not None
    assert first["kind"] == "assess"


def test_the_schedule_names_the_machines_its_next_windows_would_patch(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    web = fleet.machine("Web", "web-1")
    tagged = fleet.machine("Db", "db-1", tags={"tier": "front"})
    fleet.machine("Db", "db-2")
    fleet.assign(web, "daily", daily)
    dynamic = {"filter": {"tagSettings": {"tags": {"tier": ["front"]}}}}
    fleet.assign(f"/subscriptions/{fleet.sub}", "front", daily, **dynamic)
    windows = fleet.api.get(f"{daily}/schedule?{MAINTENANCE}&count=2").json()["value"]
    assert [window["startDateTime"] for window in windows] == [
        "2026-11-26T09:00:00.0000000Z",
        "2026-11-27T09:00:00.0000000Z",
    ]
    assert windows[0]["machines"] == sorted([web, tagged], key=str.lower)
