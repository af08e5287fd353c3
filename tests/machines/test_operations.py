"""assessPatches and installPatches as long-running operations, driven by a hand-written
agent: the ARM side (202, operation status, Location), deadlines, history, and bad input."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import SettableClock
from tests.machines.test_agent_protocol import as_agent, enroll, enrollment_token
from upkeep.app import create_app
from upkeep.db.store import Store

COMPUTE = "2025-04-01"
ARC = "2025-01-13"

ASSESSMENT = {
    "status": "Succeeded",
    "startDateTime": "2026-11-26T09:00:00.0000000Z",
    "lastModifiedDateTime": "2026-11-26T09:01:00.0000000Z",
    "rebootPending": False,
    "patchServiceUsed": "APT",
    "osType": "Linux",
    "errors": [],
    "patches": [
        {"patchId": "openssl_3.0.2", "name": "openssl", "version": "3.0.2", "kbId": None,
         "classification": "Security", "classifications": ["Security"],
         "rebootBehavior": "NeverReboots"},
        {"patchId": "vim_9.1", "name": "vim", "version": "9.1", "kbId": None,
         "classification": "Other", "classifications": ["Other"], "rebootBehavior": "NeverReboots"},
    ],
}  # fmt: skip


@pytest.fixture
def machines(
    app_client: TestClient, store: Store, clock: SettableClock, subscription_id: str
) -> dict[str, Any]:
    token = enrollment_token(store, clock, f"/subscriptions/{subscription_id}")
    made = {}
    for name, kind in (
        ("vm", "Microsoft.Compute/virtualMachines"),
        ("arc", "Microsoft.HybridCompute/machines"),
    ):
        body = enroll(app_client, token, subscription_id, "Fleet", name, resourceType=kind).json()
        made[name] = {"id": body["machine"]["id"], "credential": body["credential"]}
    return made


def start(
    api: TestClient, machine: str, action: str, version: str, body: Any = None
) -> httpx.Response:
    return api.post(f"{machine}/{action}?api-version={version}", json=body)


def take_job(app_client: TestClient, credential: str) -> dict[str, Any]:
    answer = app_client.get("/agent/v1/jobs/next?wait=0", headers=as_agent(credential))
    assert answer.status_code == 200, answer.text
    return answer.json()


def report(app_client: TestClient, credential: str, job: str, **body: Any) -> httpx.Response:
    return app_client.post(f"/agent/v1/jobs/{job}/result", json=body, headers=as_agent(credential))


def test_assess_is_a_long_running_operation_with_both_polling_urls(
    api: TestClient, app_client: TestClient, machines: dict[str, Any]
) -> None:
    vm = machines["vm"]
    started = start(api, vm["id"], "assessPatches", COMPUTE)
    assert started.status_code == 202
    status_url, result_url = started.headers["Azure-AsyncOperation"], started.headers["Location"]
    assert "/providers/Microsoft.Compute/locations/eastus/operations/" in status_url
    assert "monitor=true" in result_url
    assert started.headers["Retry-After"] == "1"
    assert api.get(status_url).json()["status"] == "InProgress"
    assert api.get(result_url).status_code == 202

    job = take_job(app_client, vm["credential"])
    assert job["kind"] == "assess"
    assert report(app_client, vm["credential"], job["id"], result=ASSESSMENT).json() == {
        "state": "Succeeded"
    }

    status = api.get(status_url).json()
    assert status["status"] == "Succeeded"
    result = api.get(result_url)
    assert result.status_code == 200
    body = result.json()
    assert status["properties"]["output"] == body
    assert body["assessmentActivityId"] == job["id"]
    assert (body["criticalAndSecurityPatchCount"], body["otherPatchCount"]) == (1, 1)
    assert [patch["name"] for patch in body["availablePatches"]] == ["openssl", "vim"]
    assert body["availablePatches"][0]["assessmentState"] == "Available"
    assert body["error"] == {"code": "0", "message": "0 error/s reported.", "details": []}
    assert "patches" not in body


def test_the_2020_12_01_result_also_has_the_older_names(
    api: TestClient, app_client: TestClient, machines: dict[str, Any]
) -> None:
    vm = machines["vm"]
    result_url = start(api, vm["id"], "assessPatches", "2020-12-01").headers["Location"]
    job = take_job(app_client, vm["credential"])
    report(app_client, vm["credential"], job["id"], result=ASSESSMENT)
    body = api.get(result_url).json()
    assert body["patches"] == body["availablePatches"]
    assert "kbid" in body["patches"][0] and "kbId" in body["patches"][0]


def test_arc_machines_answer_in_hybridcompute_shape(
    api: TestClient, app_client: TestClient, machines: dict[str, Any]
) -> None:
    arc = machines["arc"]
    started = start(api, arc["id"], "assessPatches", ARC)
    assert (
        "/providers/Microsoft.HybridCompute/locations/eastus/operationstatus/"
        in started.headers["Azure-AsyncOperation"]
    )
    assert "/operationresults/" in started.headers["Location"]
    job = take_job(app_client, arc["credential"])
    report(app_client, arc["credential"], job["id"], result=ASSESSMENT)
    status = api.get(started.headers["Azure-AsyncOperation"]).json()
    body = api.get(started.headers["Location"]).json()
    assert status["properties"] == body
    assert body["availablePatchCountByClassification"]["security"] == 1
    assert body["availablePatchCountByClassification"]["other"] == 1
    assert (body["patchServiceUsed"], body["osType"], body["startedBy"]) == ("APT", "Linux", "User")
    assert "availablePatches" not in body and "errorDetails" in body


def test_install_hands_the_agent_its_parameters_and_deadline(
    api: TestClient, app_client: TestClient, machines: dict[str, Any], clock: SettableClock
) -> None:
    vm = machines["vm"]
    body = {
        "maximumDuration": "PT2H",
        "rebootSetting": "IfRequired",
        "linuxParameters": {
            "classificationsToInclude": ["Security"],
            "packageNameMasksToExclude": ["kernel*"],
        },
        "windowsParameters": {},  # az always sends both
    }
    started = start(api, vm["id"], "installPatches", COMPUTE, body)
    assert started.status_code == 202, started.text
    job = take_job(app_client, vm["credential"])
    assert job["kind"] == "install"
    assert job["parameters"]["linuxParameters"]["packageNameMasksToExclude"] == ["kernel*"]
    assert job["deadline"] == "2026-11-26T11:00:00.0000000Z"


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"rebootSetting": "IfRequired", "maximumDuration": "four hours",
          "linuxParameters": {"classificationsToInclude": ["Security"]}}, "maximumDuration"),
        ({"rebootSetting": "IfRequired", "maximumDuration": "PT5H",
          "linuxParameters": {"classificationsToInclude": ["Security"]}}, "maximumDuration"),
        ({"maximumDuration": "PT1H", "linuxParameters": {"classificationsToInclude": ["Security"]}},
         "rebootSetting"),
        ({"rebootSetting": "Sometimes", "maximumDuration": "PT1H",
          "linuxParameters": {"classificationsToInclude": ["Security"]}}, "rebootSetting"),
        ({"rebootSetting": "IfRequired", "maximumDuration": "PT1H",
          "linuxParameters": {"classificationsToInclude": ["Urgent"]}},
         "linuxParameters.classificationsToInclude[0]"),
        ({"rebootSetting": "IfRequired", "maximumDuration": "PT1H",
          "linuxParameters": {"packageNameMasksToInclude": ["bad mask!"]}},
         "linuxParameters.packageNameMasksToInclude"),
        ({"rebootSetting": "IfRequired", "maximumDuration": "PT1H",
          "windowsParameters": {"classificationsToInclude": ["Security"]}}, "windowsParameters"),
        ({"rebootSetting": "IfRequired", "maximumDuration": "PT1H", "linuxParameters": {}},
         "linuxParameters.classificationsToInclude"),
    ],
    ids=["not a duration", "longer than PT4H", "no reboot setting", "unknown reboot setting",
         "unknown classification", "malformed mask", "Windows parameters on Linux",
         "nothing selected"],
)  # fmt: skip
def test_bad_install_requests_name_the_field(
    api: TestClient, machines: dict[str, Any], body: dict[str, Any], target: str
) -> None:
    answer = start(api, machines["vm"]["id"], "installPatches", COMPUTE, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["target"] == target


def test_arc_install_needs_a_maximum_duration(api: TestClient, machines: dict[str, Any]) -> None:
    body = {"rebootSetting": "Never", "linuxParameters": {"classificationsToInclude": ["Other"]}}
    answer = start(api, machines["arc"]["id"], "installPatches", ARC, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == "maximumDuration"


def test_an_unknown_machine_is_404(api: TestClient, machines: dict[str, Any]) -> None:
    ghost = machines["vm"]["id"].replace("/vm", "/ghost")
    assert start(api, ghost, "assessPatches", COMPUTE).status_code == 404


def test_one_operation_at_a_time(api: TestClient, machines: dict[str, Any]) -> None:
    vm = machines["vm"]["id"]
    assert start(api, vm, "assessPatches", COMPUTE).status_code == 202
    body = {"rebootSetting": "Never", "maximumDuration": "PT1H",
            "linuxParameters": {"classificationsToInclude": ["Other"]}}  # fmt: skip
    second = start(api, vm, "installPatches", COMPUTE, body)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "Conflict"


def test_an_offline_machine_fails_the_operation_when_it_is_not_picked_up(
    api: TestClient, machines: dict[str, Any], clock: SettableClock
) -> None:
    started = start(api, machines["vm"]["id"], "assessPatches", COMPUTE)
    clock.advance(minutes=11)
    status = api.get(started.headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "MachineNotConnected"
    result = api.get(started.headers["Location"]).json()
    assert result["status"] == "Failed"
    assert result["error"]["details"][0]["code"] == "MachineNotConnected"


def test_an_agent_that_stops_reporting_fails_the_operation_with_what_it_had_said(
    api: TestClient, app_client: TestClient, machines: dict[str, Any], clock: SettableClock
) -> None:
    vm = machines["vm"]
    body = {"rebootSetting": "IfRequired", "maximumDuration": "PT1H",
            "linuxParameters": {"classificationsToInclude": ["Security"]}}  # fmt: skip
    started = start(api, vm["id"], "installPatches", COMPUTE, body)
    job = take_job(app_client, vm["credential"])
    partial = {**ASSESSMENT, "status": "InProgress", "rebootStatus": "Started",
               "maintenanceWindowExceeded": False,
               "patches": [{**ASSESSMENT["patches"][0], "installationState": "Installed"}]}  # fmt: skip
    app_client.post(
        f"/agent/v1/jobs/{job['id']}/progress",
        json={"phase": "rebooting", "result": partial},
        headers=as_agent(vm["credential"]),
    )
    clock.advance(hours=1, minutes=46)
    status = api.get(started.headers["Azure-AsyncOperation"]).json()
    assert (status["status"], status["error"]["code"]) == ("Failed", "OperationTimedOut")
    result = api.get(started.headers["Location"]).json()
    assert (result["status"], result["rebootStatus"], result["installedPatchCount"]) == (
        "Failed",
        "Failed",
        1,
    )


def test_reports_are_idempotent_and_private_to_their_machine(
    api: TestClient, app_client: TestClient, machines: dict[str, Any]
) -> None:
    vm, arc = machines["vm"], machines["arc"]
    start(api, vm["id"], "assessPatches", COMPUTE)
    job = take_job(app_client, vm["credential"])
    assert report(app_client, arc["credential"], job["id"], result=ASSESSMENT).status_code == 404
    assert (
        report(app_client, vm["credential"], job["id"], result=ASSESSMENT).json()["state"]
        == "Succeeded"
    )
    failed = {"failure": {"code": "Boom", "message": "a late, different report"}}
    assert report(app_client, vm["credential"], job["id"], **failed).json()["state"] == "Succeeded"
    assert (
        app_client.get(
            "/agent/v1/jobs/next?wait=0", headers=as_agent(arc["credential"])
        ).status_code
        == 204
    )


def test_a_restarted_agent_gets_its_running_job_again(
    api: TestClient, app_client: TestClient, machines: dict[str, Any]
) -> None:
    vm = machines["vm"]
    start(api, vm["id"], "assessPatches", COMPUTE)
    first = take_job(app_client, vm["credential"])
    assert take_job(app_client, vm["credential"])["id"] == first["id"]


def test_the_latest_assessment_and_installations_are_kept(
    api: TestClient, app_client: TestClient, machines: dict[str, Any]
) -> None:
    vm = machines["vm"]
    start(api, vm["id"], "assessPatches", COMPUTE)
    job = take_job(app_client, vm["credential"])
    report(app_client, vm["credential"], job["id"], result=ASSESSMENT)
    latest = api.get(f"{vm['id']}/patchAssessmentResults/latest?api-version={COMPUTE}").json()
    assert latest["id"] == f"{vm['id']}/patchAssessmentResults/latest"
    assert latest["name"] == job["id"]
    assert latest["properties"]["availablePatchCountByClassification"]["security"] == 1
    patches = api.get(
        f"{vm['id']}/patchAssessmentResults/latest/softwarePatches?api-version={COMPUTE}"
    ).json()
    assert [row["properties"]["patchName"] for row in patches["value"]] == ["openssl", "vim"]

    body = {"rebootSetting": "Never", "maximumDuration": "PT1H",
            "linuxParameters": {"classificationsToInclude": ["Security"]}}  # fmt: skip
    start(api, vm["id"], "installPatches", COMPUTE, body)
    job = take_job(app_client, vm["credential"])
    installed = {
        **ASSESSMENT, "rebootStatus": "NotNeeded", "maintenanceWindowExceeded": False,
        "patches": [{**ASSESSMENT["patches"][0], "installationState": "Installed"},
                    {**ASSESSMENT["patches"][1], "installationState": "NotSelected"}],
        "assessment": {**ASSESSMENT, "patches": [ASSESSMENT["patches"][1]]},
    }  # fmt: skip
    report(app_client, vm["credential"], job["id"], result=installed)
    history = api.get(f"{vm['id']}/patchInstallationResults?api-version={COMPUTE}").json()["value"]
    assert [item["name"] for item in history] == [job["id"]]
    assert (
        history[0]["properties"]["installedPatchCount"],
        history[0]["properties"]["notSelectedPatchCount"],
    ) == (1, 1)
    latest = api.get(f"{vm['id']}/patchAssessmentResults/latest?api-version={COMPUTE}").json()
    assert latest["name"] == job["id"]  # the install's closing assessment is the newest
    assert latest["properties"]["availablePatchCountByClassification"]["security"] == 0


def test_a_waiting_agent_gets_a_new_job_at_once(
    store: Store, clock: SettableClock, tokens: Any, machines: dict[str, Any]
) -> None:
    app = create_app(store, clock)
    owner = {"Authorization": f"Bearer {tokens.make('Owner')}"}
    vm = machines["vm"]

    async def scenario() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            waited = {}

            async def poll() -> None:
                began = time.monotonic()
                answer = await client.get(
                    "/agent/v1/jobs/next?wait=20", headers=as_agent(vm["credential"])
                )
                assert answer.status_code == 200
                waited["seconds"] = time.monotonic() - began

            async with anyio.create_task_group() as group:
                group.start_soon(poll)
                await anyio.sleep(0.3)
                answer = await client.post(
                    f"{vm['id']}/assessPatches?api-version={COMPUTE}", headers=owner
                )
                assert answer.status_code == 202
            return waited["seconds"]

    assert anyio.run(scenario) < 3
