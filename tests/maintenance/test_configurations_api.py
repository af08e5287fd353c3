"""Maintenance configurations over the REST API, as Microsoft.Maintenance serves them."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import SettableClock
from tests.helpers import (
    MAINTENANCE,
    PREVIEW,
    RESOURCES,
    SEED_CONFIGURATION,
    assignment_path,
    configuration_path,
    group_path,
    machine_id,
    seed,
)


@pytest.fixture
def group(api: TestClient, subscription_id: str) -> str:
    response = api.put(
        f"{group_path(subscription_id, 'Patching')}?{RESOURCES}", json={"location": "eastus"}
    )
    assert response.status_code == 201
    return "Patching"


def test_put_creates_and_echoes_the_seed_body(
    api: TestClient, subscription_id: str, group: str
) -> None:
    path = configuration_path(subscription_id, group, "TestAzureInGuestAdv2")
    response = api.put(f"{path}?{MAINTENANCE}", json=SEED_CONFIGURATION)
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == path
    assert body["name"] == "TestAzureInGuestAdv2"
    assert body["type"] == "Microsoft.Maintenance/maintenanceConfigurations"
    assert body["location"] == "eastus2euap"
    sent = {k: v for k, v in SEED_CONFIGURATION["properties"].items() if v is not None}
    assert body["properties"] == sent  # "namespace": null is a member not set
    assert body["systemData"]["createdBy"] == body["systemData"]["lastModifiedBy"]


def test_put_again_replaces_and_answers_200(
    api: TestClient, subscription_id: str, group: str
) -> None:
    path = f"{configuration_path(subscription_id, group, 'weekly')}?{MAINTENANCE}"
    api.put(path, json=seed(installPatches={"rebootSetting": "Always"}))
    replaced = api.put(path, json=seed())
    assert replaced.status_code == 200
    assert replaced.json()["properties"]["installPatches"]["rebootSetting"] == "IfRequired"


def test_preview_api_version_answers_200_on_create(
    api: TestClient, subscription_id: str, group: str
) -> None:
    response = api.put(f"{configuration_path(subscription_id, group, 'c')}?{PREVIEW}", json=seed())
    assert response.status_code == 200


def test_ids_are_case_insensitive_and_echoed_in_canonical_case(
    api: TestClient, subscription_id: str, group: str
) -> None:
    api.put(f"{configuration_path(subscription_id, group, 'MixedCase')}?{MAINTENANCE}", json=seed())
    shouted = (
        f"/SUBSCRIPTIONS/{subscription_id.upper()}/RESOURCEGROUPS/patching/PROVIDERS"
        f"/microsoft.maintenance/MAINTENANCECONFIGURATIONS/mixedcase?{MAINTENANCE}"
    )
    response = api.get(shouted)
    assert response.status_code == 200
    assert response.json()["id"] == configuration_path(subscription_id, "Patching", "MixedCase")


def test_patch_changes_only_what_it_names(
    api: TestClient, clock: SettableClock, subscription_id: str, group: str
) -> None:
    path = f"{configuration_path(subscription_id, group, 'nightly')}?{MAINTENANCE}"
    created = api.put(path, json=seed(), params=None).json()
    clock.advance(hours=1)
    patch = {"tags": {"team": "ops"}, "properties": {"maintenanceWindow": {"duration": "03:00"}}}
    patched = api.patch(path, json=patch)
    assert patched.status_code == 200
    body = patched.json()
    assert body["tags"] == {"team": "ops"}
    window = body["properties"]["maintenanceWindow"]
    assert window == {**SEED_CONFIGURATION["properties"]["maintenanceWindow"], "duration": "03:00"}
    assert (
        body["properties"]["installPatches"] == SEED_CONFIGURATION["properties"]["installPatches"]
    )
    assert body["systemData"]["createdAt"] == created["systemData"]["createdAt"]
    assert body["systemData"]["lastModifiedAt"] > created["systemData"]["lastModifiedAt"]
    assert api.get(path).json() == body


def test_patch_of_a_missing_configuration_is_404(
    api: TestClient, subscription_id: str, group: str
) -> None:
    response = api.patch(
        f"{configuration_path(subscription_id, group, 'ghost')}?{MAINTENANCE}", json={}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceNotFound"


def test_delete_answers_200_with_the_resource_then_204(
    api: TestClient, subscription_id: str, group: str
) -> None:
    path = f"{configuration_path(subscription_id, group, 'gone')}?{MAINTENANCE}"
    api.put(path, json=seed())
    first = api.delete(path)
    assert first.status_code == 200
    assert first.json()["name"] == "gone"
    assert api.delete(path).status_code == 204
    missing = api.get(path)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"


def test_lists_by_group_and_by_subscription(
    api: TestClient, subscription_id: str, group: str
) -> None:
    api.put(f"{group_path(subscription_id, 'Other')}?{RESOURCES}", json={"location": "westus"})
    for where, name in ((group, "a"), (group, "b"), ("Other", "c")):
        api.put(f"{configuration_path(subscription_id, where, name)}?{MAINTENANCE}", json=seed())
    in_group = api.get(
        f"{group_path(subscription_id, group)}/providers/Microsoft.Maintenance/maintenanceConfigurations?{MAINTENANCE}"
    ).json()
    everywhere = api.get(
        f"/subscriptions/{subscription_id}/providers/Microsoft.Maintenance/maintenanceConfigurations?{MAINTENANCE}"
    ).json()
    assert sorted(item["name"] for item in in_group["value"]) == ["a", "b"]
    assert sorted(item["name"] for item in everywhere["value"]) == ["a", "b", "c"]
    assert "nextLink" not in everywhere


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("rebootSetting", "NeverReboot"),
        ("rebootSetting", "AlwaysReboot"),
        ("rebootSetting", "never"),
        ("windowsParameters", {"classificationsToInclude": ["UpdateRollUp", "FeaturePack"]}),
        ("windowsParameters", {"classificationsToInclude": ["UpdateRollup", "definition"]}),
    ],
)
def test_every_documented_spelling_is_accepted_and_echoed(
    api: TestClient, subscription_id: str, group: str, setting: str, value: object
) -> None:
    body = seed(installPatches={setting: value})
    response = api.put(
        f"{configuration_path(subscription_id, group, 'spelled')}?{MAINTENANCE}", json=body
    )
    assert response.status_code == 201, response.json()
    assert response.json()["properties"]["installPatches"][setting] == value


def test_every_property_round_trips(api: TestClient, subscription_id: str, group: str) -> None:
    body = {
        "location": "westeurope",
        "tags": {"env": "prod", "owner": "ops"},
        "properties": {
            "namespace": "Microsoft.Maintenance",
            "extensionProperties": {"InGuestPatchMode": "Platform"},
            "maintenanceScope": "InGuestPatch",
            "visibility": "Custom",
            "maintenanceWindow": {
                "startDateTime": "2026-12-05 22:00",
                "expirationDateTime": "2030-12-31 23:59",
                "duration": "03:55",
                "timeZone": "W. Europe Standard Time",
                "recurEvery": "Month Second Tuesday Offset4",
            },
            "installPatches": {
                "rebootSetting": "IfRequired",
                "windowsParameters": {
                    "classificationsToInclude": ["Critical", "Security"],
                    "kbNumbersToInclude": ["KB5034439"],
                    "kbNumbersToExclude": ["5034440"],
                    "excludeKbsRequiringReboot": True,
                },
                "linuxParameters": {
                    "classificationsToInclude": ["Critical", "Security"],
                    "packageNameMasksToInclude": ["kernel*", "libc=1.0.1.1"],
                    "packageNameMasksToExclude": ["mysql*"],
                },
            },
        },
    }
    path = f"{configuration_path(subscription_id, group, 'full')}?{MAINTENANCE}"
    api.put(path, json=body)
    stored = api.get(path).json()
    assert {key: stored[key] for key in ("location", "tags", "properties")} == body


def test_unknown_subscription_and_group_are_404_with_their_codes(
    api: TestClient, subscription_id: str
) -> None:
    nobody = "00000000-0000-0000-0000-00000000dead"
    response = api.get(f"{configuration_path(nobody, 'g', 'c')}?{MAINTENANCE}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SubscriptionNotFound"
    response = api.put(
        f"{configuration_path(subscription_id, 'nowhere', 'c')}?{MAINTENANCE}", json=seed()
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"


def test_api_version_is_required_and_must_be_served(
    api: TestClient, subscription_id: str, group: str
) -> None:
    path = configuration_path(subscription_id, group, "c")
    missing = api.get(path)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    unknown = api.get(f"{path}?api-version=2099-01-01")
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["code"] == "InvalidApiVersionParameter"
    assert "'2023-04-01'" in error["message"] and "'2021-09-01-preview'" in error["message"]


def test_deleting_a_configuration_removes_its_assignments(
    api: TestClient, subscription_id: str, group: str
) -> None:
    configuration = configuration_path(subscription_id, group, "doomed")
    api.put(f"{configuration}?{MAINTENANCE}", json=seed())
    machine = machine_id(subscription_id, group, "vm1")
    assignment = f"{assignment_path(machine, 'doomed')}?{MAINTENANCE}"
    api.put(assignment, json={"properties": {"maintenanceConfigurationId": configuration}})
    api.delete(f"{configuration}?{MAINTENANCE}")
    assert api.get(assignment).status_code == 404


def test_the_schedule_lists_upcoming_windows_in_both_time_zones(
    api: TestClient, subscription_id: str, group: str
) -> None:
    path = configuration_path(subscription_id, group, "seed")
    api.put(f"{path}?{MAINTENANCE}", json=SEED_CONFIGURATION)
    windows = api.get(f"{path}/schedule?{MAINTENANCE}&count=3").json()["value"]
    # the clock says 2026-11-26 09:00 UTC; the window opens daily at 01:18 India time
    assert [window["startDateTime"] for window in windows] == [
        "2026-11-26T19:48:00.0000000Z",
        "2026-11-27T19:48:00.0000000Z",
        "2026-11-28T19:48:00.0000000Z",
    ]
    assert windows[0]["localStartDateTime"] == "2026-11-27T01:18:00+05:30"
    assert windows[0]["localEndDateTime"] == "2026-11-27T02:48:00+05:30"
    assert windows[0]["timeZone"] == "India Standard Time"


def test_member_names_match_without_case_and_echo_the_spec_spelling(
    api: TestClient, subscription_id: str, group: str
) -> None:
    path = f"{configuration_path(subscription_id, group, 'shouting')}?{MAINTENANCE}"
    body = {
        "Location": "eastus",
        "Properties": {
            "MaintenanceScope": "InGuestPatch",
            "ExtensionProperties": {"InGuestPatchMode": "User"},
            "MaintenanceWindow": {
                "StartDateTime": "2026-12-01 03:00",
                "TimeZone": "UTC",
                "RecurEvery": "Day",
                "Duration": "02:00",
            },
        },
    }
    created = api.put(path, json=body).json()
    assert created["properties"]["maintenanceWindow"]["recurEvery"] == "Day"
    patched = api.patch(path, json={"Properties": {"MaintenanceWindow": {"Duration": "03:00"}}})
    assert patched.json()["properties"]["maintenanceWindow"] == {
        "startDateTime": "2026-12-01 03:00",
        "timeZone": "UTC",
        "recurEvery": "Day",
        "duration": "03:00",
    }
