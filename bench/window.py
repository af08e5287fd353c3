"""A maintenance window opens for N machines whose agents long-poll one server: how long
after the window's start does every agent have its install job? And what does the
orchestrator cost at rest, with 10,000 configurations none of which is due?

1. N agents (protocol-level, in this process, as in bench.fanout) wait in
   ``GET /agent/v1/jobs/next?wait=55``. One configuration covers them all: half through an
   assignment on each machine, half through one subscription-scope assignment whose filter
   matches a tag they enrolled with. The agents connect 50 s before a whole minute; once
   every agent waits, the configuration is PUT again with its window at that minute
   (or the next one at least 20 s away at which no poll ends). Figure: from the window's
   start to the last agent's job; target within 5 s at 10,000 machines. The baseline,
   measured in the same run, is bench.fanout's: the time to answer one immediate poll from
   every agent.
2. A new server process over the same store, at rest: its CPU time (user + system) over
   some seconds before (the baseline) and after 10,000 configurations whose next windows
   are days away are added. Target: the configurations add under 1% of one core.

The configuration and the dynamic assignment go through the API with the admin token; the
assignments on machines and the 10,000 idle configurations are written by this process
into the same store, with the service functions the API calls.

    .venv/bin/python -m bench.window [--machines 2000] [--configurations 10000]
        [--idle-seconds 20] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection as Sql
from sqlalchemy import func, select, text
from tests.helpers import MAINTENANCE, RESOURCES, assignment_path, configuration_path, group_path

from bench.fanout import Connection, enroll_all, raise_file_limit, rss_mb, start_server, waiting
from bench.schedule import RECURRENCES, ZONES
from upkeep.arm.bodies import parse_model
from upkeep.db.store import Store
from upkeep.db.tables import jobs, leases, maintenance_configurations, maintenance_runs
from upkeep.maintenance import service as maintenance
from upkeep.maintenance.models import ConfigurationIn, stored_body
from upkeep.orchestrator.loop import LEASE

TARGET_SECONDS = 5.0
TARGET_IDLE_PERCENT = 1.0
WAIT = 55  # how long each agent's poll waits
MARGIN = 20  # every agent waits at least this long before the window starts
LEAD = 50  # the agents connect this long before the window's whole minute
GROUP = "maintenance"  # where the configurations live; the machines are in "fleet"
NAME = "window"
TAG = {"patch-window": "bench"}


def configuration_body(
    start: str, zone: str = "UTC", every: str = "Day", duration: str = "02:00"
) -> dict[str, Any]:
    return {
        "location": "eastus",
        "properties": {
            "maintenanceScope": "InGuestPatch",
            "extensionProperties": {"InGuestPatchMode": "User"},
            "maintenanceWindow": {
                "startDateTime": start,
                "expirationDateTime": "2035-12-31 23:59",
                "duration": duration,
                "timeZone": zone,
                "recurEvery": every,
            },
            "installPatches": {
                "rebootSetting": "IfRequired",
                "linuxParameters": {"classificationsToInclude": ["Critical", "Security"]},
            },
        },
    }


async def put(port: int, token: str, path: str, body: object) -> None:
    """One ARM PUT with the admin token."""
    connection = await Connection.open(port)
    try:
        status, answer = await connection.request("PUT", path, token, body)
    finally:
        connection.close()
    if status not in (200, 201):
        raise RuntimeError(f"PUT {path}: {status} {answer}")


def enrollment_token(options: argparse.Namespace, data: Path, subscription: str) -> str:
    database = ["--database", options.database] if options.database else []
    command = [sys.executable, "-m", "upkeep", "admin", "enrollment-token", "create"]
    command += ["--data-dir", str(data), "--scope", f"/subscriptions/{subscription}", *database]
    return subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def assign_each(store: Store, subscription: str, configuration: str, count: int) -> None:
    """The static half: an assignment on each of m0, m1, …, as the API's PUT makes it."""
    body = {"properties": {"maintenanceConfigurationId": configuration}}
    for first in range(0, count, 1000):
        with store.writing() as connection:
            for index in range(first, min(first + 1000, count)):
                scope = maintenance.machine_scope(
                    subscription, "fleet", "Microsoft.HybridCompute", ["machines"], [f"m{index}"]
                )
                maintenance.put_assignment(
                    connection, scope, NAME, body,
                    can_read=lambda _id: True, by="bench", now=datetime.now(UTC),
                )  # fmt: skip


def window_start(polls: list[float], parked: float) -> tuple[float, bool]:
    """The first whole minute (epoch seconds) at least MARGIN after ``parked`` at which no
    agent's poll ends: polls sent together end together and are sent again together, and
    that burst is bench.fanout's to measure, not this one's. False if none in 12 minutes."""
    first, last = min(polls), max(polls)
    earliest = math.ceil((parked + MARGIN) / 60) * 60
    for minute in range(earliest, earliest + 12 * 60, 60):
        if not any(first + WAIT * k - 5 <= minute <= last + WAIT * k + 8 + k for k in range(1, 16)):
            return minute, True
    return earliest, False


def run_of(connection: Sql, configuration_key: str) -> tuple[datetime, datetime, datetime, int]:
    """The window's run: its start, when the orchestrator recorded it, when the first of
    its jobs was handed out (the dispatcher's clock as it began that batch), and how many
    jobs it has."""
    run = connection.execute(
        select(maintenance_runs).where(maintenance_runs.c.configuration_key == configuration_key)
    ).one()
    dispatched, count = connection.execute(
        select(func.min(jobs.c.started_at), func.count()).where(jobs.c.run_id == run.id)
    ).one()
    return run.window_start, run.created_at, dispatched, count


async def open_window(
    options: argparse.Namespace, port: int, subscription: str, data: Path, store: Store
) -> dict[str, Any]:
    admin = (data / "admin.token").read_text().strip()
    token = enrollment_token(options, data, subscription)
    static = options.machines // 2
    dynamic = options.machines - static
    started = time.perf_counter()
    fixed, tagged = await asyncio.gather(
        enroll_all(port, token, subscription, static),
        enroll_all(port, token, subscription, dynamic, prefix="t", tags=TAG),
    )
    enrolled = time.perf_counter() - started

    # the configuration with a window days away, and what assigns it; its window is set
    # once every agent waits
    await put(port, admin, f"{group_path(subscription, GROUP)}?{RESOURCES}", {"location": "eastus"})
    configuration = configuration_path(subscription, GROUP, NAME)
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    await put(port, admin, f"{configuration}?{MAINTENANCE}", configuration_body(later))
    tags = {"tags": {name: [value] for name, value in TAG.items()}, "filterOperator": "All"}
    scope = {"resourceTypes": ["Microsoft.HybridCompute/machines"], "osTypes": ["Linux"],
             "tagSettings": tags}  # fmt: skip
    body = {"properties": {"maintenanceConfigurationId": configuration, "filter": scope}}
    dynamic_path = assignment_path(f"/subscriptions/{subscription}", NAME)
    await put(port, admin, f"{dynamic_path}?{MAINTENANCE}", body)
    started = time.perf_counter()
    await asyncio.to_thread(assign_each, store, subscription, configuration, static)
    assigned = time.perf_counter() - started

    # the agents connect LEAD s before a whole minute (not earlier: the server closes idle
    # connections) and poll once that is answered: every agent waits well before the
    # minute, and no poll ends (to be sent again with all the others) until after it
    now = time.time()
    await asyncio.sleep(math.ceil((now + LEAD) / 60) * 60 - LEAD - now)
    credentials = fixed + tagged
    connections = [await Connection.open(port) for _ in credentials]
    began = time.perf_counter()
    answers = await asyncio.gather(
        *(connection.request("GET", "/agent/v1/jobs/next?wait=0", credential)
          for connection, credential in zip(connections, credentials, strict=True))
    )  # fmt: skip
    baseline = time.perf_counter() - began
    assert all(status == 204 for status, _ in answers)

    polls = [0.0] * len(credentials)
    received: list[float] = []

    async def agent(index: int, connection: Connection, credential: str) -> None:
        while True:
            polls[index] = time.time()
            status, job = await connection.request(
                "GET", f"/agent/v1/jobs/next?wait={WAIT}", credential
            )
            if status == 200:
                received.append(time.time())
                assert job["kind"] == "install", job  # type: ignore[index]
                return

    agents = [
        asyncio.create_task(agent(i, c, k))
        for i, (c, k) in enumerate(zip(connections, credentials, strict=True))
    ]
    while await waiting(port) < options.machines:
        failed = [task for task in agents if task.done()]
        if failed:
            raise RuntimeError(f"{len(failed)} agents stopped before the window") from (
                failed[0].exception()
            )
        await asyncio.sleep(0.2)
    parked = time.time()
    idle_rss = rss_mb(options.server_pid)

    start, clear = window_start(polls, parked)
    stamp = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M")
    await put(port, admin, f"{configuration}?{MAINTENANCE}", configuration_body(stamp))
    if start - time.time() < 5:
        raise RuntimeError(f"the window at {stamp} UTC was set too late to measure")

    async def waiting_before() -> int:
        await asyncio.sleep(start - 1 - time.time())
        return await waiting(port)

    ready = asyncio.create_task(waiting_before())
    timeout = start - time.time() + 120
    try:
        await asyncio.wait_for(asyncio.gather(*agents), timeout=timeout)
    except TimeoutError:
        raise RuntimeError(
            f"{len(received)} of {options.machines} agents had a job"
            f" {time.time() - start:.0f} s after the window's start ({stamp} UTC)"
        ) from None
    finally:
        for connection in connections:
            connection.close()
    with store.reading() as connection:
        window, recorded, dispatched, count = run_of(connection, configuration.lower())
    assert window.timestamp() == start, (window, stamp)
    assert count == options.machines, f"the run has {count} jobs"
    latencies = sorted(moment - start for moment in received)
    return {
        "static": static,
        "dynamic": dynamic,
        "enrolled": enrolled,
        "assigned": assigned,
        "baseline": baseline,
        "window": stamp,
        "lead": start - parked,
        "ready": await ready,
        "clear": clear,
        "recorded": recorded.timestamp() - start,
        "dispatched": dispatched.timestamp() - start,
        "first": latencies[0],
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "all": latencies[-1],
        "idle_rss": idle_rss,
        "busy_rss": rss_mb(options.server_pid),
    }


# --- at rest ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends(store: Store) -> list[int]:
    """The PostgreSQL server processes serving other connections to this database."""
    if store.dialect != "postgresql":
        return []
    query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    with store.reading() as connection:
        rows = connection.execute(text(query + " AND pid <> pg_backend_pid()"))
        return [row.pid for row in rows]


def cpu_percent(pid: int, store: Store, seconds: float) -> tuple[float, float | None]:
    """Percent of one core the server used over ``seconds``, and on PostgreSQL its
    backends (those that were there at the start or at the end)."""

    def database_cpu(pids: list[int]) -> dict[int, float]:
        found = {}
        for backend in pids:
            with contextlib.suppress(FileNotFoundError):  # a backend that has ended
                found[backend] = cpu_seconds(backend)
        return found

    before_db = database_cpu(backends(store))
    before = cpu_seconds(pid)
    began = time.monotonic()
    time.sleep(seconds)
    used = cpu_seconds(pid) - before
    wall = time.monotonic() - began
    if store.dialect != "postgresql":
        return used / wall * 100, None
    after_db = database_cpu(backends(store))
    database = sum(value - before_db.get(backend, 0.0) for backend, value in after_db.items())
    return used / wall * 100, database / wall * 100


def add_configurations(store: Store, subscription: str, count: int) -> None:
    """``count`` configurations across zones and recurrences, each first window 2-9 days
    away, as the API's PUT stores them."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    for first in range(0, count, 1000):
        with store.writing() as connection:
            for index in range(first, min(first + 1000, count)):
                start = now + timedelta(days=2 + 7 * rng.random())
                raw = configuration_body(
                    start.strftime("%Y-%m-%d %H:%M"), rng.choice(ZONES), rng.choice(RECURRENCES)
                )
                body = stored_body(parse_model(ConfigurationIn, raw))
                maintenance.put_configuration(
                    connection, subscription, GROUP, f"idle-{index}", body, by="bench", now=now
                )


def at_rest(
    options: argparse.Namespace, data: Path, store: Store, subscription: str
) -> dict[str, Any]:
    server, _port, _subscription = start_server(data, options.database)
    try:
        time.sleep(3)  # started; the orchestrator has taken the lease
        baseline, baseline_db = cpu_percent(server.pid, store, options.idle_seconds)
        started = time.perf_counter()
        add_configurations(store, subscription, options.configurations)
        added = time.perf_counter() - started
        time.sleep(3)
        loaded, loaded_db = cpu_percent(server.pid, store, options.idle_seconds)
        now = datetime.now(UTC)
        with store.reading() as connection:
            holder = connection.execute(select(leases).where(leases.c.name == LEASE)).one()
            runs = connection.execute(
                select(func.count()).select_from(maintenance_runs)
            ).scalar_one()
            soonest = connection.execute(
                select(func.min(maintenance_configurations.c.next_window_at)).where(
                    maintenance_configurations.c.name.like("idle-%")
                )
            ).scalar_one()
        assert holder.expires_at > now, "no server leads the orchestrator"
        assert runs == 1, f"{runs - 1} idle configurations had a window: not at rest"
        return {
            "baseline": baseline,
            "baseline_db": baseline_db,
            "loaded": loaded,
            "loaded_db": loaded_db,
            "added": added,
            "soonest": (soonest - now).total_seconds() / 86400,
            "rss": rss_mb(server.pid),
        }
    finally:
        stop(server)


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=2000)
    parser.add_argument("--configurations", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--database", help="a PostgreSQL URL (default: SQLite in a temp dir)")
    options = parser.parse_args()
    raise_file_limit()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        server, port, subscription = start_server(data, options.database)
        options.server_pid = server.pid
        store = Store(options.database or f"sqlite:///{data / 'upkeep.db'}")
        try:
            try:
                figures = asyncio.run(open_window(options, port, subscription, data, store))
            finally:
                stop(server)
            rest = at_rest(options, data, store, subscription)
        finally:
            store.dispose()
    kind = "PostgreSQL" if options.database else "SQLite"
    print(f"machines                      : {options.machines:,} (store: {kind}):"
          f" {figures['static']:,} assigned one by one,"
          f" {figures['dynamic']:,} by a dynamic scope")  # fmt: skip
    print(f"enrolment                     : {figures['enrolled']:6.2f} s")
    print(f"assignments on machines       : {figures['assigned']:6.2f} s (written in-process)")
    print(f"baseline: one answer each     : {figures['baseline']:6.2f} s")
    clash = "" if figures["clear"] else " (while polls were renewed)"
    print(f"window                        : {figures['window']} UTC,"
          f" {figures['lead']:.0f} s after every agent was waiting{clash};"
          f" {figures['ready']:,} waiting 1 s before it")  # fmt: skip
    print(f"window start -> run recorded  : {figures['recorded']:6.2f} s (its round began)")
    print(f"window start -> jobs handed   : {figures['dispatched']:6.2f} s (a dispatch began)")
    print(f"window start -> agent has job : first {figures['first']:.2f} s,"
          f" p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s,"
          f" all {figures['all']:.2f} s")  # fmt: skip
    print(f"ratio all/baseline            : {figures['all'] / figures['baseline']:.1f}x")
    print(f"server RSS                    : {figures['idle_rss']:.0f} MB with every agent waiting,"
          f" {figures['busy_rss']:.0f} MB after")  # fmt: skip
    verdict = "meets" if figures["all"] <= TARGET_SECONDS else "MISSES"
    print(f"target                        : all within {TARGET_SECONDS:.0f} s ({verdict})")
    print()
    seconds = options.idle_seconds
    print(f"at rest, a new server process over that store, CPU over {seconds:.0f} s each:")
    print(f"baseline: before them         : {rest['baseline']:6.2f}% of one core")
    label = f"{options.configurations:,} configurations"
    print(f"{label:<30}: {rest['loaded']:6.2f}% of one core (added in {rest['added']:.1f} s,"
          f" none due: the soonest window is {rest['soonest']:.1f} days away)")  # fmt: skip
    difference = rest["loaded"] - rest["baseline"]
    print(f"difference                    : {difference:+6.2f} points")
    if rest["baseline_db"] is not None:
        print(f"PostgreSQL backends           : {rest['baseline_db']:6.2f}% then"
              f" {rest['loaded_db']:.2f}% of one core")  # fmt: skip
    print(f"server RSS                    : {rest['rss']:.0f} MB")
    verdict = "meets" if difference < TARGET_IDLE_PERCENT else "MISSES"
    print(f"target                        : under {TARGET_IDLE_PERCENT:.0f}% more ({verdict})")


if __name__ == "__main__":
    main()
