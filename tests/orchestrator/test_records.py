"""What a run leaves behind, as Azure shows it: applyUpdates records under each machine and
under the configuration, lists by subscription and group, cancelling a window, and
applying a machine's maintenance now."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SettableClock
from tests.helpers import MAINTENANCE
from tests.orchestrator.fleet import BERLIN_DAILY, Fleet, utc
from upkeep.patching.service import expire

PREVIEW = "api-version=2023-09-01-preview"
RUN = "20261126090000"  # the window opening at 09:00 UTC on 2026-11-26

INSTALLED = {
    "status": "Succeeded",
    "startDateTime": "2026-11-26T09:00:05.0000000Z",
    "lastModifiedDateTime": "2026-11-26T09:20:00.0000000Z",
    "rebootStatus": "NotNeeded",
    "maintenanceWindowExceeded": False,
    "errors": [],
    "patches": [
        {"patchId": "openssl_3.0.2", "name": "openssl", "version": "3.0.2",
         "classifications": ["Security"], "installationState": "Installed"},
    ],
}  # fmt: skip


@pytest.fixture
def scheduled(fleet: Fleet, clock: SettableClock) -> dict[str, str]:
    """A daily window and two assigned machines, at 08:00 UTC before the first window."""
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    made = {"configuration": daily}
    for name in ("web-1", "web-2"):
        made[name] = fleet.machine("Web", name)
        fleet.assign(made[name], "daily", daily)
    return made


def report(fleet: Fleet, name: str, job: dict[str, Any], result: dict[str, Any]) -> None:
    answer = fleet.agents.post(
        f"/agent/v1/jobs/{job['id']}/result",
        json={"result": result},
        headers={"Authorization": f"Bearer {fleet.credentials[name]}"},
    )
    assert answer.status_code == 200, answer.text


def progress(fleet: Fleet, name: str, job: dict[str, Any]) -> Any:
    return fleet.agents.post(
        f"/agent/v1/jobs/{job['id']}/progress",
        json={"phase": "installing", "percentComplete": 10},
        headers={"Authorization": f"Bearer {fleet.credentials[name]}"},
    )


def get(fleet: Fleet, path: str, version: str = MAINTENANCE) -> dict[str, Any]:
    answer = fleet.api.get(f"{path}?{version}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_each_machine_has_a_record_of_the_run_that_follows_its_job(
    fleet: Fleet, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    web = scheduled["web-1"]
    record = get(fleet, f"{web}/providers/Microsoft.Maintenance/applyUpdates/{RUN}")
    run_id = f"{scheduled['configuration']}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    assert record["id"] == f"{web}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    assert record["name"] == RUN
    assert record["type"] == "Microsoft.Maintenance/applyUpdates"
    assert record["properties"]["status"] == "Pending"
    assert record["properties"]["resourceId"] == web
    assert record["properties"]["maintenanceConfigurationId"] == scheduled["configuration"]
    assert record["properties"]["correlationId"] == run_id
    assert record["properties"]["startDateTime"] == "2026-11-26T09:00:00.0000000Z"
    assert record["properties"]["endDateTime"] == "2026-11-26T11:00:00.0000000Z"

    job = fleet.job_of("web-1")
    assert job is not None
    path = f"{web}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    assert get(fleet, path)["properties"]["status"] == "InProgress"
    clock.now = utc("2026-11-26 09:20")
    report(fleet, "web-1", job, INSTALLED)
    done = get(fleet, path)["properties"]
    assert (done["status"], done["lastUpdateTime"]) == ("Completed", "2026-11-26T09:20:00.0000000Z")

    run = get(fleet, run_id)
    assert run["properties"]["status"] == "InProgress"  # web-2 has not started
    assert run["properties"]["machineCount"] == 2


def test_records_are_listed_by_subscription_group_machine_and_configuration(
    fleet: Fleet, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    for day in (26, 27):
        clock.now = utc(f"2026-11-{day} 09:00")
        fleet.tick()
    subscription = f"/subscriptions/{fleet.sub}"
    everything = get(fleet, f"{subscription}/providers/Microsoft.Maintenance/applyUpdates")
    assert len(everything["value"]) == 4
    assert everything["value"][0]["name"] == "20261127090000"  # the newest first
    group = get(
        fleet, f"{subscription}/resourceGroups/Web/providers/Microsoft.Maintenance/applyUpdates"
    )
    assert len(group["value"]) == 4
    assert get(
        fleet, f"{subscription}/resourceGroups/Db/providers/Microsoft.Maintenance/applyUpdates"
    ) == {"value": []}
    machine = get(fleet, f"{scheduled['web-2']}/providers/Microsoft.Maintenance/applyUpdates")
    assert [record["name"] for record in machine["value"]] == ["20261127090000", RUN]
    runs = get(fleet, f"{scheduled['configuration']}/providers/Microsoft.Maintenance/applyUpdates")
    assert [run["name"] for run in runs["value"]] == ["20261127090000", RUN]


def test_a_window_cancelled_before_it_starts_does_not_run(
    fleet: Fleet, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    path = f"{scheduled['configuration']}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    answer = fleet.api.put(f"{path}?{PREVIEW}", json={"properties": {"status": "Cancel"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["properties"]["status"] == "Cancelled"
    clock.now = utc("2026-11-26 09:00")
    assert fleet.tick() == []
    assert fleet.job_of("web-1") is None
    clock.now = utc("2026-11-27 09:00")  # one window, not the schedule
    assert [run.state for run in fleet.tick()] == ["Started"]


def test_cancelling_an_open_window_stops_machines_that_have_not_started(
    fleet: Fleet, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    started = fleet.job_of("web-1")
    assert started is not None
    path = f"{scheduled['configuration']}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    assert progress(fleet, "web-1", started).status_code == 204  # go on
    cancel = {"properties": {"status": "Cancel"}}
    assert fleet.api.put(f"{path}?{PREVIEW}", json=cancel).status_code == 200
    asked = progress(fleet, "web-1", started)
    assert (asked.status_code, asked.json()["stop"]) == (200, True)  # start no further package
    assert fleet.job_of("web-2") is None
    machine = f"{scheduled['web-2']}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    assert get(fleet, machine)["properties"]["status"] == "Cancelled"
    report(fleet, "web-1", started, INSTALLED)  # the one already installing finishes truthfully
    first = f"{scheduled['web-1']}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    assert get(fleet, first)["properties"]["status"] == "Completed"
    assert get(fleet, path)["properties"]["status"] == "Cancelled"


@pytest.mark.parametrize(
    ("name", "body", "target"),
    [
        ("20261126093000", {"properties": {"status": "Cancel"}}, "applyUpdateName"),
        ("tomorrow", {"properties": {"status": "Cancel"}}, "applyUpdateName"),
        (RUN, {"properties": {"status": "Completed"}}, "properties.status"),
        (RUN, {}, "properties.status"),
    ],
    ids=["not a window start", "not a window name", "not a cancel", "no status"],
)
def test_bad_cancels_name_the_field_and_change_nothing(
    fleet: Fleet, clock: SettableClock, scheduled: dict[str, str], name: str, body: Any, target: str
) -> None:
    path = f"{scheduled['configuration']}/providers/Microsoft.Maintenance/applyUpdates/{name}"
    answer = fleet.api.put(f"{path}?{PREVIEW}", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == target
    assert fleet.api.get(f"{path}?{PREVIEW}").status_code == 404
    clock.now = utc("2026-11-26 09:00")
    assert [run.state for run in fleet.tick()] == ["Started"]


def test_applying_updates_now_patches_the_machine_with_its_configuration(
    fleet: Fleet, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    web = scheduled["web-1"]
    answer = fleet.api.put(
        f"{web}/providers/Microsoft.Maintenance/applyUpdates/default?{MAINTENANCE}"
    )
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["name"] != "default"  # a GUID, as Azure names it
    assert record["properties"]["status"] == "Pending"
    job = fleet.job_of("web-1")
    assert job is not None
    assert job["kind"] == "install"
    assert job["parameters"]["linuxParameters"]["maintenanceRunId"].endswith(record["name"])
    assert get(fleet, record["id"])["properties"]["status"] == "InProgress"


def test_applying_updates_to_a_machine_without_a_configuration_is_refused(
    fleet: Fleet, clock: SettableClock
) -> None:
    lonely = fleet.machine("Web", "lonely")
    answer = fleet.api.put(
        f"{lonely}/providers/Microsoft.Maintenance/applyUpdates/default?{MAINTENANCE}"
    )
    assert answer.status_code == 400
    assert "No maintenance configuration is assigned" in answer.json()["error"]["message"]
    assert fleet.job_of("lonely") is None


def test_a_missed_window_is_on_record_with_its_reason(
    fleet: Fleet, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 10:55")
    fleet.tick()
    path = f"{scheduled['configuration']}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    run = get(fleet, path)["properties"]
    assert run["status"] == "RetryLater"
    assert run["error"]["code"] == "Missed"
    assert "No server was running" in run["error"]["message"]
    assert run["machineCount"] == 0


def test_a_machine_that_never_answers_is_recorded_as_not_patched_at_the_cutoff(
    fleet: Fleet, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    path = f"{scheduled['web-2']}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    clock.now = utc("2026-11-26 10:44")
    with fleet.store.writing() as connection:
        assert expire(connection, clock()) == []  # it may still join
    clock.now = utc("2026-11-26 10:45")  # the window's end less the 15-minute reserve
    with fleet.store.writing() as connection:
        assert len(expire(connection, clock())) == 2
    record = get(fleet, path)["properties"]
    assert record["status"] == "RetryLater"
    assert record["error"]["code"] == "MachineNotConnected"
    assert fleet.job_of("web-2") is None
