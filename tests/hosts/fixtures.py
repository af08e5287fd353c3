"""pytest fixtures for real test hosts and package repositories.

Load them from a conftest with ``pytest_plugins = ["tests.hosts.fixtures"]`` (root
conftest) or ``from tests.hosts.fixtures import *``.

- ``debian_image``, ``dnf_image``, ``zypper_image`` (session): the cached image tarballs,
  built on first use (about 40 s for the Debian base, 20 s more for each RPM image).
- ``debian_host``, ``dnf_host``, ``zypper_host``: factories; ``debian_host("vm1")`` makes a
  fresh host (unpacks its image: 1 to 8 s onto this machine's disk, about 0.5 s onto
  tmpfs) and every host made is stopped and deleted after the test.
- ``apt_repo``, ``rpm_repo``: factories of repositories served on 127.0.0.1, closed after
  the test.

Without root, or without a program the hosts need that cannot be installed, these
fixtures skip and say why (``UPKEEP_TEST_STRICT=1`` makes that a failure).
``UPKEEP_TEST_HOSTS_KEEP=1`` keeps the hosts' directories for a look after the run.
Hosts are made on ``/dev/shm`` when it has room (unpacking there takes a tenth of the time
it takes on disk), else under the test's tmp_path; ``UPKEEP_TEST_HOSTS_DIR`` chooses.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.hosts import rootfs
from tests.hosts.apt_repo import AptRepo
from tests.hosts.host import DebianHost, DnfHost, Host, ZypperHost
from tests.hosts.images import build_image
from tests.hosts.rpm_repo import RpmRepo
from tests.hosts.tools import (
    APT_REPO_TOOLS,
    HOST_TOOLS,
    RPM_REPO_TOOLS,
    ToolsUnavailableError,
    ensure_tools,
    require_root,
)

KEEP_ENV = "UPKEEP_TEST_HOSTS_KEEP"
#: Put hosts under this directory instead of the test's tmp_path (e.g. a tmpfs).
DIR_ENV = "UPKEEP_TEST_HOSTS_DIR"
#: Free space /dev/shm needs before hosts go there by default (a host takes 0.2-0.4 GB).
SHM_ROOM = 4 << 30


def _usable(*tools: str) -> None:
    """Skip the test unless we are root and ``tools`` exist (installing them if we can)."""
    try:
        require_root()
        ensure_tools(*tools)
    except ToolsUnavailableError as error:
        pytest.skip(str(error))


def _have(*tools: str) -> None:
    """Skip the test unless ``tools`` exist (installing them if we can)."""
    try:
        ensure_tools(*tools)
    except ToolsUnavailableError as error:
        pytest.skip(str(error))


def _image(name: str) -> Path:
    _usable(*HOST_TOOLS)
    try:
        return build_image(name)
    except ToolsUnavailableError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def debian_image() -> Path:
    """The Debian bookworm base image (built and cached on first use)."""
    return _image("debian")


@pytest.fixture(scope="session")
def dnf_image() -> Path:
    """The Debian + dnf image."""
    return _image("dnf")


@pytest.fixture(scope="session")
def zypper_image() -> Path:
    """The Debian + zypper image."""
    return _image("zypper")


H = TypeVar("H", bound=Host)


def _hosts_dir(base: Path) -> Path:
    """A fresh directory for one test's hosts under ``base`` (``$UPKEEP_TEST_HOSTS_DIR``).

    Its name carries our PID; directories left there by test runs that were killed
    (their PID gone) are deleted first, since nothing like pytest's tmp_path retention
    cleans up there.
    """
    for stale in base.glob("upkeep-hosts-*-*"):
        pid = stale.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            rootfs.remove_tree(stale)
    return Path(tempfile.mkdtemp(prefix=f"upkeep-hosts-{os.getpid()}-", dir=base))


def _roomy_shm() -> str | None:
    try:
        return "/dev/shm" if shutil.disk_usage("/dev/shm").free >= SHM_ROOM else None
    except OSError:
        return None


def _host_factory(kind: type[H], image: Path, tmp_path: Path) -> Iterator[Callable[..., H]]:
    made: list[H] = []
    elsewhere = os.environ.get(DIR_ENV) or _roomy_shm()
    parent = _hosts_dir(Path(elsewhere)) if elsewhere else tmp_path

    def make(name: str | None = None) -> H:
        """A fresh host named ``name`` (default ``vm1``, ``vm2``, ... in this test)."""
        name = name or f"vm{len(made) + 1}"
        host = kind.create(image, parent / f"host-{len(made) + 1}-{name}", name)
        made.append(host)
        return host

    yield make
    errors: list[BaseException] = []
    for host in reversed(made):
        try:
            if os.environ.get(KEEP_ENV) == "1":
                host.stop(timeout=5)
            else:
                host.destroy()
        except Exception as error:  # clean up the others before reporting it
            errors.append(error)
    if elsewhere and os.environ.get(KEEP_ENV) != "1":
        parent.rmdir()
    if errors:
        raise errors[0]


@pytest.fixture
def debian_host(debian_image: Path, tmp_path: Path) -> Iterator[Callable[..., DebianHost]]:
    """Makes Debian hosts (apt): ``debian_host()`` or ``debian_host("web1")``."""
    yield from _host_factory(DebianHost, debian_image, tmp_path)


@pytest.fixture
def dnf_host(dnf_image: Path, tmp_path: Path) -> Iterator[Callable[..., DnfHost]]:
    """Makes dnf hosts."""
    yield from _host_factory(DnfHost, dnf_image, tmp_path)


@pytest.fixture
def zypper_host(zypper_image: Path, tmp_path: Path) -> Iterator[Callable[..., ZypperHost]]:
    """Makes zypper hosts."""
    yield from _host_factory(ZypperHost, zypper_image, tmp_path)


R = TypeVar("R", AptRepo, RpmRepo)


def _repo_factory(kind: type[R], tmp_path: Path, prefix: str) -> Iterator[Callable[[], R]]:
    made: list[R] = []

    def make() -> R:
        repo = kind(tmp_path / f"{prefix}-{len(made) + 1}")
        made.append(repo)
        return repo

    yield make
    for repo in made:
        repo.close()


@pytest.fixture
def apt_repo(tmp_path: Path) -> Iterator[Callable[[], AptRepo]]:
    """Makes APT repositories (bookworm, bookworm-updates, bookworm-security)."""
    _have(*APT_REPO_TOOLS)
    yield from _repo_factory(AptRepo, tmp_path, "apt-repo")


@pytest.fixture
def rpm_repo(tmp_path: Path) -> Iterator[Callable[[], RpmRepo]]:
    """Makes rpm-md repositories (for dnf and zypper hosts)."""
    _have(*RPM_REPO_TOOLS)
    yield from _repo_factory(RpmRepo, tmp_path, "rpm-repo")
