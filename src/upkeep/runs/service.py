"""Maintenance runs as Azure shows them: ``Microsoft.Maintenance/applyUpdates`` records.

A run is one window of one configuration (``maintenance_runs``); each machine it patched has
an install job carrying the run's id. Azure shows both levels under one name, the window's
UTC start (``20261126090000``): the run under its configuration and each machine's part
under the machine. Besides reading them, a run can be cancelled (before its window, or its
machines that have not started yet) and a machine's maintenance can be applied now.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import RowMapping

from upkeep.arm.errors import ArmError, not_found
from upkeep.arm.ids import ResourceId, group_key, scope_covers
from upkeep.arm.timestamps import format_timestamp
from upkeep.db.tables import jobs, machines, maintenance_runs
from upkeep.graph import records
from upkeep.machines.service import require_machine
from upkeep.maintenance.schedule import next_occurrences
from upkeep.maintenance.service import configuration_id, get_configuration, schedule_of
from upkeep.orchestrator import service as windows
from upkeep.patching import service as patching
from upkeep.patching.models import installation_counts

APPLY_UPDATES = "Microsoft.Maintenance/applyUpdates"
CANCELLED = "Cancelled"

# --- statuses --------------------------------------------------------------------------


def machine_status(run: RowMapping, job: RowMapping) -> str:
    """One machine's part of a run, in the spec's words. ``RetryLater``: it did not happen
    (the machine never picked its job up, stopped answering, or was cancelled), so the next
    window is its next chance."""
    if job["state"] in (patching.QUEUED, patching.HELD):
        return CANCELLED if run["state"] == CANCELLED else "Pending"
    if job["state"] == patching.RUNNING:
        return "InProgress"
    if job["state"] == patching.FAILED:
        return CANCELLED if (job["error"] or {}).get("code") == "Cancelled" else "RetryLater"
    counts = installation_counts((job["result"] or {}).get("patches") or [])
    if not any(counts[state] for state in ("Installed", "Failed", "Pending")):
        return "NoUpdatesPending"
    return "Completed"


def run_status(run: RowMapping, statuses: list[str]) -> str:
    """A whole run: cancelled, missed (``RetryLater``), pending before its machines start,
    in progress while any is, else completed."""
    if run["state"] == CANCELLED:
        return CANCELLED
    if run["state"] == windows.MISSED:
        return "RetryLater"
    if any(status == "InProgress" for status in statuses):
        return "InProgress"
    if statuses and all(status == "Pending" for status in statuses):
        return "Pending"
    if any(status == "Pending" for status in statuses):
        return "InProgress"
    return "Completed"


# --- records ---------------------------------------------------------------------------


def machine_record(run: RowMapping, job: RowMapping, machine_id: str) -> dict[str, Any]:
    """``{machine}/providers/Microsoft.Maintenance/applyUpdates/{run}``."""
    properties: dict[str, Any] = {
        "status": machine_status(run, job),
        "resourceId": machine_id,
        "lastUpdateTime": format_timestamp(_last_update(job)),
        # what Resource Graph shows of the same record
        "maintenanceConfigurationId": run["configuration_id"],
        "correlationId": windows.correlation_id(run["configuration_id"], run["name"]),
        "startDateTime": format_timestamp(run["window_start"]),
        "endDateTime": format_timestamp(run["window_end"]),
    }
    if job["error"]:
        properties["error"] = job["error"]
    return {
        "id": f"{machine_id}/providers/{APPLY_UPDATES}/{run['name']}",
        "name": run["name"],
        "type": APPLY_UPDATES,
        "properties": properties,
    }


def run_record(run: RowMapping, machine_statuses: list[str]) -> dict[str, Any]:
    """``{configuration}/providers/Microsoft.Maintenance/applyUpdates/{run}``."""
    properties: dict[str, Any] = {
        "status": run_status(run, machine_statuses),
        "resourceId": run["configuration_id"],
        "lastUpdateTime": format_timestamp(run["updated_at"] or run["created_at"]),
        "maintenanceConfigurationId": run["configuration_id"],
        "correlationId": windows.correlation_id(run["configuration_id"], run["name"]),
        "startDateTime": format_timestamp(run["window_start"]),
        "endDateTime": format_timestamp(run["window_end"]),
        "machineCount": len(machine_statuses),
    }
    if run["reason"]:
        properties["error"] = {"code": run["state"], "message": run["reason"]}
    return {
        "id": windows.correlation_id(run["configuration_id"], run["name"]),
        "name": run["name"],
        "type": "Microsoft.Maintenance/maintenanceConfigurations/applyUpdates",
        "properties": properties,
    }


def _last_update(job: RowMapping) -> datetime:
    return job["finished_at"] or job["started_at"] or job["created_at"]


_PARTS = (
    select(maintenance_runs, jobs, machines.c.id.label("machine_id"))
    .join(jobs, jobs.c.run_id == maintenance_runs.c.id)
    .join(machines, machines.c.key == jobs.c.machine_key)
)


def _split(row: RowMapping) -> tuple[dict[str, Any], dict[str, Any]]:
    """A joined row as (run, job)."""
    run = {column.name: row[maintenance_runs.c[column.name]] for column in maintenance_runs.c}
    job = {column.name: row[jobs.c[column.name]] for column in jobs.c}
    return run, job


def _machine_records(rows: Any) -> list[dict[str, Any]]:
    """Machine records from rows of ``_PARTS``."""
    records = []
    for found in rows.mappings():
        run, job = _split(found)
        records.append(machine_record(run, job, found["machine_id"]))
    return records


def get_machine_record(connection: Connection, machine: ResourceId, name: str) -> dict[str, Any]:
    row = require_machine(connection, machine)
    found = (
        connection.execute(
            _PARTS.where(jobs.c.machine_key == row["key"], maintenance_runs.c.name == name)
        )
        .mappings()
        .first()
    )
    if found is None:
        raise not_found(
            "ResourceNotFound", f"The machine '{machine.name}' has no maintenance run '{name}'."
        )
    run, job = _split(found)
    return machine_record(run, job, found["machine_id"])


def list_machine_records(
    connection: Connection, subscription_id: str, group: str | None, visible_scope: str
) -> list[dict[str, Any]]:
    """Every machine's part of every run within a subscription or group that the caller
    may see, the newest first."""
    query = _PARTS.where(machines.c.subscription_id == subscription_id)
    if group is not None:
        query = query.where(machines.c.group_key == group_key(subscription_id, group))
    rows = connection.execute(query.order_by(maintenance_runs.c.window_start.desc()))
    records = _machine_records(rows)
    return [r for r in records if scope_covers(visible_scope, r["properties"]["resourceId"])]


# --- runs of a configuration ------------------------------------------------------------


def _configuration_key(subscription_id: str, group: str, name: str) -> str:
    return configuration_id(subscription_id, group, name).lower()


def _run_row(connection: Connection, configuration_key: str, name: str) -> RowMapping | None:
    return (
        connection.execute(
            select(maintenance_runs).where(
                maintenance_runs.c.configuration_key == configuration_key,
                maintenance_runs.c.name == name,
            )
        )
        .mappings()
        .first()
    )


def _machine_statuses(connection: Connection, run: RowMapping) -> tuple[list[str], datetime]:
    """Each machine's status in the run, and when the run last changed."""
    statuses, latest = [], run["created_at"]
    for job in connection.execute(select(jobs).where(jobs.c.run_id == run["id"])).mappings():
        statuses.append(machine_status(run, job))
        latest = max(latest, _last_update(job))
    return statuses, latest


def get_run_record(
    connection: Connection, subscription_id: str, group: str, configuration: str, name: str
) -> dict[str, Any]:
    get_configuration(connection, subscription_id, group, configuration)  # 404s first
    run = _run_row(connection, _configuration_key(subscription_id, group, configuration), name)
    if run is None:
        raise not_found(
            "ResourceNotFound",
            f"The maintenance configuration '{configuration}' has no run '{name}'.",
        )
    statuses, latest = _machine_statuses(connection, run)
    return run_record({**run, "updated_at": latest}, statuses)


def list_run_records(
    connection: Connection, subscription_id: str, group: str, configuration: str
) -> list[dict[str, Any]]:
    """Every run of a configuration, the newest first (an Upkeep extension)."""
    get_configuration(connection, subscription_id, group, configuration)
    rows = connection.execute(
        select(maintenance_runs)
        .where(
            maintenance_runs.c.configuration_key
            == _configuration_key(subscription_id, group, configuration)
        )
        .order_by(maintenance_runs.c.window_start.desc())
    ).mappings()
    records = []
    for run in rows.all():
        statuses, latest = _machine_statuses(connection, run)
        records.append(run_record({**run, "updated_at": latest}, statuses))
    return records


def cancel_run(
    connection: Connection,
    subscription_id: str,
    group: str,
    configuration: str,
    name: str,
    now: datetime,
) -> dict[str, Any]:
    """Cancel one window of a configuration. Before it starts, it will not run; once
    started, machines that have not picked up their job are not patched, and those
    installing are asked to start no further package, then report what they did."""
    resource = get_configuration(connection, subscription_id, group, configuration)
    key = _configuration_key(subscription_id, group, configuration)
    run = _run_row(connection, key, name)
    if run is None:
        start = _window_named(resource, name)
        schedule = schedule_of(resource)
        connection.execute(
            insert(maintenance_runs).values(
                id=str(uuid.uuid4()),
                name=name,
                configuration_key=key,
                configuration_id=resource["id"],
                subscription_id=subscription_id,
                window_start=start,
                window_end=start + schedule.duration,
                state=CANCELLED,
                reason="Cancelled before the window started.",
                created_at=now,
            )
        )
    elif run["state"] != CANCELLED:
        connection.execute(
            update(maintenance_runs)
            .where(maintenance_runs.c.id == run["id"])
            .values(state=CANCELLED, reason="Cancelled while the window was open.")
        )
        connection.execute(
            update(jobs)
            .where(jobs.c.run_id == run["id"], jobs.c.state.in_((patching.QUEUED, patching.HELD)))
            .values(
                state=patching.FAILED,
                finished_at=now,
                error={
                    "code": "Cancelled",
                    "message": "The maintenance run was cancelled before this machine started.",
                },
            )
        )
        connection.execute(  # those installing start no further package
            update(jobs)
            .where(jobs.c.run_id == run["id"], jobs.c.state == patching.RUNNING)
            .values(stop_requested_at=now)
        )
    records.refresh_run_named(connection, key, name, now)
    return get_run_record(connection, subscription_id, group, configuration, name)


def _window_named(configuration: dict[str, Any], name: str) -> datetime:
    """The start of the configuration's window called ``name``; 400 if it has none."""
    try:
        start = datetime.strptime(name, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        start = None
    schedule = schedule_of(configuration)
    upcoming = next_occurrences(schedule, start, 1) if start else []
    if start is None or not upcoming or upcoming[0].start != start:
        raise ArmError(
            400,
            "InvalidParameter",
            f"applyUpdateName: '{name}' is not a window of this configuration; a window is"
            " named by its UTC start, yyyyMMddHHmmss (see the configuration's schedule).",
            target="applyUpdateName",
        )
    return start


# --- a machine's maintenance now ---------------------------------------------------------


def apply_now(connection: Connection, machine: ResourceId, now: datetime) -> dict[str, Any]:
    """``PUT {machine}/…/applyUpdates/default``: patch the machine now with its assigned
    configuration's settings; the new record, named by a GUID, as Azure answers."""
    row = require_machine(connection, machine)
    name = windows.start_now(connection, row, now)
    return get_machine_record(connection, machine, name)


def list_records_of_machine(connection: Connection, machine: ResourceId) -> list[dict[str, Any]]:
    row = require_machine(connection, machine)
    rows = connection.execute(
        _PARTS.where(jobs.c.machine_key == row["key"]).order_by(
            maintenance_runs.c.window_start.desc()
        )
    )
    return _machine_records(rows)


# --- the machines of one run --------------------------------------------------------------


def list_run_machines(
    connection: Connection, subscription_id: str, group: str, configuration: str, name: str
) -> list[dict[str, Any]]:
    """Each machine's part of one run of a configuration, by machine name (an Upkeep
    extension): its applyUpdates record, with what its install did under ``installation``."""
    get_run_record(connection, subscription_id, group, configuration, name)  # 404s first
    rows = connection.execute(
        _PARTS.where(
            maintenance_runs.c.configuration_key
            == _configuration_key(subscription_id, group, configuration),
            maintenance_runs.c.name == name,
        ).order_by(machines.c.name)
    )
    records = []
    for found in rows.mappings():
        run, job = _split(found)
        record = machine_record(run, job, found["machine_id"])
        installation = _installation_summary(job)
        if installation is not None:
            record["properties"]["installation"] = installation
        records.append(record)
    return records


def _installation_summary(job: dict[str, Any]) -> dict[str, Any] | None:
    """A machine's install in a run, as counts and times (the fields of its
    ``patchInstallationResults`` record a run overview needs); None until it started."""
    if job["started_at"] is None:
        return None
    result = job["result"] or {}
    counts = installation_counts(result.get("patches") or [])
    finished = job["finished_at"]
    return {
        "installationActivityId": job["id"],
        "rebootStatus": result.get("rebootStatus", "Unknown") if finished else None,
        "maintenanceWindowExceeded": result.get("maintenanceWindowExceeded", False),
        "installedPatchCount": counts["Installed"],
        "failedPatchCount": counts["Failed"],
        "pendingPatchCount": counts["Pending"],
        "excludedPatchCount": counts["Excluded"],
        "notSelectedPatchCount": counts["NotSelected"],
        "startDateTime": format_timestamp(job["started_at"]),
        "endDateTime": format_timestamp(finished) if finished else None,
    }
