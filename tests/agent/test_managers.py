"""Which package manager the agent drives on a machine that may carry several."""

from collections.abc import Callable

import pytest

from upkeep_agent import managers
from upkeep_agent.managers import PackageManagerError


@pytest.fixture
def machine_with(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def install(*names: str) -> None:
        monkeypatch.setattr(managers, "installed", lambda name: name in names)

    return install


def test_the_distribution_family_wins_over_what_else_is_installed(machine_with) -> None:
    machine_with("apt", "dnf", "zypper")
    assert managers.choose(None, {"ID": "debian"}) == "apt"
    assert managers.choose(None, {"ID": "rocky", "ID_LIKE": "rhel centos fedora"}) == "dnf"
    assert managers.choose(None, {"ID": "sles", "ID_LIKE": "suse"}) == "zypper"


def test_an_old_red_hat_without_dnf_uses_yum(machine_with) -> None:
    machine_with("yum")
    assert managers.choose(None, {"ID": "centos", "ID_LIKE": "rhel fedora"}) == "yum"


def test_an_unknown_distribution_uses_the_first_installed(machine_with) -> None:
    machine_with("zypper", "dnf")
    assert managers.choose(None, {"ID": "somethingelse"}) == "dnf"


def test_the_one_named_at_connect_is_used_when_installed(machine_with) -> None:
    machine_with("apt", "dnf")
    assert managers.choose("dnf", {"ID": "debian"}) == "dnf"
    with pytest.raises(PackageManagerError, match="'zypper' is not installed"):
        managers.choose("zypper", {"ID": "debian"})


def test_a_machine_without_any_says_so(machine_with) -> None:
    machine_with()
    with pytest.raises(PackageManagerError) as missing:
        managers.choose(None, {"ID": "debian"})
    assert missing.value.code == "UnsupportedPackageManager"
    assert managers.detected_name() is None
