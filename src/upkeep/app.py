"""The control plane as one ASGI app, assembled from each domain's routes."""

from __future__ import annotations

from sqlalchemy import text
from starlette.routing import Route, Router
from starlette.types import ASGIApp

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

    async def ping() -> None:
        await store.read(lambda connection: connection.execute(text("SELECT 1")))

    metrics = Metrics()
    router = Router(
        routes=[
            Route("/healthz", health_endpoint(ping)),
            Route("/metrics", metrics.endpoint),
        ],
        default=arm,
    )
    return RequestObserver(router, metrics)
