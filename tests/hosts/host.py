"""Test hosts: a root file system unpacked from an image, that commands run in and that
can be booted as a "machine" with a service (the agent) in it.

A host is a directory. :meth:`Host.run` runs a command inside it with ``chroot`` (in
private mount and PID namespaces, with a fresh ``/proc``). :meth:`Host.start` boots it:
``unshare --uts --pid --mount`` with a small init (PID 1, a shell script inside the host)
that mounts a fresh ``/proc``, tmpfs on ``/run`` and ``/dev/shm``, and ``/dev/pts``, sets
the hostname and runs the service. While it is booted, :meth:`Host.run` and the file
methods see the machine as it sees itself (its ``/run``, its processes). The network
namespace is the test machine's, so a server the test starts on 127.0.0.1 is reachable.

Reboots: :attr:`Host.reboot_command` records a request on the host's disk and asks init
to end every process (SIGTERM, SIGKILL after a grace period). The host's supervisor
thread sees the machine end with a request recorded, deletes the record and boots the
machine again (new ``/run``, new ``/proc``, new boot time, ``boot_count`` one higher)
with the same service. An end without a request is recorded in :attr:`Host.exit_status`
and not restarted. Nothing here reboots the real machine: every command runs in a PID
namespace of its own, where ``kill 1`` reaches that namespace's init only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import ClassVar, Literal, Self

from tests.hosts import rootfs
from tests.hosts.images import unpack

#: PID 1 of a booted host, inside the host.
INIT_PATH = "/usr/local/lib/upkeep-test/init"
#: The command a service runs to reboot the host it runs on.
REBOOT_PATH = "/usr/local/sbin/upkeep-test-reboot"
#: The reboot request, on the host's disk (it outlives the boot that wrote it).
REBOOT_MARKER = "/var/lib/upkeep-test/reboot-requested"
#: Per-boot state, in the booted host's tmpfs ``/run``.
BOOT_STATE = "/run/upkeep-test"
#: Seconds between init's SIGTERM to every process and its SIGKILL to what is left.
SHUTDOWN_GRACE = 10

#: Added to :data:`~tests.hosts.rootfs.BASE_ENV` for :meth:`Host.run` (never for services).
RUN_ENV = {"DEBIAN_FRONTEND": "noninteractive"}

INIT_SCRIPT = f"""\
#!/bin/sh
# PID 1 of an Upkeep test machine (written by tests/hosts/host.py).
# Usage: init HOSTNAME SERVICE [ARG]...
# Mounts a fresh /proc, tmpfs on /run and /dev/shm and devpts, sets the hostname, runs SERVICE and
# lives as long as it does. On SIGTERM (Host.stop, upkeep-test-reboot) it sends SIGTERM
# to every process and, {SHUTDOWN_GRACE} seconds later, SIGKILL to what is left.
hostname=$1
shift
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
mkdir -p -m 1777 /run/lock
mkdir -p {BOOT_STATE}
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm
mount -t devpts -o {rootfs.DEVPTS_OPTIONS} devpts /dev/pts
echo "$hostname" > /proc/sys/kernel/hostname
# Holding /proc/1 open keeps its inode, whose mtime dnf needs-restarting takes as boot time.
exec 9</proc/1/stat

stopping=
shut_down() {{
    [ -n "$stopping" ] && return
    stopping=1
    kill -s TERM -- -1 2>/dev/null
    (sleep {SHUTDOWN_GRACE}; kill -s KILL -- -1 2>/dev/null) &
}}
trap shut_down TERM INT HUP

"$@" </dev/null >&2 9<&- &
service=$!
echo "$service" > {BOOT_STATE}/service.pid
: > {BOOT_STATE}/booted
# Tell the Host (reading init's stdout) that the machine is up; log to stderr from now on.
echo up
exec >&2
while :; do
    wait "$service"
    status=$?
    kill -0 "$service" 2>/dev/null || break
done
exit "$status"
"""

REBOOT_SCRIPT = f"""\
#!/bin/sh
# Reboots this Upkeep test machine (written by tests/hosts/host.py): records the request
# on disk and asks init to end every process; the test's Host then boots the machine again.
if [ ! -e {BOOT_STATE}/booted ]; then
    echo "upkeep-test-reboot: this host is not booted (Host.start); nothing to reboot" >&2
    exit 1
fi
mkdir -p {PurePosixPath(REBOOT_MARKER).parent}
date -u +%Y-%m-%dT%H:%M:%SZ > {REBOOT_MARKER}
kill -s TERM 1
"""


class Host:
    """A test host: a root file system in ``root``, bootable as a machine named ``name``."""

    #: The package manager the host's image carries (subclasses say which).
    package_manager: ClassVar[str] = "none"

    def __init__(self, root: Path, name: str, directory: Path | None = None) -> None:
        """Adopt the root file system ``root``; ``directory`` (holding ``root`` and the
        service log) is what :meth:`destroy` deletes, else ``root`` alone."""
        #: The host's disk as the outer machine sees it (a booted host's tmpfs ``/run`` is
        #: not in it: :meth:`path` gives the machine's own view).
        self.root = root.resolve()
        #: The hostname a booted host has.
        self.name = name
        self.directory = directory
        #: Where the booted service's stdout and stderr go (outside the host).
        self.log_path = (directory or root.parent) / f"{name}-service.log"
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._init_pid: int | None = None
        self._boot_count = 0
        self._booted_count = 0
        self._stopping = False
        self._exit_status: int | None = None
        self._service: tuple[str, ...] = ()
        self._service_env: dict[str, str] = {}
        self._destroyed = False

    @classmethod
    def create(cls, image: Path, directory: Path, name: str) -> Self:
        """Unpack ``image`` into ``directory/root`` and make it host ``name``."""
        root = directory / "root"
        root.mkdir(parents=True)
        unpack(image, root)
        host = cls(root, name, directory=directory)
        host._provision()
        return host

    def _provision(self) -> None:
        """Give the host its identity and the init and reboot scripts."""
        rootfs.ensure_devices(self.root)
        self.write("/etc/hostname", f"{self.name}\n")
        self.write(
            "/etc/hosts",
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{self.name}\n::1\tlocalhost ip6-localhost\n",
        )
        self.write("/etc/machine-id", f"{uuid.uuid4().hex}\n", mode=0o444)
        resolv = self.root / "etc" / "resolv.conf"
        resolv.unlink(missing_ok=True)
        resolv.write_text(Path("/etc/resolv.conf").read_text())
        self.write(INIT_PATH, INIT_SCRIPT, mode=0o755)
        self.write(REBOOT_PATH, REBOOT_SCRIPT, mode=0o755)

    # --- commands ----------------------------------------------------------------------

    def run(
        self,
        *argv: str,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the host and return its result (text, output captured).

        In a booted host the command joins the machine's namespaces (it sees its ``/run``
        and processes); otherwise it gets namespaces of its own and sees the ``/run`` on
        disk. The environment is :data:`~tests.hosts.rootfs.BASE_ENV` plus
        ``DEBIAN_FRONTEND=noninteractive`` plus ``env``. With ``check`` a non-zero exit
        raises :class:`~tests.hosts.rootfs.CommandFailed`, showing the output.
        """
        return rootfs.run_in_root(
            self.root,
            argv,
            check=check,
            input=input,
            env={**RUN_ENV, **(env or {})},
            timeout=timeout,
            init_pid=self._current_init(),
        )

    def _current_init(self) -> int | None:
        """The outer PID of the booted machine's init; waits out a reboot in progress."""
        with self._lock:
            if not self._lock.wait_for(
                lambda: self._init_pid is not None or not self._machine_alive(), timeout=60
            ):
                raise TimeoutError(f"{self.name}: still rebooting after 60 s")
            return self._init_pid

    # --- files -------------------------------------------------------------------------

    def path(self, path: str) -> Path:
        """The outer path of ``path`` inside the host, as the host sees it now.

        Symlinks resolve inside the host (``/var/run`` is ``/run``); in a booted host the
        path goes through the machine's mounts (its tmpfs ``/run``).
        """
        init = self._current_init()
        view = Path(f"/proc/{init}/root") if init is not None else self.root
        return rootfs.resolve(view, path)

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        """Write ``text`` to ``path`` inside the host (parents made), owned by root."""
        target = self.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def read(self, path: str) -> str:
        """The text of ``path`` inside the host."""
        return self.path(path).read_text()

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists inside the host."""
        return self.path(path).exists()

    def wait_for_path(self, path: str, timeout: float = 30) -> None:
        """Wait until ``path`` exists inside the host (a booted service wrote it)."""
        deadline = time.monotonic() + timeout
        while not self.exists(path):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no {path} after {timeout} s")
            time.sleep(0.05)

    # --- booting -----------------------------------------------------------------------

    @property
    def reboot_command(self) -> str:
        """A command (one absolute path, no arguments) that reboots the booted host."""
        return REBOOT_PATH

    @property
    def boot_count(self) -> int:
        """How many times this host has booted (1 after :meth:`start`, 2 after a reboot)."""
        with self._lock:
            return self._boot_count

    @property
    def running(self) -> bool:
        """Whether the machine is up or rebooting (from :meth:`start` until it ends)."""
        with self._lock:
            return self._machine_alive()

    @property
    def exit_status(self) -> int | None:
        """How the machine's last run ended on its own (the service's exit status, or
        ``-SIGNAL``); ``None`` while running, after :meth:`stop`, or if never started."""
        with self._lock:
            return self._exit_status

    def _machine_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, *argv: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> None:
        """Boot the host with ``argv`` (default ``sleep infinity``) as its service.

        Returns once init has set the machine up and started the service. The service's
        environment is :data:`~tests.hosts.rootfs.BASE_ENV` plus ``env``; its output goes
        to :attr:`log_path`. A reboot starts the same service with the same environment.
        """
        with self._lock:
            if self._destroyed:
                raise RuntimeError(f"{self.name} is destroyed")
            if self._machine_alive():
                raise RuntimeError(f"{self.name} is already running")
            self._service = tuple(argv) or ("sleep", "infinity")
            self._service_env = {**rootfs.BASE_ENV, **(env or {})}
            self._stopping = False
            self._exit_status = None
            self._init_pid = None
            target = self._boot_count + 1
            # Left-overs of an earlier boot or of commands run while the host was down.
            rootfs.resolve(self.root, REBOOT_MARKER).unlink(missing_ok=True)
            state = rootfs.resolve(self.root, BOOT_STATE)
            if state.exists():
                rootfs.remove_tree(state)
            self._thread = threading.Thread(
                target=self._supervise, name=f"host-{self.name}", daemon=True
            )
            self._thread.start()
        self.wait_for_boot(target, timeout=timeout)

    def wait_for_boot(self, count: int | None = None, timeout: float = 60) -> None:
        """Wait until boot number ``count`` (default: the latest) has started the service.

        Raises :class:`RuntimeError` if the machine ends without getting that far,
        :class:`TimeoutError` if ``timeout`` passes.
        """
        with self._lock:
            wanted = count if count is not None else max(self._boot_count, 1)
            done = self._lock.wait_for(
                lambda: self._booted_count >= wanted or not self._machine_alive(),
                timeout=timeout,
            )
            if not done:
                raise TimeoutError(f"{self.name}: boot {wanted} not up after {timeout} s")
            if self._booted_count < wanted:
                raise RuntimeError(
                    f"{self.name} ended (status {self._exit_status}) before boot {wanted} "
                    f"was up; service log:\n{self.service_log()}"
                )

    def wait_stopped(self, timeout: float = 60) -> int | None:
        """Wait until the machine ends on its own; return :attr:`exit_status`."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"{self.name} still running after {timeout} s")
        return self.exit_status

    def stop(self, timeout: float = 15) -> None:
        """Shut the machine down: SIGTERM to init (which ends everything), SIGKILL after
        ``timeout``. Not a reboot; does nothing if the machine is not running."""
        with self._lock:
            self._stopping = True
            process, init = self._process, self._init_pid
        if process is not None and process.poll() is None:
            if init is not None:
                _signal(init, signal.SIGTERM)
            try:
                process.wait(timeout if init is not None else 0)
            except subprocess.TimeoutExpired:
                # unshare --kill-child passes SIGKILL on to init, which ends the namespace.
                _signal(process.pid, signal.SIGKILL)
        thread = self._thread
        if thread is not None:
            thread.join(timeout + 30)

    def kill_service(self, timeout: float = 30) -> None:
        """SIGKILL the service, as a crash would. Init ends with it, and the machine with
        init (what the service had started dies too); not a reboot, so nothing restarts it
        (:meth:`start` boots the host again)."""
        with self._lock:
            init = self._init_pid
        if init is None:
            raise RuntimeError(f"{self.name} is not booted")
        inner = int(
            rootfs.resolve(Path(f"/proc/{init}/root"), f"{BOOT_STATE}/service.pid").read_text()
        )
        outer = _outer_pid(init, inner)
        if outer is None:
            raise RuntimeError(f"{self.name}: the service (pid {inner} inside) is gone")
        _signal(outer, signal.SIGKILL)
        self.wait_stopped(timeout)

    def service_log(self) -> str:
        """Everything the service (and init) printed, over all boots."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _supervise(self) -> None:
        """Boot, wait for the machine to end, boot again while reboots are requested."""
        marker = rootfs.resolve(self.root, REBOOT_MARKER)
        while True:
            with self._lock:
                if self._stopping:
                    return
                self._boot_count += 1
                boot = self._boot_count
                process = self._boot(boot)
                self._process = process
            init = self._wait_until_up(process)
            with self._lock:
                if init is not False:
                    self._init_pid = init
                    self._booted_count = boot
                self._lock.notify_all()
            status = process.wait()
            with self._lock:
                self._init_pid = None
                self._process = None
                if not self._stopping and marker.exists():
                    marker.unlink()
                    self._lock.notify_all()
                    continue
                if not self._stopping:
                    self._exit_status = status
                self._lock.notify_all()
                return

    def _boot(self, boot: int) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            stamp = time.strftime("%H:%M:%S")
            log.write(f"--- {self.name}: boot {boot} at {stamp} ---\n".encode())
            log.flush()
            command = [
                # If the thread that started the machine dies, so does the machine.
                rootfs.outer_program("setpriv"),
                "--pdeathsig=KILL",
                rootfs.outer_program("unshare"),
                "--uts",
                "--pid",
                "--mount",
                "--fork",
                "--kill-child",
                "--propagation=private",
                rootfs.outer_program("chroot"),
                str(self.root),
                INIT_PATH,
                self.name,
                *self._service,
            ]
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self._service_env,
                start_new_session=True,
            )

    def _wait_until_up(self, process: subprocess.Popen[bytes]) -> int | Literal[False] | None:
        """Wait for init to say the machine is up; return init's outer PID (``None`` if
        it has already ended again, ``False`` if it ended without coming up)."""
        assert process.stdout is not None
        with process.stdout:
            said = process.stdout.readline()
        if said.strip() != b"up":
            return False
        for child in _children(process.pid):
            try:
                if os.readlink(f"/proc/{child}/root") == str(self.root):
                    return child
            except OSError:
                continue
        return None

    # --- lifetime ----------------------------------------------------------------------

    def destroy(self) -> None:
        """Stop the machine and delete the host's directory."""
        self.stop(timeout=5)
        with self._lock:
            self._destroyed = True
        rootfs.remove_tree(self.directory or self.root)


class DebianHost(Host):
    """A host with apt and dpkg."""

    package_manager: ClassVar[str] = "apt"

    def installed_version(self, package: str) -> str | None:
        """The installed version of ``package`` per dpkg, ``None`` if not installed.

        A package dpkg failed to configure (``half-configured``) counts as installed.
        """
        result = self.run("dpkg-query", "-W", "-f", "${Status} ${Version}", package, check=False)
        if result.returncode != 0:
            return None
        words = result.stdout.split()
        if len(words) < 4 or words[2] in ("not-installed", "config-files"):
            return None
        return words[3]

    def set_sources(self, text: str, name: str = "upkeep-test") -> None:
        """Write ``/etc/apt/sources.list.d/NAME.list`` (e.g. ``AptRepo.source_lines()``)."""
        self.write(f"/etc/apt/sources.list.d/{name}.list", text)

    def use_debian_mirror(self, security: bool = True) -> None:
        """Add Debian's own bookworm (and bookworm-security) sources (needs the network)."""
        lines = "deb http://deb.debian.org/debian bookworm main\n"
        if security:
            lines += "deb http://deb.debian.org/debian-security bookworm-security main\n"
        self.set_sources(lines, name="debian")


class RpmHost(Host):
    """A host with an RPM database (dnf or zypper on top)."""

    #: Where the package manager reads ``.repo`` files.
    repos_dir: ClassVar[str] = "/etc/yum.repos.d"

    def installed_version(self, package: str) -> str | None:
        """``VERSION-RELEASE`` of the installed ``package`` (epoch as ``E:`` if set),
        ``None`` if not installed; the newest if several are."""
        result = self.run(
            "rpm",
            "-q",
            "--qf",
            "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n",
            package,
            check=False,
        )
        if result.returncode != 0:
            return None
        versions = result.stdout.split()
        return versions[-1] if versions else None

    def add_repo(self, name: str, body: str) -> None:
        """Write ``REPOS_DIR/NAME.repo`` (e.g. ``RpmRepo.repo_file(name)``)."""
        self.write(f"{self.repos_dir}/{name}.repo", body)


class DnfHost(RpmHost):
    """A host with Debian's dnf 4 and dnf-plugins-core (``needs-restarting``)."""

    package_manager: ClassVar[str] = "dnf"
    repos_dir: ClassVar[str] = "/etc/yum.repos.d"


class ZypperHost(RpmHost):
    """A host with Debian's zypper."""

    package_manager: ClassVar[str] = "zypper"
    repos_dir: ClassVar[str] = "/etc/zypp/repos.d"


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (this kernel has no ``/proc/PID/task/*/children``)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _outer_pid(init: int, inner: int) -> int | None:
    """The outer PID of the process that is ``inner`` in ``init``'s PID namespace."""
    for child in _children(init):
        try:
            with open(f"/proc/{child}/status") as status:
                for line in status:
                    if line.startswith("NSpid:") and int(line.split()[-1]) == inner:
                        return child
        except OSError:
            continue
    return None
