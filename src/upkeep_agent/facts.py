"""What the agent tells the server about its machine."""

from __future__ import annotations

import platform
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


def collect(package_manager: Optional[str]) -> Dict[str, object]:
    """The facts, with the name of the package manager the agent drives (or None)."""
    release = os_release()
    return {
        "osType": "Linux" if platform.system() == "Linux" else platform.system(),
        "osName": release.get("NAME") or platform.system(),
        "osVersion": release.get("VERSION_ID") or platform.release(),
        "osSku": release.get("PRETTY_NAME"),
        "kernel": platform.release(),
        "hostname": socket.gethostname(),
        "packageManager": package_manager,
        "agentVersion": __version__,
        "python": platform.python_version(),
    }
