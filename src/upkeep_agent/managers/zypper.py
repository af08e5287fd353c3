"""Zypper (SUSE).

Assessment reads zypper's XML output: ``list-updates`` for the packages with upgrades (and
the versions installed), and dry runs of ``patch`` for what the patches would bring: the
security patches are Security, or Critical for those of critical severity; what only the
patches that restart the machine bring is AlwaysRequiresReboot. Everything else is Other.
Installing updates to the exact ``name=version``; zypper's exit codes 102 (reboot needed)
and 103 (zypper updated itself) are successes, 7 (locked) is retried by zypper itself for
``ZYPP_LOCK_TIMEOUT`` seconds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Callable, Dict, List, Set, Tuple

from upkeep_agent.managers.base import Outcome, Output, PackageManagerError, run, tail
from upkeep_agent.managers.rpm import RpmPackageManager
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


def parse_updates(text: str) -> List[Tuple[str, str, str, str]]:
    """(name, arch, new version, installed version) of every package update
    ``list-updates`` printed."""
    return [
        (
            update.get("name", ""),
            update.get("arch", ""),
            update.get("edition", ""),
            update.get("edition-old", ""),
        )
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


class Zypper(RpmPackageManager):
    service = "Zypper"

    def __init__(self, runner: Runner = run) -> None:
        self._run = runner
        self._reboot_needed = False  # a zypper run this session exited 102

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

    def _patched(self, *selection: str, reboots: bool = True) -> Set[str]:
        """Names of the packages a dry run of ``zypper patch`` with ``selection`` upgrades.
        Patches that restart the machine are left out by --non-interactive unless asked for."""
        options = ["--non-interactive-include-reboot-patches"] if reboots else []
        output = self._zypper(*options, "patch", *selection, "--dry-run", xml=True)
        if output.code not in SUCCESS:
            raise PackageManagerError(
                "AssessmentFailed",
                "zypper patch {} --dry-run failed (exit {}): {}".format(
                    " ".join(selection), output.code, tail(output.text)
                ),
            )
        return set(parse_solvables(output.text))

    def available(self) -> List[Patch]:
        listed = self._zypper("list-updates", xml=True)
        if listed.code not in SUCCESS:
            raise PackageManagerError(
                "AssessmentFailed", "zypper list-updates failed: " + tail(listed.text)
            )
        security = self._patched("--category", "security")
        critical = self._patched("--category", "security", "--severity", "critical")
        rebooting = self._patched("--with-optional") - self._patched(
            "--with-optional", reboots=False
        )
        patches = []
        for name, arch, version, current in parse_updates(listed.text):
            if name in critical:
                classification = "Critical"
            elif name in security:
                classification = "Security"
            else:
                classification = "Other"
            patches.append(
                Patch(
                    name=name,
                    version=version,
                    classification=classification,
                    current_version=current or None,
                    arch=arch,
                    reboot_behavior=(
                        "AlwaysRequiresReboot" if name in rebooting else "NeverReboots"
                    ),
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
        self._reboot_needed = self._reboot_needed or output.code == REBOOT_NEEDED
        if self.installed_version(patch.name) == patch.version:
            return Outcome("Installed")
        return Outcome(
            "Failed", "zypper update failed (exit {}): {}".format(output.code, tail(output.text))
        )

    def reboot_pending(self) -> bool:
        if self._reboot_needed or super().reboot_pending():
            return True
        return self._zypper("needs-rebooting").code == REBOOT_NEEDED
