"""What every package-manager driver offers, and how drivers run commands.

A driver assesses (lists the updates the machine's own repositories offer, classified), says
which other packages an update would bring, installs one update, tells the installed
version of a package and whether a reboot is pending. Commands run with a timeout and a
plain environment (no colours, no questions, messages in English); a package manager that
cannot be used (its lock is held, dpkg was interrupted) raises :class:`PackageManagerError`
with a code the result reports.
"""

from __future__ import annotations

import abc
import os
import subprocess
from typing import Dict, List, NamedTuple, Optional, Sequence

from upkeep_agent.selection import Patch

ENVIRONMENT = {
    "LANG": "C",
    "LC_ALL": "C",
    "DEBIAN_FRONTEND": "noninteractive",
    "APT_LISTCHANGES_FRONTEND": "none",
    "ZYPP_LOCK_TIMEOUT": "60",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}


class PackageManagerError(Exception):
    """The package manager could not do what was asked; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Output(NamedTuple):
    code: int
    text: str  # stdout and stderr, interleaved


def run(argv: Sequence[str], timeout: float = 1800, env: Optional[Dict[str, str]] = None) -> Output:
    """Run a command; never hangs past ``timeout`` (the process is killed)."""
    environment = dict(ENVIRONMENT)
    environment.update(env or {})
    try:
        finished = subprocess.run(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PackageManagerError(
            "PackageManagerTimedOut",
            "'{}' did not finish within {:.0f} s".format(" ".join(argv), timeout),
        ) from None
    except FileNotFoundError:
        raise PackageManagerError(
            "PackageManagerMissing", "'{}' is not installed".format(argv[0])
        ) from None
    return Output(finished.returncode, finished.stdout.decode("utf-8", "replace"))


def tail(text: str, lines: int = 6) -> str:
    """The last lines of a command's output: what an error message shows."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


class Outcome(NamedTuple):
    """How installing one update went."""

    state: str  # Installed | Failed
    message: str = ""


class PackageManager(abc.ABC):
    """The interface every driver implements."""

    #: Resource Graph's ``patchServiceUsed``: APT, YUM or Zypper.
    service = "Unknown"

    @abc.abstractmethod
    def refresh(self) -> None:
        """Fetch fresh repository metadata."""
        ...

    @abc.abstractmethod
    def available(self) -> List[Patch]:
        """Every update the repositories offer for installed packages, classified."""
        ...

    @abc.abstractmethod
    def dependencies(self, patch: Patch) -> List[str]:
        """Names of the packages installing ``patch`` would install or upgrade (its own too)."""
        ...

    @abc.abstractmethod
    def install(self, patch: Patch, timeout: float) -> Outcome:
        """Install one update (and what it needs); never raises for the update's own failure."""
        ...

    @abc.abstractmethod
    def installed_version(self, name: str) -> Optional[str]:
        """The version of ``name`` that is installed and configured, or None."""
        ...

    def reboot_pending(self) -> bool:
        """Whether the machine needs a reboot to finish what was installed."""
        return os.path.exists("/var/run/reboot-required")

    @abc.abstractmethod
    def repair(self) -> None:
        """Finish what an interrupted run of the package manager left half done."""
        ...
