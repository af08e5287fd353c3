"""Paths and bodies the API tests share."""

from __future__ import annotations

import copy
from typing import Any

MAINTENANCE = "api-version=2023-04-01"
PREVIEW = "api-version=2021-09-01-preview"
RESOURCES = "api-version=2025-04-01"

#: The request body of "Create a maintenance configuration schedule" in Azure's
#: "How to programmatically manage updates for Azure VMs", exactly as published.
SEED_CONFIGURATION: dict[str, Any] = {
    "location": "eastus2euap",
    "properties": {
        "namespace": None,
        "extensionProperties": {"InGuestPatchMode": "User"},
        "maintenanceScope": "InGuestPatch",
        "maintenanceWindow": {
            "startDateTime": "2021-08-21 01:18",
            "expirationDateTime": "2221-05-19 03:30",
            "duration": "01:30",
            "timeZone": "India Standard Time",
            "recurEvery": "Day",
        },
        "visibility": "Custom",
        "installPatches": {
            "rebootSetting": "IfRequired",
            "windowsParameters": {
                "classificationsToInclude": ["Security", "Critical", "UpdateRollup"]
            },
            "linuxParameters": {"classificationsToInclude": ["Other"]},
        },
    },
}


def seed(**changes: Any) -> dict[str, Any]:
    """A copy of the seed body; ``changes`` are merged into ``properties`` (dicts merge)."""
    body = copy.deepcopy(SEED_CONFIGURATION)
    _merge(body["properties"], changes)
    return body


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def group_path(subscription: str, group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def configuration_path(subscription: str, group: str, name: str) -> str:
    return f"{group_path(subscription, group)}/providers/Microsoft.Maintenance/maintenanceConfigurations/{name}"


def machine_id(
    subscription: str, group: str, name: str, kind: str = "Microsoft.Compute/virtualMachines"
) -> str:
    return f"{group_path(subscription, group)}/providers/{kind}/{name}"


def assignment_path(scope: str, name: str) -> str:
    return f"{scope}/providers/Microsoft.Maintenance/configurationAssignments/{name}"
