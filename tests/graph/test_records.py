"""Resource Graph's rows follow every change, shaped as Azure Resource Graph shows them:
machines and configurations in ``resources``; assignments, runs and each machine's part
of a run in ``maintenanceresources``; a machine's latest assessment in
``patchassessmentresources``; its installs in ``patchinstallationresources``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from sqlalchemy import delete, select
from starlette.testclient import TestClient

from tests.conftest import SettableClock
from tests.helpers import (
    MAINTENANCE,
    RESOURCES,
    assignment_path,
    configuration_path,
    group_path,
    seed,
)
from tests.machines.test_agent_protocol import FACTS, as_agent
from tests.orchestrator.fleet import BERLIN_DAILY, Fleet, utc
from upkeep.db.migrate import migrate
from upkeep.db.settings import read_setting
from upkeep.db.store import Store
from upkeep.db.tables import graph_rows, jobs
from upkeep.graph import records
from upkeep.graph.tables import COLUMNS
from upkeep.machines import service as machines
from upkeep.machines.presence import JobBoard
from upkeep.orchestrator.loop import Orchestrator
from upkeep.orchestrator.retention import prune
from upkeep.patching.service import Timeouts, expire
from upkeep.server import ServerSettings, prepare

COMPUTE = "api-version=2025-04-01"
RUN = "20261126090000"  # the daily window opening at 09:00 UTC on 2026-11-26
VM = "microsoft.compute/virtualmachines"
ARC = "microsoft.hybridcompute/machines"

OPENSSL = {"patchId": "openssl_3.0.2", "name": "openssl", "version": "3.0.2", "kbId": None,
           "classification": "Security", "classifications": ["Security"],
           "rebootBehavior": "NeverReboots"}  # fmt: skip
VIM = {"patchId": "vim_9.1", "name": "vim", "version": "9.1", "kbId": None,
       "classification": "Other", "classifications": ["Other"], "rebootBehavior": "NeverReboots"}  # fmt: skip
ASSESSED = {
    "status": "Succeeded",
    "startDateTime": "2026-11-26T09:00:00.0000000Z",
    "lastModifiedDateTime": "2026-11-26T09:01:00.0000000Z",
    "rebootPending": False,
    "patchServiceUsed": "APT",
    "osType": "Linux",
    "errors": [],
    "patches": [OPENSSL, VIM],
}
INSTALLED = {
    **ASSESSED,
    "rebootStatus": "NotNeeded",
    "maintenanceWindowExceeded": False,
    "patches": [{**OPENSSL, "installationState": "Installed"},
                {**VIM, "installationState": "NotSelected"}],
    "assessment": {**ASSESSED, "patches": [VIM]},
}  # fmt: skip
INSTALL = {"rebootSetting": "Never", "maximumDuration": "PT1H",
           "linuxParameters": {"classificationsToInclude": ["Security"]}}  # fmt: skip


@pytest.fixture
def store(any_store_url: str) -> Iterator[Store]:
    """Each store Upkeep supports: the rows are written with JSON paths and row values."""
    opened = Store(any_store_url)
    migrate(opened.engine)
    yield opened
    opened.dispose()


@pytest.fixture
def fleet(
    api: TestClient,
    app_client: TestClient,
    store: Store,
    clock: SettableClock,
    subscription_id: str,
) -> Fleet:
    return Fleet(api, app_client, store, clock, subscription_id)


def graph(store: Store, table: str) -> dict[str, dict[str, Any]]:
    """A table's rows as Resource Graph shows them, by id."""
    with store.reading() as connection:
        found = connection.execute(
            select(graph_rows).where(graph_rows.c.table_name == table).order_by(graph_rows.c.row_id)
        ).mappings()
        return {row["id"]: row for row in map(records.row_of, found)}


def tenant(store: Store) -> str:
    with store.reading() as connection:
        value = read_setting(connection, "tenant_id")
    assert value
    return value


def rest(fleet: Fleet, path: str, version: str = COMPUTE) -> dict[str, Any]:
    answer = fleet.api.get(f"{path}?{version}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def report(fleet: Fleet, name: str, job: dict[str, Any], result: dict[str, Any]) -> None:
    answer = fleet.agents.post(
        f"/agent/v1/jobs/{job['id']}/result",
        json={"result": result},
        headers=as_agent(fleet.credentials[name]),
    )
    assert answer.status_code == 200, answer.text


def operate(fleet: Fleet, name: str, machine: str, action: str, result: dict[str, Any]) -> str:
    """Run assessPatches or installPatches on a machine, its agent reporting ``result``."""
    body = INSTALL if action == "installPatches" else None
    assert fleet.api.post(f"{machine}/{action}?{COMPUTE}", json=body).status_code == 202
    job: Any = fleet.job_of(name)
    report(fleet, name, job, result)
    return job["id"]


def heartbeat(fleet: Fleet, name: str, facts: dict[str, Any]) -> None:
    answer = fleet.agents.post(
        "/agent/v1/heartbeat", json={"facts": facts}, headers=as_agent(fleet.credentials[name])
    )
    assert answer.status_code == 200, answer.text


# --- the rows themselves ------------------------------------------------------------------


def test_rows_have_resource_graphs_sixteen_columns_with_its_defaults(store: Store) -> None:
    machine = "/subscriptions/0b1c2d3e-0000-4000-8000-000000000001/resourceGroups/Web/providers/Microsoft.Compute/virtualMachines/web-1"
    row = {"id": machine, "type": "Microsoft.Compute/virtualMachines", "location": "eastus",
           "properties": {"osType": "Linux"}, "tags": {"env": "prod"}, "zones": ["1"]}  # fmt: skip
    with store.writing() as connection:
        records.replace_rows(connection, "test", "resources", [row], utc("2026-11-26 09:00"))
    shown = graph(store, "resources")[machine]
    assert list(shown) == list(COLUMNS)
    assert shown == {
        "id": machine,
        "name": "web-1",
        "type": VM,  # lowercase, as Resource Graph shows types
        "tenantId": tenant(store),
        "kind": "",
        "location": "eastus",
        "resourceGroup": "Web",
        "subscriptionId": "0b1c2d3e-0000-4000-8000-000000000001",
        "managedBy": "",
        "sku": None,
        "plan": None,
        "properties": {"osType": "Linux"},
        "tags": {"env": "prod"},
        "identity": None,
        "zones": ["1"],
        "extendedLocation": None,
    }
    with store.writing() as connection:
        records.replace_rows(connection, "test", "resources", [], utc("2026-11-26 09:00"))
    assert graph(store, "resources") == {}


def test_an_unknown_table_is_refused(store: Store) -> None:
    with store.writing() as connection, pytest.raises(ValueError, match="not a Resource Graph"):
        records.replace_rows(connection, "test", "resourcecontainers", [], utc("2026-11-26"))


# --- machines -------------------------------------------------------------------------------


def test_an_enrolled_machine_is_a_resources_row_as_its_rest_get_shows_it(
    fleet: Fleet, store: Store
) -> None:
    vm = fleet.machine("Web", "web-1", tags={"env": "prod"})
    arc = fleet.machine("Web", "arc-1", resourceType="Microsoft.HybridCompute/machines")
    rows = graph(store, "resources")
    shown = rest(fleet, vm)
    assert rows[vm]["properties"] == shown["properties"]
    assert (rows[vm]["name"], rows[vm]["type"], rows[vm]["tags"]) == ("web-1", VM, {"env": "prod"})
    assert (rows[vm]["subscriptionId"], rows[vm]["resourceGroup"]) == (fleet.sub, "Web")
    assert (rows[vm]["location"], rows[vm]["tenantId"]) == ("eastus", tenant(store))
    assert (rows[arc]["type"], rows[arc]["tags"]) == (ARC, {})
    assert rows[arc]["properties"] == rest(fleet, arc, "api-version=2025-01-13")["properties"]


def test_a_machines_row_follows_its_tags_and_facts_but_a_steady_heartbeat_writes_nothing(
    fleet: Fleet, store: Store, clock: SettableClock
) -> None:
    vm = fleet.machine("Web", "web-1")
    patched = fleet.api.patch(f"{vm}?{COMPUTE}", json={"tags": {"tier": "front"}})
    assert patched.status_code == 200, patched.text
    assert graph(store, "resources")[vm]["tags"] == {"tier": "front"}

    with store.reading() as connection:
        before = connection.execute(select(graph_rows.c.row_id)).scalars().all()
    clock.advance(minutes=1)
    heartbeat(fleet, "web-1", FACTS)
    with store.reading() as connection:
        assert connection.execute(select(graph_rows.c.row_id)).scalars().all() == before

    heartbeat(fleet, "web-1", {**FACTS, "osVersion": "12.8"})
    assert graph(store, "resources")[vm]["properties"]["osVersion"] == "12.8"


def test_a_machine_shows_disconnected_once_silent_and_connected_when_back(
    fleet: Fleet, store: Store, clock: SettableClock
) -> None:
    vm = fleet.machine("Web", "web-1")
    fleet.machine("Web", "web-2")
    fleet.tick()
    assert graph(store, "resources")[vm]["properties"]["status"] == "Connected"
    clock.advance(minutes=5)
    fleet.tick()  # the leader shows machines that went silent as time passes
    rows = graph(store, "resources")
    assert {row["properties"]["status"] for row in rows.values()} == {"Disconnected"}
    assert rows[vm]["properties"]["lastStatusChange"] == "2026-11-26T09:00:00.0000000Z"

    heartbeat(fleet, "web-1", FACTS)
    assert graph(store, "resources")[vm]["properties"]["status"] == "Connected"
    with store.writing() as connection:  # web-2's polls, as the server records them
        machines.record_presence(connection, {vm.replace("web-1", "web-2").lower(): clock()})
    rows = graph(store, "resources")
    assert {row["properties"]["status"] for row in rows.values()} == {"Connected"}


# --- configurations and assignments ---------------------------------------------------------


def test_a_configuration_is_a_resources_row_until_deleted(fleet: Fleet, store: Store) -> None:
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    row = graph(store, "resources")[daily]
    assert row["type"] == "microsoft.maintenance/maintenanceconfigurations"
    assert (row["name"], row["location"], row["resourceGroup"]) == (
        "daily",
        "eastus2euap",
        "Schedules",
    )
    assert row["tags"] == {}
    assert row["properties"] == rest(fleet, daily, MAINTENANCE)["properties"]

    change = {"tags": {"team": "web"}, "properties": {"installPatches": {"rebootSetting": "Never"}}}
    assert fleet.api.patch(f"{daily}?{MAINTENANCE}", json=change).status_code == 200
    row = graph(store, "resources")[daily]
    assert row["tags"] == {"team": "web"}
    assert row["properties"]["installPatches"]["rebootSetting"] == "Never"

    assert fleet.api.delete(f"{daily}?{MAINTENANCE}").status_code == 200
    assert daily not in graph(store, "resources")


def test_locations_are_shown_as_resource_graph_writes_them(fleet: Fleet, store: Store) -> None:
    body = seed(**BERLIN_DAILY) | {"location": "West Europe"}
    weekly = configuration_path(fleet.sub, "Schedules", "weekly")
    assert fleet.api.put(f"{weekly}?{MAINTENANCE}", json=body).status_code == 201
    assert graph(store, "resources")[weekly]["location"] == "westeurope"


def test_assignments_are_maintenanceresources_rows_until_deleted(
    fleet: Fleet, store: Store
) -> None:
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    vm = fleet.machine("Web", "web-1")
    fleet.assign(vm, "daily", daily)
    web = group_path(fleet.sub, "Web")
    prod = {"filter": {"tagSettings": {"tags": {"env": ["prod"]}, "filterOperator": "Any"}}}
    fleet.assign(web, "web-prod", daily, **prod)
    fleet.assign(f"/subscriptions/{fleet.sub}", "everything", daily, filter={"osTypes": ["Linux"]})

    rows = graph(store, "maintenanceresources")
    on_machine = rows[assignment_path(vm, "daily")]
    assert on_machine["type"] == "microsoft.maintenance/configurationassignments"
    assert on_machine["name"] == "daily"
    assert on_machine["properties"] == {"maintenanceConfigurationId": daily, "resourceId": vm}
    assert (on_machine["location"], on_machine["resourceGroup"]) == ("eastus", "Web")
    assert on_machine["tags"] is None
    dynamic = rows[assignment_path(web, "web-prod")]
    assert dynamic["properties"] == {"maintenanceConfigurationId": daily, "resourceId": web, **prod}
    assert dynamic["location"] == "eastus2euap"  # the configuration's
    everywhere = rows[assignment_path(f"/subscriptions/{fleet.sub}", "everything")]
    assert everywhere["properties"]["resourceId"] == f"/subscriptions/{fleet.sub}"
    assert (everywhere["resourceGroup"], everywhere["subscriptionId"]) == ("", fleet.sub)

    assert fleet.api.delete(f"{assignment_path(vm, 'daily')}?{MAINTENANCE}").status_code == 200
    assert assignment_path(vm, "daily") not in graph(store, "maintenanceresources")
    assert fleet.api.delete(f"{daily}?{MAINTENANCE}").status_code == 200  # takes its assignments
    assert graph(store, "maintenanceresources") == {}


# --- assessments and installs ---------------------------------------------------------------


def test_an_assessment_shows_its_summary_and_patches_and_a_new_one_replaces_them(
    fleet: Fleet, store: Store
) -> None:
    vm = fleet.machine("Web", "web-1")
    first = operate(fleet, "web-1", vm, "assessPatches", ASSESSED)
    rows = graph(store, "patchassessmentresources")
    latest = f"{vm}/patchAssessmentResults/latest"
    assert set(rows) == {
        latest,
        f"{latest}/softwarePatches/openssl_3.0.2",
        f"{latest}/softwarePatches/vim_9.1",
    }
    summary = rows[latest]
    assert (summary["name"], summary["type"]) == (first, f"{VM}/patchassessmentresults")
    assert (summary["location"], summary["resourceGroup"], summary["tags"]) == (
        "eastus",
        "Web",
        None,
    )
    assert summary["properties"] == rest(fleet, latest)["properties"]
    assert summary["properties"]["availablePatchCountByClassification"]["security"] == 1
    assert (summary["properties"]["osType"], summary["properties"]["startedBy"]) == (
        "Linux",
        "User",
    )
    patch = rows[f"{latest}/softwarePatches/openssl_3.0.2"]
    assert patch["type"] == f"{VM}/patchassessmentresults/softwarepatches"
    assert patch["properties"]["patchName"] == "openssl"
    assert patch["properties"]["classifications"] == ["Security"]

    second = operate(fleet, "web-1", vm, "assessPatches", {**ASSESSED, "patches": [VIM]})
    rows = graph(store, "patchassessmentresources")
    assert set(rows) == {latest, f"{latest}/softwarePatches/vim_9.1"}
    assert rows[latest]["name"] == second


def test_a_periodic_assessment_shows_as_started_by_the_platform(fleet: Fleet, store: Store) -> None:
    vm = fleet.machine("Web", "web-1", patchSettings={"assessmentMode": "AutomaticByPlatform"})
    fleet.tick()  # the leader queues the machine's periodic assessment
    report(fleet, "web-1", fleet.job_of("web-1"), ASSESSED)
    summary = graph(store, "patchassessmentresources")[f"{vm}/patchAssessmentResults/latest"]
    assert summary["properties"]["startedBy"] == "Platform"


def test_an_install_shows_its_result_and_patches_and_its_closing_assessment(
    fleet: Fleet, store: Store
) -> None:
    arc = fleet.machine("Web", "arc-1", resourceType="Microsoft.HybridCompute/machines")
    assert (
        fleet.api.post(f"{arc}/installPatches?api-version=2025-01-13", json=INSTALL).status_code
        == 202
    )
    job: Any = fleet.job_of("arc-1")
    assert graph(store, "patchinstallationresources") == {}  # no result yet
    report(fleet, "arc-1", job, INSTALLED)

    rows = graph(store, "patchinstallationresources")
    result = f"{arc}/patchInstallationResults/{job['id']}"
    assert set(rows) == {
        result,
        f"{result}/softwarePatches/openssl_3.0.2",
        f"{result}/softwarePatches/vim_9.1",
    }
    summary = rows[result]
    assert (summary["name"], summary["type"]) == (job["id"], f"{ARC}/patchinstallationresults")
    assert summary["properties"] == rest(fleet, result, "api-version=2025-01-13")["properties"]
    assert summary["properties"]["installationActivityId"] == job["id"]
    assert (
        summary["properties"]["installedPatchCount"],
        summary["properties"]["notSelectedPatchCount"],
    ) == (1, 1)
    assert (summary["properties"]["status"], summary["properties"]["rebootStatus"]) == (
        "Succeeded",
        "NotNeeded",
    )
    patch = rows[f"{result}/softwarePatches/openssl_3.0.2"]
    assert patch["type"] == f"{ARC}/patchinstallationresults/softwarepatches"
    assert patch["properties"]["installationState"] == "Installed"

    assessed = graph(store, "patchassessmentresources")
    latest = f"{arc}/patchAssessmentResults/latest"
    assert assessed[latest]["name"] == job["id"]  # the install's closing assessment
    assert set(assessed) == {latest, f"{latest}/softwarePatches/vim_9.1"}


def test_rest_lists_software_patches_with_their_parents_type(fleet: Fleet) -> None:
    vm = fleet.machine("Web", "web-1")
    job = operate(fleet, "web-1", vm, "installPatches", INSTALLED)
    latest = rest(fleet, f"{vm}/patchAssessmentResults/latest/softwarePatches")["value"]
    assert [row["type"] for row in latest] == [f"{VM}/patchassessmentresults/softwarepatches"]
    installed = rest(fleet, f"{vm}/patchInstallationResults/{job}/softwarePatches")["value"]
    assert {row["type"] for row in installed} == {f"{VM}/patchinstallationresults/softwarepatches"}


# --- maintenance runs -------------------------------------------------------------------------


@pytest.fixture
def scheduled(fleet: Fleet, clock: SettableClock) -> dict[str, str]:
    """A daily window and two assigned machines, at 08:00 UTC before the first window."""
    clock.now = utc("2026-11-26 08:00")
    daily = fleet.configuration("daily", **BERLIN_DAILY)
    made = {"configuration": daily}
    for name in ("web-1", "web-2"):
        made[name] = fleet.machine("Web", name)
        fleet.assign(made[name], "daily", daily)
    made["run"] = f"{daily}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    return made


def part(machine: str) -> str:
    """A machine's part of today's run."""
    return f"{machine}/providers/Microsoft.Maintenance/applyUpdates/{RUN}"


def shown_in_progress(store: Store, ids: list[str]) -> dict[str, Any]:
    """The maintenance rows once those of ``ids`` say InProgress (within a second)."""
    deadline = time.monotonic() + 1
    while True:
        rows = graph(store, "maintenanceresources")
        if all(key in rows and rows[key]["properties"]["status"] == "InProgress" for key in ids):
            return rows
        if time.monotonic() > deadline:
            return rows
        time.sleep(0.01)


def test_a_run_shows_each_machines_part_and_the_run_as_the_jobs_move(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()  # the window opens: its agents are told first
    fleet.tick()  # the next round shows the run
    rows = graph(store, "maintenanceresources")
    web_1, run = rows[part(scheduled["web-1"])], rows[scheduled["run"]]
    assert (web_1["name"], web_1["type"]) == (RUN, "microsoft.maintenance/applyupdates")
    assert (web_1["location"], web_1["resourceGroup"]) == ("eastus", "Web")
    assert web_1["properties"] | {"lastUpdateTime": None} == {
        "status": "Pending",
        "resourceId": scheduled["web-1"],
        "maintenanceConfigurationId": scheduled["configuration"],
        "maintenanceScope": "InGuestPatch",
        "correlationId": scheduled["run"],
        "startDateTime": "2026-11-26T09:00:00.0000000Z",
        "endDateTime": "2026-11-26T11:00:00.0000000Z",
        "lastUpdateTime": None,
    }
    assert (run["name"], run["type"]) == (
        RUN,
        "microsoft.maintenance/maintenanceconfigurations/applyupdates",
    )
    assert (run["location"], run["resourceGroup"]) == ("eastus2euap", "Schedules")
    assert run["properties"]["correlationId"] == scheduled["run"]
    assert (run["properties"]["status"], run["properties"]["machineCount"]) == ("Pending", 2)

    job: Any = fleet.job_of("web-1")
    # the rows follow the agent's answer in a transaction of their own (dispatch is the
    # window's hot path), so they say InProgress a moment after the agent has its job
    rows = shown_in_progress(store, [part(scheduled["web-1"]), scheduled["run"]])
    assert rows[part(scheduled["web-1"])]["properties"]["status"] == "InProgress"
    assert rows[scheduled["run"]]["properties"]["status"] == "InProgress"

    clock.now = utc("2026-11-26 09:20")
    report(fleet, "web-1", job, INSTALLED)
    rows = graph(store, "maintenanceresources")
    done = rows[part(scheduled["web-1"])]["properties"]
    assert (done["status"], done["lastUpdateTime"]) == ("Completed", "2026-11-26T09:20:00.0000000Z")
    assert done == rest(fleet, part(scheduled["web-1"]), MAINTENANCE)["properties"] | {
        "maintenanceScope": "InGuestPatch"
    }
    assert rows[scheduled["run"]]["properties"]["lastUpdateTime"] == "2026-11-26T09:20:00.0000000Z"
    installed = graph(store, "patchinstallationresources")
    summary = installed[f"{scheduled['web-1']}/patchInstallationResults/{job['id']}"]
    assert summary["properties"]["maintenanceRunId"] == scheduled["run"]
    assert summary["properties"]["startedBy"] == "Platform"

    report(fleet, "web-2", fleet.job_of("web-2"), INSTALLED)
    assert (
        graph(store, "maintenanceresources")[scheduled["run"]]["properties"]["status"]
        == "Completed"
    )


def test_a_runs_rows_follow_once_its_agents_were_told(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    assert scheduled["run"] not in graph(store, "maintenanceresources")
    assert fleet.job_of("web-1") is not None
    shown_in_progress(store, [part(scheduled["web-1"])])
    fleet.tick()
    rows = graph(store, "maintenanceresources")
    assert rows[part(scheduled["web-1"])]["properties"]["status"] == "InProgress"
    assert rows[part(scheduled["web-2"])]["properties"]["status"] == "Pending"
    run = rows[scheduled["run"]]["properties"]
    assert (run["status"], run["machineCount"]) == ("InProgress", 2)


def test_a_new_leader_shows_the_runs_its_predecessor_opened(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()  # the leader opens the window, then stops before its next round
    successor = Orchestrator(store, clock, JobBoard(), Timeouts())
    clock.now = utc("2026-11-26 09:01")  # the stopped leader's lease has run out
    asyncio.run(successor.tick_once())
    rows = graph(store, "maintenanceresources")
    assert rows[part(scheduled["web-1"])]["properties"]["status"] == "Pending"
    assert rows[scheduled["run"]]["properties"]["machineCount"] == 2


def test_missed_and_cancelled_windows_are_on_record(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    tomorrow = scheduled["run"].replace(RUN, "20261127090000")
    cancel = {"properties": {"status": "Cancel"}}
    answer = fleet.api.put(f"{tomorrow}?api-version=2023-09-01-preview", json=cancel)
    assert answer.status_code == 200, answer.text
    cancelled = graph(store, "maintenanceresources")[tomorrow]["properties"]
    assert (cancelled["status"], cancelled["machineCount"]) == ("Cancelled", 0)

    clock.now = utc("2026-11-26 10:55")  # too late to patch in today's window
    fleet.tick()
    missed = graph(store, "maintenanceresources")[scheduled["run"]]["properties"]
    assert (missed["status"], missed["error"]["code"]) == ("RetryLater", "Missed")
    assert part(scheduled["web-1"]) not in graph(store, "maintenanceresources")


def test_cancelling_an_open_window_cancels_the_machines_that_had_not_started(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    started = fleet.job_of("web-1")
    cancel = {"properties": {"status": "Cancel"}}
    answer = fleet.api.put(f"{scheduled['run']}?api-version=2023-09-01-preview", json=cancel)
    assert answer.status_code == 200, answer.text
    rows = graph(store, "maintenanceresources")
    assert rows[scheduled["run"]]["properties"]["status"] == "Cancelled"
    assert rows[part(scheduled["web-1"])]["properties"]["status"] == "InProgress"
    left = rows[part(scheduled["web-2"])]["properties"]
    assert (left["status"], left["error"]["code"]) == ("Cancelled", "Cancelled")
    assert started is not None


def test_a_rollout_holds_machines_then_gives_them_their_turn_or_fails_them(
    fleet: Fleet, store: Store, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 08:00")
    rollout = {"InGuestPatchMode": "User", "maxConcurrency": "1"}
    daily = fleet.configuration("daily", **BERLIN_DAILY, extensionProperties=rollout)
    machines = {name: fleet.machine("Web", name) for name in ("m1", "m2", "m3")}
    for machine in machines.values():
        fleet.assign(machine, "daily", daily)
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    first: Any = fleet.job_of("m1")
    report(fleet, "m1", first, INSTALLED)
    clock.now = utc("2026-11-26 09:30")
    fleet.tick()  # m2's turn: queued again now
    second = graph(store, "maintenanceresources")[part(machines["m2"])]["properties"]
    assert (second["status"], second["lastUpdateTime"]) == (
        "Pending",
        "2026-11-26T09:30:00.0000000Z",
    )
    clock.now = utc("2026-11-26 10:45")  # the cutoff: m3's turn never comes
    fleet.tick()
    third = graph(store, "maintenanceresources")[part(machines["m3"])]["properties"]
    assert (third["status"], third["error"]["code"]) == ("RetryLater", "WindowEnded")


def test_a_machine_that_never_answers_is_retry_later_with_a_failed_installation(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    clock.now = utc("2026-11-26 10:45")
    with store.writing() as connection:
        expired = expire(connection, clock())
    mine = graph(store, "maintenanceresources")[part(scheduled["web-2"])]["properties"]
    assert (mine["status"], mine["error"]["code"]) == ("RetryLater", "MachineNotConnected")
    installed = graph(store, "patchinstallationresources")
    failed = [row for row in installed.values() if row["name"] in expired]
    assert {row["properties"]["status"] for row in failed} == {"Failed"}
    assert len(failed) == 2


def test_two_transactions_changing_one_run_at_once_leave_it_one_row(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    with store.reading() as connection:
        first, second = connection.execute(select(jobs.c.id)).scalars().all()

    def change(job_id: str) -> None:
        with store.writing() as connection:
            records.refresh_jobs(connection, [job_id], clock())

    with store.writing() as connection:
        records.refresh_jobs(connection, [first], clock())
        other = Thread(target=change, args=(second,))
        other.start()
        time.sleep(0.3)  # the other transaction now waits for this one to commit
    other.join()
    with store.reading() as connection:
        keys = connection.execute(select(graph_rows.c.key)).scalars().all()
    assert keys.count(scheduled["run"].lower()) == 1
    assert len(keys) == len(set(keys))


# --- history and deletions -------------------------------------------------------------------


def test_retention_prunes_installation_rows_with_their_jobs(
    fleet: Fleet, store: Store, clock: SettableClock
) -> None:
    vm = fleet.machine("Web", "web-1")
    old = operate(fleet, "web-1", vm, "installPatches", INSTALLED)
    clock.advance(days=40)
    new = operate(fleet, "web-1", vm, "installPatches", INSTALLED)
    with store.writing() as connection:
        prune(connection, clock(), timedelta(days=30))
    names = {row["name"] for row in graph(store, "patchinstallationresources").values()}
    assert new in names
    assert old not in names
    assert (
        graph(store, "patchassessmentresources")[f"{vm}/patchAssessmentResults/latest"]["name"]
        == new
    )


def test_deleting_a_machine_removes_its_rows_and_its_runs_count_it_no_more(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    web_1 = scheduled["web-1"]
    report(fleet, "web-1", fleet.job_of("web-1"), INSTALLED)
    assert fleet.api.delete(f"{web_1}?{COMPUTE}").status_code == 200
    everything = [row for table in records.TABLES for row in graph(store, table).values()]
    assert not [row for row in everything if row["id"].lower().startswith(web_1.lower())]
    run = graph(store, "maintenanceresources")[scheduled["run"]]["properties"]
    assert run["machineCount"] == 1


def test_deleting_a_resource_group_removes_everything_in_it(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    elsewhere = fleet.machine("Db", "db-1")
    fleet.assign(elsewhere, "daily", scheduled["configuration"])
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    fleet.tick()  # the run is shown
    assert fleet.api.delete(f"{group_path(fleet.sub, 'Web')}?{RESOURCES}").status_code in (200, 202)
    rows = graph(store, "resources") | graph(store, "maintenanceresources")
    assert not [row for row in rows.values() if row["resourceGroup"] == "Web"]
    assert rows[scheduled["run"]]["properties"]["machineCount"] == 1
    assert fleet.api.delete(f"{group_path(fleet.sub, 'Schedules')}?{RESOURCES}").status_code in (
        200,
        202,
    )
    rows = graph(store, "resources") | graph(store, "maintenanceresources")
    assert assignment_path(elsewhere, "daily") not in rows  # its configuration is gone
    assert scheduled["run"] in rows  # the run is history, as its machines' parts are
    assert part(elsewhere) in rows


# --- a store from before Resource Graph ------------------------------------------------------


def everything(store: Store) -> list[tuple[str, dict[str, Any]]]:
    with store.reading() as connection:
        found = connection.execute(select(graph_rows).order_by(graph_rows.c.key)).mappings()
        return [(row["table_name"], records.row_of(row)) for row in found]


def test_a_store_without_rows_is_backfilled_once_with_the_rows_changes_write(
    fleet: Fleet, store: Store, clock: SettableClock, scheduled: dict[str, str]
) -> None:
    fleet.assign(group_path(fleet.sub, "Web"), "web", scheduled["configuration"], filter={})
    operate(fleet, "web-2", scheduled["web-2"], "assessPatches", ASSESSED)
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    fleet.tick()  # the run is shown
    report(fleet, "web-1", fleet.job_of("web-1"), INSTALLED)
    written = everything(store)
    with store.writing() as connection:
        connection.execute(delete(graph_rows))  # as migration 0004 leaves an older store
        assert records.backfill(connection, clock())
        assert not records.backfill(connection, clock())
    assert everything(store) == written


def test_an_empty_store_needs_no_backfill(store: Store) -> None:
    with store.writing() as connection:
        assert not records.backfill(connection, datetime.fromisoformat("2026-11-26T09:00+00:00"))


def test_serve_backfills_a_store_from_before_resource_graph_once(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path / "data", insecure_http=True)
    first = prepare(settings)
    now = datetime.now(UTC)
    with first.store.writing() as connection:
        scope = f"/subscriptions/{first.subscription_id}"
        _, secret = machines.create_enrollment_token(connection, scope=scope, now=now)
        enrollment = machines.Enrollment(
            first.subscription_id, "Web", "web-1", "Microsoft.Compute/virtualMachines",
            "eastus", {}, FACTS, {},
        )  # fmt: skip
        resource, _ = machines.enroll(connection, secret, enrollment, now)
        connection.execute(delete(graph_rows))  # as migration 0004 leaves an older store
    first.store.dispose()
    again = prepare(settings)
    try:
        assert list(graph(again.store, "resources")) == [resource["id"]]
    finally:
        again.store.dispose()
