"""Package-manager drivers, one module per package manager, and which one a machine uses.

A machine can carry more than one (a Debian box with dnf installed to build RPMs); the one
that owns the operating system is the one to patch. That is, in order: the one named at
``connect --package-manager``; the one of the distribution family ``/etc/os-release``
names; the first of apt, dnf, yum, zypper that is installed.
"""

from __future__ import annotations

import shutil
from typing import Dict, Optional

from upkeep_agent.facts import os_release
from upkeep_agent.managers.base import PackageManager, PackageManagerError

NAMES = ("apt", "dnf", "yum", "zypper")
_COMMANDS = {"apt": "apt-get", "dnf": "dnf", "yum": "yum", "zypper": "zypper"}
#: os-release ID / ID_LIKE words -> the package manager of that family.
_FAMILIES = {
    "debian": "apt",
    "ubuntu": "apt",
    "rhel": "dnf",
    "fedora": "dnf",
    "centos": "dnf",
    "rocky": "dnf",
    "almalinux": "dnf",
    "ol": "dnf",
    "amzn": "dnf",
    "suse": "zypper",
    "sles": "zypper",
    "opensuse": "zypper",
}


def installed(name: str) -> bool:
    return shutil.which(_COMMANDS[name]) is not None


def choose(preferred: Optional[str] = None, release: Optional[Dict[str, str]] = None) -> str:
    """The name of the package manager to drive (see the module's docstring)."""
    if preferred:
        if preferred not in NAMES or not installed(preferred):
            raise PackageManagerError(
                "UnsupportedPackageManager",
                "the configured package manager '{}' is not installed".format(preferred),
            )
        return preferred
    words = " ".join((release or {}).get(key, "") for key in ("ID", "ID_LIKE")).split()
    for word in words:
        family = _FAMILIES.get(word)
        if family == "dnf" and not installed("dnf") and installed("yum"):
            family = "yum"
        if family and installed(family):
            return family
    for name in NAMES:
        if installed(name):
            return name
    raise PackageManagerError(
        "UnsupportedPackageManager", "no supported package manager (apt, dnf, yum, zypper) found"
    )


def detect(preferred: Optional[str] = None) -> PackageManager:
    """The driver for this machine's package manager."""
    return driver(choose(preferred, os_release()))


def detected_name(preferred: Optional[str] = None) -> Optional[str]:
    """The name of this machine's package manager, or None if it has none we drive."""
    try:
        return choose(preferred, os_release())
    except PackageManagerError:
        return None


def driver(name: str) -> PackageManager:
    """The driver for package manager ``name`` (one of :data:`NAMES`)."""
    if name == "apt":
        from upkeep_agent.managers.apt import Apt

        return Apt()
    if name in ("dnf", "yum"):
        from upkeep_agent.managers.dnf import Dnf

        return Dnf(name)
    from upkeep_agent.managers.zypper import Zypper

    return Zypper()
