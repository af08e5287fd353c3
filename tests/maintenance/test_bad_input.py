"""Bad input: one case per rule. Each gets a 400 whose ARM error names the field, and the
store is unchanged (the requests try to replace resources that exist)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers import (
    MAINTENANCE,
    RESOURCES,
    assignment_path,
    configuration_path,
    group_path,
    machine_id,
    seed,
)
from upkeep.arm.errors import ArmError
from upkeep.maintenance.service import check_room_to_install


def window(**changes: str) -> dict[str, Any]:
    return seed(maintenanceWindow=changes)


def without(path: str) -> dict[str, Any]:
    body = seed()
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    del target[last]
    return body


def with_top(**changes: Any) -> dict[str, Any]:
    return {**seed(), **changes}


def with_properties(**replaced: Any) -> dict[str, Any]:
    body = seed()
    body["properties"].update(replaced)
    return body


# (case id, body, error code, the field the message must name)
CONFIGURATION_CASES: list[tuple[str, Any, str, str]] = [
    (
        "bad recurrence",
        window(recurEvery="Fortnight"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.recurEvery",
    ),
    (
        "recurrence more often than 6 hours",
        window(recurEvery="2Hours"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.recurEvery",
    ),
    (
        "offset out of range",
        window(recurEvery="Month Second Tuesday Offset9"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.recurEvery",
    ),
    (
        "unknown time zone",
        window(timeZone="Atlantis Standard Time"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.timeZone",
    ),
    (
        "window too short",
        window(duration="01:00"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.duration",
    ),
    (
        "window too long",
        window(duration="04:00"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.duration",
    ),
    (
        "duration not HH:MM",
        window(duration="90 minutes"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.duration",
    ),
    (
        "malformed start",
        window(startDateTime="21/08/2021 01:18"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.startDateTime",
    ),
    (
        "impossible start date",
        window(startDateTime="2026-02-30 01:18"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.startDateTime",
    ),
    (
        "missing start",
        without("properties.maintenanceWindow.startDateTime"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.startDateTime",
    ),
    (
        "expiration in the past",
        window(startDateTime="2019-01-01 00:00", expirationDateTime="2020-01-01 00:00"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.expirationDateTime",
    ),
    (
        "expiration before start",
        window(expirationDateTime="2021-08-20 00:00"),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.expirationDateTime",
    ),
    (
        "no window before expiry",
        window(
            startDateTime="2027-01-01 00:00",
            recurEvery="Month day31",
            expirationDateTime="2027-01-20 00:00",
        ),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.recurEvery",
    ),
    (
        "expiration before the next window",
        window(expirationDateTime="2026-11-26 14:40"),  # now is 14:30 IST; next is tomorrow
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.expirationDateTime",
    ),
    (
        "no day31 left before expiry",
        window(
            startDateTime="2026-10-31 01:18",
            recurEvery="Month day31",
            expirationDateTime="2026-12-20 00:00",
        ),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.expirationDateTime",
    ),
    (
        "no last Sunday left before expiry",
        window(
            startDateTime="2026-10-25 01:18",
            recurEvery="Month Last Sunday",
            expirationDateTime="2026-11-28 23:00",
        ),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.expirationDateTime",
    ),
    (
        "reboot setting Upkeep cannot act on",
        seed(installPatches={"rebootSetting": "Sometimes"}),
        "InvalidParameter",
        "properties.installPatches.rebootSetting",
    ),
    (
        "platform maintenance scope",
        seed(maintenanceScope="Host"),
        "InvalidParameter",
        "properties.maintenanceScope",
    ),
    ("public visibility", seed(visibility="Public"), "InvalidParameter", "properties.visibility"),
    (
        "unknown Linux classification",
        seed(installPatches={"linuxParameters": {"classificationsToInclude": ["Optional"]}}),
        "InvalidParameter",
        "properties.installPatches.linuxParameters.classificationsToInclude[0]",
    ),
    (
        "unknown Windows classification",
        seed(installPatches={"windowsParameters": {"classificationsToInclude": ["Drivers"]}}),
        "InvalidParameter",
        "properties.installPatches.windowsParameters.classificationsToInclude[0]",
    ),
    (
        "classification listed twice",
        seed(installPatches={"linuxParameters": {"classificationsToInclude": ["Other", "other"]}}),
        "InvalidParameter",
        "properties.installPatches.linuxParameters.classificationsToInclude",
    ),
    (
        "package mask with a space",
        seed(installPatches={"linuxParameters": {"packageNameMasksToExclude": ["rm -rf"]}}),
        "InvalidParameter",
        "properties.installPatches.linuxParameters.packageNameMasksToExclude",
    ),
    (
        "KB number that is not a number",
        seed(installPatches={"windowsParameters": {"kbNumbersToInclude": ["KBabc"]}}),
        "InvalidParameter",
        "properties.installPatches.windowsParameters.kbNumbersToInclude",
    ),
    (
        "pre-tasks Upkeep does not run",
        seed(installPatches={"tasks": {"preTasks": [{"source": "/runbook"}]}}),
        "InvalidParameter",
        "properties.installPatches.tasks",
    ),
    (
        "patch mode Upkeep does not know",
        seed(extensionProperties={"InGuestPatchMode": "Auto"}),
        "InvalidParameter",
        "properties.extensionProperties",
    ),
    (
        "extension property Upkeep does not know",
        seed(extensionProperties={"InGuestPatchMode": "User", "maintenanceSubScope": "AKS"}),
        "InvalidParameter",
        "properties.extensionProperties",
    ),
    (
        "no patch mode",
        with_properties(extensionProperties={}),
        "InvalidParameter",
        "properties.extensionProperties",
    ),
    (
        "missing location",
        {key: value for key, value in seed().items() if key != "location"},
        "InvalidParameter",
        "location",
    ),
    (
        "missing scope",
        without("properties.maintenanceScope"),
        "InvalidParameter",
        "properties.maintenanceScope",
    ),
    (
        "number where a string belongs",
        window(duration=90),
        "InvalidRequestContent",
        "properties.maintenanceWindow.duration",
    ),
    (
        "string where a list belongs",
        seed(installPatches={"linuxParameters": {"classificationsToInclude": "Critical"}}),
        "InvalidRequestContent",
        "properties.installPatches.linuxParameters.classificationsToInclude",
    ),
    (
        "string where a boolean belongs",
        seed(installPatches={"windowsParameters": {"excludeKbsRequiringReboot": "yes"}}),
        "InvalidRequestContent",
        "properties.installPatches.windowsParameters.excludeKbsRequiringReboot",
    ),
    ("tags as a list", with_top(tags=["prod"]), "InvalidRequestContent", "tags"),
    (
        "tag value that is a number",
        with_top(tags={"tier": 1}),
        "InvalidRequestContent",
        "tags.tier",
    ),
    (
        "misspelt member",
        seed(maintenanceScop="InGuestPatch"),
        "InvalidRequestContent",
        "properties.maintenanceScop",
    ),
    ("body that is a list", [seed()], "InvalidRequestContent", "object"),
]


@pytest.fixture
def existing(api: TestClient, subscription_id: str) -> dict[str, str]:
    """A group with a configuration and a machine assignment that the bad requests target."""
    api.put(f"{group_path(subscription_id, 'Bad')}?{RESOURCES}", json={"location": "eastus"})
    configuration = configuration_path(subscription_id, "Bad", "existing")
    assert api.put(f"{configuration}?{MAINTENANCE}", json=seed()).status_code == 201
    assignment = assignment_path(machine_id(subscription_id, "Bad", "vm"), "existing")
    body = {"properties": {"maintenanceConfigurationId": configuration}}
    assert api.put(f"{assignment}?{MAINTENANCE}", json=body).status_code == 201
    dynamic = assignment_path(group_path(subscription_id, "Bad"), "dynamic")
    assert api.put(f"{dynamic}?{MAINTENANCE}", json=body).status_code == 201
    return {"configuration": configuration, "assignment": assignment, "dynamic": dynamic}


def snapshot(api: TestClient, subscription_id: str) -> Any:
    base = f"/subscriptions/{subscription_id}/providers/Microsoft.Maintenance"
    return (
        api.get(f"{base}/maintenanceConfigurations?{MAINTENANCE}").json(),
        api.get(f"{base}/configurationAssignments?{MAINTENANCE}").json(),
        api.get(f"/subscriptions/{subscription_id}/resourcegroups?{RESOURCES}").json(),
    )


def expect_rejected(
    api: TestClient,
    subscription_id: str,
    send: Callable[[], Any],
    code: str,
    field: str,
) -> None:
    before = snapshot(api, subscription_id)
    response = send()
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert field in error["message"], error
    assert snapshot(api, subscription_id) == before


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [case[1:] for case in CONFIGURATION_CASES],
    ids=[case[0] for case in CONFIGURATION_CASES],
)
def test_bad_configuration_is_refused_and_changes_nothing(
    api: TestClient,
    subscription_id: str,
    existing: dict[str, str],
    body: Any,
    code: str,
    field: str,
) -> None:
    path = f"{existing['configuration']}?{MAINTENANCE}"
    expect_rejected(api, subscription_id, lambda: api.put(path, json=body), code, field)


def test_bad_patch_is_refused_and_changes_nothing(
    api: TestClient, subscription_id: str, existing: dict[str, str]
) -> None:
    path = f"{existing['configuration']}?{MAINTENANCE}"
    patch = {"properties": {"maintenanceWindow": {"duration": "00:30"}}}
    expect_rejected(
        api,
        subscription_id,
        lambda: api.patch(path, json=patch),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.duration",
    )


def test_patch_that_leaves_no_window_is_refused_and_changes_nothing(
    api: TestClient, subscription_id: str, existing: dict[str, str]
) -> None:
    path = f"{existing['configuration']}?{MAINTENANCE}"
    patch = {"properties": {"maintenanceWindow": {"expirationDateTime": "2026-11-26 23:59"}}}
    expect_rejected(
        api,
        subscription_id,
        lambda: api.patch(path, json=patch),
        "InvalidMaintenanceWindow",
        "properties.maintenanceWindow.expirationDateTime",
    )


def test_expiring_at_the_next_window_start_is_accepted(
    api: TestClient, subscription_id: str, existing: dict[str, str]
) -> None:
    path = f"{existing['configuration']}?{MAINTENANCE}"
    body = window(expirationDateTime="2026-11-27 01:18")
    assert api.put(path, json=body).status_code == 200


@pytest.mark.parametrize(
    "setting", ["IfRequired", "Always", "AlwaysReboot", "Never", "NeverReboot"]
)
def test_shortest_window_leaves_room_for_every_reboot_setting(
    api: TestClient, subscription_id: str, existing: dict[str, str], setting: str
) -> None:
    """Azure's own example: 01:30 with IfRequired; 1 h 15 min remain after the reserve."""
    path = f"{existing['configuration']}?{MAINTENANCE}"
    body = seed(maintenanceWindow={"duration": "01:30"}, installPatches={"rebootSetting": setting})
    assert api.put(path, json=body).status_code == 200
    patch = {"properties": {"installPatches": {"rebootSetting": setting}}}
    assert api.patch(path, json=patch).status_code == 200


@pytest.mark.parametrize(
    ("duration", "setting", "left", "reserve"),
    [
        (timedelta(minutes=29), "IfRequired", 14, 15),
        (timedelta(minutes=20), "AlwaysReboot", 5, 15),
        (timedelta(minutes=10), "Always", 0, 15),
        (timedelta(minutes=14), "NeverReboot", 14, 0),
    ],
)
def test_window_without_room_to_install_after_the_reboot_reserve_is_refused(
    duration: timedelta, setting: str, left: int, reserve: int
) -> None:
    """Below Azure's 01:30 floor, so only reachable by calling the rule itself."""
    with pytest.raises(ArmError) as refused:
        check_room_to_install(duration, setting)
    error = refused.value
    assert (error.status, error.code) == (400, "InvalidMaintenanceWindow")
    assert error.target == "properties.maintenanceWindow.duration"
    minutes = int(duration.total_seconds()) // 60
    for part in (
        f"'00:{minutes:02d}'",
        f"leaves {left} minutes",
        f"{reserve} minute reboot reserve",
        f"rebootSetting '{setting}'",
    ):
        assert part in error.message, error.message


@pytest.mark.parametrize(
    ("duration", "setting"),
    [(timedelta(minutes=30), "IfRequired"), (timedelta(minutes=15), "Never")],
)
def test_window_with_one_update_after_the_reboot_reserve_is_enough(
    duration: timedelta, setting: str
) -> None:
    check_room_to_install(duration, setting)


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"\xff\xfe{}", "UTF-8"),
        (json.dumps({**seed(), "tags": {"pad": "x" * (5 * 1024 * 1024)}}).encode(), "bytes"),
    ],
    ids=["invalid JSON", "empty body", "not UTF-8", "body too large"],
)
def test_unreadable_bodies_are_refused_and_change_nothing(
    api: TestClient, subscription_id: str, existing: dict[str, str], content: bytes, complaint: str
) -> None:
    path = f"{existing['configuration']}?{MAINTENANCE}"
    expect_rejected(
        api,
        subscription_id,
        lambda: api.put(path, content=content, headers={"Content-Type": "application/json"}),
        "InvalidRequestContent",
        complaint,
    )


ASSIGNMENT_CASES: list[tuple[str, str, Any, str, str]] = [
    (
        "malformed configuration id",
        "assignment",
        {"maintenanceConfigurationId": "/subscriptions/x"},
        "InvalidParameter",
        "properties.maintenanceConfigurationId",
    ),
    (
        "id of something else",
        "assignment",
        {"maintenanceConfigurationId": "/subscriptions/00000000-0000-0000-0000-000000000001"},
        "InvalidParameter",
        "properties.maintenanceConfigurationId",
    ),
    (
        "unbalanced resource id",
        "assignment",
        {
            "maintenanceConfigurationId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/g/providers/Microsoft.Maintenance/maintenanceConfigurations"
        },
        "LinkedInvalidPropertyId",
        "properties.maintenanceConfigurationId",
    ),
    (
        "missing configuration id",
        "assignment",
        {},
        "InvalidParameter",
        "properties.maintenanceConfigurationId",
    ),
    (
        "OS type Upkeep cannot patch",
        "dynamic",
        {"filter": {"osTypes": ["Solaris"]}},
        "InvalidParameter",
        "properties.filter.osTypes[0]",
    ),
    (
        "resource type that is not a machine",
        "dynamic",
        {"filter": {"resourceTypes": ["Microsoft.Storage/storageAccounts"]}},
        "InvalidParameter",
        "properties.filter.resourceTypes",
    ),
    (
        "tag operator that is not All or Any",
        "dynamic",
        {"filter": {"tagSettings": {"tags": {"a": ["b"]}, "filterOperator": "Some"}}},
        "InvalidParameter",
        "properties.filter.tagSettings.filterOperator",
    ),
    (
        "tag values that are not a list",
        "dynamic",
        {"filter": {"tagSettings": {"tags": {"a": "b"}}}},
        "InvalidRequestContent",
        "properties.filter.tagSettings.tags.a",
    ),
]


@pytest.mark.parametrize(
    ("which", "properties", "code", "field"),
    [case[1:] for case in ASSIGNMENT_CASES],
    ids=[case[0] for case in ASSIGNMENT_CASES],
)
def test_bad_assignment_is_refused_and_changes_nothing(
    api: TestClient,
    subscription_id: str,
    existing: dict[str, str],
    which: str,
    properties: dict[str, Any],
    code: str,
    field: str,
) -> None:
    body = {"properties": {"maintenanceConfigurationId": existing["configuration"], **properties}}
    if "maintenanceConfigurationId" not in properties and which == "assignment":
        del body["properties"]["maintenanceConfigurationId"]
    path = f"{existing[which]}?{MAINTENANCE}"
    expect_rejected(api, subscription_id, lambda: api.put(path, json=body), code, field)


def test_bad_resource_names_are_refused(
    api: TestClient, subscription_id: str, existing: dict[str, str]
) -> None:
    expect_rejected(
        api,
        subscription_id,
        lambda: api.put(
            f"{group_path(subscription_id, 'no*stars')}?{RESOURCES}", json={"location": "x"}
        ),
        "InvalidResourceGroup",
        "no*stars",
    )
    expect_rejected(
        api,
        subscription_id,
        lambda: api.put(
            f"{configuration_path(subscription_id, 'Bad', 'a:b')}?{MAINTENANCE}", json=seed()
        ),
        "InvalidResourceName",
        "a:b",
    )


def test_malformed_subscription_id_is_refused(api: TestClient, subscription_id: str) -> None:
    response = api.get(f"{configuration_path('not-a-guid', 'g', 'c')}?{MAINTENANCE}")
    assert response.status_code == 400
    assert response.json()["error"]["target"] == "subscriptionId"
