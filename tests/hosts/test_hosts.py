"""The test-host infrastructure does what the rest of the suite relies on: apt, dnf and
zypper hosts see the updates a test publishes, classified as their real counterparts
classify them, and a booted host reboots (and only reboots) when asked to."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hosts import images, rootfs
from tests.hosts.apt_repo import AptRepo, debian_with_old_versions
from tests.hosts.host import INIT_PATH, REBOOT_MARKER, DebianHost, DnfHost, ZypperHost
from tests.hosts.rpm_repo import RpmRepo, rpm_with_old_versions

pytestmark = pytest.mark.hosts

#: How ``apt-get -s`` shows each pocket of the test repository (as it shows Debian's).
POCKET = {
    "bookworm-updates": "Debian:12-updates/stable-updates",
    "bookworm-security": "Debian-Security:12/stable-security",
}


# --- apt ------------------------------------------------------------------------------


def test_apt_lists_each_update_with_its_pocket(
    debian_host: Callable[..., DebianHost], apt_repo: Callable[[], AptRepo]
) -> None:
    host = debian_host()
    updates = debian_with_old_versions(host, apt_repo())
    assert {u.name: host.installed_version(u.name) for u in updates.all()} == {
        u.name: "1.0" for u in updates.all()
    }

    simulated = host.run("apt-get", "-s", "dist-upgrade").stdout

    assert "6 upgraded, 0 newly installed" in simulated
    for update in updates.all():
        line = f"Inst {update.name} [1.0] ({update.new.version} {POCKET[update.suite]} [all])"
        assert line in simulated
    assert host.installed_version("upkeep-not-there") is None


def test_apt_kernel_like_update_asks_for_a_reboot(
    debian_host: Callable[..., DebianHost], apt_repo: Callable[[], AptRepo]
) -> None:
    host = debian_host()
    updates = debian_with_old_versions(host, apt_repo())
    assert not host.exists("/var/run/reboot-required")

    host.run("apt-get", "install", "-y", "-q", updates.reboot.name)

    assert host.installed_version(updates.reboot.name) == "1.1"
    assert host.read("/var/run/reboot-required") == "*** System restart required ***\n"
    assert host.read("/run/reboot-required.pkgs") == "upkeep-kernel\n"


def test_apt_failing_postinst_fails_the_install(
    debian_host: Callable[..., DebianHost], apt_repo: Callable[[], AptRepo]
) -> None:
    host = debian_host()
    updates = debian_with_old_versions(host, apt_repo())

    failed = host.run("apt-get", "install", "-y", "-q", updates.failing.name, check=False)

    assert failed.returncode == 100
    assert "post-installation script subprocess returned error exit status 1" in failed.stdout
    assert "E: Sub-process /usr/bin/dpkg returned an error code (1)" in failed.stderr
    status = host.run("dpkg-query", "-W", "-f", "${Status}", updates.failing.name).stdout
    assert status == "install ok half-configured"


# --- booting and rebooting ------------------------------------------------------------


def rebooting_service(reboot_command: str) -> str:
    """A service that reboots its machine once, on the first boot, and records each boot."""
    return f"""
mkdir -p /var/lib/svc
date +%s.%N > /run/booted-at
cat /run/booted-at >> /var/lib/svc/boots
if [ ! -e /var/lib/svc/rebooted ]; then
    touch /var/lib/svc/rebooted /run/first-boot
    exec {reboot_command}
fi
touch /run/second-boot
exec sleep infinity
"""


def test_a_service_reboots_its_host(debian_host: Callable[..., DebianHost]) -> None:
    host = debian_host("web1")
    outer_hostname = socket.gethostname()

    host.start("sh", "-c", rebooting_service(host.reboot_command))
    host.wait_for_boot(2, timeout=30)
    host.wait_for_path("/run/second-boot")

    assert host.boot_count == 2
    assert host.running
    boots = host.read("/var/lib/svc/boots").split()
    assert len(boots) == 2 and boots[0] != boots[1]
    # A fresh /run: the first boot's files are gone, the second boot's are there.
    assert host.exists("/run/second-boot")
    assert not host.exists("/run/first-boot")
    assert not host.exists(REBOOT_MARKER)
    # Commands join the booted machine: its hostname, its PID 1, its /run.
    assert host.run("hostname").stdout == "web1\n"
    assert host.run("cat", "/proc/1/cmdline").stdout.split("\0")[1] == INIT_PATH
    assert host.run("cat", "/run/second-boot", check=False).returncode == 0
    assert socket.gethostname() == outer_hostname
    assert "boot 2" in host.service_log()


def test_reboot_from_a_command_and_a_crash_that_is_not_a_reboot(
    debian_host: Callable[..., DebianHost],
) -> None:
    host = debian_host()
    host.start()
    first_boot_time = host.run("stat", "-c", "%y", "/proc/1").stdout
    host.write("/run/scratch", "gone after a reboot")

    host.run(host.reboot_command, check=False)
    host.wait_for_boot(2, timeout=30)

    assert host.boot_count == 2
    assert not host.exists("/run/scratch")
    assert host.run("stat", "-c", "%y", "/proc/1").stdout != first_boot_time

    host.kill_service()

    assert not host.running
    assert host.exit_status == 128 + 9
    assert host.boot_count == 2
    # A host that is not booted has nothing to reboot.
    refused = host.run(host.reboot_command, check=False)
    assert refused.returncode == 1 and "not booted" in refused.stderr

    host.start("sh", "-c", "exit 3")
    assert host.wait_stopped(timeout=30) == 3
    assert host.boot_count == 3


# --- dnf ------------------------------------------------------------------------------


def test_dnf_sees_updates_and_security_advisories(
    dnf_host: Callable[..., DnfHost], rpm_repo: Callable[[], RpmRepo]
) -> None:
    host = dnf_host()
    updates = rpm_with_old_versions(host, rpm_repo(), ("dnf", "-y", "-q", "install"))
    assert host.installed_version(updates.security.name) == "1.0-1"

    check = host.run("dnf", "check-update", "--refresh", check=False)
    advisories = host.run("dnf", "updateinfo", "list", "--security").stdout

    assert check.returncode == 100
    for update in updates.all():
        assert f"{update.name}.noarch" in check.stdout
    assert "UPKEEP-2026:0002 Important/Sec. upkeep-openssl-1.0-2.noarch" in advisories
    assert "UPKEEP-2026:0004 Critical/Sec.  upkeep-kernel-1.1-1.noarch" in advisories
    assert "UPKEEP-2026:0001" not in advisories

    failed = host.run("dnf", "-y", "upgrade", updates.failing.name, check=False)
    assert failed.returncode == 1
    assert "Error in PREIN scriptlet in rpm package upkeep-broken" in failed.stdout + failed.stderr
    assert host.installed_version(updates.failing.name) == "1.0-1"


def test_dnf_needs_restarting_follows_the_hosts_boots(
    dnf_host: Callable[..., DnfHost], rpm_repo: Callable[[], RpmRepo]
) -> None:
    host = dnf_host()
    updates = rpm_with_old_versions(host, rpm_repo(), ("dnf", "-y", "-q", "install"))
    host.start()
    boot = float(host.run("stat", "-c", "%Y", "/proc/1").stdout)
    time.sleep(max(0.0, boot + 1.05 - time.time()))  # needs-restarting counts whole seconds

    host.run("dnf", "-y", "-q", "--refresh", "upgrade", "--security")
    before = host.run("dnf", "needs-restarting", "-r", check=False)
    host.run(host.reboot_command, check=False)
    host.wait_for_boot(2, timeout=30)
    after = host.run("dnf", "needs-restarting", "-r", check=False)

    assert host.installed_version(updates.reboot.name) == "1.1-1"
    assert host.installed_version(updates.plain.name) == "1.0-1"
    assert before.returncode == 1 and "upkeep-kernel" in before.stdout
    assert after.returncode == 0, after.stdout


# --- zypper ---------------------------------------------------------------------------


def test_zypper_lists_security_patches(
    zypper_host: Callable[..., ZypperHost], rpm_repo: Callable[[], RpmRepo]
) -> None:
    host = zypper_host()
    updates = rpm_with_old_versions(host, rpm_repo(), ("zypper", "-n", "-q", "install"))
    assert host.installed_version(updates.plain.name) == "1.0-1"

    host.run("zypper", "-n", "refresh")
    listed = host.run("zypper", "-n", "list-updates").stdout
    patches = host.run("zypper", "-n", "list-patches", "--category", "security").stdout

    for update in updates.all():
        assert update.name in listed
    assert "UPKEEP-2026:0002 | security | important | ---" in patches
    assert "UPKEEP-2026:0004 | security | critical  | reboot" in patches
    assert "UPKEEP-2026:0001" not in patches
    # Reboot-suggested patches are "interactive": skipped by -n unless asked for.
    host.run("zypper", "-n", "patch", "--category", "security")
    assert host.installed_version(updates.security.name) == "1.0-2"
    assert host.installed_version(updates.reboot.name) == "1.0-1"
    rebooting = host.run(
        "zypper",
        "-n",
        "--non-interactive-include-reboot-patches",
        "patch",
        "--category",
        "security",
        check=False,
    )
    assert rebooting.returncode == 102  # ZYPPER_EXIT_INF_REBOOT_NEEDED
    assert host.installed_version(updates.reboot.name) == "1.1-1"


# --- images and paths -----------------------------------------------------------------


def test_images_are_cached_by_recipe(debian_image: Path) -> None:
    assert images.build_image("debian") == debian_image
    assert images.RECIPES["debian"].key() in debian_image.name
    assert images.RECIPES["dnf"].key() != images.RECIPES["zypper"].key()


def test_paths_resolve_inside_the_host(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var" / "run").symlink_to("/run")
    (root / "etc").mkdir()
    (root / "etc" / "escape").symlink_to("../../../../outside")

    assert rootfs.resolve(root, "/var/run/reboot-required") == root / "run" / "reboot-required"
    assert rootfs.resolve(root, "/etc/escape/x") == root / "outside" / "x"
