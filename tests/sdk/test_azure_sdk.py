"""The real Azure SDK for Python clients against ``upkeep serve`` over HTTPS with its generated
certificate, on SQLite and on PostgreSQL."""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.maintenance import MaintenanceManagementClient
from azure.mgmt.maintenance.models import (
    ConfigurationAssignment,
    ConfigurationAssignmentFilterProperties,
    InputLinuxParameters,
    InputPatchConfiguration,
    MaintenanceConfiguration,
    TagSettingsProperties,
)
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from tests.helpers import SEED_CONFIGURATION
from tests.server import RunningServer

pytestmark = pytest.mark.slow


@dataclass
class Clients:
    subscription_id: str
    resources: ResourceManagementClient
    subscriptions: SubscriptionClient
    maintenance: MaintenanceManagementClient


@pytest.fixture
def azure(server: RunningServer) -> Iterator[Clients]:
    credential, options = server.credential(), server.sdk_options()
    subscription = server.subscription_id
    clients = Clients(
        subscription,
        ResourceManagementClient(credential, subscription, **options),
        SubscriptionClient(credential, **options),
        MaintenanceManagementClient(credential, subscription, **options),
    )
    clients.resources.resource_groups.create_or_update(
        "atscalepatching", {"location": "eastus2euap"}
    )
    yield clients
    # Close keep-alive connections so the server can stop at once; a response kept alive
    # by a caught exception's traceback holds its socket until the cycle is collected.
    for client in (clients.resources, clients.subscriptions, clients.maintenance):
        client.close()
    gc.collect()


def test_subscriptions_and_resource_groups(azure: Clients) -> None:
    listed = list(azure.subscriptions.subscriptions.list())
    assert [item.subscription_id for item in listed] == [azure.subscription_id]
    assert azure.subscriptions.subscriptions.get(azure.subscription_id).display_name == "Default"
    groups = azure.resources.resource_groups
    created = groups.create_or_update("web", {"location": "westeurope", "tags": {"env": "prod"}})
    assert created.id == f"/subscriptions/{azure.subscription_id}/resourceGroups/web"
    assert created.properties.provisioning_state == "Succeeded"
    assert groups.get("WEB").tags == {"env": "prod"}
    assert groups.update("web", {"tags": {"env": "test"}}).tags == {"env": "test"}
    assert groups.check_existence("web") is True
    assert sorted(group.name for group in groups.list()) == ["atscalepatching", "web"]
    groups.begin_delete("web").result()
    assert groups.check_existence("web") is False
    with pytest.raises(ResourceNotFoundError) as missing:
        groups.get("web")
    assert missing.value.error.code == "ResourceGroupNotFound"


def test_the_seed_documents_exact_request_body(azure: Clients) -> None:
    configurations = azure.maintenance.maintenance_configurations
    body = io.BytesIO(json.dumps(SEED_CONFIGURATION).encode())
    created = configurations.create_or_update("atscalepatching", "TestAzureInGuestAdv2", body)
    assert created.maintenance_scope == "InGuestPatch"
    assert created.recur_every == "Day"
    assert created.time_zone == "India Standard Time"
    assert created.extension_properties == {"InGuestPatchMode": "User"}
    assert created.install_patches.windows_parameters.classifications_to_include == [
        "Security",
        "Critical",
        "UpdateRollup",
    ]
    assert created.install_patches.linux_parameters.classifications_to_include == ["Other"]
    assert created.system_data.created_by == "admin"
    fetched = configurations.get("atscalepatching", "testazureinguestadv2")
    assert fetched.id == created.id
    assert fetched.as_dict() == created.as_dict()


def test_configuration_lifecycle_through_sdk_models(azure: Clients) -> None:
    configurations = azure.maintenance.maintenance_configurations
    model = MaintenanceConfiguration(
        location="eastus",
        tags={"team": "ops"},
        maintenance_scope="InGuestPatch",
        extension_properties={"InGuestPatchMode": "User"},
        start_date_time="2026-12-05 22:00",
        duration="03:00",
        time_zone="W. Europe Standard Time",
        recur_every="Month Second Tuesday Offset4",
        install_patches=InputPatchConfiguration(
            reboot_setting="IfRequired",
            linux_parameters=InputLinuxParameters(
                classifications_to_include=["Critical", "Security"],
                package_name_masks_to_exclude=["kernel*"],
            ),
        ),
    )
    created = configurations.create_or_update("atscalepatching", "patch-tuesday", model)
    assert created.recur_every == "Month Second Tuesday Offset4"
    update = MaintenanceConfiguration(location="eastus", duration="02:00", tags={"team": "sre"})
    updated = configurations.update("atscalepatching", "patch-tuesday", update)
    assert (updated.duration, updated.tags, updated.recur_every) == (
        "02:00",
        {"team": "sre"},
        "Month Second Tuesday Offset4",
    )
    in_group = azure.maintenance.maintenance_configurations_for_resource_group.list(
        "atscalepatching"
    )
    assert [item.name for item in in_group] == ["patch-tuesday"]
    assert [item.name for item in configurations.list()] == ["patch-tuesday"]
    configurations.delete("atscalepatching", "patch-tuesday")
    with pytest.raises(ResourceNotFoundError):
        configurations.get("atscalepatching", "patch-tuesday")


def test_bad_input_reaches_the_sdk_as_an_arm_error(azure: Clients) -> None:
    bad = MaintenanceConfiguration(
        location="eastus",
        maintenance_scope="InGuestPatch",
        extension_properties={"InGuestPatchMode": "User"},
        start_date_time="2026-12-05 22:00",
        duration="05:00",
        time_zone="UTC",
        recur_every="Day",
    )
    with pytest.raises(HttpResponseError) as raised:
        azure.maintenance.maintenance_configurations.create_or_update("atscalepatching", "bad", bad)
    assert raised.value.status_code == 400
    assert raised.value.error.code == "InvalidMaintenanceWindow"
    assert "properties.maintenanceWindow.duration" in raised.value.error.message


def test_assignments_at_every_scope(azure: Clients) -> None:
    body = io.BytesIO(json.dumps(SEED_CONFIGURATION).encode())
    configuration = azure.maintenance.maintenance_configurations.create_or_update(
        "atscalepatching", "daily", body
    ).id
    machines = azure.maintenance.configuration_assignments
    assigned = machines.create_or_update(
        "atscalepatching",
        "Microsoft.Compute",
        "virtualMachines",
        "win-atscalepatching-1",
        "TestAzureInGuestAdv",
        ConfigurationAssignment(location="eastus2euap", maintenance_configuration_id=configuration),
    )
    vm = (
        f"/subscriptions/{azure.subscription_id}/resourceGroups/atscalepatching"
        "/providers/Microsoft.Compute/virtualMachines/win-atscalepatching-1"
    )
    assert assigned.resource_id == vm
    arc = machines.create_or_update(
        "atscalepatching",
        "Microsoft.HybridCompute",
        "machines",
        "onprem-1",
        "daily",
        ConfigurationAssignment(maintenance_configuration_id=configuration),
    )
    assert arc.resource_id.endswith("/providers/Microsoft.HybridCompute/machines/onprem-1")
    fetched = machines.get(
        "atscalepatching",
        "Microsoft.Compute",
        "virtualMachines",
        "win-atscalepatching-1",
        "TestAzureInGuestAdv",
    )
    assert fetched.maintenance_configuration_id == configuration
    listed = machines.list(
        "atscalepatching", "Microsoft.Compute", "virtualMachines", "win-atscalepatching-1"
    )
    assert [item.name for item in listed] == ["TestAzureInGuestAdv"]

    dynamic = ConfigurationAssignmentFilterProperties(
        resource_types=["Microsoft.Compute/virtualMachines"],
        os_types=["Linux"],
        locations=["East US 2 EUAP"],
        tag_settings=TagSettingsProperties(
            tags={"env": ["prod", "staging"]}, filter_operator="Any"
        ),
    )
    by_group = azure.maintenance.configuration_assignments_for_resource_group
    in_group = by_group.create_or_update(
        "atscalepatching",
        "linux-prod",
        ConfigurationAssignment(maintenance_configuration_id=configuration, filter=dynamic),
    )
    assert (
        in_group.resource_id
        == f"/subscriptions/{azure.subscription_id}/resourceGroups/atscalepatching"
    )
    assert in_group.filter.tag_settings.tags == {"env": ["prod", "staging"]}
    patched = by_group.update(
        "atscalepatching",
        "linux-prod",
        ConfigurationAssignment(
            filter=ConfigurationAssignmentFilterProperties(os_types=["Windows"])
        ),
    )
    assert patched.filter.os_types == ["Windows"]
    assert by_group.get("atscalepatching", "linux-prod").filter.locations == ["East US 2 EUAP"]

    by_subscription = azure.maintenance.configuration_assignments_for_subscriptions
    everywhere = by_subscription.create_or_update(
        "all-linux",
        ConfigurationAssignment(
            maintenance_configuration_id=configuration,
            filter=ConfigurationAssignmentFilterProperties(
                resource_groups=["atscalepatching"], os_types=["Linux"]
            ),
        ),
    )
    assert everywhere.resource_id == f"/subscriptions/{azure.subscription_id}"
    assert by_subscription.get("all-linux").filter.resource_groups == ["atscalepatching"]

    within = azure.maintenance.configuration_assignments_within_subscription.list()
    assert sorted(item.name for item in within) == [
        "TestAzureInGuestAdv",
        "all-linux",
        "daily",
        "linux-prod",
    ]
    machines.delete(
        "atscalepatching",
        "Microsoft.Compute",
        "virtualMachines",
        "win-atscalepatching-1",
        "TestAzureInGuestAdv",
    )
    by_group.delete("atscalepatching", "linux-prod")
    by_subscription.delete("all-linux")
    remaining = azure.maintenance.configuration_assignments_within_subscription.list()
    assert [item.name for item in remaining] == ["daily"]
