"""The control plane as one ASGI app, assembled from each domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from upkeep.arm.routing import ArmRouter
from upkeep.auth import views as auth_views
from upkeep.clock import Clock, system_clock
from upkeep.db.store import Store
from upkeep.graph import views as graph_views
from upkeep.housekeeping import Housekeeping, Intervals
from upkeep.machines import views as machines_views
from upkeep.machines.agent import AgentViews
from upkeep.machines.agent import routes as agent_routes
from upkeep.machines.presence import JobBoard, Presence
from upkeep.maintenance import views as maintenance_views
from upkeep.observability import Metrics, RequestObserver, health_endpoint
from upkeep.orchestrator.assessments import AssessmentSchedule
from upkeep.orchestrator.loop import Orchestrator
from upkeep.orchestrator.retention import DEFAULT_RETENTION
from upkeep.patching import service as patching
from upkeep.patching import views as patching_views
from upkeep.resources import views as resources_views
from upkeep.runs import views as runs_views


@dataclass
class Parts:
    """The pieces of one server process that views and background work share."""

    store: Store
    clock: Clock
    timeouts: patching.Timeouts = field(default_factory=patching.Timeouts)
    board: JobBoard = field(default_factory=JobBoard)
    presence: Presence = field(default_factory=Presence)
    graph: graph_views.GraphSettings = field(default_factory=graph_views.GraphSettings)


def build_arm_router(parts: Parts, agents: AgentViews) -> ArmRouter:
    """Every ARM route of every domain."""
    store, clock = parts.store, parts.clock
    authenticator = auth_views.BearerAuthenticator(store, clock)
    arm = ArmRouter(authenticator)
    resources_views.add_routes(arm, resources_views.ResourceViews(store, clock))
    maintenance_views.add_routes(arm, maintenance_views.MaintenanceViews(store, clock))
    runs_views.add_routes(arm, runs_views.RunViews(store, clock))
    auth_views.add_routes(arm, auth_views.TokenViews(store, clock, authenticator))
    machines_views.add_routes(
        arm,
        machines_views.MachineViews(store, clock, agents.forget_credentials),
        machines_views.EnrollmentViews(store, clock),
    )
    patching_views.add_routes(
        arm, patching_views.PatchViews(store, clock, parts.board, parts.timeouts)
    )
    graph_views.add_routes(arm, graph_views.GraphViews(store, clock, parts.graph))
    return arm


def create_app(
    store: Store,
    clock: Clock = system_clock,
    timeouts: patching.Timeouts | None = None,
    intervals: Intervals | None = None,
    board: JobBoard | None = None,
    assessments: AssessmentSchedule | None = None,
    retention: timedelta = DEFAULT_RETENTION,
    graph: graph_views.GraphSettings | None = None,
) -> ASGIApp:
    """The ASGI app over ``store``; ``clock`` is the source of "now" for every rule. The
    server keeps ``board`` to release waiting agents when it stops."""
    parts = Parts(store, clock, timeouts or patching.Timeouts(), board or JobBoard())
    parts.graph = graph or graph_views.GraphSettings()
    agents = AgentViews(store, clock, parts.board, parts.presence, parts.timeouts)
    arm = build_arm_router(parts, agents)
    intervals = intervals or Intervals()
    housekeeping = Housekeeping(store, clock, parts.board, parts.presence, intervals)
    orchestrator = Orchestrator(
        store,
        clock,
        parts.board,
        parts.timeouts,
        tick=intervals.orchestrate,
        assessments=assessments,
        retention=retention,
    )

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        async with housekeeping.running(), orchestrator.running():
            yield

    metrics = Metrics()
    metrics.agents_waiting.set_function(lambda: parts.board.parked)
    service = Router(
        routes=[
            Route("/healthz", health_endpoint(store.ping)),
            Route("/metrics", metrics.endpoint),
            *agent_routes(agents),
        ],
        lifespan=lifespan,
    )
    return RequestObserver(ArmFirst(arm, service), metrics)


class ArmFirst:
    """Sends ARM requests straight to the ARM router; the service routes (health, metrics)
    and the lifespan protocol go through Starlette's router."""

    def __init__(self, arm: ArmRouter, service: Router) -> None:
        self.arm = arm
        self.service = service
        self.service_paths = {route.path for route in service.routes if isinstance(route, Route)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path not in self.service_paths
            and not path.startswith("/agent/")
        ):
            await self.arm(scope, receive, send)
        else:
            await self.service(scope, receive, send)
