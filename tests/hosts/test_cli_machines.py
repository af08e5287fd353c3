"""``upkeep vm`` and ``upkeep connectedmachine`` with az's flags, against machines whose
agents were enrolled with a token from ``upkeep admin enrollment-token create``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_cli import Cli
from tests.hosts.apt_repo import AptRepo, debian_with_old_versions
from tests.hosts.fleet import ARC, VM, Fleet
from tests.hosts.host import DebianHost
from tests.hosts.test_apt_machines import dpkg

pytestmark = [pytest.mark.hosts, pytest.mark.slow]


@pytest.fixture
def cli(
    fleet: Fleet,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Cli:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("UPKEEP_SERVER", "UPKEEP_TOKEN", "UPKEEP_CA_CERT", "UPKEEP_SUBSCRIPTION"):
        monkeypatch.delenv(name, raising=False)
    run = Cli(capsys)
    server = fleet.server
    run(f"login --server {server.url} --token {server.admin_token} --ca-cert {server.cert}")
    return run


def test_machines_from_enrollment_to_installed_updates(
    fleet: Fleet,
    cli: Cli,
    debian_host: Callable[..., DebianHost],
    apt_repo: Callable[[], AptRepo],
) -> None:
    repo = apt_repo()
    vm, arc = debian_host("web1"), debian_host("edge1")
    debian_with_old_versions(vm, repo)
    debian_with_old_versions(arc, repo)
    cli("group create --name fleet --location westeurope")
    admin = f"admin enrollment-token create --data-dir {fleet.server.data_dir}"
    scope = f"--scope /subscriptions/{fleet.server.subscription_id}/resourceGroups/fleet"
    token = cli(f"{admin} {scope} --uses 2 --expires 1h").strip()
    fleet.connect(vm, VM, token=token)
    fleet.connect(arc, ARC, token=token)

    assert [machine["name"] for machine in cli.json("vm list -g fleet")] == ["web1"]
    shown = cli.json("connectedmachine show -g fleet -n edge1")["properties"]
    assert (shown["status"], shown["osName"]) == ("Connected", "Debian GNU/Linux")
    assert "web1" in cli("vm list -o table")

    assert cli.json("vm show -g fleet -n web1")["latestAssessment"] is None
    assessed = cli.json("vm assess-patches -g fleet -n web1")
    assert len(assessed["availablePatches"]) == 6
    assert cli.stderr.splitlines()[-1] == "Succeeded"  # progress, on stderr
    latest = cli.json("vm show -g fleet -n web1")["latestAssessment"]
    assert latest["availablePatchCountByClassification"]["security"] == 2
    table = cli("vm show -g fleet -n web1 -o table").splitlines()
    assert table[0].split()[-4:] == [
        "LastAssessed",
        "CriticalAndSecurity",
        "Other",
        "RebootPending",
    ]
    assert table[-1].split()[-3:] == ["2", "4", "false"]
    assert cli.json("connectedmachine assess-patches -g fleet -n edge1")["status"] == "Succeeded"

    installed = cli.json(
        "vm install-patches -g fleet -n web1 --maximum-duration PT1H --reboot-setting IfRequired"
        " --classifications-to-include-linux Security --package-name-masks-to-exclude upkeep-kern*"
    )
    states = {patch["name"]: patch["installationState"] for patch in installed["patches"]}
    assert (states["upkeep-openssl"], states["upkeep-kernel"]) == ("Installed", "Excluded")
    assert (dpkg(vm, "upkeep-openssl"), dpkg(vm, "upkeep-kernel")) == ("ii 1.0+deb12u1", "ii 1.0")
    assert installed["rebootStatus"] == "NotNeeded"


def test_bad_requests_name_the_field_and_start_nothing(
    fleet: Fleet, cli: Cli, debian_host: Callable[..., DebianHost]
) -> None:
    vm = debian_host("web2")
    fleet.connect(vm)
    install = "vm install-patches -g fleet -n web2 --maximum-duration PT1H --reboot-setting Never"

    urgent = cli(f"{install} --classifications-to-include-linux Urgent", code=1)
    assert "linuxParameters.classificationsToInclude" in urgent
    windows = cli(f"{install} --classifications-to-include-win Security", code=1)
    assert "windowsParameters" in windows
    assert "maximumDuration" in cli(
        "vm install-patches -g fleet -n web2 --maximum-duration PT9H --reboot-setting Never"
        " --classifications-to-include-linux Other",
        code=1,
    )
    assert "ResourceNotFound" in cli("vm assess-patches -g fleet -n nobody", code=3)

    vm.stop()  # so that the assessment stays queued
    assert cli("vm assess-patches -g fleet -n web2 --no-wait") == ""
    busy = cli(f"{install} --classifications-to-include-linux Other", code=1)
    assert "Conflict" in busy
