"""``POST /providers/Microsoft.ResourceGraph/resources``: KQL queries over the four tables.

The request names the subscriptions to query; the rows are those of the subscriptions the
caller's token can read, at the token's scope (a group-scoped token sees that group's
rows). Paging follows Azure: ``$top`` (at most 1,000 rows, the default), ``$skip``, and a
``$skipToken`` for the next page when the result has an ``id`` column; without one a
longer result says ``resultTruncated: "true"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.responses import Response

from upkeep.arm.apiversions import RESOURCE_GRAPH
from upkeep.arm.bodies import parse_model, read_json
from upkeep.arm.errors import ArmError, invalid_parameter
from upkeep.arm.ids import scope_covers
from upkeep.arm.routing import ArmRequest, ArmRouter, Operation, Permission, json_response
from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.graph import facets as facet_service
from upkeep.graph import service
from upkeep.graph.errors import KqlError
from upkeep.graph.formats import shaped
from upkeep.graph.models import MAX_SUBSCRIPTIONS, QueryRequestIn
from upkeep.graph.throttle import Throttle
from upkeep.resources.service import list_subscriptions

PATH = "/providers/Microsoft.ResourceGraph/resources"
OPERATIONS_PATH = "/providers/Microsoft.ResourceGraph/operations"


@dataclass
class GraphSettings:
    """Limits of the query endpoint."""

    quota: int = 15  # queries per caller and window
    window: float = 5.0  # seconds
    limits: service.Limits = field(default_factory=service.Limits)
    #: queries running at once; more wait their turn
    concurrency: int = 2


class QueryError(ArmError):
    """A query that cannot run, as Resource Graph reports it: ``BadRequest`` with an
    ``InvalidQuery`` detail and one naming the problem, its line and its column."""

    def __init__(self, error: KqlError, text: str) -> None:
        line, column = error.location(text)
        super().__init__(
            400,
            "BadRequest",
            f"The query is invalid: {error.message} (line {line}, column {column}).",
        )
        self.problem = {
            "code": error.code,
            "message": error.message,
            "line": line,
            "characterPositionInLine": column - 1,
        }
        if error.token is not None:
            self.problem["token"] = error.token

    def to_dict(self) -> dict[str, Any]:
        invalid = {
            "code": "InvalidQuery",
            "message": "Query is invalid. Please refer to the documentation for the Azure"
            " Resource Graph service and fix the error before retrying.",
        }
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": [invalid, self.problem],
            }
        }


class GraphViews:
    def __init__(self, store: Store, clock: Clock, settings: GraphSettings | None = None) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings or GraphSettings()
        self.throttle = Throttle(self.settings.quota, self.settings.window)
        self.running = anyio.Semaphore(self.settings.concurrency)

    async def query(self, call: ArmRequest) -> Response:
        allowance = self.throttle.take(call.caller.name)
        if not allowance.allowed:
            raise ArmError(
                429,
                "RateLimiting",
                f"Too many queries: at most {self.settings.quota} every"
                f" {self.settings.window:g} seconds. Retry after the time in Retry-After.",
                headers=allowance.headers(),
            )
        request = parse_model(QueryRequestIn, await read_json(call.request))
        options = request.options
        if options and options.authorization_scope_filter and call.api_version.name < "2024-04-01":
            raise invalid_parameter(
                "options.authorizationScopeFilter",
                f"is not part of api-version {call.api_version.name}; use 2024-04-01",
            )
        if request.management_groups:
            raise invalid_parameter(
                "managementGroups",
                "Upkeep has no management groups; name the subscriptions to query instead",
            )
        scope, marker = await self.store.read(_scope_of, call.visible_scope, request)
        page = _page(request, marker)
        try:
            async with self.running:
                result = await self.store.read_apart(
                    service.run,
                    request.query,
                    scope,
                    self.clock(),
                    page,
                    self.settings.limits,
                    need_everything=bool(request.facets),
                )
            facets = [
                facet_service.facet(result, item, self.clock(), _format(request))
                for item in request.facets or []
            ]
        except KqlError as error:
            raise QueryError(error, request.query) from None
        body = _response(result, page, request, marker)
        body["facets"] = facets
        return json_response(body, headers=allowance.headers())

    async def operations(self, call: ArmRequest) -> Response:
        return json_response({"value": [_OPERATION]})


_OPERATION = {
    "name": "Microsoft.ResourceGraph/resources/read",
    "display": {
        "provider": "Microsoft Resource Graph",
        "resource": "Resources",
        "operation": "Query resources",
        "description": "Submit a query on resources within a subscription or group scope",
    },
    "origin": "user",
}


def _scope_of(connection: Any, visible: str, request: QueryRequestIn) -> tuple[service.Scope, str]:
    """The rows this caller may read for this request, and a marker of them for tokens."""
    readable = [item["subscriptionId"].lower() for item in list_subscriptions(connection, visible)]
    allow_partial = bool(request.options and request.options.allow_partial_scopes)
    if request.subscriptions is None:
        wanted = readable
    else:
        wanted = list(dict.fromkeys(value.lower() for value in request.subscriptions))
        outside = [value for value in wanted if not _reachable(visible, value)]
        if outside and not allow_partial:
            raise ArmError(
                403,
                "AuthorizationFailed",
                f"The caller cannot read subscription(s) {', '.join(outside)}; leave them out,"
                " or set options.allowPartialScopes to query the others.",
                target="subscriptions",
            )
        wanted = [value for value in wanted if value not in outside]
    if len(wanted) > MAX_SUBSCRIPTIONS:
        if not allow_partial:
            raise invalid_parameter(
                "subscriptions",
                f"at most {MAX_SUBSCRIPTIONS} subscriptions can be queried at once"
                " (or set options.allowPartialScopes to query the first ones)",
            )
        wanted = wanted[:MAX_SUBSCRIPTIONS]
    group = _group_of(visible)
    scope = service.Scope(tuple(wanted), group)
    return scope, f"{','.join(sorted(wanted))}|{group or ''}"


def _reachable(visible: str, subscription_id: str) -> bool:
    path = f"/subscriptions/{subscription_id}"
    return scope_covers(visible, path) or scope_covers(path, visible)


def _group_of(visible: str) -> str | None:
    parts = [part for part in visible.split("/") if part]
    return parts[3] if len(parts) >= 4 else None


def _page(request: QueryRequestIn, marker: str) -> service.Page:
    options = request.options
    skip, top = 0, 1000
    if options is not None:
        if options.skip_token is not None:
            found = service.read_skip_token(options.skip_token, request.query, marker)
            if found is None:
                raise invalid_parameter(
                    "options.$skipToken",
                    "is not a token this query gave; send the same query and subscriptions"
                    " that returned it",
                )
            skip = found
        if options.skip is not None:
            skip = options.skip
        if options.top is not None:
            top = options.top
    return service.Page(skip, top)


def _format(request: QueryRequestIn) -> str:
    return request.options.result_format if request.options else "objectArray"


def _response(
    result: service.Result, page: service.Page, request: QueryRequestIn, marker: str
) -> dict[str, Any]:
    more = page.skip + len(result.rows) < result.total
    body: dict[str, Any] = {
        "totalRecords": result.total,
        "count": len(result.rows),
        "resultTruncated": "true" if more and "id" not in result.columns else "false",
    }
    if more and "id" in result.columns:
        body["$skipToken"] = service.skip_token(page.skip + len(result.rows), request.query, marker)
    body["data"] = shaped(result.columns, result.rows, _format(request))
    return body


def add_routes(router: ArmRouter, views: GraphViews) -> None:
    router.add(PATH, RESOURCE_GRAPH, post=Operation(views.query, Permission.READ, lists=True))
    router.add(
        OPERATIONS_PATH,
        RESOURCE_GRAPH,
        get=Operation(views.operations, Permission.READ, lists=True),
    )
