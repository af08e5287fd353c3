"""How the agent reads APT's simulation: what is an update, which are Security, which reboot."""

from upkeep_agent.managers.apt import parse_simulation

SIMULATION = """\
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following packages will be upgraded:
  libssl3 linux-image-amd64 openssl tzdata upkeep-app
The following NEW packages will be installed:
  upkeep-lib
Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian:12.8/stable, Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst tzdata [2024a-0+deb12u1] (2024b-0+deb12u1 Debian:12.8/stable [all])
Inst linux-image-amd64 [6.1.112-1] (6.1.119-1 Debian:12.8/stable [amd64])
Inst upkeep-lib (2.0 local:stable [all])
Inst upkeep-app [1.0] (1.1 local:stable [all])
Conf libssl3 (3.0.15-1~deb12u1 Debian:12.8/stable, Debian-Security:12/stable-security [amd64])
Conf openssl (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
"""


def by_name() -> dict:
    return {patch.name: patch for patch in parse_simulation(SIMULATION)}


def test_every_inst_line_is_one_update_with_its_new_and_current_versions():
    patches = by_name()
    assert sorted(patches) == [
        "libssl3", "linux-image-amd64", "openssl", "tzdata", "upkeep-app", "upkeep-lib",
    ]  # fmt: skip
    assert patches["openssl"].version == "3.0.15-1~deb12u1"
    assert patches["openssl"].current_version == "3.0.11-1~deb12u2"
    assert patches["upkeep-lib"].current_version is None
    assert patches["tzdata"].arch == "all"


def test_an_update_offered_by_a_security_pocket_is_security_even_when_stable_has_it_too():
    patches = by_name()
    assert patches["libssl3"].classification == "Security"
    assert patches["openssl"].classification == "Security"
    assert patches["tzdata"].classification == "Other"
    assert patches["upkeep-app"].classification == "Other"


def test_a_kernel_always_needs_a_reboot_and_core_libraries_may_ask_for_one():
    patches = by_name()
    assert patches["linux-image-amd64"].reboot_behavior == "AlwaysRequiresReboot"
    assert patches["libssl3"].reboot_behavior == "CanRequestReboot"
    assert patches["tzdata"].reboot_behavior == "NeverReboots"


def test_nothing_to_upgrade_is_an_empty_list():
    assert parse_simulation("Reading package lists...\n0 upgraded, 0 newly installed.\n") == []
