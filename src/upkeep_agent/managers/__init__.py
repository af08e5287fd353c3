"""Package-manager drivers: one module per package manager."""

from __future__ import annotations

import shutil

from upkeep_agent.managers.base import PackageManager, PackageManagerError


def detect() -> PackageManager:
    """The driver for this machine's package manager."""
    if shutil.which("apt-get") and shutil.which("dpkg-query"):
        from upkeep_agent.managers.apt import Apt

        return Apt()
    if shutil.which("dnf") or shutil.which("yum"):
        from upkeep_agent.managers.dnf import Dnf

        return Dnf("dnf" if shutil.which("dnf") else "yum")
    if shutil.which("zypper"):
        from upkeep_agent.managers.zypper import Zypper

        return Zypper()
    raise PackageManagerError(
        "UnsupportedPackageManager", "no supported package manager (apt, dnf, yum, zypper) found"
    )
