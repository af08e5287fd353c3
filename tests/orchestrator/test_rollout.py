"""Rollout safety (Upkeep's extension): a run patches at most maxConcurrency machines at
once, gives the next machine its turn as one finishes, and stops starting machines once
failures exceed maxErrors. Without them, every machine at once, as Azure does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SettableClock
from tests.helpers import MAINTENANCE
from tests.orchestrator.fleet import BERLIN_DAILY, Fleet, utc

RUN = "20261126090000"
NAMES = ["m1", "m2", "m3", "m4", "m5"]


def result(status: str) -> dict[str, Any]:
    state = "Installed" if status == "Succeeded" else "Failed"
    return {
        "status": status,
        "rebootStatus": "NotNeeded",
        "maintenanceWindowExceeded": False,
        "errors": [],
        "patches": [{"patchId": "vim_9", "name": "vim", "version": "9",
                     "classifications": ["Other"], "installationState": state}],
    }  # fmt: skip


def schedule(fleet: Fleet, clock: SettableClock, **rollout: str) -> dict[str, str]:
    clock.now = utc("2026-11-26 08:00")
    extension = {"InGuestPatchMode": "User", **rollout}
    daily = fleet.configuration("daily", **BERLIN_DAILY, extensionProperties=extension)
    machines = {name: fleet.machine("Web", name) for name in NAMES}
    for machine in machines.values():
        fleet.assign(machine, "daily", daily)
    return machines


def taking(fleet: Fleet) -> dict[str, str]:
    """Which machines' agents get a job now, and its id."""
    jobs = {name: fleet.job_of(name) for name in NAMES}
    return {name: job["id"] for name, job in jobs.items() if job}


def finish(fleet: Fleet, name: str, job: str, status: str) -> None:
    answer = fleet.agents.post(
        f"/agent/v1/jobs/{job}/result",
        json={"result": result(status)},
        headers={"Authorization": f"Bearer {fleet.credentials[name]}"},
    )
    assert answer.status_code == 200, answer.text


def status_of(fleet: Fleet, machine: str) -> dict[str, Any]:
    path = f"{machine}/providers/Microsoft.Maintenance/applyUpdates/{RUN}?{MAINTENANCE}"
    return fleet.api.get(path).json()["properties"]


def test_machines_take_turns_and_the_run_stops_once_failures_exceed_max_errors(
    fleet: Fleet, clock: SettableClock
) -> None:
    machines = schedule(fleet, clock, maxConcurrency="2", maxErrors="1")
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    first = taking(fleet)
    assert sorted(first) == ["m1", "m2"]
    assert status_of(fleet, machines["m3"])["status"] == "Pending"

    finish(fleet, "m1", first["m1"], "Succeeded")
    clock.advance(seconds=1)
    fleet.tick()
    assert sorted(taking(fleet)) == ["m2", "m3"]  # m2 still running, m3 its turn

    finish(fleet, "m2", first["m2"], "Failed")  # one failure: tolerated
    clock.advance(seconds=1)
    fleet.tick()
    now = taking(fleet)
    assert sorted(now) == ["m3", "m4"]

    finish(fleet, "m3", now["m3"], "Failed")  # two: more than maxErrors
    clock.advance(seconds=1)
    fleet.tick()
    assert sorted(taking(fleet)) == ["m4"]  # the one installing carries on
    stopped = status_of(fleet, machines["m5"])
    assert stopped["status"] == "RetryLater"
    assert stopped["error"]["code"] == "MaxErrorsExceeded"


def test_a_percentage_of_the_run_at_once(fleet: Fleet, clock: SettableClock) -> None:
    schedule(fleet, clock, maxConcurrency="50%")
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    assert sorted(taking(fleet)) == ["m1", "m2", "m3"]  # half of five, rounded up


def test_without_rollout_settings_every_machine_starts_at_once(
    fleet: Fleet, clock: SettableClock
) -> None:
    schedule(fleet, clock)
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    assert sorted(taking(fleet)) == NAMES


def test_machines_whose_turn_never_comes_before_the_cutoff_are_not_patched(
    fleet: Fleet, clock: SettableClock
) -> None:
    machines = schedule(fleet, clock, maxConcurrency="1")
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    assert list(taking(fleet)) == ["m1"]
    clock.now = utc("2026-11-26 10:45")  # the window ends at 11:00, less the reserve
    fleet.tick()
    assert list(taking(fleet)) == ["m1"]
    left = status_of(fleet, machines["m2"])
    assert (left["status"], left["error"]["code"]) == ("RetryLater", "WindowEnded")


@pytest.mark.parametrize(
    "extension",
    [{"maxConcurrency": "0"}, {"maxConcurrency": "some"}, {"maxErrors": "150%"},
     {"maxErrors": "-1"}, {"maxParallel": "2"}],
    ids=["no machine at once", "not a number", "over 100%", "negative", "unknown property"],
)  # fmt: skip
def test_bad_rollout_settings_are_refused(
    fleet: Fleet, clock: SettableClock, extension: dict[str, str]
) -> None:
    path = f"/subscriptions/{fleet.sub}/resourceGroups/Schedules/providers/Microsoft.Maintenance/maintenanceConfigurations/bad"
    body = {
        "location": "eastus",
        "properties": {
            **BERLIN_DAILY,
            "maintenanceScope": "InGuestPatch",
            "extensionProperties": {"InGuestPatchMode": "User", **extension},
        },
    }
    answer = fleet.api.put(f"{path}?{MAINTENANCE}", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == "properties.extensionProperties"
    assert fleet.api.get(f"{path}?{MAINTENANCE}").status_code == 404
