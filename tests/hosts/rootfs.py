"""Low-level work on a root file system (a host's disk): commands, paths, removal.

Every command runs in namespaces of its own (``unshare --mount --pid``), so the ``/proc``,
``/dev/shm`` and ``/dev/pts`` it mounts vanish with it and nothing is ever left mounted
under a host's directory. The PID namespace also means that nothing inside can signal the
real machine's init: ``kill 1`` reaches the namespace's own PID 1, and ``reboot(2)`` in a
child PID namespace ends that namespace (pid_namespaces(7)) rather than the machine.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from tests.hosts.tools import which

#: The environment a command inside a host starts with (never the test process's own).
BASE_ENV: dict[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}

#: Options of the private devpts instance each command and machine gets (apt's dpkg log
#: needs a pseudo-terminal).
DEVPTS_OPTIONS = "newinstance,ptmxmode=0666,mode=0620,gid=5"


def _enter_root_script() -> str:
    """Shell code that mounts a fresh proc, tmpfs on /dev/shm and devpts under ``$0``, then
    runs ``"$@"`` chrooted into ``$0`` (the outer programs by absolute path)."""
    mount, chroot = shlex.quote(outer_program("mount")), shlex.quote(outer_program("chroot"))
    return (
        f'{mount} -t proc -o nosuid,nodev,noexec proc "$0/proc" && '
        f'{mount} -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$0/dev/shm" && '
        f'{mount} -t devpts -o {DEVPTS_OPTIONS} devpts "$0/dev/pts" && '
        f'exec {chroot} "$0" "$@"'
    )


#: Device nodes a Debian or RPM tool expects: (name, major, minor).
_DEVICES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)


def command_in_root(root: Path, argv: Sequence[str], *, init_pid: int | None = None) -> list[str]:
    """The outer command line that runs ``argv`` inside ``root``.

    Without ``init_pid`` the command gets new mount and PID namespaces with a fresh ``/proc``
    (it is PID 1 there, and everything it starts ends with it). With ``init_pid``, the
    outer PID of a booted machine's init, it joins that machine's mount, UTS and PID
    namespaces instead, like ``docker exec``.
    """
    if not argv:
        raise ValueError("no command given")
    if init_pid is not None:
        return [
            outer_program("nsenter"),
            f"--target={init_pid}",
            "--mount",
            "--uts",
            "--pid",
            "--",
            outer_program("chroot"),
            str(root),
            *argv,
        ]
    return [
        outer_program("unshare"),
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--propagation=private",
        "/bin/sh",
        "-c",
        _enter_root_script(),
        str(root),
        *argv,
    ]


def outer_program(name: str) -> str:
    """The absolute path of a program on the outer machine (a host's PATH may differ)."""
    return which(name) or name


def run_in_root(
    root: Path,
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    init_pid: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside ``root`` (see :func:`command_in_root`), capturing text output.

    ``env`` is added to :data:`BASE_ENV`. On timeout the whole process group is killed and
    :class:`subprocess.TimeoutExpired` is raised; with ``check`` a non-zero exit raises
    :class:`subprocess.CalledProcessError` whose message includes the output.
    """
    full_env = {**BASE_ENV, **(env or {})}
    command = command_in_root(root, argv, init_pid=init_pid)
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            stdout, stderr = process.communicate()
            raise subprocess.TimeoutExpired(list(argv), timeout, stdout, stderr) from None
    result = subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise CommandFailed(result)
    return result


class CommandFailed(subprocess.CalledProcessError):
    """A command inside a host exited non-zero; its message shows what it printed."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(result.returncode, result.args, result.stdout, result.stderr)

    def __str__(self) -> str:
        return f"{super().__str__()}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def resolve(root: Path, path: str | PurePosixPath) -> Path:
    """The outer path of ``path`` as seen inside ``root``, following symlinks inside it.

    Absolute symlinks (Debian's ``/var/run -> /run``) resolve against ``root``, never
    against the outer machine. The last component is followed too when it is a symlink.
    """
    parts = list(PurePosixPath("/", path).parts[1:])
    resolved = PurePosixPath("/")
    hops = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            resolved = resolved.parent
            continue
        candidate = resolved / part
        outer = root / candidate.relative_to("/")
        if outer.is_symlink():
            hops += 1
            if hops > 40:
                raise OSError(f"too many levels of symbolic links: {path}")
            target = PurePosixPath(os.readlink(outer))
            if target.is_absolute():
                resolved = PurePosixPath("/")
            parts = list(target.parts[1:] if target.is_absolute() else target.parts) + parts
            continue
        resolved = candidate
    return root / resolved.relative_to("/")


def ensure_devices(root: Path) -> None:
    """Create the character devices of :data:`_DEVICES` under ``root/dev`` if missing."""
    dev = root / "dev"
    dev.mkdir(mode=0o755, exist_ok=True)
    for name, major, minor in _DEVICES:
        node = dev / name
        if node.exists() or node.is_symlink():
            continue
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(node, 0o666)
    for directory, mode in (("dev/shm", 0o1777), ("dev/pts", 0o755), ("tmp", 0o1777)):
        target = root / directory
        target.mkdir(exist_ok=True)
        os.chmod(target, mode)
    ptmx = dev / "ptmx"
    if not (ptmx.exists() or ptmx.is_symlink()):
        ptmx.symlink_to("pts/ptmx")


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this process's mount namespace."""
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


def remove_tree(path: Path) -> None:
    """Delete ``path`` recursively, refusing when anything is mounted below it.

    ``rm -rf`` through a bind-mounted ``/dev`` would delete the real device nodes, so a
    mount found here is an error, never something to delete through.
    """
    if not path.exists():
        return
    mounted = mounts_under(path)
    if mounted:
        raise RuntimeError(f"refusing to delete {path}: still mounted there: {mounted}")
    shutil.rmtree(path)
