"""Windows into runs, in the store: which configurations are due, which machines a window
patches, and the run that queues one install job per machine.

Each configuration row carries ``next_window_at``, the start of the next window nobody has
handled yet, so finding due work is one indexed query however many configurations exist.
Handling a window is one write transaction: the run (unique per configuration and window
start, so no window is handled twice even by two leaders), every job, and the next start.
A window whose start passed while no server ran is still run if its machines can be
patched before the reboot reserve; otherwise it is recorded as missed, with the reason.

A started run's Resource Graph rows are not part of that transaction: writing a row for
each of 10,000 machines would hold back every agent's job by as long again. The leader
writes them once the agents have been told (:func:`open_runs` finds those a leader that
stopped could not write).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from upkeep.arm.errors import ArmError
from upkeep.arm.ids import location_key
from upkeep.arm.timestamps import format_timestamp
from upkeep.db.tables import (
    configuration_assignments,
    jobs,
    machines,
    maintenance_configurations,
    resource_groups,
)
from upkeep.db.tables import maintenance_runs as runs
from upkeep.graph import records
from upkeep.maintenance.rollout import Rollout
from upkeep.maintenance.schedule import REBOOT_RESERVE
from upkeep.maintenance.service import configuration_id, next_window_start, schedule_of
from upkeep.patching import service as patching

STARTED, MISSED = "Started", "Missed"


@dataclass(frozen=True)
class Handled:
    """What handling one window did: the run, and the machines that got a job."""

    run_id: str
    window_start: datetime
    state: str
    machine_keys: list[str]


#: Configuration rows with their group's name as its owner spelled it.
_CONFIGURATIONS = select(
    maintenance_configurations, resource_groups.c.name.label("group_name")
).join(resource_groups, resource_groups.c.key == maintenance_configurations.c.group_key)


def due(connection: Connection, now: datetime, limit: int = 100) -> list[str]:
    """Keys of configurations with a window that has started and not been handled, the
    earliest first."""
    rows = connection.execute(
        select(maintenance_configurations.c.key)
        .where(maintenance_configurations.c.next_window_at <= now)
        .order_by(maintenance_configurations.c.next_window_at)
        .limit(limit)
    )
    return [row.key for row in rows]


def handle_window(connection: Connection, key: str, now: datetime) -> Handled | None:
    """Run (or record as missed) the configuration's due window, and move its index on to
    the next window; None when it is no longer due (deleted, changed, or handled). A
    started run's graph rows are the caller's to write (:func:`records.show_new_run`)."""
    row = (
        connection.execute(
            _CONFIGURATIONS.where(
                maintenance_configurations.c.key == key,
                maintenance_configurations.c.next_window_at <= now,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    schedule = schedule_of(row["body"])
    start = row["next_window_at"]
    end = start + schedule.duration
    connection.execute(
        update(maintenance_configurations)
        .where(maintenance_configurations.c.key == key)
        .values(next_window_at=next_window_start(row["body"], start + timedelta(microseconds=1)))
    )
    if _already_handled(connection, key, start):
        return None
    run_id = str(uuid.uuid4())
    cutoff = end - max(REBOOT_RESERVE.values())
    if now >= cutoff:
        reason = (
            f"No server was running from the window's start ({format_timestamp(start)})"
            f" until less than the reboot reserve was left before its end"
            f" ({format_timestamp(end)}); the window was not run."
        )
        _insert_run(connection, run_id, run_name(start), row, start, end, now, MISSED, reason)
        records.refresh_run(connection, run_id, now)
        return Handled(run_id, start, MISSED, [])
    rollout = Rollout.of(row["body"]["properties"].get("extensionProperties"))
    _insert_run(connection, run_id, run_name(start), row, start, end, now, STARTED, None, rollout)
    targets = assigned_machines(connection, key)
    run = correlation_id(configuration_id_of(row), run_name(start))
    plans = [job_plan(row["body"], machine, run, start, end) for machine in targets]
    queued = patching.queue_run(connection, run_id, plans, now, rollout.concurrency(len(plans)))
    return Handled(run_id, start, STARTED, queued)


def start_now(connection: Connection, machine: RowMapping, now: datetime) -> str:
    """Apply a machine's maintenance now ("apply updates"): a run of its first assigned
    configuration, named by a new GUID, as long as one of that configuration's windows.
    Returns the run's name; 400 when no configuration is assigned to the machine."""
    keys = configurations_of(connection, machine)
    if not keys:
        raise ArmError(
            400,
            "InvalidParameter",
            f"No maintenance configuration is assigned to '{machine['name']}': there is no"
            " maintenance to apply.",
            target="resourceId",
        )
    row = (
        connection.execute(_CONFIGURATIONS.where(maintenance_configurations.c.key == keys[0]))
        .mappings()
        .one()
    )
    end = now + schedule_of(row["body"]).duration
    run_id, name = str(uuid.uuid4()), str(uuid.uuid4())
    _insert_run(connection, run_id, name, row, now, end, now, STARTED, None)
    run = correlation_id(configuration_id_of(row), name)
    patching.queue_run(
        connection, run_id, [job_plan(row["body"], machine, run, now, end)], now, at_once=1
    )
    records.refresh_run(connection, run_id, now)
    return name


def open_runs(connection: Connection, now: datetime) -> list[str]:
    """Runs whose window is still open, oldest first."""
    found = connection.execute(
        select(runs.c.id)
        .where(runs.c.state == STARTED, runs.c.window_end > now)
        .order_by(runs.c.window_start)
    )
    return list(found.scalars())


def _already_handled(connection: Connection, key: str, start: datetime) -> bool:
    found = connection.execute(
        select(runs.c.id).where(runs.c.configuration_key == key, runs.c.window_start == start)
    ).first()
    return found is not None


def _insert_run(
    connection: Connection,
    run_id: str,
    name: str,
    configuration: RowMapping,
    start: datetime,
    end: datetime,
    now: datetime,
    state: str,
    reason: str | None,
    rollout: Rollout | None = None,
) -> None:
    connection.execute(
        insert(runs).values(
            rollout=rollout.as_document() if rollout else None,
            id=run_id,
            name=name,
            configuration_key=configuration["key"],
            configuration_id=configuration_id_of(configuration),
            subscription_id=configuration["subscription_id"],
            window_start=start,
            window_end=end,
            state=state,
            reason=reason,
            created_at=now,
        )
    )


def run_name(start: datetime) -> str:
    """A window's run is named by its UTC start, as Azure names it: ``20261126090000``."""
    return start.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def correlation_id(configuration_id: str, name: str) -> str:
    """The run's id, shared by every machine's record of it (``maintenanceRunId``)."""
    return f"{configuration_id}/providers/Microsoft.Maintenance/applyUpdates/{name}"


def configuration_id_of(configuration: RowMapping) -> str:
    """The configuration's id as its owner spelled it (the key is lowercase), from its row
    with its group's ``group_name``."""
    return configuration_id(
        configuration["subscription_id"], configuration["group_name"], configuration["name"]
    )


def job_plan(
    body: dict[str, Any], machine: RowMapping, run: str, start: datetime, end: datetime
) -> patching.JobPlan:
    """The install job a window gives a machine: the configuration's installPatches, within
    the window, stopping new packages at the reboot reserve."""
    install = body["properties"].get("installPatches") or {}
    os_type = (machine["facts"] or {}).get("osType") or "Linux"
    parameters: dict[str, Any] = {
        "maximumDuration": f"PT{int((end - start).total_seconds() // 60)}M",
        "rebootSetting": install.get("rebootSetting", "IfRequired"),
        "windowEnd": format_timestamp(end),
    }
    if os_type == "Windows":
        parameters["windowsParameters"] = dict(install.get("windowsParameters") or {})
    else:
        linux = dict(install.get("linuxParameters") or {})
        parameters["linuxParameters"] = {**linux, "maintenanceRunId": run}
    reserve = REBOOT_RESERVE.get(os_type, REBOOT_RESERVE["Linux"])
    return patching.JobPlan(machine["key"], parameters, dispatch_by=end - reserve)


# --- which machines a window patches -------------------------------------------------


#: What deciding and planning needs of a machine (not its system data).
_MACHINE = select(
    machines.c.key,
    machines.c.id,
    machines.c.name,
    machines.c.type,
    machines.c.subscription_id,
    machines.c.group_key,
    machines.c.body,
    machines.c.facts,
)


def assigned_machines(connection: Connection, configuration_key: str) -> list[RowMapping]:
    """Every machine the configuration's assignments cover now, each once: machines
    assigned directly, and those a dynamic scope's filter matches at this moment."""
    assignments = configuration_assignments.c
    of_configuration = assignments.configuration_key == configuration_key
    dynamic = or_(assignments.group_key.is_(None), assignments.target_key == assignments.group_key)
    found: dict[str, RowMapping] = {}
    direct = select(assignments.target_key).where(of_configuration, ~dynamic)
    for machine in connection.execute(_MACHINE.where(machines.c.key.in_(direct))).mappings():
        found[machine["key"]] = machine
    scopes = connection.execute(
        select(assignments.subscription_id, assignments.group_key, assignments.body).where(
            of_configuration, dynamic
        )
    ).mappings()
    for scope in scopes.all():
        for machine in _dynamic_scope(connection, scope):
            found.setdefault(machine["key"], machine)
    return sorted(found.values(), key=lambda machine: machine["key"])


def assigned_machine_ids(connection: Connection, configuration_key: str) -> list[str]:
    """The ids of the machines a window of the configuration would patch if it began now."""
    return [machine["id"] for machine in assigned_machines(connection, configuration_key)]


def configurations_of(connection: Connection, machine: RowMapping) -> list[str]:
    """Keys of the configurations assigned to a machine, directly or by a dynamic scope
    that matches it now, in key order."""
    assignments = connection.execute(
        select(configuration_assignments).where(
            configuration_assignments.c.subscription_id == machine["subscription_id"]
        )
    ).mappings()
    found = set()
    for assignment in assignments:
        if _is_machine_assignment(assignment):
            if assignment["target_key"] == machine["key"]:
                found.add(assignment["configuration_key"])
        elif _in_dynamic_scope(machine, assignment):
            found.add(assignment["configuration_key"])
    return sorted(found)


def _in_dynamic_scope(machine: RowMapping, assignment: RowMapping) -> bool:
    if assignment["group_key"] not in (None, machine["group_key"]):
        return False
    rules = (assignment["body"].get("properties") or {}).get("filter") or {}
    groups = {group.lower() for group in rules.get("resourceGroups") or []}
    if groups and machine["group_key"].rsplit("/", 1)[-1] not in groups:
        return False
    return matches_filter(machine, rules)


def _is_machine_assignment(assignment: RowMapping) -> bool:
    """Assignments on a machine name it; dynamic ones sit on a subscription or a group."""
    target = assignment["target_key"]
    return assignment["group_key"] is not None and target != assignment["group_key"]


def _dynamic_scope(connection: Connection, assignment: RowMapping) -> list[RowMapping]:
    query = _MACHINE.where(machines.c.subscription_id == assignment["subscription_id"])
    if assignment["group_key"] is not None:
        query = query.where(machines.c.group_key == assignment["group_key"])
    candidates = connection.execute(query).mappings().all()
    return [machine for machine in candidates if _in_dynamic_scope(machine, assignment)]


def matches_filter(machine: RowMapping | dict[str, Any], rules: dict[str, Any]) -> bool:
    """Whether a machine passes a dynamic scope's filter (its resource groups aside, which
    ``_in_dynamic_scope`` checks). Lists are any-of; tags follow ``filterOperator`` (All by
    default)."""
    types = {value.lower() for value in rules.get("resourceTypes") or []}
    if types and machine["type"].lower() not in types:
        return False
    os_types = {value.lower() for value in rules.get("osTypes") or []}
    if os_types and str((machine["facts"] or {}).get("osType", "")).lower() not in os_types:
        return False
    locations = {location_key(value) for value in rules.get("locations") or []}
    if locations and location_key(machine["body"].get("location", "")) not in locations:
        return False
    return _tags_match(machine["body"].get("tags") or {}, rules.get("tagSettings") or {})


def _tags_match(tags: dict[str, str], settings: dict[str, Any]) -> bool:
    wanted: dict[str, list[str]] = settings.get("tags") or {}
    if not wanted:
        return True
    have = {name.lower(): value for name, value in tags.items()}
    hits = [
        name.lower() in have and (not values or have[name.lower()] in values)
        for name, values in wanted.items()
    ]
    if str(settings.get("filterOperator", "All")).lower() == "any":
        return any(hits)
    return all(hits)


# --- rollouts ---------------------------------------------------------------------------


def has_held_jobs(connection: Connection) -> bool:
    """Whether any run has machines waiting for their turn."""
    return (
        connection.execute(select(jobs.c.id).where(jobs.c.state == patching.HELD).limit(1)).first()
        is not None
    )


def advance_rollouts(connection: Connection, now: datetime) -> list[str]:
    """Give held machines of running runs their turn as others finish, within the run's
    maxConcurrency; once failures exceed maxErrors, or the window's cutoff passes, the
    held machines are recorded as not patched, with the reason. Returns the keys of the
    machines whose job was queued."""
    held_runs = connection.execute(
        select(jobs.c.run_id).where(jobs.c.state == patching.HELD).distinct()
    ).scalars()
    released: list[str] = []
    for run_id in held_runs.all():
        run = connection.execute(select(runs).where(runs.c.id == run_id)).mappings().one()
        released += _advance(connection, run, now)
    return released


def _advance(connection: Connection, run: RowMapping, now: datetime) -> list[str]:
    members = connection.execute(
        select(jobs.c.id, jobs.c.machine_key, jobs.c.state, jobs.c.result, jobs.c.dispatch_by)
        .where(jobs.c.run_id == run["id"])
        .order_by(jobs.c.machine_key)
    ).all()
    held = [job for job in members if job.state == patching.HELD]
    active = sum(job.state in patching.UNFINISHED for job in members)
    failed = sum(_failed(job.state, job.result) for job in members)
    rollout = Rollout.of(run["rollout"])
    tolerated = rollout.tolerated_errors(len(members))
    if tolerated is not None and failed > tolerated:
        _not_patched(connection, held, now, "MaxErrorsExceeded",
                     f"The run stopped starting machines: {failed} failed, more than its"
                     f" maxErrors ({rollout.max_errors}) allows.")  # fmt: skip
        return []
    if held and now >= held[0].dispatch_by:
        _not_patched(connection, held, now, "WindowEnded",
                     "The window reached its cutoff before this machine's turn in the run"
                     f" (maxConcurrency {rollout.max_concurrency}).")  # fmt: skip
        return []
    turn = held[: max(0, rollout.concurrency(len(members)) - active)]
    if turn:
        connection.execute(
            update(jobs)
            .where(jobs.c.id.in_([job.id for job in turn]), jobs.c.state == patching.HELD)
            .values(state=patching.QUEUED, created_at=now)
        )
        records.refresh_jobs(connection, [job.id for job in turn], now)
    return [job.machine_key for job in turn]


def _failed(state: str, result: dict[str, Any] | None) -> bool:
    """A machine counts as failed if its job failed or its installation did."""
    if state == patching.FAILED:
        return True
    return state == patching.SUCCEEDED and (result or {}).get("status") == "Failed"


def _not_patched(
    connection: Connection, held: list[Any], now: datetime, code: str, why: str
) -> None:
    connection.execute(
        update(jobs)
        .where(jobs.c.id.in_([job.id for job in held]), jobs.c.state == patching.HELD)
        .values(state=patching.FAILED, finished_at=now, error={"code": code, "message": why})
    )
    records.refresh_jobs(connection, [job.id for job in held], now)
