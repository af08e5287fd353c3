"""What dnf, yum and zypper share: the RPM database, read with ``rpm -q``.

Versions are ``version-release``, with ``epoch:`` in front when the epoch is not 0, the
way both package managers print them. RPM has nothing like ``dpkg --configure -a``: what
an interrupted transaction did is judged by reading the database, as after any install.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Optional

from upkeep_agent.managers.base import Output, PackageManager

Runner = Callable[..., Output]

_QUERY = "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n"


class RpmPackageManager(PackageManager):
    _run: Runner

    def installed_versions(self, names: Iterable[str]) -> Dict[str, str]:
        """name -> installed version, for those of ``names`` that are installed."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        output = self._run(["rpm", "-q", "--qf", _QUERY, *wanted], timeout=120)
        found = {}
        for line in output.text.splitlines():
            name, tab, evr = line.partition("\t")
            if tab and name in wanted:
                epoch, _, version = evr.partition(":")
                found[name] = version if epoch == "0" else evr
        return found

    def installed_version(self, name: str) -> Optional[str]:
        return self.installed_versions([name]).get(name)

    def repair(self) -> None:
        """Nothing to finish: the database says what an interrupted transaction did."""
