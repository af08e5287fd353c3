"""Building and caching the root file systems that test hosts are unpacked from.

Three images, each a ``.tar.zst`` in :func:`cache_dir`:

- ``debian``: ``debootstrap --variant=minbase --include=python3,ca-certificates bookworm``
  with apt's caches and package lists removed, no APT sources enabled (a test adds the
  repositories it wants) and a ``policy-rc.d`` that keeps package scripts from starting
  daemons;
- ``dnf``: ``debian`` plus Debian's ``dnf``, ``dnf-plugins-core`` (``needs-restarting``)
  and ``rpm``, with RHEL 9's ``dnf.conf``, dnf's ``local`` plugin disabled, ``releasever``
  12, and the test package ``upkeep-kernel`` on needs-restarting's list of packages that
  need a reboot;
- ``zypper``: ``debian`` plus Debian's ``zypper``, ``rpm`` and ``lsof`` (for ``zypper ps``)
  (zypper and dnf-plugins-core conflict, hence two images).

In both RPM images ``/etc/rpm/macros.dbpath`` puts the RPM database in ``/var/lib/rpm``
(Debian's rpm keeps it in ``~/.rpmdb`` otherwise), ``/usr/bin/rpm`` passes
``--force-debian`` to installs (see :data:`RPM_WRAPPER`), and an RPM named
``upkeep-test-base`` stands for the Debian system under the RPM database (it provides
``/bin/sh`` and ``python3``), so that scriptlet interpreters and ordinary ``Requires`` resolve.

An image's file name carries a hash of its recipe and of :data:`RECIPE_VERSION`, so
changing either builds a new one (and deletes the old one). Builds hold a file lock (two pytest workers asking at
once build once) and write to a temporary name that is renamed into place when complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.hosts import rootfs
from tests.hosts.tools import DEBOOTSTRAP_TOOLS, HOST_TOOLS, ensure_tools, locked, outer_env

#: Bump to rebuild every cached image (the recipes below are hashed too).
RECIPE_VERSION = "1"
#: Where images come from.
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
#: Environment variable that overrides the cache directory.
CACHE_ENV = "UPKEEP_TEST_HOSTS_CACHE"

#: ``/etc/apt/sources.list`` of every image: nothing enabled.
DISABLED_SOURCES = (
    "# Upkeep test host: no APT sources by default. Tests add their own in\n"
    "# /etc/apt/sources.list.d/ (DebianHost.use_debian_mirror() adds Debian's).\n"
)
#: Stops package scripts from starting daemons inside a host.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"
#: Where rpm, dnf and zypper all look for the RPM database.
RPM_MACROS = "%_dbpath /var/lib/rpm\n"
DNF_LOCAL_PLUGIN_OFF = "[main]\nenabled=0\n"
#: dnf cannot read a release version from a Debian system's RPM database.
DNF_RELEASEVER = "12\n"
#: Packages whose update makes ``dnf needs-restarting -r`` ask for a reboot, on top of
#: dnf's own list (kernel, glibc, systemd, ...): the kernel-like test package.
REBOOT_RPMS = ("upkeep-kernel",)
#: RHEL 9's /etc/dnf/dnf.conf (Debian's has best=False and skip_if_unavailable=True, which
#: hide an uninstallable best candidate and an unreachable repository).
DNF_CONF = """\
[main]
gpgcheck=1
installonly_limit=3
clean_requirements_on_remove=True
best=True
skip_if_unavailable=False
"""

#: The spec of the RPM that stands for the Debian system below the RPM database.
BASE_RPM_SPEC = """\
Name: upkeep-test-base
Version: 12
Release: 1
Summary: The Debian system under this RPM database (Upkeep test host)
License: MIT
BuildArch: noarch
Provides: /bin/sh, /usr/bin/sh, /bin/bash, /usr/bin/bash, /usr/bin/python3, /usr/bin/env
Provides: bash, coreutils, python3, glibc
Provides: system-release, system-release(releasever) = 12

%description
Stands for the Debian packages under this RPM database, so that RPM dependencies on
the shell and on Python resolve.

%files
"""


@dataclass(frozen=True)
class Recipe:
    """How to make one image: a parent image, Debian packages to add, files, a script.

    Packages are installed first, then the files written, then ``script`` run with
    ``/bin/sh`` inside the image.
    """

    name: str
    parent: str | None = None
    packages: tuple[str, ...] = ()
    files: tuple[tuple[str, str, int], ...] = ()
    script: str = ""
    base_rpm: bool = False
    debootstrap: tuple[str, ...] = ()

    def key(self) -> str:
        """A short hash of this recipe, its parent's and :data:`RECIPE_VERSION`."""
        description = {
            "version": RECIPE_VERSION,
            "mirror": MIRROR,
            "suite": SUITE,
            "recipe": dataclasses.asdict(self),
            "parent": RECIPES[self.parent].key() if self.parent else None,
            "base_rpm": BASE_RPM_SPEC if self.base_rpm else None,
        }
        encoded = json.dumps(description, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:12]


#: Debian's rpm prints "RPM should not be used directly install RPM packages, use Alien
#: instead!" on every install unless given --force-debian, and zypper installs through the
#: rpm command, so every zypper transcript would carry it. This wrapper passes the flag to
#: installs (the other modes, handed on to rpmdb or rpmkeys, reject it). The real binary
#: keeps the name ``rpm``, which its popt aliases (``--initdb`` and others) are keyed on.
RPM_WRAPPER = """\
#!/bin/sh
# Upkeep test host: Debian's rpm, quiet about installing RPMs on Debian (see images.py).
for arg do
    case $arg in
        --) break ;;
        -i*|-U*|-F*|--install|--upgrade|--freshen|--reinstall)
            exec /usr/lib/upkeep-test/rpm/rpm --force-debian "$@" ;;
    esac
done
exec /usr/lib/upkeep-test/rpm/rpm "$@"
"""

_RPM_SCRIPT = f"""\
set -e
mkdir -p /usr/lib/upkeep-test/rpm
dpkg-divert --local --quiet --rename --divert /usr/lib/upkeep-test/rpm/rpm --add /usr/bin/rpm
cat > /usr/bin/rpm <<'WRAPPER'
{RPM_WRAPPER}WRAPPER
chmod 755 /usr/bin/rpm
rpm --initdb
"""

_RPM_FILES = (("/etc/rpm/macros.dbpath", RPM_MACROS, 0o644),)

RECIPES: dict[str, Recipe] = {
    "debian": Recipe(
        name="debian",
        debootstrap=("--variant=minbase", "--include=python3,ca-certificates"),
        files=(
            ("/etc/apt/sources.list", DISABLED_SOURCES, 0o644),
            ("/usr/sbin/policy-rc.d", POLICY_RC_D, 0o755),
        ),
    ),
    "dnf": Recipe(
        name="dnf",
        parent="debian",
        packages=("dnf", "dnf-plugins-core", "rpm"),
        files=(
            *_RPM_FILES,
            ("/etc/dnf/dnf.conf", DNF_CONF, 0o644),
            ("/etc/dnf/plugins/local.conf", DNF_LOCAL_PLUGIN_OFF, 0o644),
            ("/etc/dnf/vars/releasever", DNF_RELEASEVER, 0o644),
            (
                "/etc/dnf/plugins/needs-restarting.d/upkeep-test.conf",
                "".join(f"{name}\n" for name in REBOOT_RPMS),
                0o644,
            ),
        ),
        script=_RPM_SCRIPT,
        base_rpm=True,
    ),
    "zypper": Recipe(
        name="zypper",
        parent="debian",
        packages=("zypper", "rpm", "lsof"),
        files=_RPM_FILES,
        script=_RPM_SCRIPT,
        base_rpm=True,
    ),
}


def cache_dir() -> Path:
    """``$UPKEEP_TEST_HOSTS_CACHE``, else ``~/.cache/upkeep-test-hosts``; created if missing."""
    configured = os.environ.get(CACHE_ENV)
    path = Path(configured) if configured else Path.home() / ".cache" / "upkeep-test-hosts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def image_path(name: str) -> Path:
    """Where the image ``name`` is (or will be) cached."""
    recipe = RECIPES[name]
    return cache_dir() / f"{recipe.name}-{SUITE}-{recipe.key()}.tar.zst"


def build_image(name: str) -> Path:
    """The cached tarball of image ``name``, built (with its parents) if missing.

    Needs root and the programs of :data:`~tests.hosts.tools.HOST_TOOLS` (and debootstrap
    for the base); raises :class:`~tests.hosts.tools.ToolsUnavailableError` when they cannot
    be had.
    """
    recipe = RECIPES[name]
    target = image_path(name)
    if target.exists():
        return target
    ensure_tools(*HOST_TOOLS)
    parent = build_image(recipe.parent) if recipe.parent else None
    if parent is None:
        ensure_tools(*DEBOOTSTRAP_TOOLS)
    with locked(target.with_name(target.name + ".lock")):
        if target.exists():  # another worker built it while we waited
            return target
        prefix = f"build-{name}-{recipe.key()}-"
        for stale in cache_dir().glob(f"{prefix}*"):  # from a build that was killed
            rootfs.remove_tree(stale)
        work = Path(tempfile.mkdtemp(prefix=prefix, dir=cache_dir()))
        try:
            root = work / "root"
            if parent is None:
                _debootstrap(root, recipe)
            else:
                root.mkdir()
                unpack(parent, root)
            _customise(root, recipe)
            partial = work / target.name
            pack(root, partial)
            os.replace(partial, target)
        finally:
            rootfs.remove_tree(work)
    for older in cache_dir().glob(f"{recipe.name}-{SUITE}-*.tar.zst"):
        if older != target:  # an earlier recipe's image
            older.unlink(missing_ok=True)
            older.with_name(older.name + ".lock").unlink(missing_ok=True)
    return target


def unpack(image: Path, root: Path) -> None:
    """Unpack the tarball ``image`` into the existing, empty directory ``root``."""
    subprocess.run(
        ["tar", "--zstd", "-xf", str(image), "-C", str(root), "--numeric-owner", "-p"],
        check=True,
        capture_output=True,
        env=outer_env(),
    )


def pack(root: Path, tarball: Path) -> None:
    """Write ``root`` to the tarball ``tarball`` (zstd), keeping owners and device nodes."""
    subprocess.run(
        ["tar", "--zstd", "-cf", str(tarball), "-C", str(root), "--numeric-owner", "."],
        check=True,
        capture_output=True,
        env=outer_env(ZSTD_CLEVEL="3", ZSTD_NBTHREADS="0"),
    )


def _debootstrap(root: Path, recipe: Recipe) -> None:
    # In a mount namespace of its own, so the /proc and /sys debootstrap mounts inside
    # the target vanish with it even if it fails half-way.
    options = list(recipe.debootstrap)
    command = [
        "unshare",
        "--mount",
        "--propagation=private",
        "debootstrap",
        *options,
        SUITE,
        str(root),
        MIRROR,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=outer_env())
    if result.returncode != 0:
        log = root / "debootstrap" / "debootstrap.log"
        detail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        raise RuntimeError(
            f"debootstrap failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-4000:]}\n{detail}"
        )


def _customise(root: Path, recipe: Recipe) -> None:
    rootfs.ensure_devices(root)
    resolv = root / "etc" / "resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.write_text(Path("/etc/resolv.conf").read_text())
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if recipe.packages:
        (root / "etc/apt/sources.list").write_text(f"deb {MIRROR} {SUITE} main\n")
        rootfs.run_in_root(root, ["apt-get", "update", "-q"], env=env, timeout=900)
        rootfs.run_in_root(
            root,
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *recipe.packages],
            env=env,
            timeout=900,
        )
    for path, text, mode in recipe.files:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
    if recipe.script:
        rootfs.run_in_root(root, ["/bin/sh", "-c", recipe.script], env=env)
    if recipe.base_rpm:
        _install_base_rpm(root)
    rootfs.run_in_root(root, ["apt-get", "clean"], env=env)
    lists = root / "var/lib/apt/lists"
    for entry in lists.iterdir() if lists.exists() else ():
        if entry.is_dir() and not entry.is_symlink():
            rootfs.remove_tree(entry)
        else:
            entry.unlink()
    for leftover in ("var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin"):
        (root / leftover).unlink(missing_ok=True)
    (root / "etc/apt/sources.list").write_text(DISABLED_SOURCES)
    resolv.unlink()


def _install_base_rpm(root: Path) -> None:
    """Build :data:`BASE_RPM_SPEC` with the image's own rpmbuild and install it."""
    top = "/var/tmp/upkeep-test-base"
    spec = root / top.lstrip("/") / "base.spec"
    spec.parent.mkdir(parents=True)
    spec.write_text(BASE_RPM_SPEC)
    rootfs.run_in_root(
        root,
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", f"{top}/base.spec"],
    )
    rootfs.run_in_root(
        root,
        ["sh", "-c", f"rpm -i --nodeps {top}/RPMS/noarch/upkeep-test-base-*.rpm"],
    )
    rootfs.remove_tree(spec.parent)
