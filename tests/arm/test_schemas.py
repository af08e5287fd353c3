"""Responses validate against the official Microsoft.Maintenance JSON schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.testclient import TestClient

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

SPECS = Path(__file__).parent.parent / "azure-specs"


def _retrieve(uri: str) -> Resource:
    """Map the specs' relative refs (which climb out of this folder) by path suffix."""
    path = uri.removeprefix("file://")
    marker = "common-types/resource-management/"
    if marker in path:
        path = str(SPECS / marker / path.split(marker, 1)[1])
    return Resource.from_contents(json.loads(Path(path).read_text()), default_specification=DRAFT4)


@cache
def validator(version: str, definition: str) -> Draft4Validator:
    spec = SPECS / "maintenance" / version / "Maintenance.json"
    uri = spec.resolve().as_uri()
    registry = Registry(retrieve=_retrieve).with_resource(
        uri, Resource.from_contents(json.loads(spec.read_text()), default_specification=DRAFT4)
    )
    return Draft4Validator(
        {"$ref": f"{uri}#/definitions/{definition}"},
        registry=registry,
        format_checker=FormatChecker(),
    )


def check(version: str, definition: str, body: Any) -> None:
    validator(version, definition).validate(body)


@pytest.fixture
def scene(api: TestClient, subscription_id: str) -> dict[str, str]:
    api.put(f"{group_path(subscription_id, 'Schemas')}?{RESOURCES}", json={"location": "eastus"})
    configuration = configuration_path(subscription_id, "Schemas", "seed")
    return {
        "configuration": configuration,
        "machine": assignment_path(machine_id(subscription_id, "Schemas", "vm"), "a"),
        "group": assignment_path(group_path(subscription_id, "Schemas"), "g"),
        "subscription": assignment_path(f"/subscriptions/{subscription_id}", "s"),
        "subscription_id": subscription_id,
    }


@pytest.mark.parametrize("version", ["2023-04-01", "2021-09-01-preview"])
def test_configuration_responses_match_the_spec(
    api: TestClient, scene: dict[str, str], version: str
) -> None:
    path = f"{scene['configuration']}?api-version={version}"
    check(version, "MaintenanceConfiguration", api.put(path, json=SEED_CONFIGURATION).json())
    check(version, "MaintenanceConfiguration", api.get(path).json())
    patch = {"tags": {"a": "b"}, "properties": {"maintenanceWindow": {"duration": "02:00"}}}
    check(version, "MaintenanceConfiguration", api.patch(path, json=patch).json())
    listing = api.get(
        f"/subscriptions/{scene['subscription_id']}/providers/Microsoft.Maintenance"
        f"/maintenanceConfigurations?api-version={version}"
    ).json()
    check(version, "ListMaintenanceConfigurationsResult", listing)
    check(version, "MaintenanceConfiguration", api.delete(path).json())


def test_assignment_responses_match_the_spec(api: TestClient, scene: dict[str, str]) -> None:
    api.put(f"{scene['configuration']}?{MAINTENANCE}", json=seed())
    dynamic = {
        "osTypes": ["Linux"],
        "locations": ["Japan East"],
        "tagSettings": {"tags": {"env": ["prod"]}, "filterOperator": "All"},
    }
    for which, extra in (
        ("machine", {}),
        ("group", {"filter": dynamic}),
        ("subscription", {"filter": dynamic}),
    ):
        body = {
            "location": "eastus",
            "properties": {"maintenanceConfigurationId": scene["configuration"], **extra},
        }
        path = f"{scene[which]}?{MAINTENANCE}"
        check("2023-04-01", "ConfigurationAssignment", api.put(path, json=body).json())
        check("2023-04-01", "ConfigurationAssignment", api.get(path).json())
    machine_list = scene["machine"].rsplit("/", 1)[0]
    check(
        "2023-04-01",
        "ListConfigurationAssignmentsResult",
        api.get(f"{machine_list}?{MAINTENANCE}").json(),
    )
    within = f"/subscriptions/{scene['subscription_id']}/providers/Microsoft.Maintenance/configurationAssignments"
    check(
        "2023-04-01",
        "ListConfigurationAssignmentsResult",
        api.get(f"{within}?{MAINTENANCE}").json(),
    )
    check(
        "2023-04-01",
        "ConfigurationAssignment",
        api.delete(f"{scene['machine']}?{MAINTENANCE}").json(),
    )


def test_preview_machine_assignment_matches_its_spec(
    api: TestClient, scene: dict[str, str]
) -> None:
    api.put(f"{scene['configuration']}?{PREVIEW}", json=seed())
    body = {
        "properties": {"maintenanceConfigurationId": scene["configuration"]},
        "location": "eastus2euap",
    }
    response = api.put(f"{scene['machine']}?{PREVIEW}", json=body)
    check("2021-09-01-preview", "ConfigurationAssignment", response.json())


def test_errors_match_the_spec(api: TestClient, scene: dict[str, str]) -> None:
    for response in (
        api.get(f"{scene['configuration']}?{MAINTENANCE}"),
        api.put(f"{scene['configuration']}?{MAINTENANCE}", json={"location": 3}),
        api.get(scene["configuration"]),
    ):
        assert response.status_code >= 400
        check("2023-04-01", "MaintenanceError", response.json())


def test_the_validator_does_check_the_schema() -> None:
    wrong = {
        "id": "x",
        "systemData": {"createdAt": "yesterday"},
        "properties": {"maintenanceScope": 7},
    }
    with pytest.raises(ValidationError):
        check("2023-04-01", "MaintenanceConfiguration", wrong)
    with pytest.raises(ValidationError):
        check("2023-04-01", "MaintenanceConfiguration", {"systemData": {"createdAt": "yesterday"}})
