"""The ``upkeep`` CLI against a running server, with az's flag names. Each call is one
command line, as a person would type it."""

from __future__ import annotations

import json
import shlex
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import RunningServer, start_server
from upkeep.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """A server on SQLite, and a CLI whose profile lives in the test's own directory."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("UPKEEP_SERVER", "UPKEEP_TOKEN", "UPKEEP_CA_CERT", "UPKEEP_SUBSCRIPTION"):
        monkeypatch.delenv(name, raising=False)
    running = start_server(tmp_path / "data")
    yield running
    running.stop()


class Cli:
    """Runs ``upkeep <command line>`` in-process; returns stdout, or stderr when it fails."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        #: What the last command printed on stderr (progress, errors).
        self.stderr = ""

    def __call__(self, command: str, code: int = 0) -> str:
        self.capsys.readouterr()
        assert main(shlex.split(command)) == code, self.capsys.readouterr()
        captured = self.capsys.readouterr()
        self.stderr = captured.err
        return captured.out if code == 0 else captured.err

    def json(self, command: str) -> object:
        return json.loads(self(command))


@pytest.fixture
def cli(live: RunningServer, capsys: pytest.CaptureFixture[str]) -> Cli:
    run = Cli(capsys)
    run(f"login --server {live.url} --token {live.admin_token} --ca-cert {live.cert}")
    run("group create --name myMaintenanceRG --location eastus")
    return run


#: The az example of Azure's "How to programmatically manage updates for Azure VMs".
SEED_EXAMPLE = """maintenance configuration create
   --resource-group myMaintenanceRG
   --resource-name myConfig
   --maintenance-scope InGuestPatch
   --location eastus
   --maintenance-window-duration "02:00"
   --maintenance-window-recur-every "20days"
   --maintenance-window-start-date-time "2022-12-30 07:00"
   --maintenance-window-time-zone "Pacific Standard Time"
   --install-patches-linux-parameters package-name-masks-to-exclude="ppt" package-name-masks-to-include="apt" classifications-to-include="Other"
   --install-patches-windows-parameters kb-numbers-to-exclude="KB123456" kb-numbers-to-include="KB123456" classifications-to-include="FeaturePack"
   --reboot-setting "IfRequired"
   --extension-properties InGuestPatchMode="User"
"""
MACHINE = (
    "--resource-group myMaintenanceRG --resource-name myVM --resource-type virtualMachines"
    " --provider-name Microsoft.Compute"
)


def test_login_stores_the_profile_privately(live: RunningServer, cli: Cli, tmp_path: Path) -> None:
    profile = tmp_path / "config" / "upkeep" / "cli.json"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    shown = cli.json("account show")
    assert shown["subscriptionId"] == live.subscription_id
    assert shown["isDefault"] is True


def test_the_seed_documents_cli_example(cli: Cli) -> None:
    created = cli.json(SEED_EXAMPLE)
    assert created["name"] == "myConfig"
    assert created["maintenanceScope"] == "InGuestPatch"
    assert created["recurEvery"] == "20days"
    assert created["timeZone"] == "Pacific Standard Time"
    assert created["extensionProperties"] == {"InGuestPatchMode": "User"}
    assert created["installPatches"] == {
        "rebootSetting": "IfRequired",
        "linuxParameters": {
            "packageNameMasksToExclude": ["ppt"],
            "packageNameMasksToInclude": ["apt"],
            "classificationsToInclude": ["Other"],
        },
        "windowsParameters": {
            "kbNumbersToExclude": ["KB123456"],
            "kbNumbersToInclude": ["KB123456"],
            "classificationsToInclude": ["FeaturePack"],
        },
    }
    assert cli.json("maintenance configuration show -g myMaintenanceRG -n myConfig") == created


def test_configuration_update_list_table_and_delete(cli: Cli) -> None:
    cli(SEED_EXAMPLE)
    updated = cli.json(
        "maintenance configuration update -g myMaintenanceRG -n myConfig"
        " --maintenance-window-duration 03:00 --tags team=ops env=prod"
    )
    assert (updated["duration"], updated["tags"], updated["recurEvery"]) == (
        "03:00",
        {"team": "ops", "env": "prod"},
        "20days",
    )
    header, rule, row = cli("maintenance configuration list -o table").splitlines()
    assert header.split() == [
        "Name", "Location", "MaintenanceScope", "StartDateTime", "Duration", "RecurEvery",
        "TimeZone", "ExpirationDateTime",
    ]  # fmt: skip
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.startswith("myConfig") and "InGuestPatch" in row and "03:00" in row
    cli("maintenance configuration delete -g myMaintenanceRG -n myConfig -y")
    assert cli.json("maintenance configuration list") == []


def test_show_schedule_prints_local_and_utc_times(cli: Cli) -> None:
    cli(
        "maintenance configuration create -g myMaintenanceRG -n weekend"
        " --maintenance-scope InGuestPatch --extension-properties InGuestPatchMode=User"
        " --start-date-time '2030-03-02 02:30' --time-zone 'Pacific Standard Time'"
        " --recur-every 'Week Saturday,Sunday' --duration 02:00"
    )
    show = "maintenance configuration show-schedule -g myMaintenanceRG -n weekend --count 4"
    assert [window["startDateTime"] for window in cli.json(show)] == [
        "2030-03-02T10:30:00.0000000Z",  # Saturday 02:30 PST
        "2030-03-03T10:30:00.0000000Z",
        "2030-03-09T10:30:00.0000000Z",
        "2030-03-10T10:00:00.0000000Z",  # 02:30 does not exist that Sunday: 03:00 PDT
    ]
    table = cli(f"{show} -o table").splitlines()
    assert table[0].split() == [
        "LocalStart", "LocalEnd", "StartDateTime", "EndDateTime", "MachineCount", "Machines"
    ]  # fmt: skip
    assert table[2].startswith("2030-03-02 02:30 -08:00  2030-03-02 04:30 -08:00")
    assert table[5].startswith("2030-03-10 03:00 -07:00")


def test_assignments_with_az_flags(cli: Cli, live: RunningServer) -> None:
    configuration = cli.json(SEED_EXAMPLE)["id"]
    assigned = cli.json(
        f"maintenance assignment create {MACHINE} --location eastus"
        f" --configuration-assignment-name myConfig --maintenance-configuration-id {configuration}"
    )
    assert assigned["resourceId"].endswith(
        "/resourceGroups/myMaintenanceRG/providers/Microsoft.Compute/virtualMachines/myVM"
    )
    assert cli.json(f"maintenance assignment show {MACHINE} -n myConfig") == assigned
    listed = cli.json(f"maintenance assignment list {MACHINE}")
    assert [item["name"] for item in listed] == ["myConfig"]

    dynamic = cli.json(
        "maintenance assignment create-or-update-subscription --name linux-everywhere"
        f" --maintenance-configuration-id {configuration} --location global"
        " --filter-locations eastus westus2 --filter-os-types Linux"
        " --filter-tags '{env:[prod,staging],tier:[web]}' --filter-tags-operator Any"
    )
    assert dynamic["resourceId"] == f"/subscriptions/{live.subscription_id}"
    assert dynamic["filter"] == {
        "locations": ["eastus", "westus2"],
        "osTypes": ["Linux"],
        "tagSettings": {
            "tags": {"env": ["prod", "staging"], "tier": ["web"]},
            "filterOperator": "Any",
        },
    }
    grouped = cli.json(
        "maintenance assignment create-or-update-resource-group -g myMaintenanceRG"
        f" -n windows-here --config-id {configuration} --filter-os-types [Windows]"
    )
    assert grouped["filter"] == {"osTypes": ["Windows"]}
    everywhere = cli.json("maintenance assignment list-subscription")
    assert sorted(item["name"] for item in everywhere) == [
        "linux-everywhere", "myConfig", "windows-here"
    ]  # fmt: skip
    assert len(cli.json(f"maintenance assignment list --config-id {configuration}")) == 3

    cli(f"maintenance assignment delete {MACHINE} -n myConfig -y")
    cli("maintenance assignment delete-subscription -n linux-everywhere -y")
    cli("maintenance assignment delete-resource-group -g myMaintenanceRG -n windows-here -y")
    assert cli.json("maintenance assignment list-subscription") == []


def test_groups(cli: Cli) -> None:
    assert cli("group exists -n myMaintenanceRG").strip() == "true"
    shown = cli.json("group show -n myMaintenanceRG")
    assert shown["properties"]["provisioningState"] == "Succeeded"
    assert "myMaintenanceRG" in cli("group list -o table")
    cli("group delete -n myMaintenanceRG --yes")
    assert cli("group exists -n myMaintenanceRG").strip() == "false"


def test_errors_print_the_arm_code_and_exit_non_zero(cli: Cli) -> None:
    missing = cli("maintenance configuration show -g myMaintenanceRG -n nope", code=3)
    assert missing.startswith("ERROR: (ResourceNotFound)")
    assert "Code: ResourceNotFound" in missing
    bad = cli(
        "maintenance configuration create -g myMaintenanceRG -n bad"
        " --maintenance-scope InGuestPatch --extension-properties InGuestPatchMode=User"
        " --start-date-time '2030-01-01 00:00' --time-zone 'Nowhere Standard Time'"
        " --recur-every Day",
        code=1,
    )
    assert bad.startswith("ERROR: (InvalidMaintenanceWindow)")
    assert "properties.maintenanceWindow.timeZone" in bad
    unknown = cli(
        "maintenance configuration create -g x -n y --install-patches-linux-parameters colour=blue",
        code=1,
    )
    assert "unknown key 'colour'" in unknown


def test_environment_variables_replace_login(
    live: RunningServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPKEEP_SERVER", live.url)
    monkeypatch.setenv("UPKEEP_TOKEN", live.admin_token)
    monkeypatch.setenv("UPKEEP_CA_CERT", live.cert)
    monkeypatch.setenv("UPKEEP_SUBSCRIPTION", live.subscription_id)
    run = Cli(capsys)
    assert run.json("group list") == []
    monkeypatch.setenv("UPKEEP_TOKEN", "upk_wrong")
    assert "(AuthenticationFailed)" in run("group list", code=1)
