"""A local rpm-md repository (for dnf and zypper hosts) served on 127.0.0.1.

Packages are noarch RPMs built with ``rpmbuild -bb`` from generated specs, indexed with
``createrepo_c``; advisories go into ``updateinfo.xml``, added with ``modifyrepo_c
--mdtype=updateinfo``, which is where dnf's ``updateinfo`` and zypper's patches come from::

    repo = RpmRepo(tmp_path / "rpm-repo")
    repo.add(RpmPackage("upkeep-openssl", "1.0"))
    fixed = repo.add(RpmPackage("upkeep-openssl", "1.1"))
    repo.advisory("UPKEEP-2026:0001", packages=[fixed], cves=["CVE-2026-0001"])
    repo.publish()
    host.add_repo("upkeep-test", repo.repo_file("upkeep-test"))
"""

from __future__ import annotations

import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from tests.hosts.host import DnfHost, ZypperHost
from tests.hosts.static_server import StaticServer
from tests.hosts.tools import RPM_REPO_TOOLS, ensure_tools, outer_env

AdvisoryKind = Literal["security", "bugfix", "enhancement"]


@dataclass(frozen=True)
class RpmPackage:
    """A tiny noarch RPM: one file, ``/usr/share/upkeep-test/NAME``, holding its NEVRA.

    ``requires`` are RPM dependency strings (``"upkeep-lib >= 2.0"``); ``pre`` and ``post``
    are shell bodies of the ``%pre`` and ``%post`` scriptlets. A failing ``%post`` only
    warns (rpm installs the package anyway); a failing ``%pre`` makes the install fail.
    """

    name: str
    version: str
    release: str = "1"
    requires: tuple[str, ...] = ()
    post: str | None = None
    pre: str | None = None
    summary: str = "Upkeep test package"

    @property
    def evr(self) -> str:
        """``VERSION-RELEASE``, as ``rpm -q --qf '%{VERSION}-%{RELEASE}'`` prints it."""
        return f"{self.version}-{self.release}"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.evr}.noarch.rpm"

    def spec(self) -> str:
        """The spec file ``rpmbuild -bb`` builds this package from."""
        lines = [
            f"Name: {self.name}",
            f"Version: {self.version}",
            f"Release: {self.release}",
            f"Summary: {self.summary}",
            "License: MIT",
            "BuildArch: noarch",
            *(f"Requires: {requirement}" for requirement in self.requires),
            "",
            "%description",
            f"{self.summary} ({self.name} {self.evr}), made by Upkeep's tests.",
            "",
            "%install",
            "mkdir -p %{buildroot}/usr/share/upkeep-test",
            f"echo '{self.name} {self.evr}' > %{{buildroot}}/usr/share/upkeep-test/{self.name}",
            "",
            "%files",
            f"/usr/share/upkeep-test/{self.name}",
        ]
        for section, body in (("%pre", self.pre), ("%post", self.post)):
            if body is not None:
                lines += ["", section, body.rstrip("\n")]
        return "\n".join(lines) + "\n"

    def build(self, directory: Path) -> Path:
        """Build the package into ``directory`` and return its path."""
        with tempfile.TemporaryDirectory(prefix="upkeep-rpm-") as scratch:
            top = Path(scratch)
            spec = top / f"{self.name}.spec"
            spec.write_text(self.spec())
            result = subprocess.run(
                [
                    "rpmbuild",
                    "-bb",
                    "--quiet",
                    "--nodeps",
                    "--define",
                    f"_topdir {top}",
                    "--define",
                    f"_rpmdir {directory}",
                    "--define",
                    "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
                    "--define",
                    "_build_id_links none",
                    "--define",
                    "debug_package %{nil}",
                    str(spec),
                ],
                capture_output=True,
                text=True,
                env=outer_env(),
            )
        built = directory / self.filename
        if result.returncode != 0 or not built.exists():
            raise RuntimeError(
                f"rpmbuild failed for {self.filename}:\n{result.stdout}\n{result.stderr}"
            )
        return built


@dataclass(frozen=True)
class Advisory:
    """An entry of ``updateinfo.xml``: a dnf advisory, a zypper patch."""

    id: str
    kind: AdvisoryKind
    severity: str
    packages: tuple[RpmPackage, ...]
    cves: tuple[str, ...]
    reboot_suggested: bool
    title: str
    issued: datetime

    def element(self) -> ET.Element:
        """This advisory as an ``<update>`` element, in the Red Hat / SUSE schema."""
        update = ET.Element(
            "update",
            {"from": "security@upkeep.test", "status": "stable", "type": self.kind, "version": "1"},
        )
        ET.SubElement(update, "id").text = self.id
        ET.SubElement(update, "title").text = self.title
        ET.SubElement(update, "severity").text = self.severity
        ET.SubElement(update, "release").text = "Upkeep test"
        stamp = self.issued.strftime("%Y-%m-%d %H:%M:%S")
        ET.SubElement(update, "issued", {"date": stamp})
        ET.SubElement(update, "updated", {"date": stamp})
        references = ET.SubElement(update, "references")
        for cve in self.cves:
            ET.SubElement(
                references,
                "reference",
                {
                    "href": f"https://www.cve.org/CVERecord?id={cve}",
                    "id": cve,
                    "type": "cve",
                    "title": cve,
                },
            )
        ET.SubElement(update, "description").text = self.title
        if self.reboot_suggested:
            ET.SubElement(update, "reboot_suggested").text = "True"
        collection = ET.SubElement(
            ET.SubElement(update, "pkglist"), "collection", {"short": "upkeep-test"}
        )
        ET.SubElement(collection, "name").text = "Upkeep test"
        for package in self.packages:
            entry = ET.SubElement(
                collection,
                "package",
                {
                    "name": package.name,
                    "epoch": "0",
                    "version": package.version,
                    "release": package.release,
                    "arch": "noarch",
                    "src": f"{package.name}-{package.evr}.src.rpm",
                },
            )
            ET.SubElement(entry, "filename").text = package.filename
            if self.reboot_suggested:
                ET.SubElement(entry, "reboot_suggested").text = "True"
        return update


class RpmRepo:
    """An rpm-md repository in ``directory``, served at :attr:`url` until :meth:`close`.

    Nothing is visible to hosts until :meth:`publish`; publish again after adding more.
    """

    def __init__(self, directory: Path) -> None:
        ensure_tools(*RPM_REPO_TOOLS)
        self.directory = directory
        self.root = directory / "www"
        self.packages_dir = self.root / "packages"
        self.packages_dir.mkdir(parents=True)
        self.packages: list[RpmPackage] = []
        self.advisories: list[Advisory] = []
        self.server = StaticServer(self.root)

    @property
    def url(self) -> str:
        return self.server.url

    def add(self, package: RpmPackage) -> RpmPackage:
        """Build ``package`` into the repository (published by the next :meth:`publish`)."""
        package.build(self.packages_dir)
        self.packages.append(package)
        return package

    def add_all(self, packages: Iterable[RpmPackage]) -> None:
        for package in packages:
            self.add(package)

    def advisory(
        self,
        id: str,
        kind: AdvisoryKind = "security",
        severity: str = "Important",
        packages: Sequence[RpmPackage] = (),
        cves: Sequence[str] = (),
        reboot_suggested: bool = False,
        title: str | None = None,
        issued: datetime | None = None,
    ) -> Advisory:
        """Record an advisory for ``packages`` (their fixed versions), published next time.

        ``kind`` is the ``type`` attribute (zypper shows ``bugfix`` as category
        ``recommended`` and ``enhancement`` as ``optional``).
        """
        entry = Advisory(
            id=id,
            kind=kind,
            severity=severity,
            packages=tuple(packages),
            cves=tuple(cves),
            reboot_suggested=reboot_suggested,
            title=title or f"{severity} {kind} update ({id})",
            issued=issued or datetime.now(UTC).replace(microsecond=0),
        )
        self.advisories.append(entry)
        return entry

    def publish(self) -> None:
        """Regenerate ``repodata`` (``createrepo_c``) and add ``updateinfo.xml`` if any."""
        _run(["createrepo_c", "--quiet", "--no-database", str(self.root)])
        if self.advisories:
            updates = ET.Element("updates")
            updates.extend(advisory.element() for advisory in self.advisories)
            ET.indent(updates)
            xml = self.directory / "updateinfo.xml"
            ET.ElementTree(updates).write(xml, encoding="UTF-8", xml_declaration=True)
            _run(
                [
                    "modifyrepo_c",
                    "--mdtype=updateinfo",
                    str(xml),
                    str(self.root / "repodata"),
                ]
            )

    def repo_file(self, name: str) -> str:
        """A ``.repo`` file body for ``/etc/yum.repos.d/`` or ``/etc/zypp/repos.d/``.

        As on real machines, dnf and zypper keep the metadata they have for a while (dnf
        48 hours, zypper's autorefresh 10 minutes): after :meth:`publish`, look again
        with ``dnf --refresh ...`` / ``dnf makecache`` or ``zypper refresh``.
        """
        return (
            f"[{name}]\n"
            f"name=Upkeep test repository {name}\n"
            f"baseurl={self.url}/\n"
            "enabled=1\n"
            "gpgcheck=0\n"
            "repo_gpgcheck=0\n"
            "autorefresh=1\n"
            "type=rpm-md\n"
        )

    def close(self) -> None:
        self.server.close()


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, env=outer_env())
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed:\n{result.stdout}\n{result.stderr}")


# --- the update set most tests use ---------------------------------------------------


@dataclass(frozen=True)
class RpmUpdate:
    """A package's old version and its update, and the advisory (if any) naming it."""

    old: RpmPackage
    new: RpmPackage
    advisory: str | None = None

    @property
    def name(self) -> str:
        return self.old.name


#: The kernel-like update's %post.
REBOOT_POST = "echo '*** System restart required ***' > /var/run/reboot-required\n"
#: The failing update's %pre (a failing %post would only warn).
FAILING_PRE = 'echo "upkeep-broken: %pre fails on purpose" >&2\nexit 1\n'


@dataclass(frozen=True)
class RpmUpdateSet:
    """The usual updates, each an old version to install and a newer one to publish:

    =========== ============== ======================== ================================
    attribute   package        update                   advisory
    =========== ============== ======================== ================================
    plain       upkeep-plain   1.0-1 -> 1.1-1           UPKEEP-2026:0001 bugfix, None
    security    upkeep-openssl 1.0-1 -> 1.0-2           UPKEEP-2026:0002 security,
                                                        Important, CVE-2026-0002
    needs_newer upkeep-app     1.0-1 -> 2.0-1, Requires UPKEEP-2026:0003 enhancement
                               upkeep-lib >= 2.0        (with upkeep-lib)
    dependency  upkeep-lib     1.0-1 -> 2.0-1           UPKEEP-2026:0003
    reboot      upkeep-kernel  1.0-1 -> 1.1-1, %post    UPKEEP-2026:0004 security,
                               writes                   Critical, CVE-2026-0004,
                               /var/run/reboot-required reboot_suggested
    failing     upkeep-broken  1.0-1 -> 1.1-1, %pre     none
                               exits 1 (install fails)
    =========== ============== ======================== ================================

    ``upkeep-kernel`` is in the dnf image's ``needs-restarting.d`` list, so after its
    update ``dnf needs-restarting -r`` asks for a reboot, as for a kernel.
    """

    plain: RpmUpdate
    security: RpmUpdate
    needs_newer: RpmUpdate
    dependency: RpmUpdate
    reboot: RpmUpdate
    failing: RpmUpdate

    def all(self) -> tuple[RpmUpdate, ...]:
        """Every update, in the order of the table above."""
        return tuple(getattr(self, field.name) for field in fields(self))

    def add_old(self, repo: RpmRepo) -> None:
        """Add every old version (call ``repo.publish()`` after)."""
        for update in self.all():
            repo.add(update.old)

    def add_new(self, repo: RpmRepo) -> None:
        """Add every update and the advisories (call ``repo.publish()`` after)."""
        for update in self.all():
            repo.add(update.new)
        repo.advisory("UPKEEP-2026:0001", kind="bugfix", severity="None", packages=[self.plain.new])
        repo.advisory("UPKEEP-2026:0002", packages=[self.security.new], cves=["CVE-2026-0002"])
        repo.advisory(
            "UPKEEP-2026:0003",
            kind="enhancement",
            severity="None",
            packages=[self.needs_newer.new, self.dependency.new],
        )
        repo.advisory(
            "UPKEEP-2026:0004",
            severity="Critical",
            packages=[self.reboot.new],
            cves=["CVE-2026-0004"],
            reboot_suggested=True,
        )

    def old_specs(self, *, include_failing: bool = True) -> list[str]:
        """``NAME-VERSION-RELEASE`` of each old version, for ``dnf install``/``zypper in``."""
        return [
            f"{u.old.name}-{u.old.evr}"
            for u in self.all()
            if include_failing or u is not self.failing
        ]


def typical_rpm_updates() -> RpmUpdateSet:
    """The update set of :class:`RpmUpdateSet`."""
    return RpmUpdateSet(
        plain=RpmUpdate(
            RpmPackage("upkeep-plain", "1.0"), RpmPackage("upkeep-plain", "1.1"), "UPKEEP-2026:0001"
        ),
        security=RpmUpdate(
            RpmPackage("upkeep-openssl", "1.0"),
            RpmPackage("upkeep-openssl", "1.0", release="2"),
            "UPKEEP-2026:0002",
        ),
        needs_newer=RpmUpdate(
            RpmPackage("upkeep-app", "1.0", requires=("upkeep-lib >= 1.0",)),
            RpmPackage("upkeep-app", "2.0", requires=("upkeep-lib >= 2.0",)),
            "UPKEEP-2026:0003",
        ),
        dependency=RpmUpdate(
            RpmPackage("upkeep-lib", "1.0"), RpmPackage("upkeep-lib", "2.0"), "UPKEEP-2026:0003"
        ),
        reboot=RpmUpdate(
            RpmPackage("upkeep-kernel", "1.0"),
            RpmPackage("upkeep-kernel", "1.1", post=REBOOT_POST),
            "UPKEEP-2026:0004",
        ),
        failing=RpmUpdate(
            RpmPackage("upkeep-broken", "1.0"), RpmPackage("upkeep-broken", "1.1", pre=FAILING_PRE)
        ),
    )


def rpm_with_old_versions(
    host: DnfHost | ZypperHost, repo: RpmRepo, install: tuple[str, ...]
) -> RpmUpdateSet:
    """Install the old versions of the typical RPM updates, then publish the updates."""
    updates = typical_rpm_updates()
    updates.add_old(repo)
    repo.publish()
    host.add_repo("upkeep-test", repo.repo_file("upkeep-test"))
    host.run(*install, *(u.name for u in updates.all()))
    updates.add_new(repo)
    repo.publish()
    return updates
