"""Bearer authentication for every ARM request, and the token API for Owners.

Tokens are ARM-style extension resources at the scope they grant:
``{scope}/providers/Upkeep.Authorization/tokens[/{tokenId}]`` where ``{scope}`` is empty
(the root), ``/subscriptions/S`` or ``/subscriptions/S/resourceGroups/G``. Creating one is a
POST that answers the secret once.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import Response

from upkeep.arm.apiversions import UPKEEP
from upkeep.arm.bodies import parse_model, read_json
from upkeep.arm.errors import ArmError
from upkeep.arm.routing import ArmRequest, ArmRouter, Operation, Permission, json_response
from upkeep.arm.timestamps import format_timestamp
from upkeep.auth import service
from upkeep.auth.models import Caller, Role
from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.durations import parse_span

#: How long a verified token is trusted without asking the store again. A revocation made
#: through another server process takes effect within this time.
CACHE_SECONDS = 5.0
_CACHE_LIMIT = 10_000


class BearerAuthenticator:
    """Finds the caller of a request from its ``Authorization: Bearer`` header."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[str, tuple[Caller, float]] = {}

    async def __call__(self, request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _unauthenticated("The 'Authorization: Bearer <token>' header is missing.")
        secret = secret.strip()
        cached = self._cache.get(secret)
        now = self._clock()
        if cached and time.monotonic() - cached[1] < CACHE_SECONDS:
            caller = cached[0]
            if caller.expires_at is None or caller.expires_at > now:
                return caller
        caller = await self._store.read(service.find_caller, secret, now)
        if caller is None:
            self._cache.pop(secret, None)
            raise _unauthenticated("The access token is invalid, expired or revoked.")
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[secret] = (caller, time.monotonic())
        return caller

    def forget_all(self) -> None:
        """Drop every cached token (after a revocation in this process)."""
        self._cache.clear()


def _unauthenticated(message: str) -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        f"Authentication failed. {message}",
        headers={"WWW-Authenticate": 'Bearer realm="upkeep", error="invalid_token"'},
    )


class TokenRequest(BaseModel):
    """The body of a token-create POST."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, min_length=1, max_length=128)
    role: str
    expires_in: str | None = Field(default=None, alias="expiresIn")

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        return Role.parse(value).value

    @field_validator("expires_in")
    @classmethod
    def _lifetime(cls, value: str | None) -> str | None:
        if value is not None:
            parse_span(value)
        return value


def token_resource(record: service.TokenRecord, now: Any, secret: str | None = None) -> dict:
    scope = "" if record.scope == "/" else record.scope
    properties: dict[str, Any] = {
        "role": record.role.value,
        "scope": record.scope,
        "state": record.state(now),
        "createdAt": format_timestamp(record.created_at),
        "createdBy": record.created_by,
        "expiresAt": format_timestamp(record.expires_at) if record.expires_at else None,
        "revokedAt": format_timestamp(record.revoked_at) if record.revoked_at else None,
    }
    if secret is not None:
        properties["secret"] = secret
    return {
        "id": f"{scope}/providers/Upkeep.Authorization/tokens/{record.id}",
        "name": record.name,
        "type": "Upkeep.Authorization/tokens",
        "properties": properties,
    }


class TokenViews:
    def __init__(self, store: Store, clock: Clock, authenticator: BearerAuthenticator) -> None:
        self.store = store
        self.clock = clock
        self.authenticator = authenticator

    @staticmethod
    def _scope(call: ArmRequest) -> str:
        path = call.request.url.path
        index = path.lower().index("/providers/upkeep.authorization/tokens")
        return path[:index] or "/"

    async def create(self, call: ArmRequest) -> Response:
        body = parse_model(TokenRequest, await read_json(call.request))
        scope = self._scope(call)
        now = self.clock()
        record, secret = await self.store.write(
            service.issue_token,
            role=Role(body.role),
            scope=scope,
            now=now,
            name=body.name,
            lifetime=parse_span(body.expires_in) if body.expires_in else None,
            created_by=call.caller.name,
        )
        return json_response(token_resource(record, now, secret), 201)

    async def list(self, call: ArmRequest) -> Response:
        records = await self.store.read(service.list_tokens, call.visible_scope)
        now = self.clock()
        return json_response({"value": [token_resource(record, now) for record in records]})

    async def _find(self, call: ArmRequest) -> service.TokenRecord:
        record = await self.store.read(service.get_token, call.params["tokenId"])
        if record is None or record.scope.lower() != self._scope(call).lower():
            raise ArmError(
                404, "ResourceNotFound", f"The token '{call.params['tokenId']}' was not found."
            )
        return record

    async def get(self, call: ArmRequest) -> Response:
        return json_response(token_resource(await self._find(call), self.clock()))

    async def revoke(self, call: ArmRequest) -> Response:
        record = await self._find(call)
        now = self.clock()
        revoked = await self.store.write(service.revoke_token, record.id, now)
        self.authenticator.forget_all()
        return json_response(token_resource(revoked, now))


def add_routes(router: ArmRouter, views: TokenViews) -> None:
    manage = Permission.MANAGE_ACCESS
    for scope in (
        "",
        "/subscriptions/{subscriptionId}",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
    ):
        collection = f"{scope}/providers/Upkeep.Authorization/tokens"
        router.add(
            collection,
            UPKEEP,
            get=Operation(views.list, manage, lists=True),
            post=Operation(views.create, manage),
        )
        router.add(
            f"{collection}/{{tokenId}}",
            UPKEEP,
            get=Operation(views.get, manage),
            delete=Operation(views.revoke, manage),
        )
