"""DNF and YUM (RHEL and its family).

Assessment lists upgrades with ``repoquery --upgrades`` (one exact line per package, in a
format we choose, so nothing wraps or shifts), then reads the repositories' advisories
with ``updateinfo``: an update an unapplied security advisory covers is Security, or
Critical when the advisory's severity is Critical, and carries the advisory ids, severity
and CVEs. Everything else is Other. An update needs a reboot when ``needs-restarting``
would ask for one after it: the kernel and core packages dnf names, plus those listed in
``/etc/dnf/plugins/needs-restarting.d``, or when its advisory suggests one. Installing
upgrades to the exact ``name-version-release.arch`` and reads the result back from RPM.
"""

from __future__ import annotations

import glob
import re
from typing import Callable, Dict, List, NamedTuple, Set, Tuple

from upkeep_agent.managers.base import Outcome, Output, PackageManagerError, run, tail
from upkeep_agent.managers.rpm import RpmPackageManager
from upkeep_agent.selection import Patch

Runner = Callable[..., Output]

_QUERY_FORMAT = "%{name}\t%{arch}\t%{epoch}\t%{version}-%{release}\t%{reponame}"
#: ``UPK-2026-1 Important/Sec. openssl-3.0.2-1.noarch``
_ADVISORY = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)$")
#: ``openssl-3.0.2-1.noarch`` -> name, version-release, arch
_NEVRA = re.compile(r"^(.+)-((?:\d+:)?[^-]+-[^-]+)\.([^.]+)$")
#: Headings of the sections of dnf's transaction table that add or upgrade packages.
_ADDING = re.compile(r"^(Upgrading|Installing)( dependencies| weak dependencies)?:$")
#: What dnf's needs-restarting counts as needing a reboot, before its configuration adds more.
REBOOT_PACKAGES = frozenset(
    {"kernel", "kernel-core", "kernel-rt", "glibc", "linux-firmware", "systemd",
     "dbus", "dbus-broker", "dbus-daemon", "microcode_ctl", "udev", "gnutls", "openssl-libs"}
)  # fmt: skip
REBOOT_CONFIGURATION = "/etc/dnf/plugins/needs-restarting.d/*.conf"


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
    """Advisory ids whose ``updateinfo info`` block says a reboot is suggested (dnf 4.14
    does not print it; other versions do)."""
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


def parse_transaction(text: str) -> List[str]:
    """Names of the packages a transaction table adds or upgrades. dnf wraps a long name
    onto a line of its own, with the rest of the row on the next line."""
    names = []
    adding = False
    carried = ""
    for line in text.splitlines():
        heading = line.strip()
        if heading.endswith(":") and not line.startswith(" "):
            adding = bool(_ADDING.match(heading))
            continue
        if not adding or not line.startswith(" "):
            carried = ""
            continue
        words = (carried + " " + line).split()
        if len(words) == 1:
            carried = words[0]
            continue
        carried = ""
        if len(words) >= 4:
            names.append(words[0])
    return names


def reboot_packages(configuration: str = REBOOT_CONFIGURATION) -> Set[str]:
    """The packages whose update makes needs-restarting ask for a reboot."""
    names = set(REBOOT_PACKAGES)
    for path in glob.glob(configuration):
        try:
            with open(path) as handle:
                names.update(line.strip() for line in handle if line.strip())
        except OSError:
            continue
    return names


class Dnf(RpmPackageManager):
    service = "YUM"

    def __init__(self, command: str = "dnf", runner: Runner = run) -> None:
        self.command = command
        self._run = runner

    def _dnf(self, *arguments: str, quiet: bool = True, timeout: float = 1800) -> Output:
        options = [self.command, "--color=never"] + (["-q"] if quiet else [])
        output = self._run([*options, *arguments], timeout=timeout)
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
        upgrades = parse_upgrades(listed.text)
        security = parse_security(
            self._dnf("updateinfo", "list", "--updates").text,
            self._dnf("updateinfo", "list", "--updates", "--with-cve").text,
            self._dnf("updateinfo", "info", "--updates").text,
        )
        current = self.installed_versions(name for name, _, _ in upgrades)
        rebooting = reboot_packages()
        patches = []
        for name, arch, version in upgrades:
            advisory = security.get(name, Advisory((), "", (), False))
            if not advisory.ids:
                classification = "Other"
            elif advisory.severity.lower() == "critical":
                classification = "Critical"
            else:
                classification = "Security"
            patches.append(
                Patch(
                    name=name,
                    version=version,
                    classification=classification,
                    current_version=current.get(name),
                    arch=arch,
                    reboot_behavior=(
                        "AlwaysRequiresReboot"
                        if name in rebooting or advisory.reboot
                        else "NeverReboots"
                    ),
                    advisories=advisory.ids,
                    severity=advisory.severity or None,
                    cves=advisory.cves,
                )
            )
        return patches

    def dependencies(self, patch: Patch) -> List[str]:
        output = self._dnf("--assumeno", "upgrade", self._spec(patch), quiet=False, timeout=600)
        return parse_transaction(output.text) or [patch.name]

    def install(self, patch: Patch, timeout: float) -> Outcome:
        output = self._dnf("-y", "upgrade", self._spec(patch), quiet=False, timeout=timeout)
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

    def reboot_pending(self) -> bool:
        if super().reboot_pending():
            return True
        output = self._run([self.command, "-q", "needs-restarting", "-r"], timeout=120)
        return output.code == 1
