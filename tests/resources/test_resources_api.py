"""Subscriptions and resource groups (Microsoft.Resources)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import Tokens
from tests.helpers import RESOURCES, group_path

SUBSCRIPTIONS = "api-version=2022-12-01"


def test_subscriptions_are_listed_in_arm_shape(api: TestClient, subscription_id: str) -> None:
    found = api.get(f"/subscriptions?{SUBSCRIPTIONS}").json()["value"]
    assert found == [
        {
            "id": f"/subscriptions/{subscription_id}",
            "authorizationSource": "RoleBased",
            "subscriptionId": subscription_id,
            "tenantId": found[0]["tenantId"],
            "displayName": "Test",
            "state": "Enabled",
            "subscriptionPolicies": found[0]["subscriptionPolicies"],
        }
    ]
    one = api.get(f"/subscriptions/{subscription_id}?{SUBSCRIPTIONS}")
    assert one.json() == found[0]


def test_unknown_subscription_is_404(api: TestClient) -> None:
    response = api.get(f"/subscriptions/00000000-0000-0000-0000-000000000009?{SUBSCRIPTIONS}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SubscriptionNotFound"


def test_group_lifecycle(api: TestClient, subscription_id: str) -> None:
    path = f"{group_path(subscription_id, 'Web')}?{RESOURCES}"
    created = api.put(path, json={"location": "eastus", "tags": {"env": "prod"}})
    assert created.status_code == 201
    assert created.json() == {
        "id": group_path(subscription_id, "Web"),
        "name": "Web",
        "type": "Microsoft.Resources/resourceGroups",
        "location": "eastus",
        "properties": {"provisioningState": "Succeeded"},
        "tags": {"env": "prod"},
    }
    updated = api.put(path, json={"location": "East US", "tags": {"env": "test"}})
    assert updated.status_code == 200
    assert updated.json()["tags"] == {"env": "test"}
    assert updated.json()["location"] == "eastus"
    patched = api.patch(path, json={"tags": {"owner": "ops"}})
    assert patched.json()["tags"] == {"owner": "ops"}
    assert api.head(path).status_code == 204
    assert (
        api.get(path.replace("/resourceGroups/Web", "/RESOURCEGROUPS/web")).json()["name"] == "Web"
    )
    listed = api.get(f"/subscriptions/{subscription_id}/resourcegroups?{RESOURCES}").json()
    assert [group["name"] for group in listed["value"]] == ["Web"]
    assert api.delete(path).status_code == 200
    assert api.head(path).status_code == 404
    missing = api.get(path)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceGroupNotFound"


def test_a_group_cannot_move_location(api: TestClient, subscription_id: str) -> None:
    path = f"{group_path(subscription_id, 'Fixed')}?{RESOURCES}"
    api.put(path, json={"location": "eastus"})
    moved = api.put(path, json={"location": "westeurope"})
    assert moved.status_code == 409
    assert moved.json()["error"]["code"] == "InvalidResourceGroupLocation"


def test_a_group_needs_a_location(api: TestClient, subscription_id: str) -> None:
    response = api.put(f"{group_path(subscription_id, 'NoWhere')}?{RESOURCES}", json={})
    assert response.status_code == 400
    assert response.json()["error"]["target"] == "location"


def test_a_group_in_an_unknown_subscription_is_404(api: TestClient) -> None:
    path = f"{group_path('00000000-0000-0000-0000-000000000009', 'g')}?{RESOURCES}"
    response = api.put(path, json={"location": "eastus"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SubscriptionNotFound"


def test_a_group_scoped_reader_lists_only_its_group(
    api: TestClient, app_client: TestClient, tokens: Tokens, subscription_id: str
) -> None:
    for name in ("Mine", "Theirs"):
        api.put(f"{group_path(subscription_id, name)}?{RESOURCES}", json={"location": "eastus"})
    reader = tokens.make("Reader", group_path(subscription_id, "Mine"))
    listed = app_client.get(
        f"/subscriptions/{subscription_id}/resourcegroups?{RESOURCES}",
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert [group["name"] for group in listed.json()["value"]] == ["Mine"]
    subscriptions = app_client.get(
        f"/subscriptions?{SUBSCRIPTIONS}", headers={"Authorization": f"Bearer {reader}"}
    )
    assert [item["subscriptionId"] for item in subscriptions.json()["value"]] == [subscription_id]
