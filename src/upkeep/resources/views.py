"""Routes for subscriptions (read-only over ARM) and resource groups (Microsoft.Resources)."""

from __future__ import annotations

from starlette.responses import Response

from upkeep.arm.apiversions import RESOURCES, SUBSCRIPTIONS
from upkeep.arm.bodies import parse_model, read_json
from upkeep.arm.ids import check_resource_group_name, normalize_subscription_id
from upkeep.arm.routing import ArmRequest, ArmRouter, Operation, Permission, json_response
from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.resources import service
from upkeep.resources.models import ResourceGroupIn, ResourceGroupPatch


class ResourceViews:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def list_subscriptions(self, call: ArmRequest) -> Response:
        found = await self.store.read(service.list_subscriptions, call.visible_scope)
        return json_response({"value": found})

    async def get_subscription(self, call: ArmRequest) -> Response:
        subscription_id = normalize_subscription_id(call.params["subscriptionId"])
        return json_response(await self.store.read(service.show_subscription, subscription_id))

    async def put_group(self, call: ArmRequest) -> Response:
        subscription_id, name = _group_params(call)
        check_resource_group_name(name)
        body = parse_model(ResourceGroupIn, await read_json(call.request))
        stored = body.model_dump(
            by_alias=True, exclude_none=True, include={"location", "tags", "managed_by"}
        )
        resource, created = await self.store.write(
            service.put_group, subscription_id, name, stored, self.clock()
        )
        return json_response(resource, 201 if created else 200)

    async def patch_group(self, call: ArmRequest) -> Response:
        subscription_id, name = _group_params(call)
        body = parse_model(ResourceGroupPatch, await read_json(call.request))
        changes = body.model_dump(by_alias=True, exclude_unset=True, include={"tags", "managed_by"})
        return json_response(
            await self.store.write(service.patch_group, subscription_id, name, changes)
        )

    async def get_group(self, call: ArmRequest) -> Response:
        subscription_id, name = _group_params(call)
        row = await self.store.read(service.require_group, subscription_id, name)
        return json_response(service.group_resource(row))

    async def group_exists(self, call: ArmRequest) -> Response:
        subscription_id, name = _group_params(call)
        await self.store.read(service.require_group, subscription_id, name)
        return Response(None, 204)

    async def list_groups(self, call: ArmRequest) -> Response:
        subscription_id = normalize_subscription_id(call.params["subscriptionId"])
        found = await self.store.read(service.list_groups, subscription_id, call.visible_scope)
        return json_response({"value": found})

    async def delete_group(self, call: ArmRequest) -> Response:
        subscription_id, name = _group_params(call)
        await self.store.write(service.delete_group, subscription_id, name)
        return Response(None, 200)


def _group_params(call: ArmRequest) -> tuple[str, str]:
    return (
        normalize_subscription_id(call.params["subscriptionId"]),
        call.params["resourceGroupName"],
    )


def add_routes(router: ArmRouter, views: ResourceViews) -> None:
    read, write = Permission.READ, Permission.WRITE
    router.add(
        "/subscriptions", SUBSCRIPTIONS, get=Operation(views.list_subscriptions, read, lists=True)
    )
    router.add(
        "/subscriptions/{subscriptionId}",
        SUBSCRIPTIONS,
        get=Operation(views.get_subscription, read, lists=True),
    )
    router.add(
        "/subscriptions/{subscriptionId}/resourceGroups",
        RESOURCES,
        get=Operation(views.list_groups, read, lists=True),
    )
    router.add(
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
        RESOURCES,
        get=Operation(views.get_group, read),
        head=Operation(views.group_exists, read),
        put=Operation(views.put_group, write),
        patch=Operation(views.patch_group, write),
        delete=Operation(views.delete_group, write),
    )
