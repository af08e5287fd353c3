"""A router for ARM paths: case-insensitive templates, per-method permissions, api-versions.

ARM matches path segments case-insensitively (``resourcegroups`` and ``resourceGroups`` are
the same), which Starlette's router does not, so ARM routes live in an :class:`ArmRouter`
mounted as one ASGI app. For each request it authenticates the caller, finds the route,
resolves the api-version, checks the caller's permission at the path, and hands the view an
:class:`ArmRequest`. Every failure on the way is an ARM error envelope.
"""

from __future__ import annotations

import enum
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from upkeep.arm.apiversions import ApiFamily, ApiVersion
from upkeep.arm.errors import ArmError

logger = logging.getLogger("upkeep.arm")


class Permission(enum.Enum):
    READ = "read"
    WRITE = "write"
    MANAGE_ACCESS = "manage-access"


class Caller(Protocol):
    """Who is calling, as the authenticator found them."""

    name: str

    def authorize(self, permission: Permission, path: str, *, lists: bool) -> str:
        """The scope the caller may see at ``path``, or raise a 403 :class:`ArmError`."""
        ...

    def can_read(self, path: str) -> bool:
        """Whether the caller may read the resource at ``path`` (for linked resources)."""
        ...


Authenticator = Callable[[Request], Awaitable[Caller]]
Handler = Callable[["ArmRequest"], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    handler: Handler
    permission: Permission
    #: A list that shows a caller with a narrower scope just what that scope covers.
    lists: bool = False


@dataclass
class ArmRequest:
    """What a view needs: the request, its path parameters, its api-version and caller."""

    request: Request
    params: dict[str, str]
    api_version: ApiVersion
    caller: Caller
    #: The scope the caller may see at this path: the path's own scope (``/``, a subscription
    #: or a group), or the caller's scope when a list reaches wider than the caller may.
    visible_scope: str
    request_id: str = field(default_factory=lambda: new_request_id())

    @property
    def query(self) -> Any:
        return self.request.query_params


@dataclass(frozen=True)
class Route:
    template: str
    family: ApiFamily
    operations: dict[str, Operation]
    pattern: re.Pattern[str]


_PARAM = re.compile(r"\{(\w+)\}")


def compile_template(template: str) -> re.Pattern[str]:
    """``/subscriptions/{subscriptionId}`` -> a case-insensitive regex with named groups."""
    regex, position = "", 0
    for match in _PARAM.finditer(template):
        regex += re.escape(template[position : match.start()])
        regex += f"(?P<{match.group(1)}>[^/]+)"
        position = match.end()
    regex += re.escape(template[position:])
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


class ArmRouter:
    """An ASGI app that dispatches ARM requests to views."""

    def __init__(self, authenticate: Authenticator) -> None:
        self._authenticate = authenticate
        self._routes: list[Route] = []

    def add(self, template: str, family: ApiFamily, **operations: Operation) -> None:
        """Register ``template`` with one :class:`Operation` per HTTP method (lowercase kwargs)."""
        by_method = {method.upper(): op for method, op in operations.items()}
        if "GET" in by_method and "HEAD" not in by_method:
            by_method["HEAD"] = by_method["GET"]
        self._routes.append(Route(template, family, by_method, compile_template(template)))

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = new_request_id()
        try:
            response = await self._dispatch(request, scope["path"], request_id)
        except ArmError as error:
            response = error_response(error, head=request.method == "HEAD")
        except Exception:
            logger.exception("unhandled error", extra={"request_id": request_id})
            failure = ArmError(
                500,
                "InternalServerError",
                f"The server failed to process the request (request id {request_id}).",
            )
            response = error_response(failure, head=request.method == "HEAD")
        response.headers["x-ms-request-id"] = request_id
        response.headers["x-ms-correlation-request-id"] = request.headers.get(
            "x-ms-correlation-request-id", request_id
        )
        client_request_id = request.headers.get("x-ms-client-request-id")
        if client_request_id:
            response.headers["x-ms-client-request-id"] = client_request_id
        await response(scope, receive, send)

    async def _dispatch(self, request: Request, path: str, request_id: str) -> Response:
        found = self.match(path)
        if found is not None:
            request.scope["upkeep.route"] = found[0].template
        caller = await self._authenticate(request)  # a 401 comes before a 404
        request.scope["upkeep.caller"] = caller.name
        if found is None:
            raise ArmError(
                404,
                "InvalidResourceType",
                f"No route serves '{request.method} {path}'.",
            )
        route, params = found
        operation = route.operations.get(request.method)
        if operation is None:
            allowed = ", ".join(sorted(route.operations))
            raise ArmError(
                405,
                "MethodNotAllowed",
                f"The method '{request.method}' is not allowed here; allowed: {allowed}.",
                headers={"Allow": allowed},
            )
        api_version = route.family.resolve(api_version_of(request.scope["query_string"]))
        visible = caller.authorize(operation.permission, path, lists=operation.lists)
        arm_request = ArmRequest(request, params, api_version, caller, visible, request_id)
        return await operation.handler(arm_request)


def new_request_id() -> str:
    """A GUID-shaped id for ``x-ms-request-id``; it names a request, it guards nothing, so
    ``random`` is enough (``uuid4`` reads the kernel's entropy on every call)."""
    digits = f"{random.getrandbits(128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{digits[16:20]}-{digits[20:]}"


def api_version_of(query_string: bytes) -> str | None:
    """The ``api-version`` query parameter, without parsing the whole query."""
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        if name.lower() == b"api-version":
            return unquote_plus(value.decode("latin-1"))
    return None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An ARM JSON response (compact, UTF-8)."""
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content, status, headers, media_type="application/json; charset=utf-8")


def error_response(error: ArmError, *, head: bool = False) -> Response:
    if head:
        return Response(None, error.status, error.headers)
    return json_response(error.to_dict(), error.status, error.headers)
