"""One leader among the server processes sharing a store, on SQLite and PostgreSQL: the
lease, its hand-over when a leader dies or stops, and a window handled once even when two
processes try at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import SettableClock
from tests.helpers import seed
from upkeep.db.migrate import migrate
from upkeep.db.store import Store
from upkeep.db.tables import maintenance_runs
from upkeep.machines.presence import JobBoard
from upkeep.maintenance import service as maintenance
from upkeep.orchestrator import service as windows
from upkeep.orchestrator.loop import Orchestrator
from upkeep.patching.service import Timeouts
from upkeep.resources import service as resources

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
# 10:00 in Berlin, daily: 09:00 UTC in November
DAILY = seed(
    maintenanceWindow={
        "startDateTime": "2026-11-01 10:00",
        "duration": "02:00",
        "timeZone": "W. Europe Standard Time",
        "recurEvery": "Day",
    }
)


@pytest.fixture
def shared_store(any_store_url: str) -> Iterator[Store]:
    store = Store(any_store_url)
    migrate(store.engine)
    with store.writing() as connection:
        subscription = resources.create_subscription(connection, display_name="S", now=START)
        sub = subscription["subscriptionId"]
        resources.put_group(connection, sub, "Schedules", {"location": "eastus"}, now=START)
        for name in ("a", "b", "c"):
            maintenance.put_configuration(
                connection, sub, "Schedules", name, DAILY, by="test", now=START
            )
    yield store
    store.dispose()


def server(store: Store, clock: SettableClock) -> Orchestrator:
    """The orchestrator of one server process."""
    return Orchestrator(store, clock, JobBoard(), Timeouts(), lease_period=timedelta(seconds=5))


def tick(orchestrator: Orchestrator) -> list[windows.Handled]:
    return asyncio.run(orchestrator.tick_once())


def test_one_process_leads_and_another_takes_over_when_it_dies(shared_store: Store) -> None:
    clock = SettableClock(START)
    first, second = server(shared_store, clock), server(shared_store, clock)
    tick(first)
    tick(second)
    assert (first.leading, second.leading) == (True, False)
    clock.advance(seconds=4)
    tick(first)  # renewed
    clock.advance(seconds=4)
    tick(second)
    assert not second.leading
    clock.advance(seconds=5)  # the first stopped renewing: it died
    tick(second)
    assert second.leading
    tick(first)
    assert not first.leading


def test_a_leader_that_stops_hands_over_at_once(shared_store: Store) -> None:
    clock = SettableClock(START)
    first, second = server(shared_store, clock), server(shared_store, clock)

    async def lead_then_stop() -> None:
        async with first.running():
            await first.tick_once()

    asyncio.run(lead_then_stop())
    tick(second)
    assert second.leading


def test_only_the_leader_runs_windows_and_each_runs_once(shared_store: Store) -> None:
    clock = SettableClock(START)
    first, second = server(shared_store, clock), server(shared_store, clock)
    clock.now = datetime(2026, 11, 26, 8, 59, 58, tzinfo=UTC)
    tick(first)
    clock.now = datetime(2026, 11, 26, 9, 0, 1, tzinfo=UTC)
    assert tick(second) == []
    assert sorted(run.state for run in tick(first)) == ["Started"] * 3
    clock.advance(seconds=10)  # the first died; the second leads and finds nothing to redo
    assert tick(second) == []
    assert second.leading
    assert run_count(shared_store) == 3


def test_two_processes_handling_the_same_window_at_once_run_it_once(shared_store: Store) -> None:
    now = datetime(2026, 11, 26, 9, 0, 1, tzinfo=UTC)
    with shared_store.reading() as connection:
        keys = windows.due(connection, now)
    assert len(keys) == 3

    def handle(key: str) -> windows.Handled | None:
        with shared_store.writing() as connection:
            return windows.handle_window(connection, key, now)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(handle, keys * 4))
    assert sum(outcome is not None for outcome in outcomes) == 3
    assert run_count(shared_store) == 3


def run_count(store: Store) -> int:
    with store.reading() as connection:
        return connection.execute(select(func.count()).select_from(maintenance_runs)).scalar_one()
