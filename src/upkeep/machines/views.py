"""ARM routes for machines (VMs and Arc machines) and for enrollment tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response

from upkeep.arm.apiversions import COMPUTE, HYBRIDCOMPUTE, UPKEEP, ApiFamily
from upkeep.arm.bodies import parse_model, read_json
from upkeep.arm.ids import ResourceId, normalize_subscription_id
from upkeep.arm.routing import ArmRequest, ArmRouter, Operation, Permission, json_response
from upkeep.arm.timestamps import format_timestamp
from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.durations import parse_span
from upkeep.machines import service

GROUP = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
SUBSCRIPTION = "/subscriptions/{subscriptionId}"
#: (provider, type, the api-version family, the path parameter Azure names the machine by)
MACHINE_KINDS = (
    ("Microsoft.Compute", "virtualMachines", COMPUTE, "vmName"),
    ("Microsoft.HybridCompute", "machines", HYBRIDCOMPUTE, "machineName"),
)


def machine_from(call: ArmRequest) -> ResourceId:
    """The machine a route names."""
    params = call.params
    namespace, kind = (
        ("Microsoft.Compute", "virtualMachines")
        if "vmName" in params
        else (
            "Microsoft.HybridCompute",
            "machines",
        )
    )
    name = params.get("vmName") or params["machineName"]
    return ResourceId(
        normalize_subscription_id(params["subscriptionId"]),
        params["resourceGroupName"],
        namespace,
        (kind,),
        (name,),
    )


class MachineViews:
    def __init__(self, store: Store, clock: Clock, forget_credentials: Callable[[], None]) -> None:
        self.store = store
        self.clock = clock
        self.forget_credentials = forget_credentials

    async def get(self, call: ArmRequest) -> Response:
        resource = await self.store.read(service.get_machine, machine_from(call), self.clock())
        return json_response(resource)

    async def patch(self, call: ArmRequest) -> Response:
        resource = await self.store.write(
            service.patch_machine,
            machine_from(call),
            await read_json(call.request),
            by=call.caller.name,
            now=self.clock(),
        )
        return json_response(resource)

    async def delete(self, call: ArmRequest) -> Response:
        deleted = await self.store.write(service.delete_machine, machine_from(call), self.clock())
        self.forget_credentials()  # its agent is locked out at once, not in a few seconds
        return json_response(deleted) if deleted else Response(None, 204)

    def lister(self, machine_type: str) -> Any:
        async def list_machines(call: ArmRequest) -> Response:
            found = await self.store.read(
                service.list_machines,
                normalize_subscription_id(call.params["subscriptionId"]),
                call.params.get("resourceGroupName"),
                machine_type,
                call.visible_scope,
                self.clock(),
            )
            return json_response({"value": found})

        return list_machines


class EnrollmentTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    name: str | None = Field(default=None, min_length=1, max_length=128)
    expires_in: str | None = Field(default=None, alias="expiresIn")
    uses: int | None = Field(default=None, ge=1)

    @field_validator("expires_in")
    @classmethod
    def _lifetime(cls, value: str | None) -> str | None:
        if value is not None:
            parse_span(value)
        return value


def enrollment_resource(
    token: service.EnrollmentToken, now: Any, secret: str | None = None
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "scope": token.scope,
        "state": token.state(now),
        "usesLeft": token.uses_left,
        "createdAt": format_timestamp(token.created_at),
        "createdBy": token.created_by,
        "expiresAt": format_timestamp(token.expires_at) if token.expires_at else None,
    }
    if secret is not None:
        properties["secret"] = secret
    return {
        "id": f"{token.scope}/providers/Upkeep.Authorization/enrollmentTokens/{token.id}",
        "name": token.name,
        "type": "Upkeep.Authorization/enrollmentTokens",
        "properties": properties,
    }


class EnrollmentViews:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    @staticmethod
    def _scope(call: ArmRequest) -> str:
        path = call.request.scope["path"]
        return path[: path.lower().index("/providers/upkeep.authorization/enrollmenttokens")]

    async def create(self, call: ArmRequest) -> Response:
        body = parse_model(EnrollmentTokenRequest, await read_json(call.request))
        now = self.clock()
        token, secret = await self.store.write(
            service.create_enrollment_token,
            scope=self._scope(call),
            now=now,
            name=body.name,
            lifetime=parse_span(body.expires_in) if body.expires_in else None,
            uses=body.uses,
            created_by=call.caller.name,
        )
        return json_response(enrollment_resource(token, now, secret), 201)

    async def list(self, call: ArmRequest) -> Response:
        tokens = await self.store.read(service.list_enrollment_tokens, call.visible_scope)
        now = self.clock()
        return json_response({"value": [enrollment_resource(token, now) for token in tokens]})

    async def revoke(self, call: ArmRequest) -> Response:
        now = self.clock()
        token = await self.store.write(service.revoke_enrollment_token, call.params["tokenId"], now)
        return json_response(enrollment_resource(token, now))


def add_routes(router: ArmRouter, machines: MachineViews, enrollment: EnrollmentViews) -> None:
    read, write = Permission.READ, Permission.WRITE
    for namespace, kind, family, name in MACHINE_KINDS:
        add_machine_routes(router, machines, namespace, kind, family, name, read, write)
    manage = Permission.MANAGE_ACCESS
    for scope in (SUBSCRIPTION, GROUP):
        collection = f"{scope}/providers/Upkeep.Authorization/enrollmentTokens"
        router.add(
            collection,
            UPKEEP,
            get=Operation(enrollment.list, manage, lists=True),
            post=Operation(enrollment.create, manage),
        )
        router.add(f"{collection}/{{tokenId}}", UPKEEP, delete=Operation(enrollment.revoke, manage))


def add_machine_routes(
    router: ArmRouter,
    views: MachineViews,
    namespace: str,
    kind: str,
    family: ApiFamily,
    name: str,
    read: Permission,
    write: Permission,
) -> None:
    machine_type = f"{namespace}/{kind}"
    for scope in (SUBSCRIPTION, GROUP):
        router.add(
            f"{scope}/providers/{machine_type}",
            family,
            get=Operation(views.lister(machine_type), read, lists=True),
        )
    router.add(
        f"{GROUP}/providers/{machine_type}/{{{name}}}",
        family,
        get=Operation(views.get, read),
        patch=Operation(views.patch, write),
        delete=Operation(views.delete, write),
    )
