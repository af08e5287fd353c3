"""Fixtures shared by the whole suite: stores (SQLite and PostgreSQL), a settable clock,
tokens of each role, an in-process API client, and a real server process over HTTPS.

``UPKEEP_TEST_STRICT=1`` (set by ``.ci/run``) turns every skip into a failure, so CI never
passes by skipping PostgreSQL or anything else a test needs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from tests.server import RunningServer, start_server
from upkeep.app import create_app
from upkeep.auth import service as auth
from upkeep.auth.models import Role
from upkeep.db.migrate import migrate
from upkeep.db.store import Store
from upkeep.housekeeping import Intervals
from upkeep.resources import service as resources

STRICT = os.environ.get("UPKEEP_TEST_STRICT") == "1"
POSTGRES_URL = os.environ.get("UPKEEP_TEST_POSTGRES_URL")


# --- strict mode: a skip is a failure ------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, and UPKEEP_TEST_STRICT=1 forbids skipping: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped, and UPKEEP_TEST_STRICT=1 forbids skipping: {report.longrepr}"


# --- stores --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not POSTGRES_URL:
        pytest.skip("UPKEEP_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    server = make_url(postgres_server)
    name = f"upkeep_test_{uuid.uuid4().hex[:12]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield server.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store Upkeep supports, one test run per store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'upkeep.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store."""
    opened = Store(f"sqlite:///{tmp_path / 'upkeep.db'}")
    migrate(opened.engine)
    yield opened
    opened.dispose()


# --- time, subscriptions, tokens -----------------------------------------------------


class SettableClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))


@pytest.fixture
def subscription_id(store: Store, clock: SettableClock) -> str:
    with store.writing() as connection:
        created = resources.create_subscription(connection, display_name="Test", now=clock())
    return created["subscriptionId"]


class Tokens:
    """Makes tokens of any role at any scope."""

    def __init__(self, store: Store, clock: SettableClock) -> None:
        self.store = store
        self.clock = clock

    def make(self, role: str, scope: str = "/", **kwargs: object) -> str:
        with self.store.writing() as connection:
            _, secret = auth.create_token(
                connection, role=Role(role), scope=scope, now=self.clock(), **kwargs
            )
        return secret


@pytest.fixture
def tokens(store: Store, clock: SettableClock) -> Tokens:
    return Tokens(store, clock)


#: In-process apps leave windows to the tests, which run the orchestrator's rounds by hand
#: (tests/orchestrator) when their clock says so.
BY_HAND = Intervals(orchestrate=24 * 3600)


@pytest.fixture
def app_client(store: Store, clock: SettableClock) -> Iterator[TestClient]:
    """The app in-process, without credentials."""
    app = create_app(store, clock, intervals=BY_HAND)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


@pytest.fixture
def api(
    store: Store, clock: SettableClock, tokens: Tokens, subscription_id: str
) -> Iterator[TestClient]:
    """The app in-process, as an Owner at ``/``."""
    headers = {"Authorization": f"Bearer {tokens.make('Owner')}"}
    app = create_app(store, clock, intervals=BY_HAND)
    with TestClient(app, base_url="https://testserver", headers=headers) as client:
        yield client


# --- a real server process -----------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, any_store_url: str) -> Iterator[RunningServer]:
    """``upkeep serve`` over HTTPS with its generated certificate, on each store."""
    database = None if any_store_url.startswith("sqlite") else any_store_url
    running = start_server(tmp_path / "data", database=database)
    yield running
    running.stop()
