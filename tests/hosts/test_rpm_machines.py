"""dnf and zypper machines patched through Upkeep: the agent in real hosts driving real
dnf and zypper, asked by the real Azure SDK clients, checked with rpm on the host."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from azure.mgmt.compute.models import LinuxParameters, VirtualMachineInstallPatchesParameters
from azure.mgmt.hybridcompute.models import LinuxParameters as ArcLinuxParameters
from azure.mgmt.hybridcompute.models import MachineInstallPatchesParameters

from tests.hosts.fleet import ARC, GROUP, VM, Fleet
from tests.hosts.host import DnfHost, RpmHost, ZypperHost
from tests.hosts.rpm_repo import RpmRepo, RpmUpdateSet, rpm_with_old_versions
from tests.hosts.test_apt_machines import states

pytestmark = [pytest.mark.hosts, pytest.mark.slow]

#: How the agent classifies the typical RPM updates, from their advisories / patches.
CLASSIFIED = {
    "upkeep-plain": ("1.1-1", "Other"),  # a bugfix advisory
    "upkeep-openssl": ("1.0-2", "Security"),  # security, Important
    "upkeep-app": ("2.0-1", "Other"),  # an enhancement
    "upkeep-lib": ("2.0-1", "Other"),
    "upkeep-kernel": ("1.1-1", "Critical"),  # security, Critical, reboot suggested
    "upkeep-broken": ("1.1-1", "Other"),  # no advisory; its %pre fails
}
#: Everything but upkeep-plain, which is excluded; upkeep-broken fails.
AFTER_INSTALL = {
    "upkeep-plain": "1.0-1",
    "upkeep-openssl": "1.0-2",
    "upkeep-app": "2.0-1",
    "upkeep-lib": "2.0-1",
    "upkeep-kernel": "1.1-1",
    "upkeep-broken": "1.0-1",
}
EVERY_CLASS = ["Critical", "Security", "Other"]


def rpm_versions(host: RpmHost, updates: RpmUpdateSet) -> dict[str, str]:
    return {update.name: host.installed_version(update.name) or "" for update in updates.all()}


@pytest.fixture
def dnf_machine(
    fleet: Fleet, dnf_host: Callable[..., DnfHost], rpm_repo: Callable[[], RpmRepo]
) -> tuple[DnfHost, RpmUpdateSet]:
    host = dnf_host("rhel1")
    updates = rpm_with_old_versions(host, rpm_repo(), ("dnf", "-y", "-q", "install"))
    # The image is Debian with dnf added: say which package manager owns the machine.
    fleet.connect(host, VM, "--package-manager", "dnf")
    return host, updates


@pytest.fixture
def zypper_machine(
    fleet: Fleet, zypper_host: Callable[..., ZypperHost], rpm_repo: Callable[[], RpmRepo]
) -> tuple[ZypperHost, RpmUpdateSet]:
    host = zypper_host("sles1")
    updates = rpm_with_old_versions(host, rpm_repo(), ("zypper", "-n", "-q", "install"))
    fleet.connect(host, ARC, "--package-manager", "zypper")
    return host, updates


def test_dnf_assess_reads_the_advisories(
    fleet: Fleet, dnf_machine: tuple[DnfHost, RpmUpdateSet]
) -> None:
    host, _ = dnf_machine
    result = fleet.compute().virtual_machines.begin_assess_patches(GROUP, host.name).result()

    assert result.status == "Succeeded"
    found = {patch.name: patch for patch in result.available_patches}
    assert {name: (p.version, p.classifications[0]) for name, p in found.items()} == CLASSIFIED
    assert found["upkeep-kernel"].reboot_behavior == "AlwaysRequiresReboot"
    assert found["upkeep-openssl"].reboot_behavior == "NeverReboots"
    assert (result.critical_and_security_patch_count, result.other_patch_count) == (2, 4)


def test_dnf_install_changes_exactly_what_was_selected(
    fleet: Fleet, dnf_machine: tuple[DnfHost, RpmUpdateSet]
) -> None:
    host, updates = dnf_machine
    body = VirtualMachineInstallPatchesParameters(
        maximum_duration=timedelta(hours=1),
        reboot_setting="IfRequired",
        linux_parameters=LinuxParameters(
            classifications_to_include=EVERY_CLASS, package_name_masks_to_exclude=["upkeep-lib"]
        ),
    )
    poller = fleet.compute().virtual_machines.begin_install_patches(GROUP, host.name, body)
    result = poller.result()

    # upkeep-app's update needs the excluded upkeep-lib 2.0, so it is held back too.
    assert rpm_versions(host, updates) == {
        **AFTER_INSTALL,
        "upkeep-plain": "1.1-1",
        "upkeep-app": "1.0-1",
        "upkeep-lib": "1.0-1",
    }
    assert states(result) == {
        "upkeep-plain": "Installed",
        "upkeep-openssl": "Installed",
        "upkeep-app": "Excluded",
        "upkeep-lib": "Excluded",
        "upkeep-kernel": "Installed",
        "upkeep-broken": "Failed",
    }
    assert "PREIN" in " ".join(detail.message for detail in result.error.details)
    assert (result.reboot_status, host.boot_count) == ("Completed", 2)


def test_zypper_assess_and_install_by_patch_category(
    fleet: Fleet, zypper_machine: tuple[ZypperHost, RpmUpdateSet]
) -> None:
    host, updates = zypper_machine
    machines = fleet.hybrid().machines
    assessed = machines.begin_assess_patches(GROUP, host.name).result()
    counts = assessed.available_patch_count_by_classification
    assert (assessed.status, assessed.patch_service_used) == ("Succeeded", "Zypper")
    assert (counts.critical, counts.security, counts.other) == (1, 1, 4)

    body = MachineInstallPatchesParameters(
        maximum_duration=timedelta(hours=1),
        reboot_setting="IfRequired",
        linux_parameters=ArcLinuxParameters(
            classifications_to_include=EVERY_CLASS, package_name_masks_to_exclude=["upkeep-plain"]
        ),
    )
    installed = machines.begin_install_patches(GROUP, host.name, body).result()

    assert rpm_versions(host, updates) == AFTER_INSTALL
    assert (installed.installed_patch_count, installed.failed_patch_count) == (4, 1)
    assert (installed.excluded_patch_count, installed.status) == (1, "Failed")
    assert (installed.reboot_status, host.boot_count) == ("Completed", 2)
