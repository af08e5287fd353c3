"""azure-mgmt-compute and azure-mgmt-hybridcompute drive assessPatches and installPatches
against ``upkeep serve``: at the SDKs' own api-versions and at older ones pinned by the caller.

The machines here answer through the agent protocol from a script, so each api-version's
result shape is checked on its own; tests/hosts runs the real agent on real package managers.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import LinuxParameters as ComputeLinuxParameters
from azure.mgmt.compute.models import VirtualMachineInstallPatchesParameters
from azure.mgmt.hybridcompute import HybridComputeManagementClient
from azure.mgmt.hybridcompute.models import LinuxParameters as ArcLinuxParameters
from azure.mgmt.hybridcompute.models import MachineInstallPatchesParameters

from tests.machines.test_agent_protocol import FACTS
from tests.machines.test_operations import ASSESSMENT
from tests.server import RunningServer, trusting

pytestmark = pytest.mark.slow

INSTALLED = {
    **ASSESSMENT,
    "rebootStatus": "NotNeeded",
    "maintenanceWindowExceeded": False,
    "patches": [
        {**ASSESSMENT["patches"][0], "installationState": "Installed"},
        {**ASSESSMENT["patches"][1], "installationState": "NotSelected"},
    ],
    "assessment": {**ASSESSMENT, "patches": [ASSESSMENT["patches"][1]]},
}


class ScriptedMachine:
    """An enrolled machine whose agent answers every job with a fixed report, on a thread."""

    def __init__(self, server: RunningServer, kind: str, name: str) -> None:
        self.http = httpx.Client(base_url=server.url, verify=trusting(server.cert), timeout=30)
        self.answer: Callable[[dict[str, Any]], dict[str, Any]] = answer_with_success
        self.jobs: list[dict[str, Any]] = []
        self.refused: list[str] = []
        token = self._enrollment_token(server)
        enrolled = self.http.post(
            "/agent/v1/enroll",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "subscriptionId": server.subscription_id,
                "resourceGroup": "fleet",
                "name": name,
                "resourceType": kind,
                "location": "westeurope",
                "facts": FACTS,
            },
        )
        assert enrolled.status_code == 201, enrolled.text
        self.headers = {"Authorization": f"Bearer {enrolled.json()['credential']}"}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _enrollment_token(self, server: RunningServer) -> str:
        made = self.http.post(
            f"/subscriptions/{server.subscription_id}/providers/Upkeep.Authorization"
            "/enrollmentTokens?api-version=2026-11-01",
            headers={"Authorization": f"Bearer {server.admin_token}"},
            json={"uses": 1},
        )
        assert made.status_code == 201, made.text
        return made.json()["properties"]["secret"]

    def _serve(self) -> None:
        while not self.stopping.is_set():
            offered = self.http.get("/agent/v1/jobs/next?wait=1", headers=self.headers)
            if offered.status_code != 200:
                continue
            job = offered.json()
            self.jobs.append(job)
            reported = self.http.post(
                f"/agent/v1/jobs/{job['id']}/result", json=self.answer(job), headers=self.headers
            )
            if reported.status_code != 200:
                self.refused.append(reported.text)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.http.close()
        assert self.refused == [], "the server refused a report"


def answer_with_success(job: dict[str, Any]) -> dict[str, Any]:
    return {"result": ASSESSMENT if job["kind"] == "assess" else INSTALLED}


@pytest.fixture
def vm(server: RunningServer) -> Iterator[ScriptedMachine]:
    machine = ScriptedMachine(server, "Microsoft.Compute/virtualMachines", "vm-1")
    yield machine
    machine.close()


@pytest.fixture
def arc(server: RunningServer) -> Iterator[ScriptedMachine]:
    machine = ScriptedMachine(server, "Microsoft.HybridCompute/machines", "arc-1")
    yield machine
    machine.close()


@pytest.fixture
def compute(server: RunningServer) -> Iterator[ComputeManagementClient]:
    client = ComputeManagementClient(
        server.credential(), server.subscription_id, **server.sdk_options()
    )
    yield client
    client.close()
    gc.collect()


def hybrid(server: RunningServer, **options: Any) -> HybridComputeManagementClient:
    return HybridComputeManagementClient(
        server.credential(), server.subscription_id, **server.sdk_options(), **options
    )


def install_on_vm(**overrides: Any) -> VirtualMachineInstallPatchesParameters:
    fields: dict[str, Any] = {
        "maximum_duration": timedelta(hours=2),
        "reboot_setting": "IfRequired",
        "linux_parameters": ComputeLinuxParameters(classifications_to_include=["Security"]),
    }
    return VirtualMachineInstallPatchesParameters(**{**fields, **overrides})


@pytest.mark.parametrize("api_version", [None, "2020-12-01", "2022-11-01", "2024-11-01"])
def test_compute_assess_at_each_version(
    compute: ComputeManagementClient, vm: ScriptedMachine, api_version: str | None
) -> None:
    pinned = {"api_version": api_version} if api_version else {}
    result = compute.virtual_machines.begin_assess_patches("fleet", "vm-1", **pinned).result()
    assert result.status == "Succeeded"
    assert result.assessment_activity_id == vm.jobs[-1]["id"]
    assert (result.critical_and_security_patch_count, result.other_patch_count) == (1, 1)
    assert [patch.name for patch in result.available_patches] == ["openssl", "vim"]
    assert result.available_patches[0].classifications == ["Security"]
    assert result.error.code == "0"


@pytest.mark.parametrize("api_version", [None, "2020-12-01", "2022-11-01"])
def test_compute_install_at_each_version(
    compute: ComputeManagementClient, vm: ScriptedMachine, api_version: str | None
) -> None:
    pinned = {"api_version": api_version} if api_version else {}
    poller = compute.virtual_machines.begin_install_patches(
        "fleet", "vm-1", install_on_vm(), **pinned
    )
    result = poller.result()
    assert result.status == "Succeeded"
    assert (result.installed_patch_count, result.not_selected_patch_count) == (1, 1)
    assert result.reboot_status == "NotNeeded"
    assert result.maintenance_window_exceeded is False
    assert [(p.name, p.installation_state) for p in result.patches] == [
        ("openssl", "Installed"),
        ("vim", "NotSelected"),
    ]
    sent = vm.jobs[-1]["parameters"]
    assert sent["linuxParameters"]["classificationsToInclude"] == ["Security"]
    assert vm.jobs[-1]["deadline"]


def test_compute_install_with_a_bad_field_is_refused_before_it_starts(
    compute: ComputeManagementClient, vm: ScriptedMachine
) -> None:
    bad = install_on_vm(maximum_duration=timedelta(hours=9))
    with pytest.raises(HttpResponseError) as refused:
        compute.virtual_machines.begin_install_patches("fleet", "vm-1", bad)
    assert refused.value.status_code == 400
    assert refused.value.error.target == "maximumDuration"
    assert vm.jobs == []


def test_a_failed_operation_raises_with_the_machines_error(
    compute: ComputeManagementClient, vm: ScriptedMachine
) -> None:
    vm.answer = lambda job: {
        "failure": {"code": "RepositoryRefreshFailed", "message": "apt-get update failed: E: 404"}
    }
    with pytest.raises(HttpResponseError) as failed:
        compute.virtual_machines.begin_assess_patches("fleet", "vm-1").result()
    assert "apt-get update failed" in str(failed.value)


def test_compute_reads_the_machine(compute: ComputeManagementClient, vm: ScriptedMachine) -> None:
    shown = compute.virtual_machines.get("fleet", "vm-1")
    assert shown.name == "vm-1"
    assert shown.location == "westeurope"
    assert [machine.name for machine in compute.virtual_machines.list("fleet")] == ["vm-1"]


@pytest.mark.parametrize("api_version", [None, "2022-12-27", "2024-07-10"])
def test_hybridcompute_assess_and_install_at_each_version(
    server: RunningServer, arc: ScriptedMachine, api_version: str | None
) -> None:
    client = hybrid(server, **({"api_version": api_version} if api_version else {}))
    try:
        assessed = client.machines.begin_assess_patches("fleet", "arc-1").result()
        assert assessed.status == "Succeeded"
        assert assessed.patch_service_used == "APT"
        counts = assessed.available_patch_count_by_classification
        assert (counts.security, counts.other) == (1, 1)

        body = MachineInstallPatchesParameters(
            maximum_duration=timedelta(hours=1),
            reboot_setting="Never",
            linux_parameters=ArcLinuxParameters(
                classifications_to_include=["Security"], package_name_masks_to_exclude=["vim"]
            ),
        )
        installed = client.machines.begin_install_patches("fleet", "arc-1", body).result()
        assert installed.status == "Succeeded"
        assert (installed.installed_patch_count, installed.not_selected_patch_count) == (1, 1)
        assert arc.jobs[-1]["parameters"]["linuxParameters"]["packageNameMasksToExclude"] == ["vim"]
        assert client.machines.get("fleet", "arc-1").name == "arc-1"
    finally:
        client.close()
        gc.collect()
