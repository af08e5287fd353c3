"""Enrollment and the agent protocol, spoken by hand against the app: what an agent sees."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import SettableClock
from tests.helpers import RESOURCES, group_path
from upkeep.db.store import Store
from upkeep.machines import service as machines

COMPUTE = "api-version=2025-04-01"
FACTS = {
    "osType": "Linux",
    "osName": "Debian GNU/Linux",
    "osVersion": "12",
    "hostname": "web-1",
    "packageManager": "apt",
    "agentVersion": "0.1.0",
}


def enrollment_token(store: Store, clock: SettableClock, scope: str, **options: Any) -> str:
    with store.writing() as connection:
        _, secret = machines.create_enrollment_token(
            connection, scope=scope, now=clock(), **options
        )
    return secret


def enroll(client: TestClient, token: str, subscription: str, group: str, name: str, **extra: Any):
    body = {
        "subscriptionId": subscription,
        "resourceGroup": group,
        "name": name,
        "resourceType": extra.pop("resourceType", "Microsoft.Compute/virtualMachines"),
        "location": "eastus",
        "facts": FACTS,
        **extra,
    }
    return client.post("/agent/v1/enroll", json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def machine(
    app_client: TestClient,
    api: TestClient,
    store: Store,
    clock: SettableClock,
    subscription_id: str,
) -> dict[str, Any]:
    token = enrollment_token(store, clock, f"/subscriptions/{subscription_id}")
    answer = enroll(app_client, token, subscription_id, "Web", "web-1")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return {"id": body["machine"]["id"], "credential": body["credential"]}


def as_agent(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def test_enrollment_registers_the_machine_and_makes_its_group(
    machine: dict[str, Any], api: TestClient, subscription_id: str
) -> None:
    assert machine["id"] == (
        f"/subscriptions/{subscription_id}/resourceGroups/Web/providers/Microsoft.Compute/virtualMachines/web-1"
    )
    assert machine["credential"].startswith("upm_")
    assert api.head(f"{group_path(subscription_id, 'Web')}?{RESOURCES}").status_code == 204
    shown = api.get(f"{machine['id']}?{COMPUTE}").json()
    properties = shown["properties"]
    assert (properties["osName"], properties["osVersion"], properties["status"]) == (
        "Debian GNU/Linux",
        "12",
        "Connected",
    )
    assert (
        properties["osProfile"]["linuxConfiguration"]["patchSettings"]["assessmentMode"]
        == "ImageDefault"
    )


def test_an_enrollment_token_limited_to_a_group_cannot_enroll_elsewhere(
    app_client: TestClient,
    api: TestClient,
    store: Store,
    clock: SettableClock,
    subscription_id: str,
) -> None:
    api.put(f"{group_path(subscription_id, 'Mine')}?{RESOURCES}", json={"location": "eastus"})
    token = enrollment_token(store, clock, group_path(subscription_id, "Mine"), uses=1)
    assert enroll(app_client, token, subscription_id, "Theirs", "x").status_code == 403
    assert enroll(app_client, token, subscription_id, "Mine", "x").status_code == 201
    used_up = enroll(app_client, token, subscription_id, "Mine", "y")
    assert used_up.status_code == 401
    assert "used" in used_up.json()["error"]["message"].lower()


def test_an_expired_or_unknown_enrollment_token_is_refused(
    app_client: TestClient, store: Store, clock: SettableClock, subscription_id: str
) -> None:
    from datetime import timedelta

    token = enrollment_token(
        store, clock, f"/subscriptions/{subscription_id}", lifetime=timedelta(hours=1)
    )
    clock.advance(hours=2)
    assert enroll(app_client, token, subscription_id, "G", "m").status_code == 401
    assert enroll(app_client, "upe_nonsense", subscription_id, "G", "m").status_code == 401


def test_a_machine_is_enrolled_once(
    app_client: TestClient,
    machine: dict[str, Any],
    store: Store,
    clock: SettableClock,
    subscription_id: str,
) -> None:
    token = enrollment_token(store, clock, f"/subscriptions/{subscription_id}")
    again = enroll(app_client, token, subscription_id, "web", "WEB-1")
    assert again.status_code == 409


def test_heartbeat_reports_facts(
    app_client: TestClient, api: TestClient, machine: dict[str, Any]
) -> None:
    facts = {**FACTS, "osVersion": "12.8", "agentVersion": "0.2.0"}
    answer = app_client.post(
        "/agent/v1/heartbeat", json={"facts": facts}, headers=as_agent(machine["credential"])
    )
    assert answer.status_code == 200
    assert answer.json()["machineId"] == machine["id"]
    properties = api.get(f"{machine['id']}?{COMPUTE}").json()["properties"]
    assert (properties["osVersion"], properties["agentVersion"]) == ("12.8", "0.2.0")


def test_a_machine_not_heard_from_shows_disconnected(
    api: TestClient, clock: SettableClock, machine: dict[str, Any]
) -> None:
    clock.advance(minutes=6)
    assert api.get(f"{machine['id']}?{COMPUTE}").json()["properties"]["status"] == "Disconnected"


def test_without_a_valid_credential_the_agent_is_refused(
    app_client: TestClient, machine: dict[str, Any]
) -> None:
    for headers in ({}, as_agent("upm_forged"), as_agent("upk_a-user-token")):
        answer = app_client.get("/agent/v1/jobs/next", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "AuthenticationFailed"


def test_an_idle_long_poll_answers_204(app_client: TestClient, machine: dict[str, Any]) -> None:
    answer = app_client.get("/agent/v1/jobs/next?wait=0.2", headers=as_agent(machine["credential"]))
    assert answer.status_code == 204


def test_deleting_a_machine_revokes_its_credential_and_assignments(
    app_client: TestClient, api: TestClient, machine: dict[str, Any], subscription_id: str
) -> None:
    from tests.helpers import MAINTENANCE, assignment_path, configuration_path, seed

    configuration = configuration_path(subscription_id, "Web", "nightly")
    api.put(f"{configuration}?{MAINTENANCE}", json=seed())
    assignment = f"{assignment_path(machine['id'], 'nightly')}?{MAINTENANCE}"
    api.put(assignment, json={"properties": {"maintenanceConfigurationId": configuration}})
    assert api.delete(f"{machine['id']}?{COMPUTE}").status_code == 200
    answer = app_client.get("/agent/v1/jobs/next", headers=as_agent(machine["credential"]))
    assert answer.status_code == 401
    assert api.get(assignment).status_code == 404
    assert api.get(f"{machine['id']}?{COMPUTE}").status_code == 404


def test_machines_are_listed_by_group_and_subscription(
    app_client: TestClient,
    api: TestClient,
    store: Store,
    clock: SettableClock,
    subscription_id: str,
) -> None:
    token = enrollment_token(store, clock, f"/subscriptions/{subscription_id}")
    enroll(app_client, token, subscription_id, "A", "vm-a")
    enroll(app_client, token, subscription_id, "B", "vm-b")
    enroll(
        app_client,
        token,
        subscription_id,
        "B",
        "arc-b",
        resourceType="Microsoft.HybridCompute/machines",
    )
    vms = api.get(
        f"/subscriptions/{subscription_id}/providers/Microsoft.Compute/virtualMachines?{COMPUTE}"
    )
    assert sorted(item["name"] for item in vms.json()["value"]) == ["vm-a", "vm-b"]
    in_b = api.get(
        f"{group_path(subscription_id, 'B')}/providers/Microsoft.HybridCompute/machines"
        "?api-version=2025-01-13"
    )
    assert [item["name"] for item in in_b.json()["value"]] == ["arc-b"]
    assert in_b.json()["value"][0]["type"] == "Microsoft.HybridCompute/machines"


def test_long_polls_end_at_spread_moments_so_a_fleet_does_not_stay_in_step() -> None:
    from upkeep.machines.agent import _desynchronized

    waits = {_desynchronized(55) for _ in range(200)}
    assert all(44 <= wait <= 55 for wait in waits)
    assert max(waits) - min(waits) > 5  # spread over most of the last fifth
    assert _desynchronized(3) == 3  # short polls (tests, --once) are kept as asked
