"""Maintenance windows with real ``upkeep serve`` processes in real time, no settable clock:
two servers on one PostgreSQL run a window once and keep serving it when the leader is
killed; a server that was down across a window's start runs it when it comes back inside
the window; one that comes back after the window records it as missed.

A window starts at a whole minute (``startDateTime`` has no seconds), so the tests that
wait for one start take up to a minute each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select, update

from tests.helpers import MAINTENANCE, RESOURCES, assignment_path, configuration_path, group_path
from tests.helpers import seed as seed_configuration
from tests.server import RunningServer, start_server, trusting
from tests.test_server import client, enroll, enrollment_token
from upkeep.arm.timestamps import format_timestamp
from upkeep.db.store import Store
from upkeep.db.tables import jobs, leases, maintenance_configurations, maintenance_runs

pytestmark = pytest.mark.slow

T = TypeVar("T")

#: Time to set a window up and stop the server before the window starts.
SETUP_SECONDS = 12.0


# --- time and waiting ----------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def next_minute(margin: float = SETUP_SECONDS) -> datetime:
    """The next whole minute at least ``margin`` seconds away."""
    current = now()
    boundary = current.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (boundary - current).total_seconds() < margin:
        boundary += timedelta(minutes=1)
    return boundary


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - now()).total_seconds()))


def eventually(probe: Callable[[], T | None], seconds: float, what: str) -> T:
    """The first truthy answer of ``probe``, asked every 50 ms for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = probe()
        if answer:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


# --- the store, read behind the servers' backs ---------------------------------------


def store_of(server: RunningServer) -> Store:
    return Store(server.database or f"sqlite:///{server.data_dir / 'upkeep.db'}")


def runs(store: Store) -> list[dict[str, Any]]:
    with store.reading() as connection:
        rows = connection.execute(select(maintenance_runs).order_by(maintenance_runs.c.created_at))
        return [dict(row) for row in rows.mappings()]


def all_jobs(store: Store) -> list[dict[str, Any]]:
    with store.reading() as connection:
        rows = connection.execute(select(jobs).order_by(jobs.c.machine_key))
        return [dict(row) for row in rows.mappings()]


def next_window_at(store: Store) -> datetime:
    with store.reading() as connection:
        return connection.execute(select(maintenance_configurations.c.next_window_at)).scalar_one()


# --- which process leads: what each one logged ---------------------------------------


def log_of(server: RunningServer) -> Path:
    """Where ``tests.server.start_server`` sends the process's stderr (JSON lines)."""
    return server.data_dir.parent / f"{server.data_dir.name}-server.log"


def leadership(server: RunningServer) -> str | None:
    """The lease holder id the process last said it leads as, or None if it does not."""
    holder = None
    for line in log_of(server).read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == "leadership":
            holder = entry["holder"] if entry.get("leading") else None
    return holder


def show_logs(*servers: RunningServer) -> None:
    """Print what each process logged besides requests: pytest shows it when a test fails."""
    for server in servers:
        lines = [
            line for line in log_of(server).read_text().splitlines() if "upkeep.access" not in line
        ]
        print(f"--- {log_of(server).name}", *lines[-40:], sep="\n")


# --- the fleet: an admin and machines' agents, over HTTPS ----------------------------


def schedule_daily_window(
    http: httpx.Client, subscription: str, start: datetime, machine_ids: list[str]
) -> str:
    """A configuration whose daily two-hour window starts at ``start`` (UTC), assigned to
    each machine; returns its id."""
    group = http.put(
        f"{group_path(subscription, 'Schedules')}?{RESOURCES}", json={"location": "eastus"}
    )
    assert group.status_code in (200, 201), group.text
    path = configuration_path(subscription, "Schedules", "daily")
    window = {
        "startDateTime": start.strftime("%Y-%m-%d %H:%M"),
        "duration": "02:00",
        "timeZone": "UTC",
        "recurEvery": "Day",
    }
    made = http.put(f"{path}?{MAINTENANCE}", json=seed_configuration(maintenanceWindow=window))
    assert made.status_code == 201, made.text
    for machine in machine_ids:
        body = {"properties": {"maintenanceConfigurationId": path}}
        assigned = http.put(f"{assignment_path(machine, 'daily')}?{MAINTENANCE}", json=body)
        assert assigned.status_code in (200, 201), assigned.text
    return path


@dataclass
class Agent:
    """A machine's agent, speaking the agent protocol by hand. It talks to the first of
    ``servers`` that answers, as a real agent pointed at a load balancer would."""

    name: str
    machine_id: str
    credential: str
    servers: list[RunningServer]
    jobs: list[dict[str, Any]] = field(default_factory=list)  # every job handed to it
    served_by: list[int] = field(default_factory=list)  # which server handed each

    def call(self, method: str, path: str, **options: Any) -> tuple[httpx.Response, int]:
        """The answer of the first server that answers, and which one it was."""
        failures = []
        for index, server in enumerate(self.servers):
            if server.process.poll() is not None:
                continue
            try:
                with httpx.Client(
                    base_url=server.url,
                    verify=trusting(server.cert),
                    headers={"Authorization": f"Bearer {self.credential}"},
                    timeout=httpx.Timeout(10, read=70),
                ) as http:
                    return http.request(method, path, **options), index
            except httpx.TransportError as error:  # that server went away: try the next
                failures.append(f"{server.url}: {error!r}")
        raise AssertionError(f"{self.name}: no server answered: {failures}")

    def poll(self, wait: float) -> dict[str, Any] | None:
        answer, index = self.call("GET", f"/agent/v1/jobs/next?wait={wait}")
        if answer.status_code == 204:
            return None
        assert answer.status_code == 200, answer.text
        job = answer.json()
        self.jobs.append(job)
        self.served_by.append(index)
        return job

    def wait_for_job(self, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            job = self.poll(wait=min(30.0, max(deadline - time.monotonic(), 0.0)))
            if job is not None:
                return job
        raise AssertionError(f"{self.name} got no job within {seconds} s")

    def report_success(self, job: dict[str, Any]) -> None:
        result = {"status": "Succeeded", "rebootStatus": "NotNeeded", "patches": []}
        answer, _ = self.call("POST", f"/agent/v1/jobs/{job['id']}/result", json={"result": result})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"state": "Succeeded"}


def enroll_machine(
    via: RunningServer, token: str, name: str, servers: list[RunningServer]
) -> Agent:
    enrolled = enroll(via, token, name)
    assert enrolled.status_code == 201, enrolled.text
    answer = enrolled.json()
    return Agent(name, answer["machine"]["id"], answer["credential"], servers)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


# --- two servers, one store ----------------------------------------------------------


@pytest.mark.postgres
def test_two_servers_run_a_window_once_and_the_survivor_serves_it_when_the_leader_dies(
    tmp_path: Path, postgres_url: str, pool: ThreadPoolExecutor
) -> None:
    first = start_server(tmp_path / "a", database=postgres_url)
    second = start_server(tmp_path / "b", database=postgres_url)
    store = Store(postgres_url)
    try:
        token = first.admin_token  # the second found the store's Owner token: it made none
        assert second.subscription_id == first.subscription_id
        servers = {"a": first, "b": second}
        leader_name = eventually(
            lambda: [name for name, server in servers.items() if leadership(server)],
            10,
            "a server leads",
        )
        assert len(leader_name) == 1, "two servers say they lead"
        leader = servers[leader_name[0]]
        survivor = second if leader is first else first
        with store.reading() as connection:
            holder = connection.execute(select(leases.c.holder)).scalar_one()
        assert holder == leadership(leader)

        # machines enrolled through either server: two poll the leader, two the survivor,
        # and one is offline when the window starts and comes back after the leader died
        enrolling = enrollment_token(first)
        agents = []
        for index in range(5):
            via = (first, second)[index % 2]
            home = (leader, leader, survivor, survivor, leader)[index]
            other = survivor if home is leader else leader
            agents.append(enroll_machine(via, enrolling, f"m{index}", [home, other]))
        polling, offline = agents[:4], agents[4]
        start = next_minute(margin=6)
        with client(second, token) as http:
            configuration = schedule_daily_window(
                http, first.subscription_id, start, [agent.machine_id for agent in agents]
            )
        assert next_window_at(store) == start
        waiting = [pool.submit(agent.wait_for_job, 100) for agent in polling]

        # the leader runs the window; kill it the moment the run is in the store
        [run] = eventually(lambda: runs(store), (start - now()).total_seconds() + 10, "a run")
        leader.process.kill()  # SIGKILL: no lease given up, connections cut
        leader.process.wait(10)
        assert run["state"] == "Started"
        assert run["window_start"] == start
        assert run["window_end"] == start + timedelta(hours=2)
        assert run["configuration_id"].lower() == configuration.lower()
        assert start <= run["created_at"] < start + timedelta(seconds=5)

        # every agent gets its job: from the survivor, or from the leader before it died
        handed = [future.result(timeout=30) for future in waiting]
        handed.append(offline.wait_for_job(10))
        for job in handed:
            assert job["kind"] == "install"
            assert job["startedBy"] == "Platform"
            assert job["deadline"] == format_timestamp(start + timedelta(hours=2))
        assert len({job["id"] for job in handed}) == len(agents)
        for agent in agents[2:]:  # polling the survivor, or first heard of after the kill
            assert agent.served_by == [agent.servers.index(survivor)]

        # reconnecting to the survivor, each is handed the same job again, and reports it
        for agent, job in zip(agents, handed, strict=True):
            again = agent.poll(wait=0)
            assert again is not None and again["id"] == job["id"]
            assert agent.served_by[-1] == agent.servers.index(survivor)
            agent.report_success(job)

        # the survivor takes the lease over and finds nothing left to run: agents
        # long-polling it through a few of its rounds get nothing more
        eventually(lambda: leadership(survivor), 15, "the survivor leads")
        assert list(pool.map(lambda agent: agent.poll(wait=3), agents)) == [None] * len(agents)
        for agent in agents:
            assert len({job["id"] for job in agent.jobs}) == 1, agent.jobs
        assert [row["id"] for row in runs(store)] == [run["id"]]
        stored = all_jobs(store)
        assert len(stored) == len(agents)
        assert {row["machine_key"] for row in stored} == {a.machine_id.lower() for a in agents}
        assert {
            (row["run_id"], row["kind"], row["started_by"], row["state"]) for row in stored
        } == {(run["id"], "install", "Platform", "Succeeded")}
        assert next_window_at(store) == start + timedelta(days=1)
    finally:
        first.stop()
        second.stop()
        store.dispose()
        show_logs(first, second)


# --- one server, down across a window ------------------------------------------------


def test_a_server_down_when_a_window_starts_runs_it_once_when_it_comes_back(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "data")
    store = store_of(server)
    restarted: RunningServer | None = None
    try:
        agent = enroll_machine(server, enrollment_token(server), "web-1", [server])
        start = next_minute()
        with client(server, server.admin_token) as http:
            schedule_daily_window(http, server.subscription_id, start, [agent.machine_id])
        server.stop()
        assert now() < start, "setting up took past the window's start"
        assert runs(store) == []

        sleep_until(start + timedelta(seconds=6))
        restarted = start_server(server.data_dir, port=server.port)
        agent.servers = [restarted]
        job = agent.wait_for_job(15)
        assert job["kind"] == "install"
        assert job["startedBy"] == "Platform"
        assert job["deadline"] == format_timestamp(start + timedelta(hours=2))

        [run] = runs(store)
        assert run["state"] == "Started"
        assert run["window_start"] == start
        assert run["created_at"] >= start + timedelta(seconds=6)  # by the restarted server
        [stored] = all_jobs(store)
        assert (stored["id"], stored["run_id"]) == (job["id"], run["id"])

        agent.report_success(job)
        time.sleep(3)  # a few more rounds: the window is not run again
        assert agent.poll(wait=0) is None
        assert [row["id"] for row in runs(store)] == [run["id"]]
        assert next_window_at(store) == start + timedelta(days=1)
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
        store.dispose()
        show_logs(server)


def test_a_server_down_until_a_window_ended_records_it_as_missed(
    server: RunningServer,
) -> None:
    store = store_of(server)
    restarted: RunningServer | None = None
    try:
        agent = enroll_machine(server, enrollment_token(server), "web-1", [server])
        # daily, at a time of day six hours from now, since three days ago
        upcoming = (now() + timedelta(hours=6)).replace(second=0, microsecond=0)
        with client(server, server.admin_token) as http:
            schedule_daily_window(
                http, server.subscription_id, upcoming - timedelta(days=3), [agent.machine_id]
            )
        assert next_window_at(store) == upcoming
        server.stop()

        # as if the server had stopped before yesterday's window: it is still to be handled
        missed = upcoming - timedelta(days=1)
        with store.writing() as connection:
            connection.execute(update(maintenance_configurations).values(next_window_at=missed))

        restarted = start_server(server.data_dir, database=server.database, port=server.port)
        agent.servers = [restarted]
        [run] = eventually(lambda: runs(store), 10, "the missed window is recorded")
        assert run["state"] == "Missed"
        assert run["window_start"] == missed
        assert run["window_end"] == missed + timedelta(hours=2)
        assert run["reason"]
        assert missed.strftime("%Y-%m-%dT%H:%M") in run["reason"]

        time.sleep(3)  # a few more rounds
        assert all_jobs(store) == []
        assert agent.poll(wait=0) is None
        assert [row["id"] for row in runs(store)] == [run["id"]]
        assert next_window_at(store) == upcoming  # today's window is still to come
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
        store.dispose()
        show_logs(server)
