"""Doing a job: an assessment, or an installation with its time budget and reboot.

Installing follows Azure's rules. The selected updates go one at a time, security first;
before each, the time left until the deadline must cover a package (5 minutes) plus the
reboot reserve (15 minutes, unless the reboot setting is Never); when it does not, the
rest stay Pending and the result says ``maintenanceWindowExceeded``. An update that was
already brought in by another is Installed without a second run. A reboot happens only if
its reserve fits. Every step is written to the job's journal before it is taken, so an
agent that was killed, or that rebooted the machine, picks the job up where it stood.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional

from upkeep_agent.managers.base import PackageManager, PackageManagerError
from upkeep_agent.selection import (
    NOT_SELECTED,
    PENDING,
    REBOOT_SETTINGS,
    Patch,
    canonical,
    installable_order,
    parse_time,
    select_linux,
)
from upkeep_agent.state import State

PACKAGE_TIME = timedelta(minutes=5)
REBOOT_RESERVE = timedelta(minutes=15)
MAX_ERRORS = 5

Clock = Callable[[], datetime]
#: Sends a progress report (a dict) for the job being run; False when the server asks the
#: agent to stop starting packages (the maintenance run was cancelled).
Progress = Callable[[Dict[str, Any]], bool]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def boot_identity() -> str:
    """Changes with every boot: the kernel's boot id, and when PID 1 started (which also
    changes when a container or test host restarts its init)."""
    parts = []
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/1/stat"):
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except OSError:
            text = ""
        parts.append(text.split(") ")[-1].split()[19] if path.endswith("stat") and text else text)
    return "/".join(parts)


def patch_record(patch: Patch, **extra: Any) -> Dict[str, Any]:
    """A patch as results carry it."""
    record = {
        "patchId": patch.patch_id,
        "name": patch.name,
        "version": patch.version,
        "currentVersion": patch.current_version,
        "arch": patch.arch,
        "kbId": patch.kb_id,
        "classification": patch.classification,
        "classifications": [patch.classification],
        "rebootBehavior": patch.reboot_behavior,
        "publishedDate": stamp(patch.published) if patch.published else None,
    }
    if patch.advisories:
        record.update(
            advisoryIds=list(patch.advisories), severity=patch.severity, cves=list(patch.cves)
        )
    record.update(extra)
    return record


def _patch_of(record: Dict[str, Any]) -> Patch:
    return Patch(
        name=record["name"],
        version=record["version"],
        classification=record["classification"],
        current_version=record.get("currentVersion"),
        arch=record.get("arch"),
        kb_id=record.get("kbId"),
        reboot_behavior=record.get("rebootBehavior", "Unknown"),
    )


class Runner:
    def __init__(
        self,
        manager: PackageManager,
        state: State,
        reboot: Callable[[], None],
        clock: Clock = utc_now,
        os_type: str = "Linux",
    ) -> None:
        self.manager = manager
        self.state = state
        self.reboot = reboot
        self.clock = clock
        self.os_type = os_type

    # --- assessment ----------------------------------------------------------------------

    def assess(self, refresh: bool = True) -> Dict[str, Any]:
        """An assessment result: the available updates, or the errors that stopped it."""
        started = self.clock()
        result = {
            "startDateTime": stamp(started),
            "patchServiceUsed": self.manager.service,
            "osType": self.os_type,
            "patches": [],
            "errors": [],
            "rebootPending": False,
        }  # type: Dict[str, Any]
        try:
            if refresh:
                self.manager.refresh()
            result["patches"] = [patch_record(patch) for patch in self.manager.available()]
            result["rebootPending"] = self.manager.reboot_pending()
            result["status"] = "Succeeded"
        except PackageManagerError as error:
            result["errors"].append({"code": error.code, "message": error.message})
            result["status"] = "Failed"
        result["lastModifiedDateTime"] = stamp(self.clock())
        return result

    # --- installation ----------------------------------------------------------------------

    def install(self, job: Dict[str, Any], progress: Progress) -> Optional[Dict[str, Any]]:
        """Run an install job to its end; None when the machine is rebooting to finish it."""
        entry = self.state.journal(job["id"])
        if entry is None:
            entry = self._plan(job)
            if entry.get("result"):  # the assessment failed: nothing to install
                return entry["result"]
        elif entry["phase"] == "rebooting":
            return self._after_reboot(job, entry, progress)
        elif entry["phase"] == "installing" and entry.get("current"):
            self._recover(entry)
        return self._install_all(job, entry, progress)

    def _plan(self, job: Dict[str, Any]) -> Dict[str, Any]:
        started = self.clock()
        entry = {"phase": "installing", "started": stamp(started), "errors": [], "exceeded": False}
        try:
            self.manager.refresh()
            patches = self.manager.available()
            parameters = job["parameters"].get("linuxParameters") or {}
            decisions = select_linux(patches, parameters, self.manager.dependencies)
        except PackageManagerError as error:
            assessment = self.assess(refresh=False)
            entry["errors"].append({"code": error.code, "message": error.message})
            entry["result"] = self._result(job, entry, [], "NotNeeded", assessment)
            return entry
        records = []
        ordered = {
            patch.patch_id: index
            for index, patch in enumerate(installable_order(patches, decisions))
        }
        for patch in sorted(patches, key=lambda found: ordered.get(found.patch_id, len(ordered))):
            decision = decisions[patch.patch_id]
            records.append(
                patch_record(patch, installationState=decision.state, reason=decision.reason)
            )
        entry["patches"] = records
        self.state.write_journal(job["id"], entry)
        return entry

    def _recover(self, entry: Dict[str, Any]) -> None:
        """The agent stopped while installing ``current``: finish dpkg's work, then judge it."""
        try:
            self.manager.repair()
        except PackageManagerError as error:
            entry["errors"].append({"code": error.code, "message": error.message})
        for record in entry["patches"]:
            if record["patchId"] == entry["current"]:
                installed = self.manager.installed_version(record["name"]) == record["version"]
                record["installationState"] = "Installed" if installed else "Failed"
                if not installed:
                    record["error"] = "the agent stopped while installing it"
                    entry["errors"].append(
                        {
                            "code": "PackageInstallInterrupted",
                            "message": record["name"] + ": the agent stopped while installing it",
                        }
                    )
        entry["current"] = None

    def _install_all(
        self, job: Dict[str, Any], entry: Dict[str, Any], progress: Progress
    ) -> Optional[Dict[str, Any]]:
        setting = (
            canonical(REBOOT_SETTINGS, job["parameters"].get("rebootSetting", "IfRequired"))
            or "IfRequired"
        )
        reserve = REBOOT_RESERVE if setting != "Never" else timedelta(0)
        deadline = parse_time(job["deadline"])
        records = entry["patches"]
        selected = [record for record in records if record["installationState"] == PENDING]
        for index, record in enumerate(selected):
            if self.manager.installed_version(record["name"]) == record["version"]:
                record["installationState"] = "Installed"  # an earlier update brought it
                continue
            going_on = progress(
                {
                    "phase": "installing",
                    "percentComplete": int(100 * index / max(len(selected), 1)),
                    "result": self._result(job, entry, records, "NotNeeded", None, final=False),
                }
            )
            if not going_on:
                entry["errors"].append(
                    {
                        "code": "OperationCancelled",
                        "message": "The maintenance run was cancelled: no further package was"
                        " started.",
                    }
                )
                break
            if deadline - self.clock() < PACKAGE_TIME + reserve:
                entry["exceeded"] = True
                entry["errors"].append(
                    {
                        "code": "MaintenanceWindowExceeded",
                        "message": "Stopped installing: the time left is less than a package's"
                        " {} minutes plus the {} minute reboot reserve.".format(
                            int(PACKAGE_TIME.total_seconds() // 60),
                            int(reserve.total_seconds() // 60),
                        ),
                    }
                )
                break
            entry["current"] = record["patchId"]
            self.state.write_journal(job["id"], entry)
            remaining = (deadline - self.clock()).total_seconds()
            outcome = self.manager.install(_patch_of(record), timeout=max(remaining, 60))
            record["installationState"] = outcome.state
            if outcome.state == "Failed":
                record["error"] = outcome.message
                entry["errors"].append(
                    {
                        "code": "PackageInstallFailed",
                        "message": "{}: {}".format(record["name"], outcome.message),
                    }
                )
            entry["current"] = None
            self.state.write_journal(job["id"], entry)
        self._mark_brought_in(records)
        return self._finish(job, entry, setting, deadline, progress)

    def _mark_brought_in(self, records: List[Dict[str, Any]]) -> None:
        """Updates that were not selected but came with a selected one are Installed too."""
        for record in records:
            if record["installationState"] == NOT_SELECTED and (
                self.manager.installed_version(record["name"]) == record["version"]
            ):
                record["installationState"] = "Installed"

    def _finish(
        self,
        job: Dict[str, Any],
        entry: Dict[str, Any],
        setting: str,
        deadline: datetime,
        progress: Progress,
    ) -> Optional[Dict[str, Any]]:
        pending = self.manager.reboot_pending()
        wanted = setting == "Always" or (setting == "IfRequired" and pending)
        if not wanted:
            reboot_status = "Required" if pending else "NotNeeded"
        elif deadline - self.clock() < REBOOT_RESERVE:
            reboot_status = "Required"
            entry["exceeded"] = True
            entry["errors"].append(
                {
                    "code": "InsufficientTimeForReboot",
                    "message": "A reboot was needed, but less than its 15 minute reserve was left.",
                }
            )
        else:
            entry["phase"] = "rebooting"
            entry["boot"] = boot_identity()
            self.state.write_journal(job["id"], entry)
            progress(
                {
                    "phase": "rebooting",
                    "percentComplete": 95,
                    "result": self._result(
                        job, entry, entry["patches"], "Started", None, final=False
                    ),
                }
            )
            self.reboot()
            return None
        return self._result(job, entry, entry["patches"], reboot_status, self.assess(refresh=False))

    def _after_reboot(
        self, job: Dict[str, Any], entry: Dict[str, Any], progress: Progress
    ) -> Dict[str, Any]:
        if boot_identity() == entry.get("boot"):
            entry["errors"].append(
                {
                    "code": "RebootFailed",
                    "message": "The reboot command ran, but the machine did not restart.",
                }
            )
            return self._result(job, entry, entry["patches"], "Failed", self.assess(refresh=False))
        return self._result(job, entry, entry["patches"], "Completed", self.assess(refresh=False))

    # --- the result --------------------------------------------------------------------------

    def _result(
        self,
        job: Dict[str, Any],
        entry: Dict[str, Any],
        records: List[Dict[str, Any]],
        reboot_status: str,
        assessment: Optional[Dict[str, Any]],
        final: bool = True,
    ) -> Dict[str, Any]:
        failed = any(record["installationState"] == "Failed" for record in records)
        if (
            failed
            or entry["exceeded"]
            or reboot_status == "Failed"
            or (entry["errors"] and not records)
        ):
            status = "Failed"
        elif reboot_status == "Required":
            status = "CompletedWithWarnings"
        else:
            status = "Succeeded" if final else "InProgress"
        result = {
            "status": status,
            "startDateTime": entry["started"],
            "lastModifiedDateTime": stamp(self.clock()),
            "rebootStatus": reboot_status,
            "maintenanceWindowExceeded": entry["exceeded"],
            "patchServiceUsed": self.manager.service,
            "osType": self.os_type,
            "startedBy": job.get("startedBy", "User"),
            "patches": [dict(record) for record in records],
            "errors": list(entry["errors"])[:MAX_ERRORS],
        }  # type: Dict[str, Any]
        if assessment is not None:
            result["assessment"] = assessment
        return result
