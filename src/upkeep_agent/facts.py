"""What the agent tells the server about its machine."""

from __future__ import annotations

import platform
import shutil
import socket
from typing import Dict, Optional

from upkeep_agent import __version__


def os_release(path: str = "/etc/os-release") -> Dict[str, str]:
    values = {}  # type: Dict[str, str]
    try:
        with open(path) as handle:
            for line in handle:
                key, _, value = line.strip().partition("=")
                if key and value:
                    values[key] = value.strip().strip('"')
    except OSError:
        return {}
    return values


def package_manager_name() -> Optional[str]:
    """The machine's package manager: apt, dnf, yum or zypper (in that order of preference)."""
    for name, command in (("apt", "apt-get"), ("dnf", "dnf"), ("yum", "yum"), ("zypper", "zypper")):
        if shutil.which(command):
            return name
    return None


def collect() -> Dict[str, object]:
    release = os_release()
    return {
        "osType": "Linux" if platform.system() == "Linux" else platform.system(),
        "osName": release.get("NAME") or platform.system(),
        "osVersion": release.get("VERSION_ID") or platform.release(),
        "osSku": release.get("PRETTY_NAME"),
        "kernel": platform.release(),
        "hostname": socket.gethostname(),
        "packageManager": package_manager_name(),
        "agentVersion": __version__,
        "python": platform.python_version(),
    }
