"""The control plane as one ASGI app, assembled from each domain's routes."""

from __future__ import annotations

from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from upkeep.arm.routing import ArmRouter
from upkeep.auth import views as auth_views
from upkeep.clock import Clock, system_clock
from upkeep.db.store import Store
from upkeep.maintenance import views as maintenance_views
from upkeep.observability import Metrics, RequestObserver, health_endpoint
from upkeep.resources import views as resources_views


def build_arm_router(store: Store, clock: Clock) -> ArmRouter:
    """Every ARM route of every domain."""
    authenticator = auth_views.BearerAuthenticator(store, clock)
    arm = ArmRouter(authenticator)
    resources_views.add_routes(arm, resources_views.ResourceViews(store, clock))
    maintenance_views.add_routes(arm, maintenance_views.MaintenanceViews(store, clock))
    auth_views.add_routes(arm, auth_views.TokenViews(store, clock, authenticator))
    return arm


def create_app(store: Store, clock: Clock = system_clock) -> ASGIApp:
    """The ASGI app over ``store``; ``clock`` is the source of "now" for every rule."""
    arm = build_arm_router(store, clock)

    metrics = Metrics()
    service = Router(
        routes=[
            Route("/healthz", health_endpoint(store.ping)),
            Route("/metrics", metrics.endpoint),
        ]
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
        if scope["type"] == "http" and scope["path"] not in self.service_paths:
            await self.arm(scope, receive, send)
        else:
            await self.service(scope, receive, send)
