"""DNF and YUM (RHEL and its family).

Assessment lists upgrades with ``repoquery --upgrades`` (one exact line per package, in a
format we choose, so nothing wraps or shifts), then reads the repositories' advisories
with ``updateinfo``: an update an unapplied security advisory covers is Security, or
Critical when the advisory's severity is Critical; the advisory ids, CVEs and a suggested
reboot come with it. Everything else is Other. Installing upgrades to the exact
``name-version-release`` and reads the result back from the RPM database.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List, NamedTuple, Optional, Set, Tuple

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

_QUERY_FORMAT = "%{name}\t%{arch}\t%{epoch}\t%{version}-%{release}\t%{reponame}"
#: ``UPK-2026-1 Important/Sec. openssl-3.0.2-1.noarch``
_ADVISORY = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)$")
#: ``openssl-3.0.2-1.noarch`` -> name, version-release, arch
_NEVRA = re.compile(r"^(.+)-((?:\d+:)?[^-]+-[^-]+)\.([^.]+)$")
#: a row of dnf's transaction table: `` name  arch  version  repo  size``
_TRANSACTION_ROW = re.compile(
    r"^ (\S+)\s+(noarch|x86_64|aarch64|i686|ppc64le|s390x)\s+(\S+)\s+\S+\s+[\d.]+ [kMG]?$"
)


class Advisory(NamedTuple):
    ids: Tuple[str, ...]
    severity: str
    cves: Tuple[str, ...]
    reboot: bool


def parse_upgrades(text: str) -> List[Tuple[str, str, str]]:
    """(name, arch, version-release) of each upgrade ``repoquery`` printed."""
    found = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 5:
            name, arch, epoch, version, _ = parts
            plain = epoch in ("0", "", "(none)")
            found.append((name, arch, version if plain else "{}:{}".format(epoch, version)))
    return found


def parse_security(listing: str, cves: str, info: str) -> Dict[str, Advisory]:
    """name -> the security advisories covering its upgrade, from ``updateinfo list``
    (with and without ``--with-cve``) and ``updateinfo info``."""
    by_name = {}  # type: Dict[str, Dict[str, object]]
    for line in listing.splitlines():
        found = _ADVISORY.match(line.strip())
        if not found or "sec" not in found.group(2).lower():
            continue
        advisory, kind, nevra = found.groups()
        package = _NEVRA.match(nevra)
        if not package:
            continue
        entry = by_name.setdefault(package.group(1), {"ids": set(), "severity": "", "cves": set()})
        entry["ids"].add(advisory)  # type: ignore[union-attr]
        severity = kind.split("/")[0]
        if severity.lower() == "critical" or not entry["severity"]:
            entry["severity"] = severity
    for line in cves.splitlines():
        found = _ADVISORY.match(line.strip())
        if found and found.group(1).upper().startswith("CVE-"):
            package = _NEVRA.match(found.group(3))
            if package and package.group(1) in by_name:
                by_name[package.group(1)]["cves"].add(found.group(1))  # type: ignore[union-attr]
    rebooting = _reboot_suggested(info)
    return {
        name: Advisory(
            tuple(sorted(entry["ids"])),  # type: ignore[arg-type]
            str(entry["severity"]),
            tuple(sorted(entry["cves"])),  # type: ignore[arg-type]
            bool(set(entry["ids"]) & rebooting),  # type: ignore[arg-type]
        )
        for name, entry in by_name.items()
    }


def _reboot_suggested(info: str) -> Set[str]:
    """Advisory ids whose ``updateinfo info`` block says a reboot is suggested."""
    suggested = set()
    current = None
    for line in info.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "update id":
            current = value
        elif key == "reboot" and current and "no" not in value.lower():
            suggested.add(current)
    return suggested


class Dnf(PackageManager):
    service = "YUM"

    def __init__(self, command: str = "dnf", runner: Runner = run) -> None:
        self.command = command
        self._run = runner

    def _dnf(self, *arguments: str, timeout: float = 1800) -> Output:
        output = self._run([self.command, "-q", "--color=never", *arguments], timeout=timeout)
        if output.code == 1 and "lock" in output.text.lower() and "waiting" in output.text.lower():
            raise PackageManagerError(
                "PackageManagerLocked",
                "another process holds the RPM lock: " + tail(output.text, 2),
            )
        return output

    def refresh(self) -> None:
        output = self._dnf("-y", "makecache", "--refresh", timeout=600)
        if output.code != 0:
            raise PackageManagerError(
                "RepositoryRefreshFailed", "dnf makecache failed: " + tail(output.text)
            )

    def available(self) -> List[Patch]:
        listed = self._dnf(
            "repoquery", "--upgrades", "--latest-limit=1", "--queryformat=" + _QUERY_FORMAT + "\n"
        )
        if listed.code != 0:
            raise PackageManagerError(
                "AssessmentFailed", "dnf repoquery failed: " + tail(listed.text)
            )
        security = parse_security(
            self._dnf("updateinfo", "list", "--updates").text,
            self._dnf("updateinfo", "list", "--updates", "--with-cve").text,
            self._dnf("updateinfo", "info", "--updates").text,
        )
        patches = []
        for name, arch, version in parse_upgrades(listed.text):
            advisory = security.get(name)
            if advisory is None:
                classification, reboot = "Other", "NeverReboots"
            else:
                classification = (
                    "Critical" if advisory.severity.lower() == "critical" else "Security"
                )
                reboot = "AlwaysRequiresReboot" if advisory.reboot else "NeverReboots"
            patches.append(
                Patch(
                    name=name,
                    version=version,
                    classification=classification,
                    current_version=self.installed_version(name),
                    arch=arch,
                    reboot_behavior=reboot,
                )
            )
        return patches

    def dependencies(self, patch: Patch) -> List[str]:
        output = self._dnf("--assumeno", "upgrade", self._spec(patch), timeout=600)
        names = [
            found.group(1)
            for found in map(_TRANSACTION_ROW.match, output.text.splitlines())
            if found
        ]
        return names or [patch.name]

    def install(self, patch: Patch, timeout: float) -> Outcome:
        output = self._dnf("-y", "upgrade", self._spec(patch), timeout=timeout)
        if self.installed_version(patch.name) == patch.version:
            return Outcome("Installed")
        return Outcome(
            "Failed", "dnf upgrade failed (exit {}): {}".format(output.code, tail(output.text))
        )

    @staticmethod
    def _spec(patch: Patch) -> str:
        version = patch.version.split(":", 1)[-1]  # dnf takes name-version-release, no epoch
        return (
            "{}-{}.{}".format(patch.name, version, patch.arch)
            if patch.arch
            else "{}-{}".format(patch.name, version)
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
        output = self._run([self.command, "-q", "needs-restarting", "-r"], timeout=120)
        return output.code == 1

    def repair(self) -> None:
        """An RPM transaction is all or nothing: an interrupted one left nothing to finish."""
