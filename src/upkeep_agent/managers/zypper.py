"""Zypper (SUSE).

Assessment reads zypper's XML output: ``list-updates`` for the packages with upgrades, and
a dry run of ``patch --category security`` for the packages the security patches bring
(Critical when one of them has critical severity). Everything else is Other. Installing
updates to the exact ``name=version``; zypper's exit codes 102 (reboot needed) and 103
(zypper updated itself) are successes, 7 (locked) is retried by zypper itself for
``ZYPP_LOCK_TIMEOUT`` seconds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Callable, Dict, List, Optional, Tuple

from upkeep_agent.managers.base import (
    Outcome,
    Output,
    PackageManager,
    PackageManagerError,
    run,
    tail,
)
from upkeep_agent.selection import Patch

Runner = Callable[..., Output]

#: zypper exit codes that are not failures.
SUCCESS = (0, 100, 101, 102, 103, 106)
REBOOT_NEEDED = 102
LOCKED = 7


def _xml(text: str) -> ElementTree.Element:
    start = text.find("<?xml")
    try:
        return ElementTree.fromstring(text[start:] if start >= 0 else text)
    except ElementTree.ParseError:
        raise PackageManagerError(
            "AssessmentFailed", "zypper printed no readable XML: " + tail(text)
        ) from None


def parse_updates(text: str) -> List[Tuple[str, str, str]]:
    """(name, arch, version) of every package update ``list-updates`` printed."""
    return [
        (update.get("name", ""), update.get("arch", ""), update.get("edition", ""))
        for update in _xml(text).iter("update")
        if update.get("kind", "package") == "package"
    ]


def parse_solvables(text: str, section: str = "to-upgrade") -> Dict[str, str]:
    """name -> version of the packages a dry run would upgrade (or install, with
    ``section="to-install"``)."""
    found = {}
    for summary in _xml(text).iter("install-summary"):
        for group in summary.iter(section):
            for solvable in group.iter("solvable"):
                if solvable.get("type", "package") == "package":
                    found[solvable.get("name", "")] = solvable.get("edition", "")
    return found


def parse_patch_severity(text: str) -> str:
    """The highest severity among the patches ``list-patches`` printed."""
    severities = [update.get("severity", "").lower() for update in _xml(text).iter("update")]
    return "critical" if "critical" in severities else ""


class Zypper(PackageManager):
    service = "Zypper"

    def __init__(self, runner: Runner = run) -> None:
        self._run = runner

    def _zypper(self, *arguments: str, xml: bool = False, timeout: float = 1800) -> Output:
        options = ["zypper", "--non-interactive", "--no-color"]
        if xml:
            options.append("--xmlout")
        output = self._run([*options, *arguments], timeout=timeout)
        if output.code == LOCKED:
            raise PackageManagerError(
                "PackageManagerLocked",
                "another process holds zypper's lock: " + tail(output.text, 2),
            )
        return output

    def refresh(self) -> None:
        output = self._zypper("refresh", timeout=600)
        if output.code not in SUCCESS:
            raise PackageManagerError(
                "RepositoryRefreshFailed", "zypper refresh failed: " + tail(output.text)
            )

    def available(self) -> List[Patch]:
        listed = self._zypper("list-updates", xml=True)
        if listed.code not in SUCCESS:
            raise PackageManagerError(
                "AssessmentFailed", "zypper list-updates failed: " + tail(listed.text)
            )
        dry_run = self._zypper("patch", "--category", "security", "--dry-run", xml=True)
        security = parse_solvables(dry_run.text) if dry_run.code in SUCCESS else {}
        severity = parse_patch_severity(
            self._zypper("list-patches", "--category", "security", xml=True).text
        )
        patches = []
        for name, arch, version in parse_updates(listed.text):
            if name in security:
                classification = "Critical" if severity == "critical" else "Security"
            else:
                classification = "Other"
            patches.append(
                Patch(
                    name=name,
                    version=version,
                    classification=classification,
                    current_version=self.installed_version(name),
                    arch=arch,
                    reboot_behavior="NeverReboots",
                )
            )
        return patches

    def dependencies(self, patch: Patch) -> List[str]:
        output = self._zypper(
            "update", "--dry-run", "{}={}".format(patch.name, patch.version), xml=True, timeout=600
        )
        changed = parse_solvables(output.text)
        changed.update(parse_solvables(output.text, "to-install"))
        return sorted(changed) or [patch.name]

    def install(self, patch: Patch, timeout: float) -> Outcome:
        output = self._zypper("update", "{}={}".format(patch.name, patch.version), timeout=timeout)
        if self.installed_version(patch.name) == patch.version:
            return Outcome("Installed")
        return Outcome(
            "Failed", "zypper update failed (exit {}): {}".format(output.code, tail(output.text))
        )

    def installed_version(self, name: str) -> Optional[str]:
        output = self._run(
            ["rpm", "-q", "--qf", "%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n", name], timeout=60
        )
        if output.code != 0:
            return None
        epoch, _, version = output.text.strip().splitlines()[-1].partition(":")
        return version if epoch == "0" else "{}:{}".format(epoch, version)

    def reboot_pending(self) -> bool:
        if super().reboot_pending():
            return True
        return self._zypper("needs-rebooting").code == REBOOT_NEEDED

    def repair(self) -> None:
        """An RPM transaction is all or nothing: an interrupted one left nothing to finish."""
