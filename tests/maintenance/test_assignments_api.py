"""Configuration assignments: on machines, and as dynamic scopes on groups and subscriptions."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import Tokens
from tests.helpers import (
    MAINTENANCE,
    PREVIEW,
    RESOURCES,
    assignment_path,
    configuration_path,
    group_path,
    machine_id,
    seed,
)

DYNAMIC_FILTER = {
    "resourceTypes": ["Microsoft.HybridCompute/machines", "Microsoft.Compute/virtualMachines"],
    "resourceGroups": ["RG1", "RG2"],
    "osTypes": ["Linux"],
    "locations": ["Japan East", "UK South"],
    "tagSettings": {
        "tags": {"tag1": ["tag1Value1", "tag1Value2"], "tag2": ["tag2Value1"]},
        "filterOperator": "Any",
    },
}


@pytest.fixture
def configuration(api: TestClient, subscription_id: str) -> str:
    for group in ("Schedules", "Machines"):
        api.put(f"{group_path(subscription_id, group)}?{RESOURCES}", json={"location": "eastus"})
    path = configuration_path(subscription_id, "Schedules", "weekly")
    assert api.put(f"{path}?{MAINTENANCE}", json=seed()).status_code == 201
    return path


def assign(api: TestClient, scope: str, name: str, configuration: str, **extra: object):
    body = {"properties": {"maintenanceConfigurationId": configuration, **extra}}
    return api.put(f"{assignment_path(scope, name)}?{MAINTENANCE}", json=body)


def test_a_machine_that_is_not_registered_yet_can_be_assigned(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    machine = machine_id(subscription_id, "Machines", "web-1")
    response = assign(api, machine, "weekly", configuration)
    assert response.status_code == 201
    body = response.json()
    assert (
        body["id"] == f"{machine}/providers/Microsoft.Maintenance/configurationAssignments/weekly"
    )
    assert body["type"] == "Microsoft.Maintenance/configurationAssignments"
    assert body["properties"] == {
        "maintenanceConfigurationId": configuration,
        "resourceId": machine,
    }
    assert api.get(f"{assignment_path(machine, 'weekly')}?{MAINTENANCE}").json() == body


def test_arc_machines_can_be_assigned_and_listed(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    machine = machine_id(
        subscription_id, "Machines", "onprem-1", "Microsoft.HybridCompute/machines"
    )
    assign(api, machine, "first", configuration)
    assign(api, machine, "second", configuration)
    listed = api.get(
        f"{machine}/providers/Microsoft.Maintenance/configurationAssignments?{MAINTENANCE}"
    ).json()["value"]
    assert [item["name"] for item in listed] == ["first", "second"]


def test_machine_ids_are_matched_without_case(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    assign(api, machine_id(subscription_id, "Machines", "Web-1"), "weekly", configuration)
    shouted = machine_id(subscription_id, "MACHINES", "WEB-1", "MICROSOFT.COMPUTE/VIRTUALMACHINES")
    found = api.get(
        f"{shouted}/providers/microsoft.maintenance/configurationassignments?{MAINTENANCE}"
    )
    assert [item["properties"]["resourceId"] for item in found.json()["value"]] == [
        machine_id(subscription_id, "Machines", "Web-1")
    ]


def test_only_machines_can_be_assigned(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    scale_set = machine_id(
        subscription_id, "Machines", "ss", "Microsoft.Compute/virtualMachineScaleSets"
    )
    response = assign(api, scale_set, "weekly", configuration)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidResourceType"
    assert "Microsoft.Compute/virtualMachineScaleSets" in response.json()["error"]["message"]


def test_subscription_scope_dynamic_assignment(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    scope = f"/subscriptions/{subscription_id}"
    response = assign(api, scope, "workers", configuration, filter=DYNAMIC_FILTER)
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == f"{scope}/providers/Microsoft.Maintenance/configurationAssignments/workers"
    assert body["properties"]["resourceId"] == scope
    assert body["properties"]["filter"] == DYNAMIC_FILTER


def test_resource_group_scope_dynamic_assignment_and_patch(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    scope = group_path(subscription_id, "Machines")
    dynamic = {
        "osTypes": ["Windows"],
        "tagSettings": {"tags": {"env": ["prod"]}, "filterOperator": "All"},
    }
    assert (
        assign(api, scope, "prod", configuration, filter=dynamic).json()["properties"]["resourceId"]
        == scope
    )
    patched = api.patch(
        f"{assignment_path(scope, 'prod')}?{MAINTENANCE}",
        json={"properties": {"filter": {"osTypes": ["Linux"]}}},
    )
    assert patched.status_code == 200
    assert patched.json()["properties"]["filter"] == {**dynamic, "osTypes": ["Linux"]}


def test_dynamic_scopes_do_not_exist_in_the_preview_api(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    response = api.put(
        f"{assignment_path(f'/subscriptions/{subscription_id}', 'x')}?{PREVIEW}",
        json={"properties": {"maintenanceConfigurationId": configuration}},
    )
    assert response.status_code == 400
    assert "2021-09-01-preview" in response.json()["error"]["message"]


def test_a_filter_on_a_machine_assignment_is_refused(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    machine = machine_id(subscription_id, "Machines", "vm")
    response = assign(api, machine, "weekly", configuration, filter={"osTypes": ["Linux"]})
    assert response.status_code == 400
    assert response.json()["error"]["target"] == "properties.filter"


def test_the_configuration_must_exist(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    missing = configuration_path(subscription_id, "Schedules", "nope")
    response = assign(api, machine_id(subscription_id, "Machines", "vm"), "a", missing)
    assert response.status_code == 400
    assert response.json()["error"]["target"] == "properties.maintenanceConfigurationId"


def test_a_malformed_configuration_id_is_refused(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    response = assign(api, machine_id(subscription_id, "Machines", "vm"), "a", "/not/an/id")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "LinkedInvalidPropertyId"


def test_delete_answers_200_then_204(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    path = f"{assignment_path(f'/subscriptions/{subscription_id}', 'dyn')}?{MAINTENANCE}"
    api.put(path, json={"properties": {"maintenanceConfigurationId": configuration}})
    assert api.delete(path).status_code == 200
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_every_assignment_of_a_configuration_is_listed(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    assign(api, machine_id(subscription_id, "Machines", "vm1"), "a1", configuration)
    assign(api, group_path(subscription_id, "Machines"), "a2", configuration)
    assign(api, f"/subscriptions/{subscription_id}", "a3", configuration)
    other = configuration_path(subscription_id, "Schedules", "other")
    api.put(f"{other}?{MAINTENANCE}", json=seed())
    assign(api, machine_id(subscription_id, "Machines", "vm2"), "b1", other)
    found = api.get(f"{configuration}/configurationAssignments?{MAINTENANCE}").json()["value"]
    assert sorted(item["name"] for item in found) == ["a1", "a2", "a3"]
    within = api.get(
        f"/subscriptions/{subscription_id}/providers/Microsoft.Maintenance/configurationAssignments?{MAINTENANCE}"
    ).json()["value"]
    assert sorted(item["name"] for item in within) == ["a1", "a2", "a3", "b1"]


def test_assigning_needs_read_access_to_the_configuration(
    app_client: TestClient,
    tokens: Tokens,
    subscription_id: str,
    api: TestClient,
    configuration: str,
) -> None:
    machines = group_path(subscription_id, "Machines")
    contributor = tokens.make("Contributor", machines)
    response = app_client.put(
        f"{assignment_path(machine_id(subscription_id, 'Machines', 'vm'), 'a')}?{MAINTENANCE}",
        json={"properties": {"maintenanceConfigurationId": configuration}},
        headers={"Authorization": f"Bearer {contributor}"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "LinkedAuthorizationFailed"


def test_deleting_a_group_deletes_the_assignments_in_it(
    api: TestClient, subscription_id: str, configuration: str
) -> None:
    machine = machine_id(subscription_id, "Machines", "vm")
    assign(api, machine, "a", configuration)
    assign(api, group_path(subscription_id, "Machines"), "g", configuration)
    assign(api, f"/subscriptions/{subscription_id}", "s", configuration)
    assert api.delete(f"{group_path(subscription_id, 'Machines')}?{RESOURCES}").status_code == 200
    remaining = api.get(f"{configuration}/configurationAssignments?{MAINTENANCE}").json()["value"]
    assert [item["name"] for item in remaining] == ["s"]
