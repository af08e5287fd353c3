"""Routes of ``Microsoft.Maintenance/applyUpdates``: run records under machines and
configurations, lists by subscription and group, cancel, and apply now."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from upkeep.arm.apiversions import MAINTENANCE
from upkeep.arm.bodies import read_json
from upkeep.arm.errors import ArmError, invalid_parameter
from upkeep.arm.ids import ResourceId, normalize_subscription_id
from upkeep.arm.routing import ArmRequest, ArmRouter, Operation, Permission, json_response
from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.runs import service

PROVIDER = "/providers/Microsoft.Maintenance"
SUBSCRIPTION = "/subscriptions/{subscriptionId}"
GROUP = SUBSCRIPTION + "/resourceGroups/{resourceGroupName}"
#: a machine, or a maintenance configuration: both are resources of a group
RESOURCE = GROUP + "/providers/{providerName}/{resourceType}/{resourceName}"
APPLY_UPDATES = PROVIDER + "/applyUpdates"
CONFIGURATIONS = "microsoft.maintenance/maintenanceconfigurations"


class RunViews:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def get(self, call: ArmRequest) -> Response:
        name = call.params["applyUpdateName"]
        if _is_configuration(call):
            record = await self.store.read(service.get_run_record, *_configuration(call), name)
        else:
            record = await self.store.read(service.get_machine_record, _machine(call), name)
        return json_response(record)

    async def put(self, call: ArmRequest) -> Response:
        name = call.params["applyUpdateName"]
        if _is_configuration(call):
            _require_cancel(await read_json(call.request))
            record = await self.store.write(
                service.cancel_run, *_configuration(call), name, self.clock()
            )
            return json_response(record)
        if name.lower() != "default":
            raise invalid_parameter(
                "applyUpdateName",
                f"'{name}': updates are applied to a machine with the name 'default'",
            )
        record = await self.store.write(service.apply_now, _machine(call), self.clock())
        return json_response(record)

    async def list_under_resource(self, call: ArmRequest) -> Response:
        if _is_configuration(call):
            found = await self.store.read(service.list_run_records, *_configuration(call))
        else:
            found = await self.store.read(service.list_records_of_machine, _machine(call))
        return json_response({"value": found})

    async def list_in_scope(self, call: ArmRequest) -> Response:
        found = await self.store.read(
            service.list_machine_records,
            normalize_subscription_id(call.params["subscriptionId"]),
            call.params.get("resourceGroupName"),
            call.visible_scope,
        )
        return json_response({"value": found})

    async def list_run_machines(self, call: ArmRequest) -> Response:
        """``{configuration}/…/applyUpdates/{run}/machines`` (an Upkeep extension): each
        machine's part of the run that the caller may read."""
        if not _is_configuration(call):
            raise ArmError(
                404,
                "InvalidResourceType",
                "Only a maintenance configuration's runs list their machines.",
            )
        found = await self.store.read(
            service.list_run_machines, *_configuration(call), call.params["applyUpdateName"]
        )
        visible = [
            record for record in found if call.caller.can_read(record["properties"]["resourceId"])
        ]
        return json_response({"value": visible})


def _is_configuration(call: ArmRequest) -> bool:
    kind = f"{call.params['providerName']}/{call.params['resourceType']}"
    return kind.lower() == CONFIGURATIONS


def _configuration(call: ArmRequest) -> tuple[str, str, str]:
    return (
        normalize_subscription_id(call.params["subscriptionId"]),
        call.params["resourceGroupName"],
        call.params["resourceName"],
    )


def _machine(call: ArmRequest) -> ResourceId:
    params = call.params
    return ResourceId(
        normalize_subscription_id(params["subscriptionId"]),
        params["resourceGroupName"],
        params["providerName"],
        (params["resourceType"],),
        (params["resourceName"],),
    ).canonical()


def _require_cancel(body: Any) -> None:
    """A run is changed only to cancel it: ``{"properties": {"status": "Cancel"}}``."""
    status = (body.get("properties") or {}).get("status") if isinstance(body, dict) else None
    if not isinstance(status, str) or status.lower() != "cancel":
        raise ArmError(
            400,
            "InvalidParameter",
            f"properties.status: '{status}' cannot be set; a maintenance run can only be"
            ' cancelled, with {"properties": {"status": "Cancel"}}',
            target="properties.status",
        )


def add_routes(router: ArmRouter, views: RunViews) -> None:
    read, write = Permission.READ, Permission.WRITE
    router.add(
        RESOURCE + APPLY_UPDATES + "/{applyUpdateName}",
        MAINTENANCE,
        get=Operation(views.get, read),
        put=Operation(views.put, write),
    )
    router.add(
        RESOURCE + APPLY_UPDATES + "/{applyUpdateName}/machines",
        MAINTENANCE,
        get=Operation(views.list_run_machines, read),
    )
    router.add(
        RESOURCE + APPLY_UPDATES, MAINTENANCE, get=Operation(views.list_under_resource, read)
    )
    for scope in (SUBSCRIPTION, GROUP):
        router.add(
            scope + APPLY_UPDATES, MAINTENANCE, get=Operation(views.list_in_scope, read, lists=True)
        )
