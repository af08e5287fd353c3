"""Routes of Microsoft.Maintenance: configurations and configuration assignments."""

from __future__ import annotations

from starlette.responses import Response

from upkeep.arm.apiversions import MAINTENANCE
from upkeep.arm.bodies import parse_model, read_json, read_patch
from upkeep.arm.errors import ArmError, invalid_parameter
from upkeep.arm.ids import check_resource_name, normalize_subscription_id
from upkeep.arm.routing import ArmRequest, ArmRouter, Operation, Permission, json_response
from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.maintenance import service
from upkeep.maintenance.models import AssignmentIn, ConfigurationIn, stored_body
from upkeep.maintenance.service import AssignmentScope
from upkeep.orchestrator import service as windows

#: The most windows one schedule request may ask for.
MAX_WINDOWS = 500

PROVIDER = "/providers/Microsoft.Maintenance"
SUBSCRIPTION = "/subscriptions/{subscriptionId}"
GROUP = SUBSCRIPTION + "/resourceGroups/{resourceGroupName}"
CONFIGURATIONS = PROVIDER + "/maintenanceConfigurations"
ASSIGNMENTS = PROVIDER + "/configurationAssignments"
MACHINE = GROUP + "/providers/{providerName}/{resourceType}/{resourceName}"
CHILD_MACHINE = (
    GROUP
    + "/providers/{providerName}/{resourceParentType}/{resourceParentName}"
    + "/{resourceType}/{resourceName}"
)


class MaintenanceViews:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    # --- configurations --------------------------------------------------------------

    async def put_configuration(self, call: ArmRequest) -> Response:
        subscription_id, group, name = _configuration_params(call)
        check_resource_name(name, "resourceName")
        body = stored_body(parse_model(ConfigurationIn, await read_json(call.request)))
        resource, created = await self.store.write(
            service.put_configuration,
            subscription_id,
            group,
            name,
            body,
            by=call.caller.name,
            now=self.clock(),
        )
        return json_response(resource, call.api_version.created_status if created else 200)

    async def patch_configuration(self, call: ArmRequest) -> Response:
        subscription_id, group, name = _configuration_params(call)
        resource = await self.store.write(
            service.patch_configuration,
            subscription_id,
            group,
            name,
            await read_patch(call.request),
            by=call.caller.name,
            now=self.clock(),
        )
        return json_response(resource)

    async def get_configuration(self, call: ArmRequest) -> Response:
        resource = await self.store.read(service.get_configuration, *_configuration_params(call))
        return json_response(resource)

    async def delete_configuration(self, call: ArmRequest) -> Response:
        deleted = await self.store.write(service.delete_configuration, *_configuration_params(call))
        return json_response(deleted) if deleted else Response(None, 204)

    async def list_configurations(self, call: ArmRequest) -> Response:
        subscription_id = normalize_subscription_id(call.params["subscriptionId"])
        found = await self.store.read(
            service.list_configurations,
            subscription_id,
            call.params.get("resourceGroupName"),
            call.visible_scope,
        )
        return json_response({"value": found})

    async def upcoming_windows(self, call: ArmRequest) -> Response:
        count = call.query.get("count", "10")
        if not count.isdigit() or not 1 <= int(count) <= MAX_WINDOWS:
            raise invalid_parameter(
                "count", f"'{count}' must be a whole number from 1 to {MAX_WINDOWS}"
            )
        params = _configuration_params(call)
        found = await self.store.read(
            service.upcoming_windows, *params, after=self.clock(), count=int(count)
        )
        # who each window would patch, as the assignments and dynamic scopes stand now
        machines = await self.store.read(
            windows.assigned_machine_ids, service.configuration_id(*params).lower()
        )
        return json_response({"value": [{**window, "machines": machines} for window in found]})

    async def list_assignments_of_configuration(self, call: ArmRequest) -> Response:
        found = await self.store.read(
            service.list_assignments_of_configuration,
            *_configuration_params(call),
            call.caller.can_read,
        )
        return json_response({"value": found})

    # --- assignments -----------------------------------------------------------------

    async def put_assignment(self, call: ArmRequest) -> Response:
        scope, name = _assignment_params(call)
        check_resource_name(name, "configurationAssignmentName")
        body = stored_body(parse_model(AssignmentIn, await read_json(call.request)))
        resource, created = await self.store.write(
            service.put_assignment,
            scope,
            name,
            body,
            can_read=call.caller.can_read,
            by=call.caller.name,
            now=self.clock(),
        )
        return json_response(resource, call.api_version.created_status if created else 200)

    async def patch_assignment(self, call: ArmRequest) -> Response:
        scope, name = _assignment_params(call)
        resource = await self.store.write(
            service.patch_assignment,
            scope,
            name,
            await read_patch(call.request),
            can_read=call.caller.can_read,
            by=call.caller.name,
            now=self.clock(),
        )
        return json_response(resource)

    async def get_assignment(self, call: ArmRequest) -> Response:
        resource = await self.store.read(service.get_assignment, *_assignment_params(call))
        return json_response(resource)

    async def delete_assignment(self, call: ArmRequest) -> Response:
        deleted = await self.store.write(service.delete_assignment, *_assignment_params(call))
        return json_response(deleted) if deleted else Response(None, 204)

    async def list_assignments_for_target(self, call: ArmRequest) -> Response:
        found = await self.store.read(service.list_assignments_for_target, _assignment_scope(call))
        return json_response({"value": found})

    async def list_assignments_in_subscription(self, call: ArmRequest) -> Response:
        subscription_id = normalize_subscription_id(call.params["subscriptionId"])
        found = await self.store.read(
            service.list_assignments_in_subscription, subscription_id, call.visible_scope
        )
        return json_response({"value": found})


def _configuration_params(call: ArmRequest) -> tuple[str, str, str]:
    return (
        normalize_subscription_id(call.params["subscriptionId"]),
        call.params["resourceGroupName"],
        call.params["resourceName"],
    )


def _assignment_scope(call: ArmRequest) -> AssignmentScope:
    params = call.params
    subscription_id = normalize_subscription_id(params["subscriptionId"])
    if "resourceName" in params:
        types = [params["resourceType"]]
        names = [params["resourceName"]]
        if "resourceParentType" in params:
            types.insert(0, params["resourceParentType"])
            names.insert(0, params["resourceParentName"])
        return service.machine_scope(
            subscription_id, params["resourceGroupName"], params["providerName"], types, names
        )
    if not call.api_version.dynamic_scopes:
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{call.api_version.name}' has no configuration assignments at"
            " subscription or resource-group scope; use 2023-04-01 or later.",
            target="api-version",
        )
    return AssignmentScope(subscription_id, params.get("resourceGroupName"))


def _assignment_params(call: ArmRequest) -> tuple[AssignmentScope, str]:
    return _assignment_scope(call), call.params["configurationAssignmentName"]


def add_routes(router: ArmRouter, views: MaintenanceViews) -> None:
    read, write = Permission.READ, Permission.WRITE
    router.add(
        GROUP + CONFIGURATIONS + "/{resourceName}",
        MAINTENANCE,
        get=Operation(views.get_configuration, read),
        put=Operation(views.put_configuration, write),
        patch=Operation(views.patch_configuration, write),
        delete=Operation(views.delete_configuration, write),
    )
    router.add(
        GROUP + CONFIGURATIONS + "/{resourceName}/schedule",
        MAINTENANCE,
        get=Operation(views.upcoming_windows, read),
    )
    router.add(
        GROUP + CONFIGURATIONS + "/{resourceName}/configurationAssignments",
        MAINTENANCE,
        get=Operation(views.list_assignments_of_configuration, read),
    )
    for collection in (SUBSCRIPTION + CONFIGURATIONS, GROUP + CONFIGURATIONS):
        router.add(
            collection, MAINTENANCE, get=Operation(views.list_configurations, read, lists=True)
        )
    router.add(
        SUBSCRIPTION + ASSIGNMENTS,
        MAINTENANCE,
        get=Operation(views.list_assignments_in_subscription, read, lists=True),
    )
    for scope in (SUBSCRIPTION, GROUP):
        router.add(
            scope + ASSIGNMENTS + "/{configurationAssignmentName}",
            MAINTENANCE,
            get=Operation(views.get_assignment, read),
            put=Operation(views.put_assignment, write),
            patch=Operation(views.patch_assignment, write),
            delete=Operation(views.delete_assignment, write),
        )
    for machine in (MACHINE, CHILD_MACHINE):
        router.add(
            machine + ASSIGNMENTS,
            MAINTENANCE,
            get=Operation(views.list_assignments_for_target, read),
        )
        router.add(
            machine + ASSIGNMENTS + "/{configurationAssignmentName}",
            MAINTENANCE,
            get=Operation(views.get_assignment, read),
            put=Operation(views.put_assignment, write),
            delete=Operation(views.delete_assignment, write),
        )
