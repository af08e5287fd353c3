"""Patch operations (jobs) in the store: start, hand to the agent, record, time out.

A job is one assessPatches or installPatches on one machine. It is ``Queued`` until the
machine's agent picks it up, ``Running`` until the agent reports its result, then
``Succeeded`` (the agent did the operation; its patch-level outcome is in the result) or
``Failed`` (the operation could not be done: the machine never picked it up, stopped
answering, or the agent could not drive its package manager). Every job has a time by which
it must be picked up and a time by which it must finish; :func:`expire` fails the ones
that miss them, so nothing stays in progress forever.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from upkeep.arm.errors import ArmError, not_found
from upkeep.arm.ids import ResourceId
from upkeep.arm.timestamps import format_timestamp
from upkeep.db.tables import jobs, machines
from upkeep.graph import records
from upkeep.machines.service import require_machine
from upkeep.patching.models import parse_iso_duration

ASSESS, INSTALL = "assess", "install"
QUEUED, RUNNING, SUCCEEDED, FAILED = "Queued", "Running", "Succeeded", "Failed"
#: a maintenance run's job waiting for its turn (the run's maxConcurrency); not handed out
HELD = "Held"
UNFINISHED = (QUEUED, RUNNING)


@dataclass(frozen=True)
class Timeouts:
    """How long a job may wait for its machine, and take once there."""

    #: a queued job fails unless its machine's agent picks it up within this
    dispatch: timedelta = timedelta(minutes=10)
    #: an assessment fails unless reported within this of being picked up
    assessment: timedelta = timedelta(minutes=20)
    #: beyond maximumDuration: the closing assessment and a reboot with its wait
    install_grace: timedelta = timedelta(minutes=45)


#: An install with no maximumDuration (allowed for VMs) may take this long.
DEFAULT_INSTALL_DURATION = timedelta(hours=4)


def start(
    connection: Connection,
    machine: ResourceId,
    kind: str,
    parameters: dict[str, Any],
    now: datetime,
    timeouts: Timeouts,
    started_by: str = "User",
) -> dict[str, Any]:
    """Queue an operation on a machine; 409 while another one is unfinished there."""
    row = require_machine(connection, machine)
    busy = connection.execute(
        select(jobs.c.id, jobs.c.kind).where(
            jobs.c.machine_key == row["key"], jobs.c.state.in_(UNFINISHED)
        )
    ).first()
    if busy is not None:
        operation = "installPatches" if busy.kind == INSTALL else "assessPatches"
        raise ArmError(
            409,
            "Conflict",
            f"Operation '{_operation(kind)}' is not allowed on '{row['name']}' while"
            f" '{operation}' ({busy.id}) is in progress.",
        )
    job = _new_job(row["key"], kind, parameters, started_by, now, now + timeouts.dispatch)
    connection.execute(insert(jobs).values(**job))
    return {**job, "machine_id": row["id"], "location": row["body"]["location"]}


def queue_many(
    connection: Connection,
    machine_keys: list[str],
    kind: str,
    parameters: dict[str, Any],
    now: datetime,
    timeouts: Timeouts,
    started_by: str = "Platform",
) -> list[str]:
    """Queue one job per machine in one statement (a maintenance run's way); machines with
    an unfinished job are left out. Returns the keys of the machines that got a job."""
    busy = {
        row.machine_key
        for row in connection.execute(
            select(jobs.c.machine_key).where(
                jobs.c.machine_key.in_(machine_keys), jobs.c.state.in_(UNFINISHED)
            )
        )
    }
    queued = [key for key in machine_keys if key not in busy]
    if queued:
        connection.execute(
            insert(jobs),
            [
                _new_job(key, kind, parameters, started_by, now, now + timeouts.dispatch)
                for key in queued
            ],
        )
    return queued


@dataclass(frozen=True)
class JobPlan:
    """One machine's install job in a maintenance run."""

    machine_key: str
    parameters: dict[str, Any]
    #: the machine may still join the run until then (the window's end less the reserve)
    dispatch_by: datetime


def queue_run(
    connection: Connection, run_id: str, plans: list[JobPlan], now: datetime, at_once: int
) -> list[str]:
    """Queue a maintenance run's install jobs in one statement: the first ``at_once`` for
    their agents, the rest held for their turn. A machine busy with another operation gets
    its job too: it is handed out when that one ends, if still in time. Returns the keys of
    the machines whose job was queued."""
    rows = [
        {
            **_new_job(
                plan.machine_key, INSTALL, plan.parameters, "Platform", now, plan.dispatch_by
            ),
            "run_id": run_id,
            "state": QUEUED if index < at_once else HELD,
        }
        for index, plan in enumerate(plans)
    ]
    if rows:
        # executemany: SQLAlchemy batches it into few statements itself (10k jobs: 0.35 s on
        # PostgreSQL, where hand-made multi-row VALUES took 2.5 s to compile and send)
        connection.execute(insert(jobs), rows)
    return [plan.machine_key for plan in plans[:at_once]]


def _new_job(
    machine_key: str,
    kind: str,
    parameters: dict[str, Any],
    started_by: str,
    now: datetime,
    dispatch_by: datetime,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "machine_key": machine_key,
        "kind": kind,
        "state": QUEUED,
        "parameters": parameters,
        "started_by": started_by,
        "created_at": now,
        "dispatch_by": dispatch_by,
    }


def _operation(kind: str) -> str:
    return "installPatches" if kind == INSTALL else "assessPatches"


def finish_by(job: RowMapping | dict[str, Any], timeouts: Timeouts) -> datetime:
    """When a picked-up job is failed for not reporting."""
    if job["kind"] == ASSESS:
        return job["started_at"] + timeouts.assessment
    return install_deadline(job) + timeouts.install_grace


# --- the agent's side ----------------------------------------------------------------

_NEXT = (
    select(jobs)
    .where(jobs.c.machine_key == bindparam("machine"), jobs.c.state.in_(UNFINISHED))
    .order_by(jobs.c.created_at)
    .limit(1)
)


def has_work(connection: Connection, machine_key: str) -> bool:
    """Whether a job is waiting for (or still running on) the machine: a cheap read."""
    return connection.execute(_NEXT, {"machine": machine_key}).first() is not None


@dataclass
class Dispatched:
    """Each machine's job as its agent receives it, and the jobs that started just now."""

    handed: dict[str, dict[str, Any]]
    started: list[str]


def dispatch(
    connection: Connection, machine_keys: list[str], now: datetime, timeouts: Timeouts
) -> Dispatched:
    """Each machine's next job, marked Running, as its agent receives it (machines without
    work are left out). A Running job is handed out again: an agent that restarted must
    learn what it was doing. One call serves many machines, so that a fleet woken at once
    is served by a few transactions, not one each.

    The started jobs' Resource Graph rows are the caller's to refresh, after the agents
    have their jobs (:func:`upkeep.graph.records.refresh_jobs`)."""
    handed: dict[str, dict[str, Any]] = {}
    started_ids: list[str] = []
    for first in range(0, len(machine_keys), 500):
        chunk = machine_keys[first : first + 500]
        rows = connection.execute(
            select(jobs)
            .where(jobs.c.machine_key.in_(chunk), jobs.c.state.in_(UNFINISHED))
            .order_by(jobs.c.created_at)
        ).mappings()
        started = []
        for row in rows:
            if row["machine_key"] in handed:
                continue  # one job at a time per machine: the oldest
            job = dict(row)
            if job["state"] == QUEUED:
                job.update(state=RUNNING, started_at=now)
                job["finish_by"] = finish_by(job, timeouts)
                started.append({"job": job["id"], "finish_by": job["finish_by"]})
            handed[job["machine_key"]] = agent_view(job)
        if started:
            connection.execute(
                update(jobs)
                .where(jobs.c.id == bindparam("job"), jobs.c.state == QUEUED)
                .values(state=RUNNING, started_at=now, finish_by=bindparam("finish_by")),
                started,
            )
            started_ids += [item["job"] for item in started]
    return Dispatched(handed, started_ids)


def install_deadline(job: RowMapping | dict[str, Any]) -> datetime:
    """When an install must stop starting packages: its maximumDuration after it started,
    and never past the end of the maintenance window it runs in."""
    duration = job["parameters"].get("maximumDuration")
    deadline = job["started_at"] + (
        parse_iso_duration(duration) if duration else DEFAULT_INSTALL_DURATION
    )
    window_end = job["parameters"].get("windowEnd")
    if window_end:
        deadline = min(deadline, datetime.fromisoformat(window_end))
    return deadline


def agent_view(job: RowMapping | dict[str, Any]) -> dict[str, Any]:
    """A job as its agent receives it."""
    view = {
        "id": job["id"],
        "kind": job["kind"],
        "parameters": job["parameters"],
        "startedBy": job["started_by"],
        "startedAt": format_timestamp(job["started_at"]),
        "finishBy": format_timestamp(job["finish_by"]),
    }
    if job["kind"] == INSTALL:
        view["deadline"] = format_timestamp(install_deadline(job))
    if job.get("progress"):
        view["progress"] = job["progress"]
    return view


def _agent_job(connection: Connection, machine_key: str, job_id: str) -> RowMapping:
    """A job of this machine; any other job is 404 (a machine cannot see another's)."""
    row = (
        connection.execute(
            select(jobs).where(jobs.c.id == job_id, jobs.c.machine_key == machine_key)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise not_found("JobNotFound", f"This machine has no job '{job_id}'.")
    return row


def record_progress(
    connection: Connection, machine_key: str, job_id: str, progress: dict[str, Any]
) -> bool:
    """The agent's latest progress (phase, current package, partial result); True when
    the agent should start no further package (its maintenance run was cancelled)."""
    row = _agent_job(connection, machine_key, job_id)
    if row["state"] == RUNNING:
        connection.execute(update(jobs).where(jobs.c.id == job_id).values(progress=progress))
    return row["stop_requested_at"] is not None


def record_result(
    connection: Connection,
    machine_key: str,
    job_id: str,
    result: dict[str, Any] | None,
    failure: dict[str, Any] | None,
    now: datetime,
) -> str:
    """The agent's final word on a job. Reporting again changes nothing (the first report
    stands), so an agent may retry until the server has it. Returns the job's state."""
    row = _agent_job(connection, machine_key, job_id)
    if row["state"] not in UNFINISHED:
        return row["state"]
    state = FAILED if failure else SUCCEEDED
    connection.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state.in_(UNFINISHED))
        .values(state=state, result=result, error=failure, finished_at=now)
    )
    records.refresh_jobs(connection, [job_id], now)
    return state


# --- deadlines -----------------------------------------------------------------------


def expire(connection: Connection, now: datetime) -> list[str]:
    """Fail every job that was not picked up, or not reported, in time; returns their ids."""
    late = connection.execute(
        select(jobs.c.id, jobs.c.state, jobs.c.kind, jobs.c.progress).where(
            or_(
                and_(jobs.c.state == QUEUED, jobs.c.dispatch_by <= now),
                and_(jobs.c.state == RUNNING, jobs.c.finish_by <= now),
            )
        )
    ).all()
    for job in late:
        if job.state == QUEUED:
            error = {
                "code": "MachineNotConnected",
                "message": "The machine's agent did not pick up the operation in time; the"
                " machine is offline or its agent is not running.",
            }
        else:
            error = {
                "code": "OperationTimedOut",
                "message": "The machine's agent stopped reporting before the operation"
                " finished; the machine went offline, its agent stopped, or a reboot did not"
                " come back.",
            }
        connection.execute(
            update(jobs)
            .where(jobs.c.id == job.id, jobs.c.state == job.state)
            .values(state=FAILED, error=error, result=_partial(job.progress), finished_at=now)
        )
    records.refresh_jobs(connection, [job.id for job in late], now)
    return [job.id for job in late]


def _partial(progress: dict[str, Any] | None) -> dict[str, Any] | None:
    """What is known of a job that timed out: its last progress report, marked Failed."""
    if not progress or "result" not in progress:
        return None
    result = dict(progress["result"])
    result["status"] = "Failed"
    if result.get("rebootStatus") == "Started":
        result["rebootStatus"] = "Failed"
    return result


def queued_machines(connection: Connection) -> list[str]:
    """Machines with a job waiting for their agent (to wake agents across processes). Not
    "queued since": a long transaction commits rows stamped before the last look."""
    rows = connection.execute(select(jobs.c.machine_key).where(jobs.c.state == QUEUED).distinct())
    return [row.machine_key for row in rows]


# --- the operation, as ARM clients see it --------------------------------------------


def get_job(connection: Connection, job_id: str) -> dict[str, Any]:
    """A job with its machine's id and location; 404 when there is no such operation."""
    row = (
        connection.execute(
            select(jobs, machines.c.id.label("machine_id"), machines.c.body.label("machine"))
            .join(machines, machines.c.key == jobs.c.machine_key)
            .where(jobs.c.id == job_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise not_found("OperationNotFound", f"The operation '{job_id}' was not found.")
    return dict(row)


def latest_assessment(connection: Connection, machine: ResourceId) -> dict[str, Any] | None:
    """The newest finished assessment of a machine: an assessment job's result, or the
    closing assessment of an install."""
    row = require_machine(connection, machine)
    found = connection.execute(
        select(jobs)
        .where(jobs.c.machine_key == row["key"], jobs.c.state == SUCCEEDED)
        .order_by(jobs.c.finished_at.desc())
    ).mappings()
    for job in found:
        result = job["result"] or {}
        assessment = result if job["kind"] == ASSESS else result.get("assessment")
        if assessment:
            return {"job": dict(job), "assessment": assessment}
    return None


def installations(connection: Connection, machine: ResourceId) -> list[dict[str, Any]]:
    """A machine's finished installs, newest first."""
    row = require_machine(connection, machine)
    found = connection.execute(
        select(jobs)
        .where(
            jobs.c.machine_key == row["key"],
            jobs.c.kind == INSTALL,
            jobs.c.state.in_((SUCCEEDED, FAILED)),
        )
        .order_by(jobs.c.finished_at.desc())
    ).mappings()
    return [dict(job) for job in found]
