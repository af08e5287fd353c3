"""A fleet in Resource Graph's shape, and the queries Azure users run over it.

The fleet is fixed: two subscriptions, about thirty machines (Azure VMs and Arc machines,
Linux and Windows), five maintenance configurations with their assignments and runs, and
the assessment and installation results those runs left, all timed against :data:`NOW`
(the suite's clock). :func:`batches` gives the rows as ``records.replace_rows`` takes them.

Each :class:`Case` is a query written the way the Update Manager and Resource Graph docs
write them, and the rows Resource Graph would answer, computed without Upkeep's engine:
by a few lines of Python over :data:`ROWS` written for that one query, or by the
duckdb-kql oracle (``tests/graph/oracle.py``) where its KQL covers the query.
"""

from __future__ import annotations

import textwrap
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

#: The suite's clock (tests/conftest.py::clock): every timestamp below is relative to it.
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

TENANT_ID = "5c4a1e0b-7d2f-4b6a-9e13-8f0d2c6b4a17"
PRODUCTION = "3f6d2a8e-1b4c-4e7f-a9d0-5c2b8e1f7a36"
DEVELOPMENT = "b81e4c7a-9d3f-4a26-8c05-e7f1a2d9b4c3"
#: subscription id → display name
SUBSCRIPTIONS = {PRODUCTION: "Production", DEVELOPMENT: "Development"}
BOTH = (PRODUCTION, DEVELOPMENT)

TABLE_NAMES = (
    "resources",
    "maintenanceresources",
    "patchassessmentresources",
    "patchinstallationresources",
)

VM = "microsoft.compute/virtualmachines"
ARC = "microsoft.hybridcompute/machines"
CONFIGURATION = "microsoft.maintenance/maintenanceconfigurations"
ASSIGNMENT = "microsoft.maintenance/configurationassignments"
MACHINE_RUN = "microsoft.maintenance/applyupdates"
CONFIGURATION_RUN = "microsoft.maintenance/maintenanceconfigurations/applyupdates"

_IDS = uuid.UUID("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")


def _guid(*parts: str) -> str:
    """A stable GUID for whatever ``parts`` name."""
    return str(uuid.uuid5(_IDS, "/".join(parts)))


def stamp(moment: datetime) -> str:
    """A timestamp as Update Manager writes it: seven fractional digits and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def iso(moment: datetime) -> str:
    """A datetime as Resource Graph answers it: ISO 8601 in UTC, fraction only if any."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def parse_time(text: str) -> datetime:
    """A Z timestamp with up to seven fractional digits (Python reads at most six)."""
    head, _, fraction = text.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head).replace(tzinfo=UTC)
    return moment + timedelta(microseconds=int((fraction + "000000")[:6])) if fraction else moment


# --- the machines ----------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """What a machine runs, as both providers describe it."""

    os: str  # Linux | Windows
    name: str  # Arc's osName / the family the patch catalogue is keyed by
    version: str
    sku: str  # Arc's osSku, a human name
    publisher: str = ""
    offer: str = ""
    plan: str = ""


UBUNTU_2004 = Image("Linux", "ubuntu", "20.04", "Ubuntu 20.04.6 LTS", "Canonical",
                    "0001-com-ubuntu-server-focal", "20_04-lts-gen2")  # fmt: skip
UBUNTU_2204 = Image("Linux", "ubuntu", "22.04", "Ubuntu 22.04.5 LTS", "Canonical",
                    "0001-com-ubuntu-server-jammy", "22_04-lts-gen2")  # fmt: skip
UBUNTU_2404 = Image("Linux", "ubuntu", "24.04", "Ubuntu 24.04.1 LTS", "Canonical",
                    "ubuntu-24_04-lts", "server")  # fmt: skip
DEBIAN_12 = Image("Linux", "debian", "12", "Debian GNU/Linux 12 (bookworm)", "Debian",
                  "debian-12", "12-gen2")  # fmt: skip
RHEL_8 = Image("Linux", "rhel", "8.10", "Red Hat Enterprise Linux 8.10 (Ootpa)", "RedHat",
               "RHEL", "8-lvm-gen2")  # fmt: skip
RHEL_9 = Image("Linux", "rhel", "9.4", "Red Hat Enterprise Linux 9.4 (Plow)", "RedHat",
               "RHEL", "9-lvm-gen2")  # fmt: skip
CENTOS_7 = Image("Linux", "centos", "7.9", "CentOS Linux 7 (Core)")
SLES_15 = Image("Linux", "sles", "15.5", "SUSE Linux Enterprise Server 15 SP5", "SUSE",
                "sles-15-sp5", "gen2")  # fmt: skip
WINDOWS_2016 = Image("Windows", "windows", "10.0.14393", "Windows Server 2016 Datacenter")
WINDOWS_2019 = Image("Windows", "windows", "10.0.17763", "Windows Server 2019 Datacenter",
                     "MicrosoftWindowsServer", "WindowsServer", "2019-datacenter-gensecond")  # fmt: skip
WINDOWS_2022 = Image("Windows", "windows", "10.0.20348", "Windows Server 2022 Datacenter",
                     "MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition")  # fmt: skip
WINDOWS_2025 = Image("Windows", "windows", "10.0.26100", "Windows Server 2025 Datacenter",
                     "MicrosoftWindowsServer", "WindowsServer", "2025-datacenter-azure-edition")  # fmt: skip


@dataclass(frozen=True)
class Machine:
    """One machine and what happened to it, in the few words the rows are built from."""

    name: str
    subscription: str
    group: str  # as written: "RG-Data" keeps its capitals
    arc: bool
    image: Image
    location: str
    tags: dict[str, str]
    size: str = ""  # Azure VMs: hardwareProfile.vmSize
    disk_gb: int = 0  # Azure VMs: osDisk.diskSizeGB
    zones: tuple[str, ...] | None = None
    state: str = "running"  # VMs: the power state; Arc: Connected | Disconnected | Expired
    #: how long before NOW the last assessment finished; None: never assessed
    assessed: timedelta | None = None
    pending: int = 0  # how many updates that assessment found
    reboot_pending: bool = False

    @property
    def type(self) -> str:
        return ARC if self.arc else VM

    @property
    def id(self) -> str:
        provider = (
            "Microsoft.HybridCompute/machines"
            if self.arc
            else ("Microsoft.Compute/virtualMachines")
        )
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.group}"
            f"/providers/{provider}/{self.name}"
        )


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def _d(days: float) -> timedelta:
    return timedelta(days=days)


_PROD_TAGS = {"env": "prod"}
_DEV_TAGS = {"env": "dev"}

MACHINES: tuple[Machine, ...] = (
    # Production: web tier in West Europe
    Machine("web-01", PRODUCTION, "rg-web", False, UBUNTU_2204, "westeurope",
            {**_PROD_TAGS, "tier": "web", "owner": "team-web"}, "Standard_D2s_v5", 64, ("1",),
            assessed=_h(2), pending=4),
    Machine("web-02", PRODUCTION, "rg-web", False, UBUNTU_2204, "westeurope",
            {**_PROD_TAGS, "tier": "web", "owner": "team-web"}, "Standard_D2s_v5", 64, ("2",),
            assessed=_h(3), pending=5),
    Machine("web-03", PRODUCTION, "rg-web", False, UBUNTU_2004, "westeurope",
            {**_PROD_TAGS, "tier": "web"}, "Standard_D4s_v5", 128,
            assessed=_d(1), pending=7, reboot_pending=True),
    Machine("webapi-01", PRODUCTION, "rg-web", False, RHEL_9, "westeurope",
            {**_PROD_TAGS, "tier": "api", "owner": "team-api"}, "Standard_F4s_v2", 128,
            assessed=_h(5), pending=3),
    Machine("win-web-01", PRODUCTION, "rg-web", False, WINDOWS_2022, "westeurope",
            {**_PROD_TAGS, "tier": "web", "owner": "team-web"}, "Standard_D4s_v5", 127,
            assessed=_h(6), pending=6, reboot_pending=True),
    Machine("jump-01", PRODUCTION, "rg-web", False, WINDOWS_2022, "westeurope", {},
            "Standard_B2ms", 127, assessed=_d(1.2), pending=2),
    # Production: databases in North Europe, in a group written with capitals
    Machine("db-01", PRODUCTION, "RG-Data", False, RHEL_9, "northeurope",
            {**_PROD_TAGS, "tier": "db", "owner": "team-data"}, "Standard_E8s_v5", 256, ("1",),
            assessed=_h(4), pending=9),
    Machine("db-02", PRODUCTION, "RG-Data", False, RHEL_9, "northeurope",
            {**_PROD_TAGS, "tier": "db", "owner": "team-data"}, "Standard_E8s_v5", 256,
            assessed=_h(4.5), pending=8, reboot_pending=True),
    Machine("db-03", PRODUCTION, "RG-Data", False, RHEL_8, "northeurope",
            {**_PROD_TAGS, "tier": "db", "owner": "team-data"}, "Standard_E4s_v5", 256,
            assessed=_h(7), pending=1),
    Machine("FIN-SQL-01", PRODUCTION, "RG-Data", False, WINDOWS_2019, "northeurope",
            {**_PROD_TAGS, "tier": "db", "owner": "finance"}, "Standard_E4s_v5", 512,
            assessed=_d(9), pending=5),
    Machine("sqlprod-01", PRODUCTION, "RG-Data", False, WINDOWS_2022, "northeurope",
            {**_PROD_TAGS, "tier": "db", "owner": "team-data"}, "Standard_E16s_v5", 1024,
            state="deallocated"),
    # Production: Arc machines in the data centre and a branch office
    Machine("onprem-app-01", PRODUCTION, "rg-arc", True, UBUNTU_2204, "westeurope",
            {**_PROD_TAGS, "tier": "app", "owner": "ops"}, state="Connected",
            assessed=_d(1.1), pending=2),
    Machine("onprem-app-02", PRODUCTION, "rg-arc", True, SLES_15, "westeurope",
            {**_PROD_TAGS, "tier": "app"}, state="Connected", assessed=_d(2), pending=3),
    Machine("onprem-dc-01", PRODUCTION, "rg-arc", True, WINDOWS_2019, "westeurope",
            {**_PROD_TAGS, "tier": "infra", "owner": "ops"}, state="Connected",
            assessed=_h(12), pending=4, reboot_pending=True),
    Machine("onprem-file-01", PRODUCTION, "rg-arc", True, WINDOWS_2016, "westeurope",
            {**_PROD_TAGS, "tier": "infra"}, state="Disconnected", assessed=_d(15), pending=6),
    Machine("onprem-legacy-01", PRODUCTION, "rg-arc", True, CENTOS_7, "westeurope", {},
            state="Disconnected"),
    Machine("branch-router-01", PRODUCTION, "rg-arc", True, DEBIAN_12, "eastus",
            {**_PROD_TAGS, "site": "branch"}, state="Connected",
            assessed=timedelta(minutes=18), pending=1),
    # Development: East US
    Machine("dev-web-01", DEVELOPMENT, "rg-dev", False, UBUNTU_2404, "eastus",
            {**_DEV_TAGS, "tier": "web", "owner": "team-web"}, "Standard_B2s", 30,
            assessed=timedelta(minutes=47), pending=5),
    Machine("dev-web-02", DEVELOPMENT, "rg-dev", False, UBUNTU_2404, "eastus",
            {**_DEV_TAGS, "tier": "web"}, "Standard_B2s", 30,
            assessed=timedelta(minutes=20), pending=4),
    Machine("dev-api-01", DEVELOPMENT, "rg-dev", False, RHEL_9, "eastus",
            {**_DEV_TAGS, "tier": "api"}, "Standard_B4ms", 64, assessed=_d(1), pending=3),
    Machine("dev-db-01", DEVELOPMENT, "rg-dev", False, UBUNTU_2204, "eastus",
            {**_DEV_TAGS, "tier": "db"}, "Standard_D2s_v5", 128, state="stopped",
            assessed=_d(8), pending=6),
    Machine("dev-win-01", DEVELOPMENT, "rg-dev", False, WINDOWS_2022, "eastus",
            {**_DEV_TAGS, "tier": "app", "owner": "team-win"}, "Standard_D2s_v5", 127,
            assessed=_d(2), pending=3, reboot_pending=True),
    Machine("dev-win-02", DEVELOPMENT, "rg-dev", False, WINDOWS_2025, "eastus", _DEV_TAGS,
            "Standard_D2s_v5", 127),
    Machine("test-runner-01", DEVELOPMENT, "rg-dev", False, UBUNTU_2204, "eastus",
            {"env": "test", "owner": "ci"}, "Standard_F8s_v2", 256, assessed=_d(3), pending=2),
    Machine("test-runner-02", DEVELOPMENT, "rg-dev", False, UBUNTU_2204, "eastus",
            {"env": "test", "owner": "ci"}, "Standard_F8s_v2", 256, assessed=_d(3.1)),
    # Development: West Europe, and a lab of Arc machines
    Machine("dev-eu-web-01", DEVELOPMENT, "rg-dev-eu", False, SLES_15, "westeurope",
            {**_DEV_TAGS, "tier": "web"}, "Standard_D2s_v5", 64, assessed=_h(5.5), pending=3),
    Machine("dev-eu-db-01", DEVELOPMENT, "rg-dev-eu", False, DEBIAN_12, "westeurope",
            {**_DEV_TAGS, "tier": "db"}, "Standard_E2s_v5", 128,
            assessed=_d(6) + _h(20), pending=2),
    Machine("lab-arc-01", DEVELOPMENT, "rg-lab", True, UBUNTU_2404, "eastus",
            {"env": "lab"}, state="Connected", assessed=_d(2.2), pending=4),
    Machine("lab-arc-02", DEVELOPMENT, "rg-lab", True, WINDOWS_2022, "eastus",
            {"env": "lab"}, state="Connected", assessed=_d(1.4), pending=3),
    Machine("lab-arc-03", DEVELOPMENT, "rg-lab", True, RHEL_8, "eastus",
            {"env": "lab"}, state="Expired"),
)  # fmt: skip

BY_NAME = {machine.name: machine for machine in MACHINES}


# --- what an assessment can find -------------------------------------------------------


@dataclass(frozen=True)
class Update:
    """An update a package manager or Windows Update offers."""

    name: str
    classification: str
    version: str = ""  # Linux
    kb: str = ""  # Windows
    published: str | None = None  # Windows only: Linux does not say
    reboot: bool = False


_CATALOGUE: dict[str, tuple[Update, ...]] = {
    "ubuntu": (
        Update("openssl", "Security", "3.0.2-0ubuntu1.18"),
        Update("linux-image-5.15.0-126-generic", "Security", "5.15.0-126.136", reboot=True),
        Update("libc6", "Security", "2.35-0ubuntu3.8", reboot=True),
        Update("curl", "Security", "7.81.0-1ubuntu1.19"),
        Update("tzdata", "Other", "2024b-0ubuntu0.22.04.1"),
        Update("python3-urllib3", "Security", "1.26.5-1~exp1ubuntu0.2"),
        Update("vim", "Other", "2:8.2.3995-1ubuntu2.21"),
    ),
    "debian": (
        Update("openssh-server", "Security", "1:9.2p1-2+deb12u3"),
        Update("linux-image-amd64", "Security", "6.1.115-1", reboot=True),
        Update("ca-certificates", "Other", "20230311+deb12u1"),
    ),
    "rhel": (
        Update("kernel", "Security", "5.14.0-427.42.1.el9_4", reboot=True),
        Update("openssl-libs", "Critical", "1:3.0.7-28.el9_4"),
        Update("sudo", "Security", "1.9.5p2-10.el9_3"),
        Update("glibc", "Critical", "2.34-100.el9_4.4", reboot=True),
        Update("bash", "Other", "5.1.8-9.el9"),
        Update("python3-requests", "Security", "2.25.1-8.el9"),
        Update("tzdata", "Other", "2024b-2.el9"),
        Update("systemd", "Security", "252-32.el9_4.7", reboot=True),
        Update("krb5-libs", "Critical", "1.21.1-2.el9_4"),
    ),
    "sles": (
        Update("kernel-default", "Security", "5.14.21-150500.55.83.1", reboot=True),
        Update("libopenssl3", "Critical", "3.0.8-150500.5.45.1"),
        Update("zypper", "Other", "1.14.77-150500.6.23.1"),
    ),
    "windows": (
        Update(
            "2026-11 Cumulative Update for Microsoft server operating system (KB5046616)",
            "Security",
            kb="5046616",
            published="2026-11-10T18:00:00Z",
            reboot=True,
        ),
        Update(
            "2026-11 Servicing Stack Update for Windows Server (KB5046545)",
            "Critical",
            kb="5046545",
            published="2026-11-10T18:00:00Z",
        ),
        Update(
            "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602",
            "Definition",
            kb="2267602",
            published="2026-11-25T04:00:00Z",
        ),
        Update(
            "Windows Malicious Software Removal Tool x64 - v5.131 (KB890830)",
            "UpdateRollUp",
            kb="890830",
            published="2026-11-10T18:00:00Z",
        ),
        Update(
            "2026-11 Cumulative Update for .NET Framework 4.8.1 (KB5046540)",
            "Security",
            kb="5046540",
            published="2026-11-12T18:00:00Z",
        ),
        Update("Microsoft Edge WebView2 Runtime Update (KB5044017)", "Updates", kb="5044017"),
    ),
}
_CATALOGUE["centos"] = _CATALOGUE["rhel"]

#: Update Manager's count keys, per OS
_COUNT_KEYS = {
    "Linux": ("critical", "security", "other"),
    "Windows": ("critical", "security", "updateRollup", "featurePack", "servicePack",
                "definition", "tools", "updates"),
}  # fmt: skip
_COUNT_KEY = {
    "Security": "security",
    "Critical": "critical",
    "Other": "other",
    "UpdateRollUp": "updateRollup",
    "Definition": "definition",
    "Updates": "updates",
}
_PATCH_SERVICE = {"ubuntu": "APT", "debian": "APT", "rhel": "YUM", "centos": "YUM",
                  "sles": "Zypper", "windows": "WU"}  # fmt: skip


def pending_updates(machine: Machine) -> tuple[Update, ...]:
    """The updates the machine's last assessment found (a fixed share of its catalogue)."""
    catalogue = _CATALOGUE[machine.image.name]
    # machines on the same image differ in where their list starts
    start = sum(map(ord, machine.name)) % len(catalogue)
    rotated = catalogue[start:] + catalogue[:start]
    return rotated[: machine.pending] if machine.pending <= len(rotated) else rotated


def _patch_id(update: Update, machine: Machine) -> str:
    if update.kb:
        return _guid("update", update.kb)
    return f"{update.name}_{update.version}_{machine.image.name}_{machine.image.version}"


# --- maintenance configurations and their runs ----------------------------------------


@dataclass(frozen=True)
class Configuration:
    name: str
    subscription: str
    group: str
    location: str
    recur_every: str
    start: str  # maintenanceWindow.startDateTime, local to time_zone
    time_zone: str
    duration: str
    reboot: str
    linux: tuple[str, ...] = ()
    windows: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.group}"
            f"/providers/Microsoft.Maintenance/maintenanceConfigurations/{self.name}"
        )


CONFIGURATIONS: tuple[Configuration, ...] = (
    Configuration("weekly-linux-prod", PRODUCTION, "rg-maintenance", "westeurope",
                  "1Week Saturday", "2026-01-03 22:00", "W. Europe Standard Time", "03:00",
                  "IfRequired", linux=("Critical", "Security"), tags={"owner": "platform"}),
    Configuration("monthly-windows-prod", PRODUCTION, "rg-maintenance", "westeurope",
                  "1Month Second Tuesday", "2026-01-13 22:00", "W. Europe Standard Time",
                  "04:00", "Always", windows=("Critical", "Security", "UpdateRollup"),
                  tags={"owner": "platform"}),
    Configuration("arc-onprem-weekly", PRODUCTION, "rg-maintenance", "westeurope",
                  "1Week Sunday", "2026-01-04 03:00", "W. Europe Standard Time", "02:00",
                  "IfRequired", linux=("Critical", "Security", "Other"),
                  windows=("Critical", "Security"), tags={"owner": "ops"}),
    Configuration("quarterly-hotfix", PRODUCTION, "rg-maintenance", "westeurope",
                  "3Month Last Friday", "2026-03-27 20:00", "UTC", "06:00", "Never",
                  linux=("Critical",), windows=("Critical",)),
    Configuration("daily-dev", DEVELOPMENT, "rg-maintenance-dev", "eastus", "1Day",
                  "2026-01-01 21:00", "Eastern Standard Time", "02:00", "IfRequired",
                  linux=("Critical", "Security", "Other"), windows=("Critical", "Security"),
                  tags={"owner": "team-web"}),
)  # fmt: skip

CONFIGURATION_BY_NAME = {configuration.name: configuration for configuration in CONFIGURATIONS}

#: configuration → machines assigned to it one by one
ASSIGNED: dict[str, tuple[str, ...]] = {
    "weekly-linux-prod": ("web-01", "web-02", "web-03", "webapi-01", "db-01", "db-02", "db-03"),
    "monthly-windows-prod": ("win-web-01", "jump-01", "FIN-SQL-01", "sqlprod-01"),
    "arc-onprem-weekly": (
        "onprem-app-01", "onprem-app-02", "onprem-dc-01", "onprem-file-01", "branch-router-01",
    ),
    "daily-dev": ("dev-web-01", "dev-web-02", "dev-api-01"),
}  # fmt: skip

#: daily-dev also has a dynamic scope on the Development subscription: Linux machines in
#: East US tagged env=dev. Its runs reached dev-db-01 through it.
DYNAMIC_SCOPE = {
    "locations": ["eastus"],
    "osTypes": ["Linux"],
    "tagSettings": {"tags": {"env": ["dev"]}, "filterOperator": "All"},
    "resourceTypes": ["microsoft.compute/virtualmachines"],
}

SUCCEEDED, FAILED, WARNINGS, IN_PROGRESS, CANCELLED = (
    "Succeeded", "Failed", "CompletedWithWarnings", "InProgress", "Cancelled",
)  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One occurrence of a configuration's window and how it ended on each machine."""

    configuration: str
    start: datetime  # the occurrence in UTC
    machines: tuple[str, ...]
    #: machine → outcome where it was not Succeeded
    outcomes: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def correlation_id(self) -> str:
        configuration = CONFIGURATION_BY_NAME[self.configuration]
        return (
            f"{configuration.id}/providers/microsoft.maintenance/applyupdates/"
            f"{self.start:%Y%m%d%H%M%S}"
        )

    def outcome(self, machine: str) -> str:
        return CANCELLED if self.cancelled else self.outcomes.get(machine, SUCCEEDED)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_DAILY_DEV = ("dev-web-01", "dev-web-02", "dev-api-01", "dev-db-01")

RUNS: tuple[Run, ...] = (
    Run("weekly-linux-prod", _utc("2026-10-31T21:00"), ASSIGNED["weekly-linux-prod"],
        {"webapi-01": FAILED}),
    Run("weekly-linux-prod", _utc("2026-11-07T21:00"), ASSIGNED["weekly-linux-prod"],
        {"web-03": WARNINGS}),
    Run("weekly-linux-prod", _utc("2026-11-14T21:00"), ASSIGNED["weekly-linux-prod"],
        {"db-02": FAILED}),
    Run("weekly-linux-prod", _utc("2026-11-21T21:00"), ASSIGNED["weekly-linux-prod"],
        {"db-02": FAILED, "db-01": FAILED, "web-03": WARNINGS}),
    Run("monthly-windows-prod", _utc("2026-10-13T20:00"), ASSIGNED["monthly-windows-prod"]),
    Run("monthly-windows-prod", _utc("2026-11-10T21:00"), ASSIGNED["monthly-windows-prod"],
        {"FIN-SQL-01": FAILED, "sqlprod-01": FAILED, "win-web-01": WARNINGS}),
    Run("arc-onprem-weekly", _utc("2026-11-15T02:00"), ASSIGNED["arc-onprem-weekly"],
        {"onprem-file-01": FAILED}),
    Run("arc-onprem-weekly", _utc("2026-11-22T02:00"), ASSIGNED["arc-onprem-weekly"],
        {"onprem-file-01": FAILED, "branch-router-01": WARNINGS}),
    Run("daily-dev", _utc("2026-11-22T02:00"), _DAILY_DEV, cancelled=True),
    Run("daily-dev", _utc("2026-11-23T02:00"), _DAILY_DEV),
    Run("daily-dev", _utc("2026-11-24T02:00"), _DAILY_DEV, {"dev-db-01": FAILED}),
    Run("daily-dev", _utc("2026-11-25T02:00"), _DAILY_DEV,
        {"dev-db-01": FAILED, "dev-api-01": WARNINGS}),
    Run("daily-dev", _utc("2026-11-26T02:00"), _DAILY_DEV, {"dev-web-01": IN_PROGRESS}),
)  # fmt: skip

#: The 2026-11-21 run of weekly-linux-prod ran past db-01's window.
WINDOW_EXCEEDED = {("weekly-linux-prod", "2026-11-21", "db-01")}


@dataclass(frozen=True)
class OnDemand:
    """An installation someone started by hand (no maintenance run)."""

    machine: str
    start: datetime
    outcome: str


ON_DEMAND: tuple[OnDemand, ...] = (
    OnDemand("test-runner-01", _utc("2026-11-25T14:10"), SUCCEEDED),
    OnDemand("dev-eu-web-01", _utc("2026-11-20T10:30"), FAILED),
    OnDemand("lab-arc-02", _utc("2026-11-02T16:45"), SUCCEEDED),
)


# --- rows ------------------------------------------------------------------------------


def _row(
    id: str,
    name: str,
    type: str,
    machine_or_configuration: Machine | Configuration,
    properties: dict[str, Any],
    tags: dict[str, str] | None = None,
    *,
    zones: list[str] | None = None,
) -> dict[str, Any]:
    """A row with Resource Graph's 16 columns; where it lives comes from its machine."""
    home = machine_or_configuration
    return {
        "id": id,
        "name": name,
        "type": type,
        "tenantId": TENANT_ID,
        "kind": "",
        "location": home.location,
        "resourceGroup": home.group,
        "subscriptionId": home.subscription,
        "managedBy": "",
        "sku": None,
        "plan": None,
        "properties": properties,
        "tags": tags,
        "identity": None,
        "zones": zones,
        "extendedLocation": None,
    }


def _vm_properties(machine: Machine) -> dict[str, Any]:
    image = machine.image
    configuration_key = "linuxConfiguration" if image.os == "Linux" else "windowsConfiguration"
    return {
        "vmId": _guid("vm", machine.name),
        "hardwareProfile": {"vmSize": machine.size},
        "storageProfile": {
            "osDisk": {
                "osType": image.os,
                "name": f"{machine.name}_OsDisk_1",
                "diskSizeGB": machine.disk_gb,
                "managedDisk": {"storageAccountType": "Premium_LRS"},
            },
            "imageReference": {
                "publisher": image.publisher,
                "offer": image.offer,
                "sku": image.plan,
                "version": "latest",
            },
        },
        "osProfile": {
            "computerName": machine.name,
            configuration_key: {
                "patchSettings": {
                    "patchMode": "AutomaticByPlatform",
                    "assessmentMode": "AutomaticByPlatform",
                }
            },
        },
        "provisioningState": "Succeeded",
        "extended": {"instanceView": {"powerState": {"code": f"PowerState/{machine.state}"}}},
    }


def _arc_properties(machine: Machine) -> dict[str, Any]:
    image = machine.image
    return {
        "vmId": _guid("arc", machine.name),
        "osType": image.os.lower(),  # Arc writes it lowercase
        "osName": image.name,
        "osVersion": image.version,
        "osSku": image.sku,
        "status": machine.state,
        "agentVersion": f"1.4{len(machine.name) % 7}.0{sum(map(ord, machine.name)) % 97:02d}",
        "lastStatusChange": stamp(NOW - timedelta(hours=len(machine.name) * 3)),
        "provisioningState": "Succeeded",
    }


def _machine_row(machine: Machine) -> dict[str, Any]:
    properties = _arc_properties(machine) if machine.arc else _vm_properties(machine)
    return _row(
        machine.id, machine.name, machine.type, machine, properties, dict(machine.tags),
        zones=list(machine.zones) if machine.zones else None,
    )  # fmt: skip


def _configuration_row(configuration: Configuration) -> dict[str, Any]:
    install: dict[str, Any] = {"rebootSetting": configuration.reboot}
    if configuration.linux:
        install["linuxParameters"] = {
            "classificationsToInclude": list(configuration.linux),
            "packageNameMasksToExclude": ["kernel*"] if "Other" in configuration.linux else [],
        }
    if configuration.windows:
        install["windowsParameters"] = {
            "classificationsToInclude": list(configuration.windows),
            "kbNumbersToExclude": [],
        }
    properties = {
        "maintenanceScope": "InGuestPatch",
        "visibility": "Custom",
        "maintenanceWindow": {
            "startDateTime": configuration.start,
            "duration": configuration.duration,
            "timeZone": configuration.time_zone,
            "recurEvery": configuration.recur_every,
            "expirationDateTime": None,
        },
        "installPatches": install,
        "extensionProperties": {"InGuestPatchMode": "User"},
    }
    return _row(
        configuration.id, configuration.name, CONFIGURATION, configuration, properties,
        dict(configuration.tags),
    )  # fmt: skip


def _assignment_rows() -> list[dict[str, Any]]:
    rows = []
    for name, machines in ASSIGNED.items():
        configuration = CONFIGURATION_BY_NAME[name]
        for machine in map(BY_NAME.__getitem__, machines):
            properties = {"maintenanceConfigurationId": configuration.id, "resourceId": machine.id}
            rows.append(_row(
                f"{machine.id}/providers/Microsoft.Maintenance/configurationAssignments/{name}",
                name, ASSIGNMENT, machine, properties,
            ))  # fmt: skip
    dev = CONFIGURATION_BY_NAME["daily-dev"]
    scope = f"/subscriptions/{DEVELOPMENT}"
    dynamic = _row(
        f"{scope}/providers/Microsoft.Maintenance/configurationAssignments/daily-dev-eastus-linux",
        "daily-dev-eastus-linux", ASSIGNMENT, dev,
        {"maintenanceConfigurationId": dev.id, "resourceId": scope, "filter": DYNAMIC_SCOPE},
    )  # fmt: skip
    dynamic["resourceGroup"] = ""  # a subscription-wide assignment lives in no group
    return [*rows, dynamic]


def _machine_offset(run: Run, machine: str) -> timedelta:
    """When within its window each machine finishes (distinct for every machine and run)."""
    position = run.machines.index(machine)
    return timedelta(
        minutes=7 + 9 * position, seconds=13 * position + run.start.day, milliseconds=211 * position
    )


_RUN_STATUS = {SUCCEEDED: "Completed", WARNINGS: "Completed", FAILED: "Failed",
               IN_PROGRESS: "InProgress", CANCELLED: "Cancelled"}  # fmt: skip


def _run_rows(run: Run) -> list[dict[str, Any]]:
    """Both kinds of applyupdates row, one per machine: under the machine, and under
    the configuration (which is how a run's machines are listed by correlationId)."""
    configuration = CONFIGURATION_BY_NAME[run.configuration]
    name = f"{run.start:%Y%m%d%H%M%S}"
    rows = []
    for machine in map(BY_NAME.__getitem__, run.machines):
        outcome = run.outcome(machine.name)
        finished = None
        if outcome not in (IN_PROGRESS, CANCELLED):
            finished = stamp(run.start + _machine_offset(run, machine.name))
        elif outcome == CANCELLED:
            finished = stamp(run.start)
        properties = {
            "maintenanceConfigurationId": configuration.id,
            "maintenanceScope": "InGuestPatch",
            "resourceId": machine.id,
            "correlationId": run.correlation_id,
            "startDateTime": iso(run.start),
            "endDateTime": finished,
            "status": _RUN_STATUS[outcome],
        }
        if outcome == CANCELLED:
            properties["errorMessage"] = "The run was cancelled by a user."
        rows.append(_row(
            f"{machine.id}/providers/Microsoft.Maintenance/applyUpdates/{name}",
            name, MACHINE_RUN, machine, properties,
        ))  # fmt: skip
        rows.append(_row(
            f"{configuration.id}/providers/Microsoft.Maintenance/applyUpdates/{name}"
            f"/machines/{machine.name}",
            name, CONFIGURATION_RUN, machine, dict(properties),
        ))  # fmt: skip
    return rows


def _assessment_rows(machine: Machine) -> list[dict[str, Any]]:
    if machine.assessed is None:
        return []
    # Update Manager's timestamps carry fractions of a second
    finished = NOW - machine.assessed - timedelta(milliseconds=37 * len(machine.name))
    updates = pending_updates(machine)
    counts = dict.fromkeys(_COUNT_KEYS[machine.image.os], 0)
    for update in updates:
        counts[_COUNT_KEY[update.classification]] += 1
    summary_id = f"{machine.id}/patchAssessmentResults/latest"
    summary = {
        "rebootPending": machine.reboot_pending,
        "patchServiceUsed": _PATCH_SERVICE[machine.image.name],
        "osType": machine.image.os,
        "startDateTime": stamp(finished - timedelta(minutes=3, seconds=41)),
        "lastModifiedDateTime": stamp(finished),
        # the periodic assessment, except where someone asked within the last two hours
        "startedBy": "User" if machine.assessed < timedelta(hours=2) else "Platform",
        "errorDetails": {"code": "0", "message": "0 error/s reported.", "details": []},
        "availablePatchCountByClassification": counts,
        "status": "Succeeded",
    }
    type_ = f"{machine.type}/patchassessmentresults"
    rows = [_row(summary_id, _guid("assessment", machine.name), type_, machine, summary)]
    for update in updates:
        patch = {
            "lastModifiedDateTime": stamp(finished),
            "publishedDateTime": update.published,
            "classifications": [update.classification],
            "rebootRequired": update.reboot,
            "rebootBehavior": "CanRequestReboot" if update.reboot else "NeverReboots",
            "patchName": update.name,
            "patchId": _patch_id(update, machine),
        }
        patch.update({"kbId": update.kb} if update.kb else {"version": update.version})
        rows.append(_row(
            f"{summary_id}/softwarePatches/{_patch_id(update, machine)}",
            update.name, f"{type_}/softwarepatches", machine, patch,
        ))  # fmt: skip
    return rows


#: how each outcome treats the first three updates a machine installs
_STATES = {
    SUCCEEDED: ("Installed", "Installed", "NotSelected"),
    WARNINGS: ("Installed", "Failed", "Excluded"),
    FAILED: ("Failed", "Pending", "NotSelected"),
    IN_PROGRESS: ("Installed", "Pending", "Pending"),
}


def _installation_rows(
    machine: Machine,
    start: datetime,
    outcome: str,
    *,
    run: Run | None = None,
    exceeded: bool = False,
) -> list[dict[str, Any]]:
    finished = start + (_machine_offset(run, machine.name) if run else timedelta(minutes=23))
    installation = _guid("installation", machine.name, start.isoformat())
    summary_id = f"{machine.id}/patchInstallationResults/{installation}"
    updates = _CATALOGUE[machine.image.name][:3]
    states = _STATES[outcome]
    summary: dict[str, Any] = {
        "installationActivityId": installation,
        "maintenanceWindowExceeded": exceeded,
        "lastModifiedDateTime": stamp(finished),
        "notSelectedPatchCount": states.count("NotSelected"),
        "excludedPatchCount": states.count("Excluded"),
        "pendingPatchCount": states.count("Pending"),
        "installedPatchCount": states.count("Installed"),
        "failedPatchCount": states.count("Failed"),
        "patchServiceUsed": _PATCH_SERVICE[machine.image.name],
        "osType": machine.image.os,
        "startDateTime": stamp(start + timedelta(seconds=30)),
        "startedBy": "Platform" if run else "User",
        "status": outcome,
        "rebootStatus": _reboot_status(outcome, updates, machine),
        "errorDetails": {"code": "0", "message": "", "details": []},
    }
    if outcome == FAILED:
        summary["errorDetails"] = {
            "code": "1",
            "message": "1 error/s reported.",
            "details": [{"code": "PackageInstallFailed", "message": f"{updates[0].name} failed"}],
        }
    if run is not None:
        summary["maintenanceRunId"] = run.correlation_id
    type_ = f"{machine.type}/patchinstallationresults"
    rows = [_row(summary_id, installation, type_, machine, summary)]
    for update, state in zip(updates, states, strict=True):
        patch = {
            "lastModifiedDateTime": stamp(finished),
            "publishedDateTime": update.published,
            "classifications": [update.classification],
            "rebootRequired": update.reboot,
            "patchName": update.name,
            "patchId": _patch_id(update, machine),
            "installationState": state,
        }
        patch.update({"kbId": update.kb} if update.kb else {"version": update.version})
        rows.append(_row(
            f"{summary_id}/softwarePatches/{_patch_id(update, machine)}",
            update.name, f"{type_}/softwarepatches", machine, patch,
        ))  # fmt: skip
    return rows


def _reboot_status(outcome: str, updates: Iterable[Update], machine: Machine) -> str:
    if outcome == FAILED:
        return "Failed" if machine.image.os == "Windows" else "NotNeeded"
    if outcome == IN_PROGRESS:
        return "Required"
    return "Completed" if any(update.reboot for update in updates) else "NotNeeded"


def _all_installation_rows() -> list[dict[str, Any]]:
    rows = []
    for run in RUNS:
        if run.cancelled:
            continue
        for name in run.machines:
            key = (run.configuration, f"{run.start:%Y-%m-%d}", name)
            rows += _installation_rows(
                BY_NAME[name], run.start, run.outcome(name), run=run,
                exceeded=key in WINDOW_EXCEEDED,
            )  # fmt: skip
    for install in ON_DEMAND:
        rows += _installation_rows(BY_NAME[install.machine], install.start, install.outcome)
    return rows


def _build() -> dict[str, list[dict[str, Any]]]:
    return {
        "resources": [
            *map(_machine_row, MACHINES),
            *map(_configuration_row, CONFIGURATIONS),
        ],
        "maintenanceresources": [
            *_assignment_rows(),
            *(row for run in RUNS for row in _run_rows(run)),
        ],
        "patchassessmentresources": [row for m in MACHINES for row in _assessment_rows(m)],
        "patchinstallationresources": _all_installation_rows(),
    }


#: table → its rows, each with the 16 columns of ``upkeep.graph.tables.COLUMNS``
ROWS: dict[str, list[dict[str, Any]]] = _build()


def batches() -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(owner, table, rows) for ``records.replace_rows``: one owner per table."""
    return [(f"corpus:{table}", table, rows) for table, rows in ROWS.items()]


# --- the cases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A query, the subscriptions it is sent with, and the rows it must answer.

    ``expect`` computes the rows from :data:`ROWS` in plain Python; None means the
    duckdb-kql oracle answers the same query over the same subscriptions' rows.
    """

    id: str
    query: str
    expect: Callable[[], list[dict[str, Any]]] | None
    subscriptions: tuple[str, ...] = BOTH
    #: the query sorts: rows must come in this order
    ordered: bool = False
    #: the query takes this many of the rows ``expect`` gives, any of them
    take: int | None = None
    #: columns holding make_set/make_list arrays, whose order Kusto leaves open
    unordered_lists: tuple[str, ...] = ()
    #: also run on PostgreSQL (its SQL push-down differs from SQLite's)
    postgres: bool = False


def _case(id: str, query: str, expect: Callable[[], list[dict[str, Any]]] | None,
          **options: Any) -> Case:  # fmt: skip
    return Case(id, textwrap.dedent(query).strip(), expect, **options)


# Helpers for the expectations: each reads ROWS the way one query's words say.

_MACHINE_TYPES = (VM, ARC)
_MACHINES_IN = "('microsoft.compute/virtualmachines', 'microsoft.hybridcompute/machines')"


def _rows(table: str, *types: str) -> list[dict[str, Any]]:
    return [row for row in ROWS[table] if not types or row["type"] in types]


def _summaries(table: str) -> list[dict[str, Any]]:
    return [row for row in ROWS[table] if not row["type"].endswith("/softwarepatches")]


def _patches(table: str) -> list[dict[str, Any]]:
    return [row for row in ROWS[table] if row["type"].endswith("/softwarepatches")]


def _prop(row: dict[str, Any], path: str) -> Any:
    """``properties.<path>``: None where any step is missing."""
    value: Any = row["properties"]
    for step in path.split("."):
        value = value.get(step) if isinstance(value, dict) else None
    return value


def _tag(row: dict[str, Any], name: str) -> Any:
    return (row["tags"] or {}).get(name)


def _text(value: Any) -> str:
    """``tostring``: "" for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _segment(text: str, index: int) -> str:
    """``split(text, '/')[index]``."""
    return text.split("/")[index]


def _time(row: dict[str, Any], path: str) -> datetime | None:
    value = _prop(row, path)
    return parse_time(value) if value else None


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def _ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def _terms(text: str) -> set[str]:
    """Kusto's terms for ``has``: runs of letters and digits, without case."""
    return set("".join(c if c.isalnum() else " " for c in text).lower().split())


def _counted(keys: Iterable[Any], key: str, count: str = "count_") -> list[dict[str, Any]]:
    return [{key: value, count: n} for value, n in Counter(keys).items()]


def _by_machine(table: str, marker: str) -> Callable[[dict[str, Any]], str]:
    """The machine id a result row belongs to, lowercase."""
    return lambda row: row["id"].split(marker)[0].lower()


# resources ---------------------------------------------------------------------------


def _machines_by_os() -> list[dict[str, Any]]:
    def os_type(row: dict[str, Any]) -> str:
        path = "storageProfile.osDisk.osType" if row["type"] == VM else "osType"
        return _text(_prop(row, path)).lower()

    return _counted(map(os_type, _rows("resources", *_MACHINE_TYPES)), "osType", "machines")


def _prod_machines_with_owner() -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "type": row["type"], "owner": _text(_tag(row, "owner"))}
        for row in _rows("resources")
        if _text(_tag(row, "env")).lower() == "prod"
    ]


def _machines_without_owner() -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "tagCount": len(row["tags"] or {})}
        for row in _rows("resources", *_MACHINE_TYPES)
        if not _tag(row, "owner")
    ]


def _machines_per_location() -> list[dict[str, Any]]:
    rows = _counted((r["location"] for r in _rows("resources", *_MACHINE_TYPES)), "location",
                    "machines")  # fmt: skip
    return sorted(rows, key=lambda row: (-row["machines"], row["location"]))


def _configurations() -> list[dict[str, Any]]:
    return [
        {
            "name": row["name"],
            "recurEvery": _prop(row, "maintenanceWindow.recurEvery"),
            "timeZone": _prop(row, "maintenanceWindow.timeZone"),
            "rebootSetting": _prop(row, "installPatches.rebootSetting"),
            "properties_maintenanceScope": _prop(row, "maintenanceScope"),
        }
        for row in _rows("resources", CONFIGURATION)
    ]


def _configurations_per_linux_classification() -> list[dict[str, Any]]:
    found: dict[str, list[str]] = defaultdict(list)
    for row in _rows("resources", CONFIGURATION):
        # a null expands to one row with null; this configuration has no Linux parameters
        classes = _prop(row, "installPatches.linuxParameters.classificationsToInclude")
        for classification in classes if classes is not None else [None]:
            found[_text(classification)].append(row["name"])
    return [
        {"classification": key, "configurations": sorted(set(names))}
        for key, names in found.items()
    ]


_SLIM = ("id", "name", "type", "location", "resourceGroup", "subscriptionId")


def _northern_vms_slim() -> list[dict[str, Any]]:
    return [
        {column: row[column] for column in _SLIM}
        for row in _rows("resources", VM)
        if row["location"] == "northeurope"
    ]


def _arc_os_renamed() -> list[dict[str, Any]]:
    return [
        {
            "id": row["id"],
            "machine": row["name"],
            "osName": _prop(row, "osName"),
            "osVersion": _prop(row, "osVersion"),
        }
        for row in _rows("resources", ARC)
    ]


def _newest_arc_agents() -> list[dict[str, Any]]:
    rows = sorted(_rows("resources", ARC), key=lambda r: _prop(r, "agentVersion"), reverse=True)
    return [{"name": r["name"], "agentVersion": _prop(r, "agentVersion")} for r in rows[:3]]


def _vm_names_from_ids() -> list[dict[str, Any]]:
    return [
        {"vmName": _segment(row["id"], 8), "resourceGroupName": _segment(row["id"], 4)}
        for row in _rows("resources", VM)
    ]


def _arc_ids_parsed() -> list[dict[str, Any]]:
    return [
        {
            "name": row["name"],
            "subscription": _segment(row["id"], 2),
            "resourceGroupName": _segment(row["id"], 4),
        }
        for row in _rows("resources", ARC)
    ]


def _vm_labels() -> list[dict[str, Any]]:
    return [
        {"label": f"{row['name'][0].upper()}{row['name'][1:]} ({row['location']})"}
        for row in _rows("resources", VM)
        if row["resourceGroup"].lower() == "rg-web"
    ]


def _machines_by_role() -> list[dict[str, Any]]:
    def role(row: dict[str, Any]) -> str:
        tier = _tag(row, "tier")
        if tier in ("web", "api"):
            return "frontend"
        if tier == "db":
            return "data"
        return "backend" if tier else "untiered"

    return _counted(map(role, _rows("resources", *_MACHINE_TYPES)), "role", "machines")


def _names_having(*terms: str) -> list[dict[str, Any]]:
    return [{"name": row["name"]} for row in _rows("resources") if _terms(row["name"]) & set(terms)]


def _sql_names() -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "upperCase": "SQL" in row["name"]}
        for row in _rows("resources")
        if "sql" in row["name"].lower()
    ]


def _vms_not_web_not_dev() -> list[dict[str, Any]]:
    return [
        {"name": row["name"]}
        for row in _rows("resources", VM)
        if "web" not in row["name"].lower() and "dev" not in _terms(row["name"])
    ]


def _ids_ending_02() -> list[dict[str, Any]]:
    return [
        {"id": row["id"]}
        for row in _rows("resources")
        if row["id"].lower().endswith(("-02", "-prod")) and "maintenance" not in _terms(row["type"])
    ]


def _disks_between() -> list[dict[str, Any]]:
    rows = [
        {"name": row["name"], "diskSizeGB": _prop(row, "storageProfile.osDisk.diskSizeGB")}
        for row in _rows("resources", VM)
    ]
    return [row for row in rows if 64 <= row["diskSizeGB"] <= 256]


def _vms_outside_europe() -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "location": row["location"]}
        for row in _rows("resources", VM)
        if row["location"] not in ("westeurope", "northeurope")
        and row["resourceGroup"].lower() != "rg-dev-eu"
    ]


def _groups_in_either_case() -> list[dict[str, Any]]:
    wanted = ("rg-web", "rg-data")
    return [
        {
            "name": row["name"],
            "resourceGroup": row["resourceGroup"],
            "exact": row["resourceGroup"] in wanted,
        }
        for row in _rows("resources", *_MACHINE_TYPES)
        if row["resourceGroup"].lower() in wanted
    ]


def _tag_names() -> list[dict[str, Any]]:
    names = (name for row in _rows("resources", *_MACHINE_TYPES) for name in row["tags"] or {})
    return _counted(names, "tagName", "machines")


def _arc_summaries() -> list[dict[str, Any]]:
    return [
        {
            "name": row["name"],
            "summary": {
                "os": _prop(row, "osName"),
                "version": _prop(row, "osVersion"),
                "status": _prop(row, "status"),
            },
        }
        for row in _rows("resources", ARC)
    ]


def _vm_placements() -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "placement": {"location": row["location"], "zone": row["zones"][0]}}
        for row in _rows("resources", VM)
        if row["zones"]
    ]


def _machines_per_owner() -> list[dict[str, Any]]:
    def owner(row: dict[str, Any]) -> str:
        # coalesce skips empty strings as well as nulls
        return _text(_tag(row, "owner")) or _text(_tag(row, "env")) or "nobody"

    return _counted(map(owner, _rows("resources", *_MACHINE_TYPES)), "owner", "machines")


def _arc_connected() -> list[dict[str, Any]]:
    return _counted(
        (_prop(row, "status") == "Connected" for row in _rows("resources", ARC)), "connected"
    )


def _arc_lts_releases() -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "release": _prop(row, "osSku").replace("LTS", "").strip(" ")}
        for row in _rows("resources", ARC)
        if "lts" in _prop(row, "osSku").lower()
    ]


def _vm_numbers() -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "number": int(row["name"].rsplit("-", 1)[1]),
         "nameLength": len(row["name"])}
        for row in _rows("resources", VM)
    ]  # fmt: skip


def _per_group() -> list[dict[str, Any]]:
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for row in _rows("resources"):
        terms = _terms(row["type"])
        counts = found[row["resourceGroup"].lower()]
        counts["machines"] += bool({"machines", "virtualmachines"} & terms)
        counts["configurations"] += "maintenanceconfigurations" in terms
    return [
        {"resourceGroup": group, "machines": c["machines"], "configurations": c["configurations"]}
        for group, c in found.items()
    ]


def _bracketed() -> list[dict[str, Any]]:
    return [
        {"id": row["id"], "name": row["name"], "status": _prop(row, "status")}
        for row in _rows("resources", ARC)
    ]


def _first_vms_by_name() -> list[dict[str, Any]]:
    rows = sorted(row["name"] for row in _rows("resources", VM) if row["resourceGroup"] == "rg-web")
    return [{"name": name} for name in rows[:4]]


def _groups_per_subscription() -> list[dict[str, Any]]:
    groups: dict[str, set[str]] = defaultdict(set)
    locations: dict[str, set[str]] = defaultdict(set)
    for row in _rows("resources"):
        groups[row["subscriptionId"]].add(row["resourceGroup"])
        locations[row["subscriptionId"]].add(row["location"])
    return [
        {
            "subscriptionId": subscription,
            "dcount_resourceGroup": len(found),
            "set_location": sorted(locations[subscription]),
        }
        for subscription, found in groups.items()
    ]


def _arc_names_shouted() -> list[dict[str, Any]]:
    return [{"id": row["id"], "name": row["name"].upper()} for row in _rows("resources", ARC)]


def _last_segments() -> list[dict[str, Any]]:
    return [
        {"machineName": row["id"].split("/")[-1], "provider": _segment(row["id"], 6)}
        for row in _rows("resources", *_MACHINE_TYPES)
    ]


RESOURCES_CASES = [
    _case("linux-vms", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines'
        | where properties.storageProfile.osDisk.osType =~ 'linux'
        | project id, name, location, resourceGroup, properties.hardwareProfile.vmSize
        """, None, postgres=True),
    _case("machines-by-os-type", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | extend osType = tolower(iff(type =~ 'microsoft.compute/virtualmachines',
            tostring(properties.storageProfile.osDisk.osType), tostring(properties.osType)))
        | summarize machines = count() by osType
        """, _machines_by_os),
    _case("arc-machines-by-status", """
        resources
        | where type == 'microsoft.hybridcompute/machines'
        | summarize count() by status = tostring(properties.status)
        """, None),
    _case("prod-resources-with-owner", """
        resources
        | where tags.env =~ 'PROD'
        | project name, type, owner = tostring(tags['owner'])
        """, _prod_machines_with_owner),
    _case("machines-missing-owner-tag", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | where isempty(tags.owner)
        | project name, tagCount = array_length(bag_keys(tags))
        """, _machines_without_owner),
    _case("machines-per-location", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | summarize machines = count() by location
        | order by machines desc, location asc
        """, _machines_per_location, ordered=True),
    _case("d-series-vms", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines'
        | where properties.hardwareProfile.vmSize startswith 'standard_d'
        | project name, vmSize = tostring(properties.hardwareProfile.vmSize)
        """, None, postgres=True),
    _case("maintenance-configurations", """
        resources
        | where type =~ 'microsoft.maintenance/maintenanceconfigurations'
        | project name, recurEvery = tostring(properties.maintenanceWindow.recurEvery),
            timeZone = tostring(properties.maintenanceWindow.timeZone),
            rebootSetting = tostring(properties.installPatches.rebootSetting),
            properties.maintenanceScope
        """, _configurations),
    _case("configurations-per-linux-classification", """
        resources
        | where type =~ 'microsoft.maintenance/maintenanceconfigurations'
        | mv-expand classification = properties.installPatches.linuxParameters.classificationsToInclude
        | summarize configurations = make_set(name) by classification = tostring(classification)
        """, _configurations_per_linux_classification, unordered_lists=("configurations",)),
    _case("northern-vms-without-details", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines' and location == 'northeurope'
        | project-away properties, tags, identity, sku, plan, zones, extendedLocation, managedBy,
            kind, tenant*
        """, _northern_vms_slim),
    _case("arc-os-renamed", """
        resources
        | where type =~ 'microsoft.hybridcompute/machines'
        | project id, name, properties.osName, properties.osVersion
        | project-rename machine = name, osName = properties_osName, osVersion = properties_osVersion
        """, _arc_os_renamed),
    _case("resource-groups", """
        resources
        | distinct subscriptionId, resourceGroup
        """, None),
    _case("vm-count", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines'
        | count
        """, lambda: [{"Count": len(_rows("resources", VM))}]),
    _case("newest-arc-agents", """
        resources
        | where type =~ 'microsoft.hybridcompute/machines'
        | top 3 by tostring(properties.agentVersion) desc
        | project name, agentVersion = tostring(properties.agentVersion)
        """, _newest_arc_agents, ordered=True),
    _case("vm-names-from-ids", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines'
        | extend vmName = tostring(split(id, '/')[8]), resourceGroupName = split(id, '/')[4]
        | project vmName, resourceGroupName
        """, _vm_names_from_ids),
    _case("arc-ids-parsed", """
        resources
        | where type =~ 'microsoft.hybridcompute/machines'
        | parse id with '/subscriptions/' subscription '/resourceGroups/' resourceGroupName '/providers/' *
        | project name, subscription, resourceGroupName
        """, _arc_ids_parsed),
    _case("vm-labels", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines' and resourceGroup =~ 'RG-WEB'
        | project label = strcat(toupper(substring(name, 0, 1)), substring(name, 1), ' (', location, ')')
        """, _vm_labels),
    _case("machines-by-role", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | extend role = case(tags.tier == 'web' or tags.tier == 'api', 'frontend',
                             tags.tier == 'db', 'data',
                             isnotempty(tags.tier), 'backend',
                             'untiered')
        | summarize machines = count() by role
        """, _machines_by_role),
    _case("names-having-web-or-db", """
        resources
        | where name has_any ('web', 'db')
        | project name
        """, lambda: _names_having("web", "db")),
    _case("db-names-by-regex", r"""
        resources
        | where name matches regex @'^db-\d{2}$'
        | project name
        """, lambda: [{"name": n} for n in ("db-01", "db-02", "db-03")]),
    _case("sql-names-by-case", """
        resources
        | where name contains 'sql'
        | extend upperCase = name contains_cs 'SQL'
        | project name, upperCase
        """, _sql_names),
    _case("vms-neither-web-nor-dev", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines' and name !contains 'WEB'
        | where name !has 'dev'
        | project name
        """, _vms_not_web_not_dev),
    _case("ids-ending-02-outside-maintenance", """
        resources
        | where id endswith '-02' or id endswith '-prod'
        | where type !has 'maintenance'
        | project id
        """, _ids_ending_02),
    _case("os-disks-between-64-and-256-gb", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines'
        | extend diskSizeGB = toint(properties.storageProfile.osDisk.diskSizeGB)
        | where diskSizeGB between (64 .. 256)
        | project name, diskSizeGB
        """, _disks_between),
    _case("vms-outside-europe", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines'
        | where location !in ('westeurope', 'northeurope') and resourceGroup !~ 'RG-DEV-EU'
        | project name, location
        """, _vms_outside_europe),
    _case("groups-in-and-in-any-case", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | extend exact = resourceGroup in ('rg-web', 'rg-data'),
            anyCase = resourceGroup in~ ('rg-web', 'rg-data')
        | where anyCase
        | project name, resourceGroup, exact
        """, _groups_in_either_case),
    _case("vm-power-states", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines'
        | summarize count() by powerState = tostring(properties.extended.instanceView.powerState.code)
        """, None, postgres=True),
    _case("tag-names-in-use", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | mv-expand tagName = bag_keys(tags)
        | summarize machines = count() by tagName = tostring(tagName)
        """, _tag_names),
    _case("arc-summaries-packed", """
        resources
        | where type =~ 'microsoft.hybridcompute/machines'
        | project name, summary = pack('os', properties.osName, 'version', properties.osVersion,
            'status', properties.status)
        """, _arc_summaries),
    _case("zonal-vm-placements", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines' and isnotempty(zones)
        | project name, placement = bag_pack('location', location, 'zone', zones[0])
        """, _vm_placements),
    _case("machines-per-owner", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | summarize machines = count() by owner = coalesce(tostring(tags.owner), tostring(tags.env), 'nobody')
        """, _machines_per_owner),
    _case("arc-connected-or-not", """
        resources
        | where type =~ 'microsoft.hybridcompute/machines'
        | extend connected = iif(properties.status == 'Connected', true, false)
        | summarize count() by connected
        """, _arc_connected),
    _case("arc-lts-releases", """
        resources
        | where type =~ 'microsoft.hybridcompute/machines' and properties.osSku contains 'lts'
        | project name, release = trim(' ', replace_string(tostring(properties.osSku), 'LTS', ''))
        """, _arc_lts_releases),
    _case("vm-numbers-and-name-lengths", r"""
        resources
        | where type =~ 'microsoft.compute/virtualmachines'
        | extend number = toint(extract(@'-(\d+)$', 1, name)), nameLength = strlen(name)
        | project name, number, nameLength
        """, _vm_numbers),
    _case("zonal-resources", """
        resources
        | where isnotempty(zones)
        | project name, zones, firstZone = tostring(zones[0])
        """, None),
    _case("machines-and-configurations-per-group", """
        resources
        | summarize machines = countif(type has 'machines' or type has 'virtualmachines'),
            configurations = countif(type has 'maintenanceconfigurations')
            by resourceGroup = tolower(resourceGroup)
        """, _per_group),
    _case("bracketed-column-names", """
        resources
        | where ['type'] =~ 'microsoft.hybridcompute/machines'
        | project ['id'], ['name'], status = properties['status']
        """, _bracketed),
    _case("first-web-vms-by-name", """
        resources
        | where type =~ 'microsoft.compute/virtualmachines' and resourceGroup == 'rg-web'
        | sort by name asc
        | limit 4
        | project name
        """, _first_vms_by_name, ordered=True, postgres=True),
    _case("groups-and-locations-per-subscription", """
        resources
        | summarize dcount(resourceGroup), make_set(location) by subscriptionId
        """, _groups_per_subscription, unordered_lists=("set_location",)),
    _case("arc-names-in-capitals", """
        resources
        | where type =~ 'microsoft.hybridcompute/machines'
        | extend name = toupper(name)
        | project id, name
        """, _arc_names_shouted),
    _case("machine-names-from-last-segment", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | project machineName = tostring(split(id, '/')[-1]), provider = tostring(split(id, '/')[6])
        """, _last_segments),
]  # fmt: skip


# maintenanceresources ----------------------------------------------------------------

_SEED_CONFIGURATION = CONFIGURATION_BY_NAME["weekly-linux-prod"]
_SEED_MACHINE = BY_NAME["db-02"]
_LAST_WEEKLY_RUN = next(
    run for run in reversed(RUNS) if run.configuration == "weekly-linux-prod"
).correlation_id


def _configuration_name(row: dict[str, Any], path: str = "maintenanceConfigurationId") -> str:
    return _segment(_text(_prop(row, path)), 8)


def _seed_assignment() -> list[dict[str, Any]]:
    return [
        {"name": row["name"], "id": row["id"]}
        for row in _rows("maintenanceresources", ASSIGNMENT)
        if _prop(row, "maintenanceConfigurationId").lower() == _SEED_CONFIGURATION.id.lower()
        and _prop(row, "resourceId").lower() == _SEED_MACHINE.id.lower()
    ]


def _assignments_per_configuration() -> list[dict[str, Any]]:
    rows = _counted(map(_configuration_name, _rows("maintenanceresources", ASSIGNMENT)),
                    "configurationName", "assignments")  # fmt: skip
    return sorted(rows, key=lambda row: (-row["assignments"], row["configurationName"]))


def _runs_per_configuration() -> list[dict[str, Any]]:
    runs: dict[str, set[str]] = defaultdict(set)
    machine_runs: Counter[str] = Counter()
    for row in _rows("maintenanceresources", CONFIGURATION_RUN):
        runs[_configuration_name(row)].add(_prop(row, "correlationId"))
        machine_runs[_configuration_name(row)] += 1
    return [
        {"configurationName": name, "runs": len(ids), "machineRuns": machine_runs[name]}
        for name, ids in runs.items()
    ]


def _failed_machine_runs_last_week() -> list[dict[str, Any]]:
    return [
        {"machine": _segment(_prop(row, "resourceId"), 8), "run": row["name"]}
        for row in _rows("maintenanceresources", MACHINE_RUN)
        if _prop(row, "status").lower() == "failed" and _time(row, "startDateTime") > _ago(days=7)
    ]


def _machines_of_last_weekly_run() -> list[dict[str, Any]]:
    return [
        {
            "resourceId": _prop(row, "resourceId"),
            "status": _prop(row, "status"),
            "endDateTime": _when(_time(row, "endDateTime")),
        }
        for row in _rows("maintenanceresources", CONFIGURATION_RUN)
        if _prop(row, "correlationId").lower() == _LAST_WEEKLY_RUN.lower()
    ]


def _minutes_between(later: datetime, earlier: datetime) -> int:
    """``datetime_diff('minute', later, earlier)``: minute boundaries crossed."""

    def minute(moment: datetime) -> datetime:
        return moment.replace(second=0, microsecond=0)

    return (minute(later) - minute(earlier)) // timedelta(minutes=1)


def _run_durations() -> list[dict[str, Any]]:
    minutes: dict[str, list[int]] = defaultdict(list)
    for row in _rows("maintenanceresources", MACHINE_RUN):
        if _prop(row, "status") == "Cancelled":
            continue
        name = _configuration_name(row)
        minutes.setdefault(name, [])
        end, start = _time(row, "endDateTime"), _time(row, "startDateTime")
        if end is not None and start is not None:  # a null difference is left out
            minutes[name].append(_minutes_between(end, start))
    return [
        {
            "configurationName": name,
            "longest": max(values),
            "shortest": min(values),
            "average": sum(values) / len(values),
        }
        for name, values in minutes.items()
    ]


def _latest_run_per_machine() -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for row in _rows("maintenanceresources", MACHINE_RUN):
        machine = _prop(row, "resourceId").lower()
        if machine not in latest or _time(row, "startDateTime") > _time(
            latest[machine], "startDateTime"
        ):
            latest[machine] = row
    return [
        {
            "machineId": machine,
            "started": iso(_time(row, "startDateTime")),
            "status": _prop(row, "status"),
        }
        for machine, row in latest.items()
    ]


def _static_assignments() -> dict[str, list[str]]:
    """machine id (lowercase) → the configuration ids assigned to it one by one."""
    found: dict[str, list[str]] = defaultdict(list)
    for row in _rows("maintenanceresources", ASSIGNMENT):
        found[_prop(row, "resourceId").lower()].append(_prop(row, "maintenanceConfigurationId"))
    return found


def _unassigned_machines() -> list[dict[str, Any]]:
    assigned = _static_assignments()
    return [
        {"name": row["name"], "resourceGroup": row["resourceGroup"]}
        for row in _rows("resources", *_MACHINE_TYPES)
        if row["id"].lower() not in assigned
    ]


def _assigned_machines() -> list[dict[str, Any]]:
    machines = {row["id"].lower(): row for row in _rows("resources", *_MACHINE_TYPES)}
    rows = []
    for assignment in _rows("maintenanceresources", ASSIGNMENT):
        machine = machines.get(_prop(assignment, "resourceId").lower())
        if machine is not None:
            rows.append({
                "machineName": machine["name"],
                "configurationName": _configuration_name(assignment),
                "os": _text(_prop(machine, "storageProfile.osDisk.osType")),
            })  # fmt: skip
    return rows


def _dynamic_scopes() -> list[dict[str, Any]]:
    return [
        {
            "name": row["name"],
            "scope": _prop(row, "resourceId"),
            "locations": _prop(row, "filter.locations"),
            "osTypes": _prop(row, "filter.osTypes"),
            "envTags": _prop(row, "filter.tagSettings.tags.env"),
        }
        for row in _rows("maintenanceresources", ASSIGNMENT)
        if _prop(row, "filter") is not None
    ]


def _run_days() -> list[dict[str, Any]]:
    days = {
        (_configuration_name(row), f"{_time(row, 'startDateTime'):%Y-%m-%d}")
        for row in _rows("maintenanceresources", CONFIGURATION_RUN)
    }
    return [{"configurationName": name, "day": day} for name, day in days]


def _run_outcomes() -> list[dict[str, Any]]:
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for row in _rows("maintenanceresources", MACHINE_RUN):
        counts = found[_configuration_name(row)]
        status = _prop(row, "status").lower()
        counts["total"] += 1
        counts["failed"] += status == "failed"
        counts["completed"] += status in ("completed", "succeeded")
    return [
        {"configurationName": name, "total": c["total"], "failed": c["failed"],
         "completed": c["completed"]}
        for name, c in found.items()
    ]  # fmt: skip


def _todays_run(nulls_first: bool, descending: bool) -> Callable[[], list[dict[str, Any]]]:
    def expect() -> list[dict[str, Any]]:
        rows = [
            {"machine": _segment(_prop(row, "resourceId"), 8), "ended": _time(row, "endDateTime")}
            for row in _rows("maintenanceresources", MACHINE_RUN)
            if _prop(row, "correlationId").endswith("20261126020000")
        ]
        present = sorted((r for r in rows if r["ended"]), key=lambda r: r["ended"],
                         reverse=descending)  # fmt: skip
        missing = [r for r in rows if not r["ended"]]
        ordered = missing + present if nulls_first else present + missing
        return [{"machine": r["machine"], "ended": _when(r["ended"])} for r in ordered]

    return expect


def _long_machine_runs() -> list[dict[str, Any]]:
    return [
        {"machine": _segment(_prop(row, "resourceId"), 8), "run": row["name"]}
        for row in _rows("maintenanceresources", MACHINE_RUN)
        if _time(row, "endDateTime")
        and _time(row, "endDateTime") > _time(row, "startDateTime") + timedelta(minutes=30)
    ]


MAINTENANCE_CASES = [
    _case("seed-assignment-lookup", f"""
        maintenanceresources
        | where type =~ "microsoft.maintenance/configurationassignments"
        | where properties.maintenanceConfigurationId =~ "{_SEED_CONFIGURATION.id.lower()}"
        | where properties.resourceId =~ "{_SEED_MACHINE.id.lower()}"
        | project name, id
        """, _seed_assignment, postgres=True),
    _case("assignments-per-configuration", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/configurationassignments'
        | extend configurationName = tostring(split(tostring(properties.maintenanceConfigurationId), '/')[8])
        | summarize assignments = count() by configurationName
        | order by assignments desc, configurationName asc
        """, _assignments_per_configuration, ordered=True),
    _case("runs-per-configuration", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/maintenanceconfigurations/applyupdates'
        | extend configurationName = tostring(split(tostring(properties.maintenanceConfigurationId), '/')[8])
        | summarize runs = dcount(tostring(properties.correlationId)), machineRuns = count()
            by configurationName
        """, _runs_per_configuration),
    _case("failed-machine-runs-last-7-days", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates'
        | where properties.status =~ 'failed' and todatetime(properties.startDateTime) > ago(7d)
        | project machine = tostring(split(tostring(properties.resourceId), '/')[8]), run = name
        """, _failed_machine_runs_last_week),
    _case("machines-of-a-run", f"""
        maintenanceresources
        | where type =~ 'microsoft.maintenance/maintenanceconfigurations/applyupdates'
        | where properties.correlationId =~ '{_LAST_WEEKLY_RUN}'
        | project resourceId = tostring(properties.resourceId), status = tostring(properties.status),
            endDateTime = todatetime(properties.endDateTime)
        """, _machines_of_last_weekly_run, postgres=True),
    _case("run-durations-per-configuration", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates' and properties.status != 'Cancelled'
        | extend minutes = datetime_diff('minute', todatetime(properties.endDateTime),
            todatetime(properties.startDateTime))
        | summarize longest = max(minutes), shortest = min(minutes), average = avg(minutes)
            by configurationName = tostring(split(tostring(properties.maintenanceConfigurationId), '/')[8])
        """, _run_durations),
    _case("latest-run-per-machine", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates'
        | extend machineId = tolower(tostring(properties.resourceId)),
            started = todatetime(properties.startDateTime)
        | summarize arg_max(started, *) by machineId
        | project machineId, started, status = tostring(properties.status)
        """, _latest_run_per_machine),
    _case("machines-without-a-schedule", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | extend machineId = tolower(id)
        | join kind=leftouter (
            maintenanceresources
            | where type =~ 'microsoft.maintenance/configurationassignments'
            | project machineId = tolower(tostring(properties.resourceId)),
                configurationId = tostring(properties.maintenanceConfigurationId)
          ) on machineId
        | where isempty(configurationId)
        | project name, resourceGroup
        """, _unassigned_machines),
    _case("assigned-machines-with-configuration", f"""
        maintenanceresources
        | where type =~ 'microsoft.maintenance/configurationassignments'
        | extend machineId = tolower(tostring(properties.resourceId)),
            configurationName = tostring(split(tostring(properties.maintenanceConfigurationId), '/')[8])
        | join kind=inner (
            resources
            | where type in~ {_MACHINES_IN}
            | project machineId = tolower(id), machineName = name,
                os = tostring(properties.storageProfile.osDisk.osType)
          ) on machineId
        | project machineName, configurationName, os
        """, _assigned_machines),
    _case("dynamic-scope-assignments", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/configurationassignments'
        | where isnotnull(properties['filter'])
        | project name, scope = tostring(properties.resourceId), locations = properties['filter'].locations,
            osTypes = properties['filter'].osTypes, envTags = properties['filter'].tagSettings.tags.env
        """, _dynamic_scopes),
    _case("machine-runs-per-day", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates'
        | extend started = todatetime(properties.startDateTime)
        | summarize machines = count() by bin(started, 1d)
        | order by started asc
        """, None, ordered=True, postgres=True),
    _case("run-days-per-configuration", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/maintenanceconfigurations/applyupdates'
        | extend day = format_datetime(todatetime(properties.startDateTime), 'yyyy-MM-dd'),
            configurationName = tostring(split(tostring(properties.maintenanceConfigurationId), '/')[8])
        | distinct configurationName, day
        """, _run_days),
    _case("machine-run-outcomes-per-configuration", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates'
        | summarize total = count(), failed = countif(properties.status =~ 'Failed'),
            completed = countif(properties.status in~ ('completed', 'succeeded'))
            by configurationName = tostring(split(tostring(properties.maintenanceConfigurationId), '/')[8])
        """, _run_outcomes),
    _case("todays-run-unfinished-first", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates'
        | where properties.correlationId endswith '20261126020000'
        | extend ended = todatetime(properties.endDateTime)
        | project machine = tostring(split(tostring(properties.resourceId), '/')[8]), ended
        | order by ended asc
        """, _todays_run(nulls_first=True, descending=False), ordered=True),
    _case("todays-run-latest-first-unfinished-last", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates'
        | where properties.correlationId endswith '20261126020000'
        | extend ended = todatetime(properties.endDateTime)
        | project machine = tostring(split(tostring(properties.resourceId), '/')[8]), ended
        | sort by ended desc
        """, _todays_run(nulls_first=False, descending=True), ordered=True),
    _case("todays-run-unfinished-then-latest", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates'
        | where properties.correlationId endswith '20261126020000'
        | project machine = tostring(split(tostring(properties.resourceId), '/')[8]),
            ended = todatetime(properties.endDateTime)
        | order by ended desc nulls first
        """, _todays_run(nulls_first=True, descending=True), ordered=True),
    _case("machine-runs-longer-than-30-minutes", """
        maintenanceresources
        | where type =~ 'microsoft.maintenance/applyupdates'
        | where todatetime(properties.endDateTime) > todatetime(properties.startDateTime) + 30m
        | project machine = tostring(split(tostring(properties.resourceId), '/')[8]), run = name
        """, _long_machine_runs),
]  # fmt: skip


# patchassessmentresources ------------------------------------------------------------

_ASSESSMENTS = "patchassessmentresources"
#: A machine's rows found by their ids' prefix, the machine's id written in capitals.
_DB_02 = BY_NAME["db-02"].id
#: A prefix that ends inside a name: web-01 to web-03, not webapi-01.
_WEB_0 = f"/subscriptions/{PRODUCTION}/resourceGroups/rg-web/providers/microsoft.compute/virtualmachines/WEB-0"


def _rows_under(table: str, prefix: str) -> list[dict[str, Any]]:
    return [row for row in ROWS[table] if row["id"].lower().startswith(prefix.lower())]


def _updates_of_db_02() -> list[dict[str, Any]]:
    return [
        {"patchName": _prop(row, "patchName"), "version": _prop(row, "version")}
        for row in _rows_under(_ASSESSMENTS, _DB_02 + "/")
        if row["type"].endswith("/softwarepatches")
    ]


def _pending_by_classification(subscriptions: tuple[str, ...] = BOTH) -> list[dict[str, Any]]:
    return _counted(
        (
            _text(_prop(row, "classifications")[0])
            for row in _patches(_ASSESSMENTS)
            if row["subscriptionId"] in subscriptions
        ),
        "classification",
    )


def _assessment_counts() -> list[dict[str, Any]]:
    return [
        {
            "lastTime": _prop(row, "lastModifiedDateTime"),
            "id": row["id"],
            "OS": _prop(row, "osType"),
            "criticalCount": _prop(row, "availablePatchCountByClassification.critical"),
            "securityCount": _prop(row, "availablePatchCountByClassification.security"),
            "otherCount": _prop(row, "availablePatchCountByClassification.other"),
        }
        for row in _summaries(_ASSESSMENTS)
    ]


def _assessed_at() -> dict[str, datetime]:
    """machine id (lowercase) → when its last assessment finished."""
    machine = _by_machine(_ASSESSMENTS, "/patchAssessmentResults/")
    return {machine(row): _time(row, "lastModifiedDateTime") for row in _summaries(_ASSESSMENTS)}


def _machines_without_recent_assessment() -> list[dict[str, Any]]:
    assessed = _assessed_at()
    rows = []
    for row in _rows("resources", *_MACHINE_TYPES):
        at = assessed.get(row["id"].lower())
        if at is None or at < _ago(days=7):
            rows.append({"name": row["name"], "assessedAt": _when(at)})
    return rows


def _stale_assessments() -> list[dict[str, Any]]:
    return [
        {
            "machine": _segment(row["id"], 8),
            "daysOld": (NOW.date() - _time(row, "lastModifiedDateTime").date()).days,
        }
        for row in _summaries(_ASSESSMENTS)
        if _time(row, "lastModifiedDateTime") < _ago(days=7)
    ]


def _windows_critical_security() -> list[dict[str, Any]]:
    return [
        {
            "machine": _segment(row["id"], 8),
            "kb": f"KB{_prop(row, 'kbId')}",
            "patchName": _prop(row, "patchName"),
        }
        for row in _patches(_ASSESSMENTS)
        if _prop(row, "kbId")
        and {"critical", "security"} & _terms(str(_prop(row, "classifications")))
    ]


def _reboot_pending() -> list[dict[str, Any]]:
    return [
        {"machine": _segment(row["id"], 8), "osType": _prop(row, "osType")}
        for row in _summaries(_ASSESSMENTS)
        if _prop(row, "rebootPending") is True
    ]


def _pending_per_machine() -> list[dict[str, Any]]:
    return _counted((_segment(r["id"], 8) for r in _patches(_ASSESSMENTS)), "machine", "pending")


def _most_pending(count: int) -> list[dict[str, Any]]:
    rows = sorted(_pending_per_machine(), key=lambda row: (-row["pending"], row["machine"]))
    return rows[:count]


def _patches_on_many_machines() -> list[dict[str, Any]]:
    machines: dict[str, set[str]] = defaultdict(set)
    for row in _patches(_ASSESSMENTS):
        machines[_prop(row, "patchName")].add(_segment(row["id"], 8))
    return [
        {"patchName": name, "machines": len(found)}
        for name, found in machines.items()
        if len(found) >= 5
    ]


def _updates_per_data_machine() -> list[dict[str, Any]]:
    found: dict[str, list[str]] = defaultdict(list)
    for row in _patches(_ASSESSMENTS):
        if row["resourceGroup"].lower() == "rg-data":
            found[_segment(row["id"], 8)].append(row["name"])
    return [{"machine": machine, "updates": names} for machine, names in found.items()]


def _counts_per_classification_key() -> list[dict[str, Any]]:
    totals: Counter[str] = Counter()
    for row in _summaries(_ASSESSMENTS):
        for key, value in _prop(row, "availablePatchCountByClassification").items():
            totals[key] += value
    return [{"classification": key, "updates": n} for key, n in totals.items()]


def _critical_security_sums() -> list[dict[str, Any]]:
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    for row in _summaries(_ASSESSMENTS):
        counts = sums[_prop(row, "osType")]
        counts["sum_critical"] += _prop(row, "availablePatchCountByClassification.critical")
        counts["sum_security"] += _prop(row, "availablePatchCountByClassification.security")
    return [{"osType": os, **counts} for os, counts in sums.items()]


def _dev_kbs_by_published() -> list[dict[str, Any]]:
    rows = [
        {
            "machine": _segment(row["id"], 8),
            "kbId": _prop(row, "kbId"),
            "published": _time(row, "publishedDateTime"),
        }
        for row in _patches(_ASSESSMENTS)
        if _prop(row, "kbId") and row["subscriptionId"] == DEVELOPMENT
    ]
    # published desc, nulls first; then machine and kbId ascending
    rows.sort(key=lambda row: (row["machine"], row["kbId"]))
    rows.sort(key=lambda row: row["published"] or datetime.max.replace(tzinfo=UTC), reverse=True)
    return [{**row, "published": _when(row["published"])} for row in rows]


def _average_pending_by_os() -> list[dict[str, Any]]:
    totals: dict[str, list[float]] = defaultdict(list)
    for row in _summaries(_ASSESSMENTS):
        counts = _prop(row, "availablePatchCountByClassification")
        totals[_prop(row, "osType")].append(float(counts["critical"] + counts["security"]))
    return [
        {"properties_osType": os, "avg_pending": sum(values) / len(values)}
        for os, values in totals.items()
    ]


def _linux_without_reboot_pending() -> list[dict[str, Any]]:
    count = sum(
        1
        for row in _summaries(_ASSESSMENTS)
        if _prop(row, "rebootPending") is False and _prop(row, "osType") == "Linux"
    )
    return [{"Count": count}]


def _few_pending() -> list[dict[str, Any]]:
    rows = []
    for row in _summaries(_ASSESSMENTS):
        counts = _prop(row, "availablePatchCountByClassification")
        parts = [counts.get(key) for key in ("critical", "security", "other")]
        # Windows has no "other" count: null + anything is null, and null <= 2 is false
        total = None if None in parts else sum(parts)
        if total is not None and total <= 2:
            rows.append({"machine": _segment(row["id"], 8), "total": total})
    return rows


def _recent_assessments() -> list[dict[str, Any]]:
    return [
        {
            "machine": _segment(row["id"], 8),
            "withinHalfHour": _time(row, "lastModifiedDateTime") > _ago(minutes=30),
        }
        for row in _summaries(_ASSESSMENTS)
        if _time(row, "lastModifiedDateTime") > _ago(hours=1)
    ]


def _assessed_between() -> list[dict[str, Any]]:
    low, high = datetime(2026, 11, 17, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)
    return [
        {"id": row["id"]}
        for row in _summaries(_ASSESSMENTS)
        if low <= _time(row, "lastModifiedDateTime") <= high
    ]


def _assessments_per_os() -> list[dict[str, Any]]:
    return _counted((_prop(row, "osType") for row in _summaries(_ASSESSMENTS)), "properties_osType")


def _reboot_pending_machines() -> list[dict[str, Any]]:
    pending = {
        row["id"].split("/patchAssessmentResults/")[0]
        for row in _summaries(_ASSESSMENTS)
        if _prop(row, "rebootPending")
    }
    # a bool (not a dynamic value) turns into .NET's spelling: "True"
    return [
        {"name": row["name"], "location": row["location"], "reboot": "True"}
        for row in _rows("resources", *_MACHINE_TYPES)
        if row["id"] in pending
    ]


def _assessment_labels() -> list[dict[str, Any]]:
    # a datetime turns into text with all seven fractional digits, as Update Manager's own
    return [
        {
            "label": f"{_segment(row['id'], 8)}: {_prop(row, 'osType')} assessed"
            f" {stamp(_time(row, 'lastModifiedDateTime'))}"
        }
        for row in _summaries(_ASSESSMENTS)
        if row["resourceGroup"].lower() == "rg-web"
    ]


ASSESSMENT_CASES = [
    _case("pending-updates-by-classification", """
        patchassessmentresources
        | where type has 'softwarepatches'
        | extend classification = tostring(properties.classifications[0])
        | summarize count() by classification
        """, None, postgres=True),
    _case("development-pending-updates-by-classification", """
        patchassessmentresources
        | where type has 'softwarepatches'
        | extend classification = tostring(properties.classifications[0])
        | summarize count() by classification
        """, lambda: _pending_by_classification((DEVELOPMENT,)), subscriptions=(DEVELOPMENT,)),
    _case("assessment-counts-by-classification", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | extend prop = parse_json(properties)
        | extend lastTime = properties.lastModifiedDateTime
        | extend criticalCount = prop.availablePatchCountByClassification.critical,
            securityCount = prop.availablePatchCountByClassification.security,
            otherCount = prop.availablePatchCountByClassification.other, OS = prop.osType
        | project lastTime, id, OS, criticalCount, securityCount, otherCount
        """, _assessment_counts),
    _case("machines-without-recent-assessment", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | extend machineId = tolower(id)
        | join kind=leftouter (
            patchassessmentresources
            | where type !has 'softwarepatches'
            | parse id with machineId '/patchAssessmentResults/' *
            | project machineId = tolower(machineId),
                assessedAt = todatetime(properties.lastModifiedDateTime)
          ) on machineId
        | where isnull(assessedAt) or assessedAt < ago(7d)
        | project name, assessedAt
        """, _machines_without_recent_assessment),
    _case("stale-assessments", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | where todatetime(properties.lastModifiedDateTime) < ago(7d)
        | project machine = tostring(split(id, '/')[8]),
            daysOld = datetime_diff('day', now(), todatetime(properties.lastModifiedDateTime))
        """, _stale_assessments),
    _case("windows-critical-and-security-kbs", """
        patchassessmentresources
        | where type has 'softwarepatches' and isnotempty(properties.kbId)
        | where properties.classifications has_any ('Critical', 'Security')
        | project machine = tostring(split(id, '/')[8]), kb = strcat('KB', tostring(properties.kbId)),
            patchName = tostring(properties.patchName)
        """, _windows_critical_security),
    _case("reboot-pending", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | where tobool(properties.rebootPending)
        | project machine = tostring(split(id, '/')[8]), osType = tostring(properties.osType)
        """, _reboot_pending),
    _case("five-machines-with-most-pending-updates", """
        patchassessmentresources
        | where type has 'softwarepatches'
        | extend machine = tostring(split(id, '/')[8])
        | summarize pending = count() by machine
        | order by pending desc, machine asc
        | take 5
        """, lambda: _most_pending(5), ordered=True, postgres=True),
    _case("top-3-machines-by-pending-updates", """
        patchassessmentresources
        | where type has 'softwarepatches'
        | summarize pending = count() by machine = tostring(split(id, '/')[8])
        | top 3 by pending
        """, lambda: _most_pending(3), ordered=True),
    _case("one-machines-updates-by-id-prefix", f"""
        patchassessmentresources
        | where type has 'softwarepatches'
        | where id startswith '{_DB_02.upper()}/'
        | project patchName = tostring(properties.patchName), version = tostring(properties.version)
        """, _updates_of_db_02, postgres=True),
    _case("machines-whose-ids-start-alike", f"""
        resources
        | where id startswith '{_WEB_0}'
        | project name
        """, lambda: [{"name": row["name"]} for row in _rows_under("resources", _WEB_0)],
        postgres=True),
    _case("kernel-5-15-updates", """
        patchassessmentresources
        | where type has 'softwarepatches' and properties.version startswith '5.15'
        | project id, version = tostring(properties.version)
        """, None),
    _case("updates-pending-on-five-or-more-machines", """
        patchassessmentresources
        | where type has 'softwarepatches'
        | summarize machines = dcount(tostring(split(id, '/')[8])) by patchName = tostring(properties.patchName)
        | where machines >= 5
        """, _patches_on_many_machines),
    _case("pending-updates-per-database-machine", """
        patchassessmentresources
        | where type has 'softwarepatches' and resourceGroup =~ 'rg-data'
        | summarize updates = make_list(name) by machine = tostring(split(id, '/')[8])
        """, _updates_per_data_machine, unordered_lists=("updates",)),
    _case("pending-counts-per-classification-key", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | mv-expand entry = properties.availablePatchCountByClassification
        | extend classification = tostring(bag_keys(entry)[0])
        | summarize updates = sum(toint(entry[classification])) by classification
        """, _counts_per_classification_key),
    _case("critical-and-security-sums-by-os", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | extend critical = toint(properties.availablePatchCountByClassification.critical),
            security = toint(properties.availablePatchCountByClassification.security)
        | summarize sum(critical), sum(security) by osType = tostring(properties.osType)
        """, _critical_security_sums),
    _case("development-kbs-by-release-date", f"""
        patchassessmentresources
        | where type has 'softwarepatches' and isnotempty(properties.kbId)
        | where subscriptionId == '{DEVELOPMENT}'
        | extend published = todatetime(properties.publishedDateTime), machine = tostring(split(id, '/')[8])
        | project machine, kbId = tostring(properties.kbId), published
        | order by published desc nulls first, machine asc, kbId asc
        """, _dev_kbs_by_published, ordered=True,
        postgres=True),
    _case("average-pending-by-os", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | extend pending = todouble(properties.availablePatchCountByClassification.critical)
            + todouble(properties.availablePatchCountByClassification.security)
        | summarize avg(pending) by tostring(properties.osType)
        """, _average_pending_by_os),
    _case("linux-machines-without-reboot-pending", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | where not(tobool(properties.rebootPending)) and properties.osType == 'Linux'
        | count
        """, _linux_without_reboot_pending),
    _case("machines-with-at-most-two-pending", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | extend total = toint(properties.availablePatchCountByClassification.critical)
            + toint(properties.availablePatchCountByClassification.security)
            + toint(properties.availablePatchCountByClassification.other)
        | where total <= 2
        | project machine = tostring(split(id, '/')[8]), total
        """, _few_pending),
    _case("recent-assessments-by-trigger", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | where todatetime(properties.lastModifiedDateTime) > ago(7d)
        | summarize count() by startedBy = tostring(properties.startedBy)
        """, None),
    _case("assessment-age-range-per-subscription", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | summarize oldest = min(todatetime(properties.lastModifiedDateTime)),
            newest = max(todatetime(properties.lastModifiedDateTime)) by subscriptionId
        """, None),
    _case("assessed-in-the-last-hour", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | extend assessedAt = todatetime(properties.lastModifiedDateTime)
        | where assessedAt > ago(1h)
        | project machine = tostring(split(id, '/')[8]), withinHalfHour = assessedAt > ago(30m)
        """, _recent_assessments),
    _case("assessed-between-two-dates", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | where todatetime(properties.lastModifiedDateTime) between (datetime(2026-11-17) .. datetime(2026-11-24))
        | project id
        """, _assessed_between),
    _case("assessments-per-os-type", """
        patchassessmentresources
        | where type !has 'softwarepatches'
        | summarize count() by tostring(properties.osType)
        """, _assessments_per_os, postgres=True),
    _case("production-assessment-rows", """
        patchassessmentresources
        | count
        """, lambda: [{"Count": sum(r["subscriptionId"] == PRODUCTION for r in ROWS[_ASSESSMENTS])}],
        subscriptions=(PRODUCTION,), postgres=True),
    _case("reboot-pending-machines", f"""
        resources
        | where type in~ {_MACHINES_IN}
        | join kind=inner (
            patchassessmentresources
            | where type !has 'softwarepatches'
            | extend machineId = tostring(split(id, '/patchAssessmentResults/')[0])
            | project machineId, rebootPending = tobool(properties.rebootPending)
          ) on $left.id == $right.machineId
        | where rebootPending
        | project name, location, reboot = tostring(rebootPending)
        """, _reboot_pending_machines),
    _case("assessment-labels", """
        patchassessmentresources
        | where type !has 'softwarepatches' and resourceGroup =~ 'rg-web'
        | project label = strcat(split(id, '/')[8], ': ', properties.osType, ' assessed ',
            todatetime(properties.lastModifiedDateTime))
        """, _assessment_labels),
]  # fmt: skip


# patchinstallationresources ----------------------------------------------------------

_INSTALLATIONS = "patchinstallationresources"
_installed_machine = _by_machine(_INSTALLATIONS, "/patchInstallationResults/")


def _failed_installs_last_week() -> list[dict[str, Any]]:
    rows = [
        {
            "machine": _segment(row["id"], 8),
            "resourceGroup": row["resourceGroup"],
            "lastModified": _time(row, "lastModifiedDateTime"),
        }
        for row in _summaries(_INSTALLATIONS)
        if _prop(row, "status").lower() == "failed"
        and _time(row, "lastModifiedDateTime") > _ago(days=7)
    ]
    rows.sort(key=lambda row: row["lastModified"], reverse=True)
    return [{**row, "lastModified": iso(row["lastModified"])} for row in rows]


def _machines_failing_lately() -> list[dict[str, Any]]:
    ids = {
        row["id"].split("/patchInstallationResults")[0]
        for row in _summaries(_INSTALLATIONS)
        if _prop(row, "status") in (FAILED, WARNINGS)
        and _time(row, "lastModifiedDateTime") > _ago(days=3)
    }
    return [{"vmResourceId": machine} for machine in ids]


def _runs_from_installs() -> list[dict[str, Any]]:
    runs: dict[str, set[str]] = defaultdict(set)
    machines: dict[str, set[str]] = defaultdict(set)
    for row in _summaries(_INSTALLATIONS):
        if _prop(row, "maintenanceRunId"):
            name = _configuration_name(row, "maintenanceRunId")
            runs[name].add(_prop(row, "maintenanceRunId"))
            machines[name].add(_installed_machine(row))
    return [
        {"configurationName": name, "runs": len(ids), "machines": len(machines[name])}
        for name, ids in runs.items()
    ]


def _patch_counts_by_status() -> list[dict[str, Any]]:
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for row in _summaries(_INSTALLATIONS):
        counts = found[_prop(row, "status")]
        for column in ("installed", "failed", "pending"):
            counts[column] += _prop(row, f"{column}PatchCount")
    return [
        {"status": status, "installed": c["installed"], "failed": c["failed"],
         "pending": c["pending"]}
        for status, c in found.items()
    ]  # fmt: skip


def _window_exceeded() -> list[dict[str, Any]]:
    return [
        {
            "id": row["id"],
            "status": _prop(row, "status"),
            "properties_rebootStatus": _prop(row, "rebootStatus"),
        }
        for row in _summaries(_INSTALLATIONS)
        if _prop(row, "maintenanceWindowExceeded") is True
    ]


def _failures_by_environment() -> list[dict[str, Any]]:
    environments = {
        row["id"].lower(): _text(_tag(row, "env")) for row in _rows("resources", *_MACHINE_TYPES)
    }
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for row in _summaries(_INSTALLATIONS):
        counts = found[environments[_installed_machine(row)]]
        counts["installs"] += 1
        counts["failures"] += _prop(row, "status") == FAILED
    return [
        {"environment": env, "installs": c["installs"], "failures": c["failures"]}
        for env, c in found.items()
    ]


def _latest_install_per_machine() -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for row in _summaries(_INSTALLATIONS):
        machine = _installed_machine(row)
        finished = _time(row, "lastModifiedDateTime")
        if machine not in latest or finished > _time(latest[machine], "lastModifiedDateTime"):
            latest[machine] = row
    return [
        {
            "machineId": machine,
            "finished": iso(_time(row, "lastModifiedDateTime")),
            "status": _prop(row, "status"),
            "maintenanceRunId": _text(_prop(row, "maintenanceRunId")),
        }
        for machine, row in latest.items()
    ]


def _reboots_needing_attention() -> list[dict[str, Any]]:
    return [
        {
            "machine": _segment(row["id"], 8),
            "rebootStatus": _prop(row, "rebootStatus"),
            "status": _prop(row, "status"),
        }
        for row in _summaries(_INSTALLATIONS)
        if _prop(row, "rebootStatus") in ("Required", "Failed")
    ]


def _user_started_installs() -> list[dict[str, Any]]:
    return [
        {
            "name": row["name"],
            "machine": _segment(row["id"], 8),
            "status": _prop(row, "status"),
            "hasRun": bool(_prop(row, "maintenanceRunId")),
        }
        for row in _summaries(_INSTALLATIONS)
        if _prop(row, "startedBy").lower() == "user"
    ]


def _statuses_per_web_machine() -> list[dict[str, Any]]:
    found: dict[str, set[str]] = defaultdict(set)
    for row in _summaries(_INSTALLATIONS):
        if row["resourceGroup"].lower() == "rg-web":
            found[_segment(row["id"], 8)].add(_prop(row, "status"))
    return [{"machine": machine, "statuses": sorted(s)} for machine, s in found.items()]


def _summaries_per_type() -> list[dict[str, Any]]:
    rows = _summaries(_ASSESSMENTS) + _summaries(_INSTALLATIONS)
    return _counted((row["type"] for row in rows), "type")


def _last_activity_of_dev_machines() -> list[dict[str, Any]]:
    latest: dict[tuple[str, str], datetime] = {}
    for activity, table in (("assessment", _ASSESSMENTS), ("installation", _INSTALLATIONS)):
        for row in _summaries(table):
            machine = _segment(row["id"], 8)
            if machine.startswith("dev-"):
                at = _time(row, "lastModifiedDateTime")
                latest[machine, activity] = max(at, latest.get((machine, activity), at))
    return [
        {"machine": machine, "activity": activity, "lastAt": iso(at)}
        for (machine, activity), at in latest.items()
    ]


def _succeeded_install_ids() -> list[dict[str, Any]]:
    return [
        {"id": row["id"]} for row in _summaries(_INSTALLATIONS) if _prop(row, "status") == SUCCEEDED
    ]


def _three_latest_installs() -> list[dict[str, Any]]:
    rows = sorted(_summaries(_INSTALLATIONS), key=lambda r: _time(r, "lastModifiedDateTime"))
    return [{"id": row["id"], "status": _prop(row, "status")} for row in reversed(rows[-3:])]


def _vm_installation_rows() -> list[dict[str, Any]]:
    return _counted(
        (row["type"] for row in ROWS[_INSTALLATIONS] if row["type"].startswith(VM + "/")), "type"
    )


def _development_rows() -> list[dict[str, Any]]:
    rows = [row for table in TABLE_NAMES for row in ROWS[table]]
    return _counted((r["subscriptionId"] for r in rows if r["subscriptionId"] == DEVELOPMENT),
                    "subscriptionId")  # fmt: skip


INSTALLATION_CASES = [
    _case("failed-installs-last-7-days", """
        patchinstallationresources
        | where type !has 'softwarepatches'
        | where properties.status =~ 'Failed'
        | where todatetime(properties.lastModifiedDateTime) > ago(7d)
        | project machine = tostring(split(id, '/')[8]), resourceGroup,
            lastModified = todatetime(properties.lastModifiedDateTime)
        | order by lastModified desc
        """, _failed_installs_last_week, ordered=True, postgres=True),
    _case("machines-failing-or-warning-lately", """
        patchinstallationresources
        | where type in ('microsoft.compute/virtualmachines/patchinstallationresults',
            'microsoft.hybridcompute/machines/patchinstallationresults')
        | where properties.status == 'Failed' or properties.status == 'CompletedWithWarnings'
        | where todatetime(properties.lastModifiedDateTime) > ago(3d)
        | parse id with vmResourceId '/patchInstallationResults' *
        | distinct vmResourceId
        """, _machines_failing_lately),
    _case("install-statuses-last-30-days", """
        patchinstallationresources
        | where type !has 'softwarepatches'
        | where todatetime(properties.lastModifiedDateTime) > ago(30d)
        | summarize count() by status = tostring(properties.status), osType = tostring(properties.osType)
        """, None),
    _case("runs-and-machines-per-configuration", """
        patchinstallationresources
        | where type !has 'softwarepatches' and isnotempty(properties.maintenanceRunId)
        | extend configurationName = tostring(split(tostring(properties.maintenanceRunId), '/')[8])
        | summarize runs = dcount(tostring(properties.maintenanceRunId)),
            machines = dcount(tolower(tostring(split(id, '/patchInstallationResults/')[0])))
            by configurationName
        """, _runs_from_installs),
    _case("patch-counts-by-install-status", """
        patchinstallationresources
        | where type !has 'softwarepatches'
        | summarize installed = sum(tolong(properties.installedPatchCount)),
            failed = sum(tolong(properties.failedPatchCount)),
            pending = sum(tolong(properties.pendingPatchCount)) by status = tostring(properties.status)
        """, _patch_counts_by_status),
    _case("installs-past-their-window", """
        patchinstallationresources
        | where type !has 'softwarepatches' and tobool(properties.maintenanceWindowExceeded) == true
        | project id, status = properties.status, properties.rebootStatus
        """, _window_exceeded),
    _case("installed-patch-states", """
        patchinstallationresources
        | where type has 'softwarepatches'
        | summarize count() by state = tostring(properties.installationState)
        """, None),
    _case("install-failures-by-environment", f"""
        patchinstallationresources
        | where type !has 'softwarepatches'
        | parse id with machineId '/patchInstallationResults/' *
        | extend machineId = tolower(machineId)
        | join kind=inner (
            resources
            | where type in~ {_MACHINES_IN}
            | project machineId = tolower(id), environment = tostring(tags.env)
          ) on machineId
        | summarize installs = count(), failures = countif(properties.status =~ 'Failed') by environment
        """, _failures_by_environment),
    _case("latest-install-per-machine", """
        patchinstallationresources
        | where type !has 'softwarepatches'
        | extend machineId = tolower(tostring(split(id, '/patchInstallationResults/')[0])),
            finished = todatetime(properties.lastModifiedDateTime)
        | summarize arg_max(finished, *) by machineId
        | project machineId, finished, status = tostring(properties.status),
            maintenanceRunId = tostring(properties.maintenanceRunId)
        """, _latest_install_per_machine, postgres=True),
    _case("reboots-needing-attention", """
        patchinstallationresources
        | where type !has 'softwarepatches'
        | where properties.rebootStatus in ('Required', 'Failed')
        | project machine = tostring(split(id, '/')[8]), rebootStatus = tostring(properties.rebootStatus),
            status = tostring(properties.status)
        """, _reboots_needing_attention),
    _case("installs-started-by-users", """
        patchinstallationresources
        | where type !has 'softwarepatches' and properties.startedBy =~ 'user'
        | project name, machine = tostring(split(id, '/')[8]), status = tostring(properties.status),
            hasRun = isnotempty(properties.maintenanceRunId)
        """, _user_started_installs),
    _case("install-statuses-per-web-machine", """
        patchinstallationresources
        | where type !has 'softwarepatches' and resourceGroup =~ 'rg-web'
        | summarize statuses = make_set(tostring(properties.status)) by machine = tostring(split(id, '/')[8])
        """, _statuses_per_web_machine, unordered_lists=("statuses",)),
    _case("summaries-per-type-across-tables", """
        union patchassessmentresources, patchinstallationresources
        | where type !has 'softwarepatches'
        | summarize count() by type
        """, _summaries_per_type),
    _case("last-activity-of-development-machines", """
        union
            (patchassessmentresources
            | where type !has 'softwarepatches'
            | project machine = tostring(split(id, '/')[8]), activity = 'assessment',
                at = todatetime(properties.lastModifiedDateTime)),
            (patchinstallationresources
            | where type !has 'softwarepatches'
            | project machine = tostring(split(id, '/')[8]), activity = 'installation',
                at = todatetime(properties.lastModifiedDateTime))
        | where machine startswith 'dev-'
        | summarize lastAt = max(at) by machine, activity
        """, _last_activity_of_dev_machines),
    _case("a-few-succeeded-installs", """
        patchinstallationresources
        | where type !has 'softwarepatches' and properties.status == 'Succeeded'
        | take 5
        | project id
        """, _succeeded_install_ids, take=5, postgres=True),
    _case("three-latest-installs", """
        patchinstallationresources
        | where type !has 'softwarepatches'
        | order by todatetime(properties.lastModifiedDateTime) desc
        | take 3
        | project id, status = tostring(properties.status)
        """, _three_latest_installs, ordered=True, postgres=True),
    _case("vm-installation-rows-by-type", """
        patchinstallationresources
        | where type has 'virtualmachines/patchinstallationresults'
        | summarize count() by type
        """, _vm_installation_rows),
    _case("development-rows-in-every-table", """
        union resources, maintenanceresources, patchassessmentresources, patchinstallationresources
        | summarize count() by subscriptionId
        """, _development_rows, subscriptions=(DEVELOPMENT,)),
]  # fmt: skip

CASES: list[Case] = RESOURCES_CASES + MAINTENANCE_CASES + ASSESSMENT_CASES + INSTALLATION_CASES
