"""The auth matrix: every route and method, called with no token, a bad token, an expired
and a revoked token, as a Reader, a Contributor, an Owner, and from outside its scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from tests.conftest import SettableClock, Tokens
from tests.helpers import MAINTENANCE, RESOURCES, configuration_path, group_path, seed
from upkeep.app import Parts, build_arm_router
from upkeep.arm.routing import Permission
from upkeep.auth import service as auth
from upkeep.db.store import Store
from upkeep.machines.agent import AgentViews

OTHER_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"

PARAMETERS = {
    "resourceGroupName": "Matrix",
    "resourceName": "cfg",
    "providerName": "Microsoft.Compute",
    "resourceType": "virtualMachines",
    "resourceParentType": "virtualMachineScaleSets",
    "resourceParentName": "set",
    "configurationAssignmentName": "assignment",
    "applyUpdateName": "20261126090000",
    "tokenId": "00000000-0000-0000-0000-000000000000",
    "vmName": "vm",
    "machineName": "arc",
    "location": "eastus",
    "operationId": "00000000-0000-0000-0000-000000000001",
    "installationId": "00000000-0000-0000-0000-000000000002",
}


def operations(store: Store, clock: SettableClock) -> Iterator[tuple[str, str, Permission, bool]]:
    """(method, path template, permission, lists) for every operation the server has."""
    parts = Parts(store, clock)
    agents = AgentViews(store, clock, parts.board, parts.presence, parts.timeouts)
    for route in build_arm_router(parts, agents).routes:
        for method, operation in route.operations.items():
            yield method, route.template, operation.permission, operation.lists


def fill(template: str, subscription_id: str) -> str:
    values = {**PARAMETERS, "subscriptionId": subscription_id}
    return re.sub(r"\{(\w+)\}", lambda found: values[found.group(1)], template)


def api_version(template: str) -> str:
    if "Microsoft.Maintenance" in template:
        return MAINTENANCE
    if "Microsoft.Compute" in template:
        return "api-version=2025-04-01"
    if "Microsoft.HybridCompute" in template:
        return "api-version=2025-01-13"
    if "Microsoft.ResourceGraph" in template:
        return "api-version=2021-03-01"
    if "Upkeep.Authorization" in template:
        return "api-version=2026-11-01"
    if template.rstrip("/").endswith("{subscriptionId}") or template == "/subscriptions":
        return "api-version=2022-12-01"
    return RESOURCES


@pytest.fixture
def world(api: TestClient, subscription_id: str) -> None:
    """A group and a configuration, so that requests reach their views."""
    api.put(f"{group_path(subscription_id, 'Matrix')}?{RESOURCES}", json={"location": "eastus"})
    api.put(f"{configuration_path(subscription_id, 'Matrix', 'cfg')}?{MAINTENANCE}", json=seed())


def call(client: TestClient, method: str, template: str, subscription_id: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    url = f"{fill(template, subscription_id)}?{api_version(template)}"
    body = {} if method in ("PUT", "PATCH", "POST") else None
    if template.endswith("Microsoft.ResourceGraph/resources"):
        body = {"query": "resources | count"}
    return client.request(method, url, headers=headers, json=body)


def body_code(response) -> str | None:
    return response.json()["error"]["code"] if response.content else None


def test_every_route_is_in_the_matrix(store: Store, clock: SettableClock) -> None:
    assert len(list(operations(store, clock))) >= 40


@pytest.mark.parametrize("credential", ["none", "garbage", "expired", "revoked", "wrong scheme"])
def test_without_a_valid_token_every_route_is_401(
    app_client: TestClient,
    store: Store,
    clock: SettableClock,
    tokens: Tokens,
    subscription_id: str,
    world: None,
    credential: str,
) -> None:
    token = {
        "none": None,
        "garbage": "upk_not-a-token",
        "expired": tokens.make("Owner", lifetime=timedelta(minutes=5)),
        "revoked": tokens.make("Owner", name="revoked-one"),
        "wrong scheme": None,
    }[credential]
    if credential == "expired":
        clock.advance(minutes=6)
    if credential == "revoked":
        with store.writing() as connection:
            record = next(r for r in auth.list_tokens(connection) if r.name == "revoked-one")
            auth.revoke_token(connection, record.id, clock())
    for method, template, _, _ in operations(store, clock):
        if credential == "wrong scheme":
            response = app_client.request(
                method,
                fill(template, subscription_id),
                headers={"Authorization": "Basic dXNlcjpwdw=="},
            )
        else:
            response = call(app_client, method, template, subscription_id, token)
        assert response.status_code == 401, (method, template, response.text)
        if method != "HEAD":
            assert body_code(response) == "AuthenticationFailed"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["Reader", "Contributor", "Owner"])
def test_each_role_may_do_exactly_what_it_grants(
    app_client: TestClient,
    store: Store,
    clock: SettableClock,
    tokens: Tokens,
    subscription_id: str,
    world: None,
    role: str,
) -> None:
    granted = {
        "Reader": {Permission.READ},
        "Contributor": {Permission.READ, Permission.WRITE},
        "Owner": {Permission.READ, Permission.WRITE, Permission.MANAGE_ACCESS},
    }[role]
    token = tokens.make(role)
    for method, template, permission, _ in operations(store, clock):
        response = call(app_client, method, template, subscription_id, token)
        if permission in granted:
            assert response.status_code not in (401, 403), (method, template, response.text)
        else:
            assert response.status_code == 403, (method, template, response.text)
            if method != "HEAD":
                assert body_code(response) == "AuthorizationFailed"


def test_outside_its_scope_an_owner_may_do_nothing(
    app_client: TestClient,
    store: Store,
    clock: SettableClock,
    tokens: Tokens,
    subscription_id: str,
    world: None,
) -> None:
    outsider = tokens.make("Owner", f"/subscriptions/{OTHER_SUBSCRIPTION}")
    for method, template, _, lists in operations(store, clock):
        response = call(app_client, method, template, subscription_id, outsider)
        reaches_wider = "{subscriptionId}" not in template
        if lists and reaches_wider:
            # a list above the caller's scope shows only what the scope covers
            assert response.status_code == 200, (method, template, response.text)
            continue
        assert response.status_code == 403, (method, template, response.text)


def test_a_list_above_the_scope_shows_only_the_scope(
    app_client: TestClient, tokens: Tokens, subscription_id: str, world: None
) -> None:
    outsider = tokens.make("Reader", f"/subscriptions/{OTHER_SUBSCRIPTION}")
    response = app_client.get(
        "/subscriptions?api-version=2022-12-01", headers={"Authorization": f"Bearer {outsider}"}
    )
    assert response.json()["value"] == []


def test_a_group_scoped_contributor_writes_only_in_its_group(
    app_client: TestClient, tokens: Tokens, subscription_id: str, world: None, api: TestClient
) -> None:
    api.put(f"{group_path(subscription_id, 'Elsewhere')}?{RESOURCES}", json={"location": "eastus"})
    contributor = {
        "Authorization": f"Bearer {tokens.make('Contributor', group_path(subscription_id, 'Matrix'))}"
    }
    inside = configuration_path(subscription_id, "Matrix", "mine")
    outside = configuration_path(subscription_id, "Elsewhere", "theirs")
    assert (
        app_client.put(f"{inside}?{MAINTENANCE}", json=seed(), headers=contributor).status_code
        == 201
    )
    assert (
        app_client.put(f"{outside}?{MAINTENANCE}", json=seed(), headers=contributor).status_code
        == 403
    )
    listed = app_client.get(
        f"/subscriptions/{subscription_id}/providers/Microsoft.Maintenance/maintenanceConfigurations?{MAINTENANCE}",
        headers=contributor,
    ).json()["value"]
    assert sorted(item["name"] for item in listed) == ["cfg", "mine"]
