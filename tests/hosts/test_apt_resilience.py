"""What a user sees when things go wrong mid-operation: the agent killed while dpkg works,
the server restarted while a machine installs, a machine that is off. Each operation ends,
and its final state says what happened on the machine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.models import LinuxParameters, VirtualMachineInstallPatchesParameters

from tests.hosts.apt_repo import AptRepo, DebPackage, DebUpdateSet, debian_with_old_versions
from tests.hosts.fleet import GROUP, Fleet
from tests.hosts.host import DebianHost
from tests.hosts.test_apt_machines import dpkg, states

pytestmark = [pytest.mark.hosts, pytest.mark.slow]

MARKS = "/var/lib/upkeep-test"
#: The first time it runs, the postinst says it started and waits to be released (or two
#: minutes); when dpkg runs it again it passes at once.
SLOW_POSTINST = f"""\
mkdir -p {MARKS}
if [ ! -e {MARKS}/slow-once ]; then
    touch {MARKS}/slow-once {MARKS}/slow-started
    i=0
    while [ ! -e {MARKS}/release ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
fi
"""


@pytest.fixture
def machine(
    fleet: Fleet, debian_host: Callable[..., DebianHost], apt_repo: Callable[[], AptRepo]
) -> tuple[DebianHost, DebUpdateSet]:
    """A connected Debian VM whose updates include ``upkeep-slow``, with its slow postinst."""
    repo = apt_repo()
    repo.add(DebPackage("upkeep-slow", "1.0"))
    repo.add(DebPackage("upkeep-slow", "1.1", postinst=SLOW_POSTINST), "bookworm-updates")
    repo.publish()
    host = debian_host("slow1")
    host.set_sources(repo.source_lines())
    host.run("apt-get", "update", "-q")
    host.run("apt-get", "install", "-y", "-q", "upkeep-slow=1.0")
    updates = debian_with_old_versions(host, repo)
    fleet.connect(host)
    return host, updates


def slow_and_plain() -> VirtualMachineInstallPatchesParameters:
    return VirtualMachineInstallPatchesParameters(
        maximum_duration=timedelta(hours=1),
        reboot_setting="IfRequired",
        linux_parameters=LinuxParameters(
            package_name_masks_to_include=["upkeep-slow", "upkeep-plain"]
        ),
    )


def test_an_agent_killed_while_dpkg_works_finishes_the_job_truthfully(
    fleet: Fleet, machine: tuple[DebianHost, DebUpdateSet]
) -> None:
    host, _ = machine
    compute = fleet.compute().virtual_machines
    poller = compute.begin_install_patches(GROUP, host.name, slow_and_plain())
    host.wait_for_path(f"{MARKS}/slow-started", timeout=60)

    host.kill_service()  # the agent, dpkg and its postinst die with the machine
    assert dpkg(host, "upkeep-slow").split()[0] != "ii"
    host.start("python3", "/usr/local/lib/upkeep-agent/upkeep-agent.pyz", "run")

    result = poller.result(timeout=120)
    assert states(result)["upkeep-slow"] == "Installed"  # dpkg --configure -a finished it
    assert states(result)["upkeep-plain"] == "Installed"
    assert dpkg(host, "upkeep-slow") == "ii 1.1"
    assert dpkg(host, "upkeep-plain") == "ii 1.1"
    assert result.status == "Succeeded"


def test_the_server_restarted_mid_install_still_gets_the_result(
    fleet: Fleet, machine: tuple[DebianHost, DebUpdateSet]
) -> None:
    host, _ = machine
    started = fleet.compute().virtual_machines.begin_install_patches(
        GROUP, host.name, slow_and_plain()
    )
    token = started.continuation_token()  # what a client keeps to resume after a restart
    host.wait_for_path(f"{MARKS}/slow-started", timeout=60)

    fleet.restart_server()
    host.write(f"{MARKS}/release", "")

    resumed = fleet.compute().virtual_machines.begin_install_patches(
        GROUP, host.name, slow_and_plain(), continuation_token=token
    )
    result = resumed.result(timeout=120)
    assert states(result) == {
        **states(result),
        "upkeep-slow": "Installed",
        "upkeep-plain": "Installed",
    }
    assert result.status == "Succeeded"
    assert dpkg(host, "upkeep-slow") == "ii 1.1"


def test_a_machine_that_is_off_fails_the_operation_with_a_clear_code(
    make_fleet: Callable[..., Fleet],
    debian_host: Callable[..., DebianHost],
) -> None:
    fleet = make_fleet("--dispatch-timeout", "3s")
    host = debian_host("off1")
    fleet.connect(host)
    host.stop()

    with pytest.raises(HttpResponseError) as failed:
        fleet.compute().virtual_machines.begin_assess_patches(GROUP, host.name).result(timeout=60)
    assert failed.value.error.code == "MachineNotConnected"
