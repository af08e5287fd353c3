"""``upkeep maintenance applyupdate``, ``upkeep maintenance run`` and the machines of
``show-schedule``, as a person sees them. The CLI talks to the app in-process, so the test
clock opens windows and the test plays the agents."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.cli.test_cli import Cli
from tests.conftest import BY_HAND, SettableClock, Tokens
from tests.orchestrator.fleet import BERLIN_DAILY, Fleet, utc
from upkeep.app import create_app
from upkeep.cli.client import ApiClient
from upkeep.cli.context import Context
from upkeep.cli.main import main
from upkeep.db.store import Store

RUN = "20261126090000"  # the window opening at 09:00 UTC on 2026-11-26
NEXT = "20261127090000"
CONFIG = "-g Schedules -n daily"
WEB_1 = (
    "--resource-group Web --resource-name web-1 --resource-type virtualMachines"
    " --provider-name Microsoft.Compute"
)


def installed(*states: str, reboot: str = "NotNeeded") -> dict[str, Any]:
    """An install result with one patch in each of ``states``."""
    return {
        "status": "Failed" if "Failed" in states else "Succeeded",
        "rebootStatus": reboot,
        "maintenanceWindowExceeded": False,
        "errors": [],
        "patches": [
            {"patchId": f"pkg{index}_1.0", "name": f"pkg{index}", "version": "1.0",
             "classifications": ["Security"], "installationState": state}
            for index, state in enumerate(states)
        ],
    }  # fmt: skip


class InProcess(ApiClient):
    """The CLI's client, on the in-process app (its TestClient outlives each command)."""

    def __init__(self, client: TestClient) -> None:
        self._client = client


@pytest.fixture
def fleet(
    api: TestClient,
    app_client: TestClient,
    store: Store,
    clock: SettableClock,
    subscription_id: str,
) -> Fleet:
    """A daily window (09:00 UTC) of ``Schedules/daily`` with web-1 and web-2 assigned, at
    08:00 before the first one; db-1 is not assigned."""
    made = Fleet(api, app_client, store, clock, subscription_id)
    clock.now = utc("2026-11-26 08:00")
    daily = made.configuration("daily", **BERLIN_DAILY)
    for name in ("web-1", "web-2"):
        made.assign(made.machine("Web", name), "daily", daily)
    made.machine("Db", "db-1")
    return made


@pytest.fixture
def cli(
    fleet: Fleet,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Cli:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("UPKEEP_SERVER", "UPKEEP_TOKEN", "UPKEEP_CA_CERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPKEEP_SUBSCRIPTION", fleet.sub)
    use(monkeypatch, fleet.api)
    return Cli(capsys)


def use(monkeypatch: pytest.MonkeyPatch, client: TestClient) -> None:
    """Make every CLI command call the API through ``client``."""
    monkeypatch.setattr(Context, "client", property(lambda context: InProcess(client)))


def run_window(fleet: Fleet, clock: SettableClock) -> None:
    """The 09:00 window: web-1 picks its job up at 09:01 and reports at 09:21 (one patch
    installed); web-2 picks up at 09:02 and reports at 09:47:30 (installed, failed, pending,
    and a reboot it still needs)."""
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    clock.now = utc("2026-11-26 09:01")
    first = fleet.job_of("web-1")
    clock.now = utc("2026-11-26 09:02")
    second = fleet.job_of("web-2")
    assert first is not None and second is not None
    for name, job, at, result in (
        ("web-1", first, "09:21", installed("Installed")),
        (
            "web-2",
            second,
            "09:47:30",
            installed("Installed", "Failed", "Pending", reboot="Required"),
        ),
    ):
        clock.now = utc(f"2026-11-26 {at}")
        report(fleet, name, job, result)


def report(fleet: Fleet, name: str, job: dict[str, Any], result: dict[str, Any]) -> None:
    """``name``'s agent reports ``job`` done with ``result``."""
    answer = fleet.agents.post(
        f"/agent/v1/jobs/{job['id']}/result",
        json={"result": result},
        headers={"Authorization": f"Bearer {fleet.credentials[name]}"},
    )
    assert answer.status_code == 200, answer.text


def usage_error(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    """What argparse prints for a command line it refuses (it exits 2, as az does)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(shlex.split(command))
    assert exited.value.code == 2
    return capsys.readouterr().err


def rows(table: str) -> tuple[list[str], list[list[str]]]:
    """A table's headers and its rows, cells split on runs of two or more spaces."""
    lines = table.rstrip("\n").splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}
    return lines[0].split(), [_cells(line) for line in lines[2:]]


def _cells(line: str) -> list[str]:
    return [cell for cell in (part.strip() for part in line.split("  ")) if cell]


# --- show-schedule ---------------------------------------------------------------------


def test_show_schedule_names_the_machines_of_each_window(cli: Cli, fleet: Fleet) -> None:
    windows = cli.json("maintenance configuration show-schedule -g Schedules -n daily --count 2")
    web = (
        f"/subscriptions/{fleet.sub}/resourceGroups/Web/providers/Microsoft.Compute/virtualMachines"
    )
    assert [window["startDateTime"] for window in windows] == [
        "2026-11-26T09:00:00.0000000Z",
        "2026-11-27T09:00:00.0000000Z",
    ]
    assert [window["machines"] for window in windows] == [[f"{web}/web-1", f"{web}/web-2"]] * 2

    headers, cells = rows(
        cli(f"maintenance configuration show-schedule {CONFIG} --count 2 -o table")
    )
    assert headers == [
        "LocalStart", "LocalEnd", "StartDateTime", "EndDateTime", "MachineCount", "Machines"
    ]  # fmt: skip
    assert cells[0] == [
        "2026-11-26 10:00 +01:00",
        "2026-11-26 12:00 +01:00",
        "2026-11-26T09:00:00.0000000Z",
        "2026-11-26T11:00:00.0000000Z",
        "2",
        "web-1, web-2",
    ]


def test_show_schedule_table_counts_what_it_does_not_name(cli: Cli, fleet: Fleet) -> None:
    daily = f"/subscriptions/{fleet.sub}/resourceGroups/Schedules/providers/Microsoft.Maintenance/maintenanceConfigurations/daily"
    for name in ("web-3", "web-4", "web-5"):
        fleet.assign(fleet.machine("Web", name), "daily", daily)
    _, cells = rows(cli(f"maintenance configuration show-schedule {CONFIG} --count 1 -o table"))
    assert cells[0][-2:] == ["5", "web-1, web-2, web-3 +2 more"]


def test_show_schedule_of_a_configuration_nobody_is_assigned_to(cli: Cli, fleet: Fleet) -> None:
    fleet.configuration("lonely", **BERLIN_DAILY)
    windows = cli.json("maintenance configuration show-schedule -g Schedules -n lonely --count 1")
    assert windows[0]["machines"] == []
    headers, cells = rows(
        cli("maintenance configuration show-schedule -g Schedules -n lonely --count 1 -o table")
    )
    assert headers[-2:] == ["MachineCount", "Machines"]
    assert cells[0][-1] == "0"  # and no names


# --- run list / show ---------------------------------------------------------------------


def test_run_show_lists_each_machine_with_its_counts_reboot_and_duration(
    cli: Cli, fleet: Fleet, clock: SettableClock
) -> None:
    run_window(fleet, clock)
    show = f"maintenance run show {CONFIG} --run-name {RUN}"
    text = cli(f"{show} -o table")
    run_table, machine_table = text.split("\n\n")
    headers, [run] = rows(run_table)
    assert headers == ["Name", "StartDateTime", "EndDateTime", "Status", "MachineCount", "Error"]
    assert run == [
        RUN, "2026-11-26T09:00:00.0000000Z", "2026-11-26T11:00:00.0000000Z", "Completed", "2"
    ]  # fmt: skip
    headers, machines = rows(machine_table)
    assert headers == [
        "Machine", "Status", "Installed", "Failed", "Pending", "RebootStatus", "Duration", "Error"
    ]  # fmt: skip
    assert machines == [
        ["web-1", "Completed", "1", "0", "0", "NotNeeded", "00:20:00"],
        ["web-2", "Completed", "1", "1", "1", "Required", "00:45:30"],
    ]

    shown = cli.json(show)
    assert (shown["name"], shown["status"], shown["machineCount"]) == (RUN, "Completed", 2)
    assert shown["correlationId"].endswith(
        f"/maintenanceConfigurations/daily/providers/Microsoft.Maintenance/applyUpdates/{RUN}"
    )
    web_2 = shown["machines"][1]
    assert web_2["machine"] == "web-2"
    assert web_2["resourceId"].endswith(
        "/resourceGroups/Web/providers/Microsoft.Compute/virtualMachines/web-2"
    )
    assert {key: web_2[key] for key in (
        "status", "installedPatchCount", "failedPatchCount", "pendingPatchCount",
        "rebootStatus", "duration", "startDateTime", "endDateTime", "error",
    )} == {
        "status": "Completed", "installedPatchCount": 1, "failedPatchCount": 1,
        "pendingPatchCount": 1, "rebootStatus": "Required", "duration": "00:45:30",
        "startDateTime": "2026-11-26T09:02:00.0000000Z",
        "endDateTime": "2026-11-26T09:47:30.0000000Z", "error": None,
    }  # fmt: skip
    # the same install, as the machine's patchInstallationResults has it
    result = fleet.api.get(
        f"{web_2['resourceId']}/patchInstallationResults/{web_2['installationActivityId']}"
        "?api-version=2024-11-01"
    ).json()["properties"]
    assert result["maintenanceRunId"] == shown["correlationId"]
    assert (result["installedPatchCount"], result["failedPatchCount"]) == (1, 1)


def test_run_show_while_the_window_is_open(cli: Cli, fleet: Fleet, clock: SettableClock) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    clock.now = utc("2026-11-26 09:05")
    assert fleet.job_of("web-1") is not None
    _, machines = rows(
        cli(f"maintenance run show {CONFIG} --run-name {RUN} -o table").split("\n\n")[1]
    )
    assert machines == [["web-1", "InProgress", "0", "0", "0"], ["web-2", "Pending"]]
    shown = cli.json(f"maintenance run show {CONFIG} --run-name {RUN}")
    assert shown["status"] == "InProgress"
    assert [(m["status"], m["startDateTime"], m["duration"]) for m in shown["machines"]] == [
        ("InProgress", "2026-11-26T09:05:00.0000000Z", None),
        ("Pending", None, None),
    ]


def test_run_list_shows_each_window_newest_first_with_errors(
    cli: Cli, fleet: Fleet, clock: SettableClock
) -> None:
    run_window(fleet, clock)
    clock.now = utc("2026-11-27 10:55")  # the next window, found with five minutes left
    fleet.tick()
    listed = cli.json(f"maintenance run list {CONFIG}")
    assert [(run["name"], run["status"], run["machineCount"]) for run in listed] == [
        (NEXT, "RetryLater", 0),
        (RUN, "Completed", 2),
    ]
    assert listed[0]["error"]["code"] == "Missed"
    headers, runs = rows(cli(f"maintenance run list {CONFIG} -o table"))
    assert headers == ["Name", "StartDateTime", "EndDateTime", "Status", "MachineCount", "Error"]
    assert runs[0][:5] == [
        NEXT, "2026-11-27T09:00:00.0000000Z", "2026-11-27T11:00:00.0000000Z", "RetryLater", "0"
    ]  # fmt: skip
    assert runs[0][5].startswith("(Missed) No server was running")
    assert runs[1] == [
        RUN, "2026-11-26T09:00:00.0000000Z", "2026-11-26T11:00:00.0000000Z", "Completed", "2"
    ]  # fmt: skip


def test_a_reader_of_the_configuration_sees_only_the_machines_it_may_read(
    cli: Cli,
    fleet: Fleet,
    clock: SettableClock,
    store: Store,
    tokens: Tokens,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_window(fleet, clock)
    fleet.machine("Schedules", "ops-1")  # the configuration's own group
    daily = f"/subscriptions/{fleet.sub}/resourceGroups/Schedules/providers/Microsoft.Maintenance/maintenanceConfigurations/daily"
    fleet.assign(
        f"/subscriptions/{fleet.sub}/resourceGroups/Schedules/providers/Microsoft.Compute/virtualMachines/ops-1",
        "daily",
        daily,
    )
    clock.now = utc("2026-11-27 09:00")
    fleet.tick()
    reader = tokens.make("Reader", f"/subscriptions/{fleet.sub}/resourceGroups/Schedules")
    app = create_app(store, clock, intervals=BY_HAND)
    headers = {"Authorization": f"Bearer {reader}"}
    with TestClient(app, base_url="https://testserver", headers=headers) as client:
        use(monkeypatch, client)
        shown = cli.json(f"maintenance run show {CONFIG} --run-name {NEXT}")
        assert shown["machineCount"] == 3
        assert [machine["machine"] for machine in shown["machines"]] == ["ops-1"]
        denied = cli(f"maintenance run show -g Web -n daily --run-name {NEXT}", code=1)
        assert denied.startswith("ERROR: (AuthorizationFailed)")


def test_run_errors_say_what_is_wrong(
    cli: Cli, fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = cli(f"maintenance run show {CONFIG} --run-name {RUN}", code=3)
    assert missing.startswith(
        f"ERROR: (ResourceNotFound) The maintenance configuration 'daily' has no run '{RUN}'."
    )
    nothing = cli("maintenance run list -g Schedules -n nope", code=3)
    assert nothing.startswith("ERROR: (ResourceNotFound)")
    assert cli.json(f"maintenance run list {CONFIG}") == []
    assert cli(f"maintenance run list {CONFIG} -o table") == ""
    assert "the following arguments are required: --run-name" in usage_error(
        f"maintenance run show {CONFIG}", capsys
    )


# --- run cancel --------------------------------------------------------------------------


def test_cancelling_a_window_before_it_opens(cli: Cli, fleet: Fleet, clock: SettableClock) -> None:
    cancelled = cli.json(f"maintenance run cancel {CONFIG} --run-name {RUN} --yes")
    assert (cancelled["name"], cancelled["status"], cancelled["machineCount"]) == (
        RUN,
        "Cancelled",
        0,
    )
    assert cancelled["error"] == {
        "code": "Cancelled",
        "message": "Cancelled before the window started.",
    }
    _, runs = rows(cli(f"maintenance run list {CONFIG} -o table"))
    assert runs == [
        [RUN, "2026-11-26T09:00:00.0000000Z", "2026-11-26T11:00:00.0000000Z", "Cancelled", "0",
         "(Cancelled) Cancelled before the window started."],
    ]  # fmt: skip
    clock.now = utc("2026-11-26 09:00")
    assert fleet.tick() == []  # the window does not run
    assert fleet.job_of("web-1") is None


def test_cancelling_an_open_window_stops_machines_that_have_not_started(
    cli: Cli, fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-11-26 09:00")
    fleet.tick()
    assert fleet.job_of("web-1") is not None
    headers, [run] = rows(cli(f"maintenance run cancel {CONFIG} --run-name {RUN} -o table"))
    assert headers == ["Name", "StartDateTime", "EndDateTime", "Status", "MachineCount", "Error"]
    assert run[3:] == ["Cancelled", "2", "(Cancelled) Cancelled while the window was open."]
    assert fleet.job_of("web-2") is None
    _, machines = rows(
        cli(f"maintenance run show {CONFIG} --run-name {RUN} -o table").split("\n\n")[1]
    )
    assert machines == [
        ["web-1", "InProgress", "0", "0", "0"],
        ["web-2", "Cancelled", "Cancelled"],  # its error's code
    ]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("20261126093000", "'20261126093000' is not a window of this configuration"),
        ("tomorrow", "'tomorrow' is not a window of this configuration"),
    ],
    ids=["not a window start", "not a window name"],
)
def test_cancelling_what_is_not_a_window_is_refused(
    cli: Cli, fleet: Fleet, clock: SettableClock, name: str, why: str
) -> None:
    error = cli(f"maintenance run cancel {CONFIG} --run-name {name} --yes", code=1)
    assert error.startswith(f"ERROR: (InvalidParameter) applyUpdateName: {why}")
    assert "Target: applyUpdateName" in error
    assert cli.json(f"maintenance run list {CONFIG}") == []
    clock.now = utc("2026-11-26 09:00")
    assert [run.state for run in fleet.tick()] == ["Started"]


# --- applyupdate ---------------------------------------------------------------------------


def test_applyupdate_create_show_and_list(cli: Cli, fleet: Fleet, clock: SettableClock) -> None:
    created = cli.json(f"maintenance applyupdate create {WEB_1}")
    assert created["name"] != "default"  # a GUID, as Azure names it
    assert created["type"] == "Microsoft.Maintenance/applyUpdates"
    assert created["status"] == "Pending"
    assert created["resourceId"].endswith(
        "/resourceGroups/Web/providers/Microsoft.Compute/virtualMachines/web-1"
    )
    assert created["maintenanceConfigurationId"].endswith("/maintenanceConfigurations/daily")
    job = fleet.job_of("web-1")
    assert job is not None and job["kind"] == "install"
    show = f"maintenance applyupdate show {WEB_1} --apply-update-name {created['name']}"
    assert cli.json(show)["status"] == "InProgress"
    clock.now = utc("2026-11-26 08:10")
    report(fleet, "web-1", job, installed("Installed"))
    shown = cli.json(show)
    assert (shown["name"], shown["status"]) == (created["name"], "Completed")
    assert shown["lastUpdateTime"] == "2026-11-26T08:10:00.0000000Z"

    run_window(fleet, clock)
    everything = cli.json("maintenance applyupdate list")
    assert sorted(
        (record["name"], record["resourceId"].rsplit("/", 1)[1]) for record in everything
    ) == sorted([(RUN, "web-1"), (RUN, "web-2"), (created["name"], "web-1")])
    assert cli.json("maintenance applyupdate list -g Db") == []
    headers, records = rows(cli("maintenance applyupdate list --resource-group Web -o table"))
    assert headers == [
        "Name",
        "Machine",
        "ResourceGroup",
        "Configuration",
        "Status",
        "LastUpdateTime",
    ]
    assert sorted(records) == sorted([
        [RUN, "web-1", "Web", "daily", "Completed", "2026-11-26T09:21:00.0000000Z"],
        [RUN, "web-2", "Web", "daily", "Completed", "2026-11-26T09:47:30.0000000Z"],
        [created["name"], "web-1", "Web", "daily", "Completed", "2026-11-26T08:10:00.0000000Z"],
    ])  # fmt: skip


def test_applyupdate_errors(cli: Cli, fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    lonely = WEB_1.replace("Web", "Db").replace("web-1", "db-1")
    refused = cli(f"maintenance applyupdate create {lonely}", code=1)
    assert refused.startswith(
        "ERROR: (InvalidParameter) No maintenance configuration is assigned to 'db-1'"
    )
    assert fleet.job_of("db-1") is None
    missing = cli(f"maintenance applyupdate show {WEB_1} --apply-update-name {RUN}", code=3)
    assert missing.startswith(
        f"ERROR: (ResourceNotFound) The machine 'web-1' has no maintenance run '{RUN}'."
    )
    usage = usage_error("maintenance applyupdate create -g Web --resource-name web-1", capsys)
    assert "the following arguments are required: --resource-type, --provider-name" in usage
