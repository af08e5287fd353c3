"""The programs the test-host infrastructure needs on the machine that runs the tests.

:func:`ensure_tools` checks that each named program exists. When one is missing and we
are root on a machine with ``apt-get``, it installs the Debian package that provides it;
otherwise it raises :class:`ToolsUnavailableError`, whose message the fixtures hand to
``pytest.skip`` (and ``UPKEEP_TEST_STRICT=1`` turns that skip into a failure in CI).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Each program the hosts and repositories run on the outer machine, and the Debian
#: package that provides it.
PACKAGE_OF: dict[str, str] = {
    "debootstrap": "debootstrap",
    "rpmbuild": "rpm",
    "createrepo_c": "createrepo-c",
    "modifyrepo_c": "createrepo-c",
    "apt-ftparchive": "apt-utils",
    "dpkg-deb": "dpkg",
    "tar": "tar",
    "zstd": "zstd",
    "chroot": "coreutils",
    "mount": "mount",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "setpriv": "util-linux",
}

#: The programs every host needs (making one, running commands in it, booting it).
HOST_TOOLS = ("tar", "zstd", "chroot", "mount", "unshare", "nsenter", "setpriv")
#: What building the Debian base image needs, on top of :data:`HOST_TOOLS`.
DEBOOTSTRAP_TOOLS = ("debootstrap",)
#: What :mod:`tests.hosts.apt_repo` needs.
APT_REPO_TOOLS = ("dpkg-deb", "apt-ftparchive")
#: What :mod:`tests.hosts.rpm_repo` needs.
RPM_REPO_TOOLS = ("rpmbuild", "createrepo_c", "modifyrepo_c")

#: A PATH with the sbin directories, which a non-login root shell may lack.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_INSTALL_LOCK = Path("/tmp/upkeep-test-hosts-apt.lock")


class ToolsUnavailableError(Exception):
    """A program the test hosts need is missing and could not be installed."""


def outer_env(**extra: str) -> dict[str, str]:
    """The environment for programs run on the outer machine: the caller's, with sbin on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{env.get('PATH', '')}:{SYSTEM_PATH}".strip(":")
    env.update(extra)
    return env


def which(program: str) -> str | None:
    """The path of ``program`` on the outer machine, looking in the sbin directories too."""
    return shutil.which(program, path=outer_env()["PATH"])


def require_root() -> None:
    """Raise :class:`ToolsUnavailableError` unless we are root (chroot, unshare, mount need it)."""
    if os.geteuid() != 0:
        raise ToolsUnavailableError(
            "test hosts need root (chroot, unshare and mount); run the suite as root"
        )


def ensure_tools(*programs: str) -> None:
    """Make sure every one of ``programs`` exists, installing missing ones with apt-get.

    Installation happens only as root with ``apt-get`` present; it runs
    ``apt-get install -y`` and, if that fails, ``apt-get update`` and once more. Raises
    :class:`ToolsUnavailableError` naming the programs and Debian packages still missing.
    """
    missing = [program for program in programs if which(program) is None]
    if not missing:
        return
    packages = sorted({PACKAGE_OF.get(program, program) for program in missing})
    if os.geteuid() == 0 and which("apt-get"):
        with locked(_INSTALL_LOCK):
            missing = [program for program in programs if which(program) is None]
            if missing:
                _apt_install(packages)
    still = [program for program in programs if which(program) is None]
    if still:
        raise ToolsUnavailableError(
            f"test hosts need {', '.join(still)} on this machine; install the Debian "
            f"package(s) {' '.join(sorted({PACKAGE_OF.get(p, p) for p in still}))} "
            "(as root: apt-get install -y ...)"
        )


def _apt_install(packages: list[str]) -> None:
    env = outer_env(DEBIAN_FRONTEND="noninteractive")
    install = [
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout=300",
        *packages,
    ]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode == 0:
        return
    # Stale or missing package lists: refresh (unreachable extra sources only warn) and retry.
    subprocess.run(
        ["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"],
        env=env,
        capture_output=True,
        check=False,
    )
    subprocess.run(install, env=env, capture_output=True, check=False)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
