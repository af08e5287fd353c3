"""az's shorthand syntax for structured CLI arguments."""

from __future__ import annotations

import pytest

from upkeep.cli.errors import CliError
from upkeep.cli.maintenance import LINUX_KEYS, WINDOWS_KEYS
from upkeep.cli.shorthand import parse_list, parse_mapping, parse_object, parse_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{env:[prod,staging],tier:[web]}", {"env": ["prod", "staging"], "tier": ["web"]}),
        ('{"env": ["prod"]}', {"env": ["prod"]}),
        ("[a, b ,c]", ["a", "b", "c"]),
        ("{name:'has, a comma: and {braces}'}", {"name": "has, a comma: and {braces}"}),
        ("{gone:null}", {"gone": None}),
        ("plain", "plain"),
    ],
)
def test_values(text: str, value: object) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize("text", ["{a:[b}", "{a b}", "{'open:x}", "[a,]x"])
def test_malformed_values_say_where(text: str) -> None:
    with pytest.raises(CliError, match="position"):
        parse_value(text)


def test_linux_parameters_the_way_az_users_write_them() -> None:
    words = [
        "classifications-to-include=Critical",
        "classifications-to-include=Security",
        "package-name-masks-to-exclude-list=[kernel*,openssl]",
        "packageNameMasksToInclude=bash",
    ]
    assert parse_object(words, LINUX_KEYS, "--linux") == {
        "classificationsToInclude": ["Critical", "Security"],
        "packageNameMasksToExclude": ["kernel*", "openssl"],
        "packageNameMasksToInclude": ["bash"],
    }


def test_windows_parameters_as_one_full_value() -> None:
    text = "{classifications-to-include-list:[Critical],exclude-kbs-requiring-reboot:true}"
    assert parse_object([text], WINDOWS_KEYS, "--windows") == {
        "classificationsToInclude": ["Critical"],
        "excludeKbsRequiringReboot": True,
    }


@pytest.mark.parametrize(
    ("words", "complaint"),
    [
        (["colour=blue"], "unknown key 'colour'"),
        (["classifications-to-include"], "is not key=value"),
        (["exclude-kbs-requiring-reboot=maybe"], "is not true or false"),
    ],
)
def test_bad_parameters_are_refused(words: list[str], complaint: str) -> None:
    with pytest.raises(CliError, match=complaint):
        parse_object(words, WINDOWS_KEYS, "--windows")


def test_mappings_and_lists() -> None:
    assert parse_mapping(["team=ops", "env=prod"], "--tags") == {"team": "ops", "env": "prod"}
    assert parse_mapping(["critical"], "--tags") == {"critical": ""}
    assert parse_mapping(["tag1=[a,b]"], "--filter-tags") == {"tag1": ["a", "b"]}
    assert parse_list(["eastus", "westus2"]) == ["eastus", "westus2"]
    assert parse_list(["[Windows,Linux]"]) == ["Windows", "Linux"]
