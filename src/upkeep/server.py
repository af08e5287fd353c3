"""Starting the control plane: the data directory, first-start setup, and the HTTP server.

First start (and every start, idempotently): create the data directory, migrate the store,
generate a self-signed certificate unless one is given, make the tenant id, a default
subscription when there is none, and an Owner token for ``/`` written to ``admin.token``
when the store has no active one. Then serve.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import uvicorn
from sqlalchemy.engine import make_url

from upkeep import __version__
from upkeep.app import create_app
from upkeep.auth import service as auth
from upkeep.auth.models import Role
from upkeep.clock import system_clock
from upkeep.db.migrate import migrate
from upkeep.db.store import Store, refresh_statistics
from upkeep.files import write_private
from upkeep.graph import records
from upkeep.graph.parser import parse
from upkeep.machines.presence import JobBoard
from upkeep.observability import configure_logging
from upkeep.orchestrator.assessments import AssessmentSchedule
from upkeep.orchestrator.retention import DEFAULT_RETENTION
from upkeep.patching.service import Timeouts
from upkeep.resources import service as resources
from upkeep.tls import ensure_certificate

DEFAULT_PORT = 8443


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/upkeep``, else ``~/.local/share/upkeep``."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "upkeep"


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    database_url: str | None = None
    insecure_http: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "info"
    #: How long a queued patch operation waits for its machine's agent to pick it up.
    dispatch_timeout: timedelta = timedelta(minutes=10)
    #: How often machines with assessmentMode AutomaticByPlatform are assessed.
    assessment_interval: timedelta = timedelta(hours=24)
    #: How long finished operations and maintenance runs are kept.
    history_retention: timedelta = DEFAULT_RETENTION

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'upkeep.db'}"

    @property
    def cert_path(self) -> Path:
        return self.tls_cert or self.data_dir / "tls" / "cert.pem"

    @property
    def key_path(self) -> Path:
        return self.tls_key or self.data_dir / "tls" / "key.pem"

    @property
    def token_path(self) -> Path:
        return self.data_dir / "admin.token"


@dataclass(frozen=True)
class Prepared:
    """What first-start setup produced, for the banner."""

    store: Store
    subscription_id: str
    subscription_name: str
    token_created: bool


def open_store(data_dir: Path, database_url: str | None = None) -> Store:
    """The migrated store of a data directory (also used by ``upkeep admin``)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store(database_url or f"sqlite:///{data_dir / 'upkeep.db'}")
    migrate(store.engine)
    return store


def prepare(settings: ServerSettings) -> Prepared:
    """Everything a start needs before serving; safe to run on every start."""
    store = open_store(settings.data_dir, settings.database_url)
    if not settings.insecure_http and settings.tls_cert is None:
        ensure_certificate(settings.cert_path, settings.key_path)
    now = system_clock()
    with store.writing() as connection:
        records.backfill(connection, now)  # a store from before Resource Graph
        refresh_statistics(connection)
        found = resources.list_subscriptions(connection)
        if not found:
            found = [resources.create_subscription(connection, display_name="Default", now=now)]
        token_created = False
        if not auth.has_active_owner_at_root(connection, now):
            _, secret = auth.create_token(
                connection,
                role=Role.OWNER,
                scope="/",
                now=now,
                name="admin",
                created_by="upkeep serve",
            )
            write_private(settings.token_path, (secret + "\n").encode())
            token_created = True
    return Prepared(store, found[0]["subscriptionId"], found[0]["displayName"], token_created)


def banner(settings: ServerSettings, prepared: Prepared, port: int) -> str:
    scheme = "http" if settings.insecure_http else "https"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    lines = [
        f"Upkeep {__version__} control plane",
        f"  URL:          {scheme}://{host}:{port}",
        f"  TLS cert:     {'none (plain HTTP)' if settings.insecure_http else settings.cert_path}",
        f"  Admin token:  {settings.token_path}" + (" (new)" if prepared.token_created else ""),
        f"  Subscription: {prepared.subscription_id} ({prepared.subscription_name})",
        f"  Store:        {_redacted(prepared.store.url)}",
    ]
    return "\n".join(lines)


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


class StoppingServer(uvicorn.Server):
    """uvicorn, releasing long-polling agents as it starts to stop: its graceful shutdown
    waits for requests in flight, and an agent's poll would otherwise hold it for seconds."""

    def __init__(self, config: uvicorn.Config, release: Callable[[], None]) -> None:
        super().__init__(config)
        self.release = release

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.release()
        await super().shutdown(sockets)


def serve(settings: ServerSettings) -> None:
    """Prepare, bind, print the banner, and serve until interrupted."""
    configure_logging(settings.log_level)
    prepared = prepare(settings)
    parse("resources")  # build the KQL parser now, not on the first query
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it keep-alive responses wait 40 ms for delayed ACKs
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((settings.host, settings.port))
    except OSError as error:
        listener.close()
        raise SystemExit(
            f"upkeep serve: cannot listen on {settings.host}:{settings.port}: {error.strerror}"
        ) from None
    port = listener.getsockname()[1]
    print(banner(settings, prepared, port), flush=True)
    board = JobBoard()
    app = create_app(
        prepared.store,
        timeouts=Timeouts(dispatch=settings.dispatch_timeout),
        board=board,
        assessments=AssessmentSchedule(every=settings.assessment_interval),
        retention=settings.history_retention,
    )
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        ssl_certfile=None if settings.insecure_http else str(settings.cert_path),
        ssl_keyfile=None if settings.insecure_http else str(settings.key_path),
        timeout_graceful_shutdown=5,
    )
    try:
        StoppingServer(config, board.close).run(sockets=[listener])  # uvloop if installed
    finally:
        prepared.store.dispose()
