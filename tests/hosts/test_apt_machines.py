"""Debian machines patched through Upkeep: the agent in real hosts driving real apt, asked
by the real Azure SDK clients, checked with dpkg on the host rather than with our report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from azure.mgmt.compute.models import LinuxParameters, VirtualMachineInstallPatchesParameters
from azure.mgmt.hybridcompute.models import LinuxParameters as ArcLinuxParameters
from azure.mgmt.hybridcompute.models import MachineInstallPatchesParameters

from tests.hosts.apt_repo import AptRepo, DebUpdateSet, debian_with_old_versions
from tests.hosts.fleet import ARC, GROUP, Fleet
from tests.hosts.host import DebianHost

pytestmark = [pytest.mark.hosts, pytest.mark.slow]


def dpkg(host: DebianHost, name: str) -> str:
    """``<status> <version>`` of an installed package, as dpkg records it (``ii 1.1``)."""
    shown = host.run("dpkg-query", "-W", "-f=${db:Status-Abbrev}${Version}", name, check=False)
    return shown.stdout.strip()


def versions(host: DebianHost, updates: DebUpdateSet) -> dict[str, str]:
    return {update.name: dpkg(host, update.name) for update in updates.all()}


def install(
    reboot: str = "IfRequired", hours: float = 2, **linux: list[str]
) -> VirtualMachineInstallPatchesParameters:
    """An installPatches body: ``linux`` are LinuxParameters' fields."""
    return VirtualMachineInstallPatchesParameters(
        maximum_duration=timedelta(hours=hours),
        reboot_setting=reboot,
        linux_parameters=LinuxParameters(**linux),
    )


def states(result: object) -> dict[str, str]:
    return {patch.name: patch.installation_state for patch in result.patches}  # type: ignore[attr-defined]


@pytest.fixture
def machines(
    fleet: Fleet,
    debian_host: Callable[..., DebianHost],
    apt_repo: Callable[[], AptRepo],
) -> tuple[DebianHost, DebianHost, DebUpdateSet]:
    """Two Debian hosts with the old versions installed and the updates published: ``vm1``
    connected as a VM, ``arc1`` as an Arc machine."""
    repo = apt_repo()
    vm, arc = debian_host("vm1"), debian_host("arc1")
    updates = debian_with_old_versions(vm, repo)
    debian_with_old_versions(arc, repo)
    fleet.connect(vm)
    fleet.connect(arc, ARC)
    return vm, arc, updates


def test_assess_finds_each_update_with_its_classification(
    fleet: Fleet, machines: tuple[DebianHost, DebianHost, DebUpdateSet]
) -> None:
    vm, arc, updates = machines
    result = fleet.compute().virtual_machines.begin_assess_patches(GROUP, vm.name).result()

    assert result.status == "Succeeded"
    assert result.reboot_pending is False
    found = {patch.name: patch for patch in result.available_patches}
    assert {name: (p.version, p.classifications) for name, p in found.items()} == {
        "upkeep-plain": ("1.1", ["Other"]),
        "upkeep-openssl": ("1.0+deb12u1", ["Security"]),
        "upkeep-app": ("2.0", ["Other"]),
        "upkeep-lib": ("2.0", ["Other"]),
        "upkeep-kernel": ("1.1", ["Security"]),
        "upkeep-broken": ("1.1", ["Other"]),
    }
    assert (result.critical_and_security_patch_count, result.other_patch_count) == (2, 4)
    assert all(patch.assessment_state == "Available" for patch in found.values())
    assert versions(vm, updates) == dict.fromkeys(versions(vm, updates), "ii 1.0")

    arc_result = fleet.hybrid().machines.begin_assess_patches(GROUP, arc.name).result()
    counts = arc_result.available_patch_count_by_classification
    assert (arc_result.status, arc_result.patch_service_used) == ("Succeeded", "APT")
    assert (counts.security, counts.other) == (2, 4)


def test_install_changes_exactly_what_was_selected_and_reboots_when_required(
    fleet: Fleet, machines: tuple[DebianHost, DebianHost, DebUpdateSet]
) -> None:
    vm, _, updates = machines
    body = install(
        classifications_to_include=["Security", "Other"],
        package_name_masks_to_exclude=["upkeep-plain"],
    )
    result = fleet.compute().virtual_machines.begin_install_patches(GROUP, vm.name, body).result()

    assert versions(vm, updates) == {
        "upkeep-plain": "ii 1.0",
        "upkeep-openssl": "ii 1.0+deb12u1",
        "upkeep-app": "ii 2.0",
        "upkeep-lib": "ii 2.0",
        "upkeep-kernel": "ii 1.1",
        "upkeep-broken": "iF 1.1",  # unpacked, but its postinst failed
    }
    assert states(result) == {
        "upkeep-plain": "Excluded",
        "upkeep-openssl": "Installed",
        "upkeep-app": "Installed",
        "upkeep-lib": "Installed",
        "upkeep-kernel": "Installed",
        "upkeep-broken": "Failed",
    }
    assert result.status == "Failed"  # one package failed; Azure says so in the result
    assert "upkeep-broken" in result.error.details[0].message
    assert (result.installed_patch_count, result.failed_patch_count) == (4, 1)
    assert (result.excluded_patch_count, result.pending_patch_count) == (1, 0)
    assert result.reboot_status == "Completed"
    assert vm.boot_count == 2
    assert result.maintenance_window_exceeded is False


def test_masks_and_exclusions_at_older_api_versions(
    fleet: Fleet, machines: tuple[DebianHost, DebianHost, DebUpdateSet]
) -> None:
    vm, _, updates = machines
    compute = fleet.compute().virtual_machines
    # Excluding a dependency holds back the update that needs it.
    others = install(
        classifications_to_include=["Other"],
        package_name_masks_to_exclude=["upkeep-lib", "upkeep-bro*"],
    )
    first = compute.begin_install_patches(GROUP, vm.name, others, api_version="2020-12-01")
    assert states(first.result()) == {
        "upkeep-plain": "Installed",
        "upkeep-app": "Excluded",
        "upkeep-lib": "Excluded",
        "upkeep-broken": "Excluded",
        "upkeep-openssl": "NotSelected",
        "upkeep-kernel": "NotSelected",
    }
    assert versions(vm, updates)["upkeep-app"] == "ii 1.0"
    assert versions(vm, updates)["upkeep-plain"] == "ii 1.1"

    # Masks by name=version and by wildcard; with Never, a needed reboot stays Required.
    named = install(
        reboot="Never",
        package_name_masks_to_include=["upkeep-openssl=1.0+deb12u1", "upkeep-ker*"],
    )
    second = compute.begin_install_patches(GROUP, vm.name, named, api_version="2022-11-01")
    result = second.result()
    assert {name: state for name, state in states(result).items() if state != "NotSelected"} == {
        "upkeep-openssl": "Installed",
        "upkeep-kernel": "Installed",
    }
    assert (result.reboot_status, result.status) == ("Required", "CompletedWithWarnings")
    assert vm.boot_count == 1
    assert versions(vm, updates) == {
        "upkeep-plain": "ii 1.1",
        "upkeep-openssl": "ii 1.0+deb12u1",
        "upkeep-app": "ii 1.0",
        "upkeep-lib": "ii 1.0",
        "upkeep-kernel": "ii 1.1",
        "upkeep-broken": "ii 1.0",
    }


def test_too_short_a_window_leaves_patches_pending(
    fleet: Fleet, machines: tuple[DebianHost, DebianHost, DebUpdateSet]
) -> None:
    _, arc, updates = machines
    body = MachineInstallPatchesParameters(
        maximum_duration=timedelta(minutes=10),
        reboot_setting="IfRequired",
        linux_parameters=ArcLinuxParameters(classifications_to_include=["Security"]),
    )
    arc_client = fleet.hybrid(api_version="2024-07-10")
    result = arc_client.machines.begin_install_patches(GROUP, arc.name, body).result()

    assert result.maintenance_window_exceeded is True
    assert result.status == "Failed"
    assert (result.pending_patch_count, result.installed_patch_count) == (2, 0)
    assert result.not_selected_patch_count == 4
    assert versions(arc, updates) == dict.fromkeys(versions(arc, updates), "ii 1.0")
