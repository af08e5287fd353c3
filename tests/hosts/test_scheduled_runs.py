"""A maintenance window in real time on real Debian hosts: a configuration made with the
real azure-mgmt-maintenance client, whose window opens at the next minute, patches the
host assigned to it directly and the host its dynamic scope matches, and not the third;
the run's applyUpdates records are read back with the same client, and dpkg on each host
says what changed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from azure.mgmt.maintenance import MaintenanceManagementClient
from azure.mgmt.maintenance.models import (
    ConfigurationAssignment,
    ConfigurationAssignmentFilterProperties,
    InputLinuxParameters,
    InputPatchConfiguration,
    MaintenanceConfiguration,
    TagSettingsProperties,
)

from tests.hosts.apt_repo import AptRepo, DebPackage, debian_with_old_versions
from tests.hosts.fleet import ARC, GROUP, Fleet
from tests.hosts.host import DebianHost
from tests.hosts.test_apt_machines import dpkg

pytestmark = [pytest.mark.hosts, pytest.mark.slow]

SCHEDULES = "schedules"


def next_minute(margin: timedelta = timedelta(seconds=25)) -> datetime:
    """The first whole minute at least ``margin`` from now (windows start on minutes)."""
    soon = datetime.now(UTC) + margin
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


def maintenance_client(fleet: Fleet) -> MaintenanceManagementClient:
    server = fleet.server
    return MaintenanceManagementClient(
        server.credential(), server.subscription_id, **server.sdk_options()
    )


def wait_for(
    check: Callable[[], bool], seconds: float, what: str, explain: Callable[[], object]
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {explain()}")
        time.sleep(1)


def test_a_window_patches_the_assigned_and_matched_hosts_and_no_other(
    fleet: Fleet,
    debian_host: Callable[..., DebianHost],
    apt_repo: Callable[[], AptRepo],
) -> None:
    repo = apt_repo()
    static, matched, other = debian_host("static1"), debian_host("ring1"), debian_host("other1")
    for host in (static, matched, other):
        debian_with_old_versions(host, repo)
    static_id = fleet.connect(static)
    matched_id = fleet.connect(matched, ARC, "--tag", "ring=1")
    fleet.connect(other)

    with fleet.http as http:
        made = http.put(
            f"/subscriptions/{fleet.server.subscription_id}/resourcegroups/{SCHEDULES}"
            "?api-version=2025-04-01",
            json={"location": "eastus"},
        )
        assert made.status_code in (200, 201), made.text
    client = maintenance_client(fleet)
    start = next_minute()
    configuration = client.maintenance_configurations.create_or_update(
        SCHEDULES,
        "nightly",
        MaintenanceConfiguration(
            location="eastus",
            maintenance_scope="InGuestPatch",
            extension_properties={"InGuestPatchMode": "User"},
            start_date_time=start.strftime("%Y-%m-%d %H:%M"),
            duration="01:30",
            time_zone="UTC",
            recur_every="Day",
            install_patches=InputPatchConfiguration(
                reboot_setting="NeverReboot",
                linux_parameters=InputLinuxParameters(
                    classifications_to_include=["Other"],
                    package_name_masks_to_include=["upkeep-plain"],
                ),
            ),
        ),
    )
    client.configuration_assignments.create_or_update(
        GROUP, "Microsoft.Compute", "virtualMachines", static.name, "nightly",
        ConfigurationAssignment(maintenance_configuration_id=configuration.id),
    )  # fmt: skip
    client.configuration_assignments_for_subscriptions.create_or_update(
        "ring-1",
        ConfigurationAssignment(
            maintenance_configuration_id=configuration.id,
            filter=ConfigurationAssignmentFilterProperties(
                os_types=["Linux"],
                tag_settings=TagSettingsProperties(tags={"ring": ["1"]}, filter_operator="All"),
            ),
        ),
    )

    run = start.strftime("%Y%m%d%H%M%S")

    def record(kind: tuple[str, str], name: str) -> str | None:
        found = [
            item
            for item in client.apply_updates.list()
            if item.name == run
            and item.resource_id.lower().endswith(f"/{kind[0]}/{kind[1]}/{name}".lower())
        ]
        return found[0].status if found else None

    vm, arc = ("Microsoft.Compute", "virtualMachines"), ("Microsoft.HybridCompute", "machines")
    wait_for(
        lambda: record(vm, static.name) == "Completed" and record(arc, matched.name) == "Completed",
        seconds=(start - datetime.now(UTC)).total_seconds() + 120,
        what="both assigned machines to complete the run",
        explain=lambda: [(item.resource_id, item.status) for item in client.apply_updates.list()],
    )
    shown = client.apply_updates.get(GROUP, *vm, static.name, run)
    assert (shown.name, shown.status, shown.resource_id) == (run, "Completed", static_id)
    assert {item.resource_id for item in client.apply_updates.list() if item.name == run} == {
        static_id,
        matched_id,
    }

    assert dpkg(static, "upkeep-plain") == "ii 1.1"
    assert dpkg(matched, "upkeep-plain") == "ii 1.1"
    assert dpkg(static, "upkeep-openssl") == "ii 1.0"  # not selected by the configuration
    assert dpkg(other, "upkeep-plain") == "ii 1.0"  # not assigned, not matched

    with fleet.http as http:
        results = http.get(f"{static_id}/patchInstallationResults?api-version=2025-04-01")
    [installation] = results.json()["value"]
    properties = installation["properties"]
    assert properties["startedBy"] == "Platform"
    assert properties["maintenanceRunId"] == (
        f"{configuration.id}/providers/Microsoft.Maintenance/applyUpdates/{run}"
    )
    client.close()


def test_cancelling_a_run_stops_an_installing_host_from_starting_more_packages(
    fleet: Fleet,
    debian_host: Callable[..., DebianHost],
    apt_repo: Callable[[], AptRepo],
) -> None:
    repo = apt_repo()
    slow = [f"upkeep-slow{index}" for index in range(1, 5)]
    for name in slow:
        repo.add(DebPackage(name, "1.0"))
    repo.publish()
    host = debian_host("slow1")
    host.set_sources(repo.source_lines())
    host.run("apt-get", "update", "-q")
    host.run("apt-get", "install", "-y", "-q", *slow)
    for name in slow:  # each update takes a while to configure
        repo.add(DebPackage(name, "1.1", postinst="sleep 4"), "bookworm-updates")
    repo.publish()
    machine = fleet.connect(host)

    with fleet.http as http:
        http.put(
            f"/subscriptions/{fleet.server.subscription_id}/resourcegroups/{SCHEDULES}"
            "?api-version=2025-04-01",
            json={"location": "eastus"},
        )
    client = maintenance_client(fleet)
    configuration = client.maintenance_configurations.create_or_update(
        SCHEDULES,
        "weekly",
        MaintenanceConfiguration(
            location="eastus",
            maintenance_scope="InGuestPatch",
            extension_properties={"InGuestPatchMode": "User"},
            start_date_time=(datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M"),
            duration="02:00",
            time_zone="UTC",
            recur_every="Week",
            install_patches=InputPatchConfiguration(
                reboot_setting="NeverReboot",
                linux_parameters=InputLinuxParameters(classifications_to_include=["Other"]),
            ),
        ),
    )
    client.configuration_assignments.create_or_update(
        GROUP, "Microsoft.Compute", "virtualMachines", host.name, "weekly",
        ConfigurationAssignment(maintenance_configuration_id=configuration.id),
    )  # fmt: skip
    applied = client.apply_updates.create_or_update(
        GROUP, "Microsoft.Compute", "virtualMachines", host.name
    )
    state = ("Microsoft.Compute", "virtualMachines", host.name, applied.name)
    wait_for(
        lambda: client.apply_updates.get(GROUP, *state).status == "InProgress",
        seconds=60,
        what="the host to start installing",
        explain=lambda: client.apply_updates.get(GROUP, *state).status,
    )
    with fleet.http as http:
        cancelled = http.put(
            f"{configuration.id}/providers/Microsoft.Maintenance/applyUpdates/{applied.name}"
            "?api-version=2023-09-01-preview",
            json={"properties": {"status": "Cancel"}},
        )
        assert cancelled.status_code == 200, cancelled.text
    wait_for(
        lambda: client.apply_updates.get(GROUP, *state).status == "Completed",
        seconds=120,
        what="the host to finish truthfully",
        explain=lambda: client.apply_updates.get(GROUP, *state).status,
    )
    with fleet.http as http:
        [installation] = http.get(
            f"{machine}/patchInstallationResults?api-version=2025-04-01"
        ).json()["value"]
        patches = http.get(
            f"{machine}/patchInstallationResults/{installation['name']}/softwarePatches"
            "?api-version=2025-04-01"
        ).json()["value"]
    reported = {row["properties"]["patchName"]: row["properties"]["installationState"]
                for row in patches}  # fmt: skip
    assert set(reported) == set(slow)
    assert "Pending" in reported.values()  # not every package was started
    for name, state_reported in reported.items():  # what dpkg says is what was reported
        assert dpkg(host, name) == ("ii 1.1" if state_reported == "Installed" else "ii 1.0")
    details = installation["properties"]["errorDetails"]["details"]
    codes = [error["code"] for error in details]
    assert "OperationCancelled" in codes
    client.close()
