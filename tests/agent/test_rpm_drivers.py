"""How the agent reads dnf's and zypper's output (recorded from the test hosts' dnf 4.14
and zypper 1.14): upgrades, advisories, and what a transaction would bring."""

from upkeep_agent.managers.dnf import parse_security, parse_transaction, parse_upgrades
from upkeep_agent.managers.zypper import parse_solvables, parse_updates

REPOQUERY = (
    "upkeep-app\tnoarch\t0\t2.0-1\tupkeep-test\n\nopenssl\tx86_64\t1\t3.0.7-27.el9\tbaseos\n"
)

UPDATEINFO = """\
UPKEEP-2026:0003 enhancement    upkeep-app-2.0-1.noarch
UPKEEP-2026:0004 Critical/Sec.  upkeep-kernel-1.1-1.noarch
UPKEEP-2026:0002 Important/Sec. upkeep-openssl-1.0-2.noarch
RHSA-2026:0101 Moderate/Sec.    upkeep-openssl-1.0-2.noarch
"""
WITH_CVE = """\
CVE-2026-0004 Critical/Sec.  upkeep-kernel-1.1-1.noarch
CVE-2026-0002 Important/Sec. upkeep-openssl-1.0-2.noarch
"""
INFO = """\
  Update ID: UPKEEP-2026:0004
       Type: security
     Reboot: System
"""

TRANSACTION = """\
Dependencies resolved.
================================================================================
 Package             Architecture    Version         Repository            Size
================================================================================
Upgrading:
 upkeep-app          noarch          2.0-1           upkeep-test          6.0 k
Upgrading dependencies:
 upkeep-lib          noarch          2.0-1           upkeep-test          6.0 k
Installing dependencies:
 python3-a-package-with-a-name-too-long-for-its-column
                     x86_64          1.2-3.el9       appstream             40 k

Transaction Summary
================================================================================
Upgrade  2 Packages
Install  1 Package
"""


def test_repoquery_lines_give_name_arch_and_version_with_any_epoch():
    assert parse_upgrades(REPOQUERY) == [
        ("upkeep-app", "noarch", "2.0-1"),
        ("openssl", "x86_64", "1:3.0.7-27.el9"),
    ]


def test_security_advisories_give_severity_ids_cves_and_reboot():
    found = parse_security(UPDATEINFO, WITH_CVE, INFO)
    assert sorted(found) == ["upkeep-kernel", "upkeep-openssl"]  # enhancements are not
    kernel, openssl = found["upkeep-kernel"], found["upkeep-openssl"]
    assert (kernel.severity, kernel.ids, kernel.cves) == (
        "Critical", ("UPKEEP-2026:0004",), ("CVE-2026-0004",)
    )  # fmt: skip
    assert kernel.reboot is True
    assert openssl.ids == ("RHSA-2026:0101", "UPKEEP-2026:0002")
    assert openssl.reboot is False


def test_a_transaction_table_names_what_it_adds_even_when_a_name_wraps():
    assert parse_transaction(TRANSACTION) == [
        "upkeep-app",
        "upkeep-lib",
        "python3-a-package-with-a-name-too-long-for-its-column",
    ]
    assert parse_transaction("Dependencies resolved.\nNothing to do.\n") == []


LIST_UPDATES = """\
<?xml version='1.0'?>
<stream>
<message type="info">Loading repository data...</message>
<update-status version="0.6">
<update-list>
<update kind="package" name="upkeep-app" edition="2.0-1" arch="noarch" edition-old="1.0-1">
<summary>Upkeep test package</summary></update>
<update kind="patch" name="UPKEEP-2026:0004" edition="1" arch="noarch"/>
</update-list>
</update-status>
</stream>
"""
DRY_RUN = """\
<?xml version='1.0'?>
<stream>
<install-summary download-size="12454" space-usage-diff="0" packages-to-change="2">
<to-upgrade>
<solvable type="package" name="upkeep-kernel" edition="1.1-1" arch="noarch"/>
<solvable type="package" name="upkeep-openssl" edition="1.0-2" arch="noarch"/>
</to-upgrade>
<to-install>
<solvable type="patch" name="UPKEEP-2026:0002" edition="1" arch="noarch"/>
</to-install>
</install-summary>
</stream>
"""


def test_zypper_updates_carry_new_and_installed_versions_and_patches_are_not_packages():
    assert parse_updates(LIST_UPDATES) == [("upkeep-app", "noarch", "2.0-1", "1.0-1")]


def test_a_zypper_dry_run_names_the_packages_it_would_upgrade():
    assert parse_solvables(DRY_RUN) == {"upkeep-kernel": "1.1-1", "upkeep-openssl": "1.0-2"}
    assert parse_solvables(DRY_RUN, "to-install") == {}  # patches are not packages
