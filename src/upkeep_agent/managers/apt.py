"""APT (Debian, Ubuntu).

Assessment simulates ``apt-get dist-upgrade`` against the machine's own sources and reads
its ``Inst name [current] (new origins [arch])`` lines. An update is Security when one of
the origins it comes from is a security pocket (its Release label, e.g.
``Debian-Security:12/stable-security``, or an Ubuntu ``…-security`` suite); everything else
is Other. Installing pins the exact version (``name=version``) and lets APT bring what it
needs; whether it worked is read back from dpkg, not from APT's exit code alone.
"""

from __future__ import annotations

import re
from typing import Callable, List, Optional

from upkeep_agent.managers.base import (
    Outcome,
    Output,
    PackageManager,
    PackageManagerError,
    run,
    tail,
)
from upkeep_agent.selection import Patch

_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) (.*?) \[(\S+)\]\)", re.MULTILINE)
_SECURITY = re.compile(r"security", re.IGNORECASE)
#: A new kernel only runs after a reboot; these core libraries and daemons usually ask for one.
_KERNEL = re.compile(r"^(linux-image|linux-modules|kernel)")
_CORE = re.compile(r"^(libc6|systemd|dbus|libssl[0-9a-z]*|openssl)$")
#: Seconds APT waits for another process to release its lock before giving up.
LOCK_WAIT = 120

Runner = Callable[..., Output]


def parse_simulation(text: str) -> List[Patch]:
    """The updates an ``apt-get -s`` run would install."""
    patches = []
    for name, current, version, origins, arch in _INST.findall(text):
        security = any(_SECURITY.search(origin) for origin in origins.split(","))
        patches.append(
            Patch(
                name=name,
                version=version,
                classification="Security" if security else "Other",
                current_version=current or None,
                arch=arch,
                reboot_behavior=_reboot_behavior(name),
            )
        )
    return patches


def _reboot_behavior(name: str) -> str:
    if _KERNEL.match(name):
        return "AlwaysRequiresReboot"
    return "CanRequestReboot" if _CORE.match(name) else "NeverReboots"


class Apt(PackageManager):
    service = "APT"

    def __init__(self, runner: Runner = run) -> None:
        self._run = runner

    def _apt(self, *arguments: str, timeout: float = 1800) -> Output:
        lock = "-oDPkg::Lock::Timeout={}".format(int(min(LOCK_WAIT, max(timeout - 30, 1))))
        output = self._run(["apt-get", "-q", lock, *arguments], timeout=timeout)
        if output.code != 0:
            _raise_if_unusable(output.text)
        return output

    def refresh(self) -> None:
        output = self._apt("update", timeout=600)
        if output.code != 0 or re.search(r"^(E:|W: Failed to fetch)", output.text, re.MULTILINE):
            raise PackageManagerError(
                "RepositoryRefreshFailed", "apt-get update failed: " + tail(output.text)
            )

    def available(self) -> List[Patch]:
        output = self._apt("-s", "dist-upgrade", timeout=600)
        if output.code != 0:
            raise PackageManagerError(
                "AssessmentFailed", "apt-get -s dist-upgrade failed: " + tail(output.text)
            )
        return parse_simulation(output.text)

    def dependencies(self, patch: Patch) -> List[str]:
        output = self._apt(
            "-s",
            "install",
            "--only-upgrade",
            "{}={}".format(patch.name, patch.version),
            timeout=600,
        )
        return [found.name for found in parse_simulation(output.text)] or [patch.name]

    def install(self, patch: Patch, timeout: float) -> Outcome:
        output = self._apt(
            "-y",
            "-oDpkg::Options::=--force-confdef",
            "-oDpkg::Options::=--force-confold",
            "install",
            "--only-upgrade",
            "{}={}".format(patch.name, patch.version),
            timeout=timeout,
        )
        if self.installed_version(patch.name) == patch.version:
            return Outcome("Installed")
        return Outcome(
            "Failed", "apt-get install failed (exit {}): {}".format(output.code, tail(output.text))
        )

    def installed_version(self, name: str) -> Optional[str]:
        output = self._run(
            ["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Version}", name], timeout=60
        )
        status, _, version = output.text.strip().partition(" ")
        return version.strip() if output.code == 0 and status.startswith("ii") else None

    def repair(self) -> None:
        output = self._run(["dpkg", "--configure", "-a"], timeout=1800)
        if output.code != 0:
            raise PackageManagerError(
                "PackageManagerInterrupted",
                "dpkg was interrupted and 'dpkg --configure -a' could not finish: "
                + tail(output.text),
            )


def _raise_if_unusable(text: str) -> None:
    """APT failures that are about APT, not about one package."""
    if "Could not get lock" in text or "Unable to acquire the dpkg frontend lock" in text:
        raise PackageManagerError(
            "PackageManagerLocked",
            "another process holds the package manager's lock: " + tail(text, 2),
        )
    if "dpkg was interrupted" in text:
        raise PackageManagerError(
            "PackageManagerInterrupted",
            "dpkg was interrupted; run 'dpkg --configure -a' on the machine to finish: "
            + tail(text, 2),
        )
