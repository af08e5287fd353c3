"""A local APT repository with Debian's three bookworm pockets, served on 127.0.0.1.

Packages are built with ``dpkg-deb --build``, indexed with ``apt-ftparchive packages`` and
``apt-ftparchive release``. The Release files carry Debian's own Origin, Label, Suite and
Codename, so ``apt-get -s`` shows the pocket as it does against Debian, e.g.
``(1.0+deb12u1 Debian-Security:12/stable-security [all])``::

    repo = AptRepo(tmp_path / "apt-repo")
    repo.add(DebPackage("upkeep-plain", "1.0"), "bookworm")
    repo.publish()
    host.set_sources(repo.source_lines())

:func:`typical_deb_updates` is the update set most tests want.
"""

from __future__ import annotations

import gzip
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from tests.hosts.host import DebianHost
from tests.hosts.static_server import StaticServer
from tests.hosts.tools import APT_REPO_TOOLS, ensure_tools, outer_env


@dataclass(frozen=True)
class Suite:
    """A pocket: its directory under ``dists/`` (= Codename) and its Release fields."""

    codename: str
    suite: str
    origin: str
    label: str
    version: str


#: Debian's bookworm pockets, with the Release fields Debian's own archive uses.
SUITES: dict[str, Suite] = {
    "bookworm": Suite("bookworm", "stable", "Debian", "Debian", "12"),
    "bookworm-updates": Suite(
        "bookworm-updates", "stable-updates", "Debian", "Debian", "12-updates"
    ),
    "bookworm-security": Suite(
        "bookworm-security", "stable-security", "Debian", "Debian-Security", "12"
    ),
}


@dataclass(frozen=True)
class DebPackage:
    """A tiny package: one file, ``/usr/share/upkeep-test/NAME``, holding name and version.

    ``depends`` are Depends entries (``"upkeep-lib (>= 2.0)"``); ``postinst`` is a
    maintainer script body (``#!/bin/sh`` and ``set -e`` are added unless it starts
    with ``#!``).
    """

    name: str
    version: str
    depends: tuple[str, ...] = ()
    postinst: str | None = None
    architecture: str = "all"
    description: str = "Upkeep test package"

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.architecture}.deb"

    @property
    def spec(self) -> str:
        """``NAME=VERSION``, as ``apt-get install`` takes it."""
        return f"{self.name}={self.version}"

    def control(self) -> str:
        """The ``DEBIAN/control`` file."""
        fields = {
            "Package": self.name,
            "Version": self.version,
            "Architecture": self.architecture,
            "Maintainer": "Upkeep tests <tests@upkeep.invalid>",
            "Section": "misc",
            "Priority": "optional",
        }
        if self.depends:
            fields["Depends"] = ", ".join(self.depends)
        fields["Description"] = (
            f"{self.description}\n {self.name} {self.version}, made by Upkeep's tests."
        )
        return "".join(f"{key}: {value}\n" for key, value in fields.items())

    def build(self, directory: Path) -> Path:
        """Build the ``.deb`` into ``directory`` and return its path."""
        with tempfile.TemporaryDirectory(prefix="upkeep-deb-") as scratch:
            tree = Path(scratch) / self.name
            (tree / "DEBIAN").mkdir(parents=True)
            (tree / "DEBIAN" / "control").write_text(self.control())
            if self.postinst is not None:
                script = self.postinst
                if not script.startswith("#!"):
                    script = f"#!/bin/sh\nset -e\n{script}"
                postinst = tree / "DEBIAN" / "postinst"
                postinst.write_text(script if script.endswith("\n") else script + "\n")
                postinst.chmod(0o755)
            payload = tree / "usr" / "share" / "upkeep-test" / self.name
            payload.parent.mkdir(parents=True)
            payload.write_text(f"{self.name} {self.version}\n")
            target = directory / self.filename
            _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(target)])
        return target


class AptRepo:
    """An APT repository in ``directory``, served at :attr:`url` until :meth:`close`.

    Nothing is visible to hosts until :meth:`publish`; publish again after adding more.
    """

    def __init__(self, directory: Path, suites: Iterable[str] = tuple(SUITES)) -> None:
        ensure_tools(*APT_REPO_TOOLS)
        self.directory = directory
        self.root = directory / "www"
        self.suites = {name: SUITES.get(name) or _suite_like(name) for name in suites}
        self.packages: dict[str, list[DebPackage]] = {name: [] for name in self.suites}
        for name in self.suites:
            (self.root / "pool" / name).mkdir(parents=True)
        self.architecture = subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.server = StaticServer(self.root)

    @property
    def url(self) -> str:
        return self.server.url

    def add(self, package: DebPackage, suite: str = "bookworm") -> DebPackage:
        """Build ``package`` into ``suite``'s pool (published by the next :meth:`publish`)."""
        if suite not in self.suites:
            raise ValueError(f"unknown suite {suite!r}; this repository has {list(self.suites)}")
        package.build(self.root / "pool" / suite)
        self.packages[suite].append(package)
        return package

    def publish(self) -> None:
        """Regenerate every suite's ``Packages`` and ``Release``."""
        for name, suite in self.suites.items():
            dist = self.root / "dists" / name
            binary = dist / "main" / f"binary-{self.architecture}"
            binary.mkdir(parents=True, exist_ok=True)
            packages = _run(["apt-ftparchive", "packages", f"pool/{name}"], cwd=self.root)
            (binary / "Packages").write_text(packages)
            with gzip.open(binary / "Packages.gz", "wt") as compressed:
                compressed.write(packages)
            (dist / "Release").unlink(missing_ok=True)
            fields = {
                "Origin": suite.origin,
                "Label": suite.label,
                "Suite": suite.suite,
                "Version": suite.version,
                "Codename": suite.codename,
                "Architectures": self.architecture,
                "Components": "main",
                "Description": f"Upkeep test repository ({suite.codename})",
            }
            options = [
                f"-oAPT::FTPArchive::Release::{key}={value}" for key, value in fields.items()
            ]
            release = _run(["apt-ftparchive", *options, "release", str(dist)], cwd=self.root)
            (dist / "Release").write_text(release)

    def source_lines(self) -> str:
        """``deb [trusted=yes] URL SUITE main`` for each suite, for sources.list.d."""
        return "".join(f"deb [trusted=yes] {self.url} {name} main\n" for name in self.suites)

    def close(self) -> None:
        self.server.close()


def _suite_like(name: str) -> Suite:
    """Release fields for a suite Debian does not have, in Debian's style."""
    security = name.endswith("-security")
    return Suite(name, name, "Debian", "Debian-Security" if security else "Debian", "12")


def _run(argv: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=outer_env())
    if result.returncode != 0:
        raise RuntimeError(
            f"{argv[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


# --- the update set most tests use ---------------------------------------------------


@dataclass(frozen=True)
class DebUpdate:
    """A package's old version (in ``bookworm``) and its update (in ``suite``)."""

    old: DebPackage
    new: DebPackage
    suite: str

    @property
    def name(self) -> str:
        return self.old.name


#: The kernel-like update's postinst, as Debian's kernel packages do it.
REBOOT_POSTINST = """\
if [ "$1" = configure ]; then
    echo '*** System restart required ***' > /var/run/reboot-required
    echo "$DPKG_MAINTSCRIPT_PACKAGE" >> /var/run/reboot-required.pkgs
fi
"""

#: The failing update's postinst.
FAILING_POSTINST = 'echo "upkeep-broken: postinst fails on purpose" >&2\nexit 1\n'


@dataclass(frozen=True)
class DebUpdateSet:
    """The usual updates, each an old version to install and a newer one to publish:

    ============== =================== ============================ ==================
    attribute      package             update                       pocket
    ============== =================== ============================ ==================
    plain          upkeep-plain        1.0 -> 1.1                   bookworm-updates
    security       upkeep-openssl      1.0 -> 1.0+deb12u1           bookworm-security
    needs_newer    upkeep-app          1.0 -> 2.0, needs lib >= 2.0 bookworm-updates
    dependency     upkeep-lib          1.0 -> 2.0                   bookworm-updates
    reboot         upkeep-kernel       1.0 -> 1.1, postinst writes  bookworm-security
                                       /var/run/reboot-required
    failing        upkeep-broken       1.0 -> 1.1, postinst exit 1  bookworm-updates
    ============== =================== ============================ ==================

    Only the new versions' postinsts do anything.
    """

    plain: DebUpdate
    security: DebUpdate
    needs_newer: DebUpdate
    dependency: DebUpdate
    reboot: DebUpdate
    failing: DebUpdate

    def all(self) -> tuple[DebUpdate, ...]:
        """Every update, in the order of the table above."""
        return tuple(getattr(self, field.name) for field in fields(self))

    def add_old(self, repo: AptRepo) -> None:
        """Add every old version to ``bookworm`` (call ``repo.publish()`` after)."""
        for update in self.all():
            repo.add(update.old, "bookworm")

    def add_new(self, repo: AptRepo) -> None:
        """Add every update to its pocket (call ``repo.publish()`` after)."""
        for update in self.all():
            repo.add(update.new, update.suite)

    def old_specs(self, *, include_failing: bool = True) -> list[str]:
        """``NAME=OLDVERSION`` of each, for ``apt-get install``."""
        return [u.old.spec for u in self.all() if include_failing or u is not self.failing]


def typical_deb_updates() -> DebUpdateSet:
    """The update set of :class:`DebUpdateSet`."""

    def pair(name: str, old: str, new: str, suite: str, postinst: str | None = None) -> DebUpdate:
        return DebUpdate(DebPackage(name, old), DebPackage(name, new, postinst=postinst), suite)

    updates, security = "bookworm-updates", "bookworm-security"
    return DebUpdateSet(
        plain=pair("upkeep-plain", "1.0", "1.1", updates),
        security=pair("upkeep-openssl", "1.0", "1.0+deb12u1", security),
        needs_newer=DebUpdate(
            DebPackage("upkeep-app", "1.0", depends=("upkeep-lib (>= 1.0)",)),
            DebPackage("upkeep-app", "2.0", depends=("upkeep-lib (>= 2.0)",)),
            updates,
        ),
        dependency=pair("upkeep-lib", "1.0", "2.0", updates),
        reboot=pair("upkeep-kernel", "1.0", "1.1", security, postinst=REBOOT_POSTINST),
        failing=pair("upkeep-broken", "1.0", "1.1", updates, postinst=FAILING_POSTINST),
    )


def debian_with_old_versions(host: DebianHost, repo: AptRepo) -> DebUpdateSet:
    """Install the old versions of the typical updates, then publish the updates."""
    updates = typical_deb_updates()
    updates.add_old(repo)
    repo.publish()
    host.set_sources(repo.source_lines())
    host.run("apt-get", "update", "-q")
    host.run("apt-get", "install", "-y", "-q", *updates.old_specs())
    updates.add_new(repo)
    repo.publish()
    host.run("apt-get", "update", "-q")
    return updates
