"""Which patches a request selects (``upkeep_agent.selection``, shared by agent and server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from upkeep_agent.selection import (
    EXCLUDED,
    NOT_SELECTED,
    PENDING,
    Patch,
    installable_order,
    kb_number,
    parse_time,
    select_linux,
    select_windows,
    valid_mask,
)

LINUX = [
    Patch("openssl", "3.0.2", "Security", arch="amd64"),
    Patch("libssl3", "3.0.2", "Security", arch="amd64"),
    Patch("kernel-image", "6.1.9", "Critical"),
    Patch("bash", "5.2.1", "Other"),
    Patch("mysql-server", "8.0.40", "Other"),
    Patch("curl", "7.88", "Other"),
]
DEPENDS = {"curl": ["curl", "libcurl4", "mysql-common"]}


def states(decisions: dict) -> dict[str, str]:
    return {key.split("_")[0]: decision.state for key, decision in decisions.items()}


def dependencies(patch: Patch) -> list[str]:
    return DEPENDS.get(patch.name, [patch.name])


def test_critical_and_security_are_one_bucket_on_linux() -> None:
    for classes in (["Critical"], ["Security"], ["critical", "SECURITY"]):
        chosen = states(select_linux(LINUX, {"classificationsToInclude": classes}))
        assert chosen == {
            "openssl": PENDING, "libssl3": PENDING, "kernel-image": PENDING,
            "bash": NOT_SELECTED, "mysql-server": NOT_SELECTED, "curl": NOT_SELECTED,
        }  # fmt: skip


def test_other_is_everything_outside_the_security_bucket() -> None:
    chosen = states(select_linux(LINUX, {"classificationsToInclude": ["Other"]}))
    assert [name for name, state in chosen.items() if state == PENDING] == [
        "bash",
        "mysql-server",
        "curl",
    ]


def test_include_masks_add_by_glob_and_by_exact_version() -> None:
    parameters = {
        "classificationsToInclude": ["Security"],
        "packageNameMasksToInclude": ["kernel*", "bash=5.2.1", "curl=1.0"],
    }
    chosen = states(select_linux(LINUX, parameters))
    assert chosen["kernel-image"] == PENDING
    assert chosen["bash"] == PENDING  # the version asked for is the one available
    assert chosen["curl"] == NOT_SELECTED  # a different version was asked for


def test_exclude_masks_beat_everything_and_ignore_versions() -> None:
    parameters = {
        "classificationsToInclude": ["Security", "Other"],
        "packageNameMasksToInclude": ["openssl"],
        "packageNameMasksToExclude": ["openssl=9.9", "mysql*"],
    }
    chosen = states(select_linux(LINUX, parameters))
    assert chosen["openssl"] == EXCLUDED
    assert chosen["mysql-server"] == EXCLUDED
    assert chosen["bash"] == PENDING


def test_masks_match_with_or_without_the_architecture() -> None:
    chosen = states(select_linux(LINUX, {"packageNameMasksToExclude": ["libssl3:amd64"],
                                         "classificationsToInclude": ["Security"]}))  # fmt: skip
    assert chosen["libssl3"] == EXCLUDED


def test_an_update_that_would_bring_an_excluded_package_is_excluded() -> None:
    parameters = {
        "classificationsToInclude": ["Other"],
        "packageNameMasksToExclude": ["mysql-common"],
    }
    decisions = select_linux(LINUX, parameters, dependencies)
    curl = decisions["curl_7.88"]
    assert curl.state == EXCLUDED
    assert "mysql-common" in curl.reason
    assert decisions["bash_5.2.1"].state == PENDING


def test_nothing_asked_for_selects_everything() -> None:
    assert set(states(select_linux(LINUX, {})).values()) == {PENDING}


def test_security_goes_first() -> None:
    decisions = select_linux(LINUX, {})
    assert [patch.name for patch in installable_order(LINUX, decisions)][:3] == [
        "kernel-image", "libssl3", "openssl"
    ]  # fmt: skip


WINDOWS = [
    Patch("2026-11 Cumulative Update", "", "Security", kb_id="5034439", reboot_behavior="CanRequestReboot",
          published=datetime(2026, 11, 10, tzinfo=UTC)),
    Patch("Defender definitions", "", "Definition", kb_id="2267602", reboot_behavior="NeverReboots",
          published=datetime(2026, 11, 20, tzinfo=UTC)),
    Patch(".NET rollup", "", "UpdateRollup", kb_id="5034000", reboot_behavior="NeverReboots",
          published=datetime(2026, 10, 1, tzinfo=UTC)),
]  # fmt: skip


def test_windows_classifications_and_kb_lists() -> None:
    parameters = {
        "classificationsToInclude": ["Security", "UpdateRollUp"],
        "kbNumbersToInclude": ["KB2267602"],
        "kbNumbersToExclude": ["5034000"],
    }
    chosen = {
        patch.kb_id: select_windows(WINDOWS, parameters)[patch.patch_id].state for patch in WINDOWS
    }
    assert chosen == {"5034439": PENDING, "2267602": PENDING, "5034000": EXCLUDED}


def test_windows_reboot_and_publish_date_filters() -> None:
    parameters = {
        "classificationsToInclude": ["Security", "Definition", "UpdateRollup"],
        "excludeKbsRequiringReboot": True,
        "maxPatchPublishDate": "2026-11-15T00:00:00Z",
    }
    chosen = {
        patch.kb_id: select_windows(WINDOWS, parameters)[patch.patch_id].state for patch in WINDOWS
    }
    assert chosen == {"5034439": EXCLUDED, "2267602": EXCLUDED, "5034000": PENDING}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-11-19T02:36:43.0539904+00:00", datetime(2020, 11, 19, 2, 36, 43, 53990, tzinfo=UTC)),
        ("2026-11-01T00:00:00Z", datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_azure_timestamps_parse(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["2026-11-01", "2026-11-01T00:00:00", "yesterday"])
def test_timestamps_without_a_zone_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|time zone"):
        parse_time(text)


def test_masks_and_kb_numbers() -> None:
    assert valid_mask("kernel*") and valid_mask("libc=1.0.1.1") and valid_mask("python3.11")
    assert not valid_mask("rm -rf") and not valid_mask("") and not valid_mask("=1.0")
    assert kb_number("KB5034439") == kb_number("5034439") == "5034439"
    assert kb_number("KBabc") is None
