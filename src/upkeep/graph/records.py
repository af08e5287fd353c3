"""Resource Graph's rows: every record of the four tables as Azure Resource Graph shows it,
written in the same transaction as the domain change it reflects.

- ``resources``: machines (their REST shape) and maintenance configurations;
- ``maintenanceresources``: configuration assignments, each machine's part of each
  maintenance run (``microsoft.maintenance/applyupdates``, under the machine) and each run
  (``…/maintenanceconfigurations/applyupdates``, under its configuration, id = the run's
  ``correlationId``);
- ``patchassessmentresources``: a machine's latest assessment and its available patches;
- ``patchinstallationresources``: every finished install and its patches, kept as long
  as the install's history is.

Every row has an *owner*, what replaces or removes its rows as a whole: a machine (its
key), a machine's latest assessment (``{machine key}/patchassessmentresults/latest``), a
job (its id: its installation rows and its part of a run), a run (its id), a
configuration or an assignment (its key). Domains call the functions below at each change
point. The records' shapes have one home each, in the domains; those modules call this
one, so it imports them where it uses them (neither import needs the other finished).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
)
from sqlalchemy.engine import RowMapping

from upkeep.arm.ids import MACHINE_TYPES, ResourceId, location_key
from upkeep.db.tables import (
    configuration_assignments,
    graph_rows,
    jobs,
    machines,
    maintenance_configurations,
    maintenance_runs,
    resource_groups,
    settings,
)
from upkeep.graph.tables import COLUMNS, TABLES

RESOURCES, MAINTENANCE, ASSESSMENTS, INSTALLATIONS = TABLES
#: The run under its configuration, and each machine's part of it under the machine.
RUN_TYPE = "microsoft.maintenance/maintenanceconfigurations/applyupdates"
MACHINE_RUN_TYPE = "microsoft.maintenance/applyupdates"
ASSIGNMENT_TYPE = "microsoft.maintenance/configurationassignments"
CONFIGURATION_TYPE = "microsoft.maintenance/maintenanceconfigurations"
#: Upkeep carries out in-guest patching only (configurations with any other scope are
#: refused), so every run is of this scope.
MAINTENANCE_SCOPE = "InGuestPatch"
#: Columns that Resource Graph shows as "" when empty, and those it shows as null; the
#: store keeps them in ``extras`` when they are not.
_BLANK_COLUMNS = ("kind", "managedBy")
_NULL_COLUMNS = ("sku", "plan", "identity", "zones", "extendedLocation")
_MACHINE_TYPES = {name.lower() for name in MACHINE_TYPES}
#: Ids per IN (…) list.
_CHUNK = 500


# --- rows in and out of the store ----------------------------------------------------


def replace_rows(
    connection: Connection, owner: str, table: str, rows: Iterable[dict[str, Any]], now: datetime
) -> None:
    """Delete every row of ``owner`` and insert ``rows`` into ``table``.

    Rows are shaped as Resource Graph shows them, with the columns of
    :data:`upkeep.graph.tables.COLUMNS`; missing ones default (``kind`` and ``managedBy``
    "", ``tags`` and the rest null, ``tenantId`` the installation's, ``subscriptionId``
    and ``resourceGroup`` from the id). ``type`` is kept lowercase, as Resource Graph
    shows it. The lowercase lookup copies (``key``, ``group_key``, ``configuration_key``,
    ``resource_key``, ``machine_key``) are derived.
    """
    if table not in TABLES:
        raise ValueError(f"'{table}' is not a Resource Graph table; use one of {TABLES}")
    _write(connection, [owner], [(owner, table, row) for row in rows], now)


def row_of(record: RowMapping | dict[str, Any]) -> dict[str, Any]:
    """A ``graph_rows`` row as Resource Graph shows it: its 16 columns, in order."""
    extras = record["extras"] or {}
    values = {
        "id": record["id"],
        "name": record["name"],
        "type": record["type"],
        "tenantId": record["tenant_id"],
        "location": record["location"] or "",
        "resourceGroup": record["resource_group"] or "",
        "subscriptionId": record["subscription_id"],
        "properties": record["properties"],
        "tags": record["tags"],
        **{column: extras.get(column, "") for column in _BLANK_COLUMNS},
        **{column: extras.get(column) for column in _NULL_COLUMNS},
    }
    return {column: values[column] for column in COLUMNS}


def _write(
    connection: Connection,
    owners: Collection[str],
    rows: Sequence[tuple[str, str, dict[str, Any]]],
    now: datetime,
) -> None:
    """Replace every row of ``owners`` with ``rows`` (owner, table, row): one delete per
    chunk of owners, one executemany insert."""
    for chunk in _chunks(sorted(set(owners))):
        connection.execute(delete(graph_rows).where(graph_rows.c.owner.in_(chunk)))
    _insert(connection, rows, now)


def _insert(
    connection: Connection, rows: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
) -> None:
    if not rows:
        return
    tenant = _tenant(connection) if any(not row.get("tenantId") for *_, row in rows) else ""
    connection.execute(
        insert(graph_rows), [_stored(table, owner, row, tenant, now) for owner, table, row in rows]
    )


def _stored(
    table: str, owner: str, row: dict[str, Any], tenant: str, now: datetime
) -> dict[str, Any]:
    """A Resource Graph row as ``graph_rows`` keeps it."""
    identifier = row["id"]
    subscription, group = _scope_of(identifier)
    group = row.get("resourceGroup", group) or None
    properties = row.get("properties")
    if properties is None:
        properties = {}
    extras = {
        column: row[column]
        for column in (*_BLANK_COLUMNS, *_NULL_COLUMNS)
        if row.get(column) not in (None, "")
    }
    return {
        "table_name": table,
        "owner": owner,
        "key": identifier.lower(),
        "id": identifier,
        "name": row.get("name") or identifier.rsplit("/", 1)[-1],
        "type": row["type"].lower(),
        "tenant_id": row.get("tenantId") or tenant,
        "location": row.get("location") or None,
        "subscription_id": row.get("subscriptionId") or subscription,
        "resource_group": group,
        "group_key": group.lower() if group else None,
        "properties": properties,
        "tags": row.get("tags"),
        "extras": extras or None,
        "configuration_key": _lowercase(properties, "maintenanceConfigurationId"),
        "resource_key": _lowercase(properties, "resourceId"),
        "machine_key": _machine_of(identifier),
        "recorded_at": now,
    }


def _lowercase(properties: Any, name: str) -> str | None:
    value = properties.get(name) if isinstance(properties, dict) else None
    return value.lower() if isinstance(value, str) else None


def _scope_of(identifier: str) -> tuple[str, str | None]:
    """The subscription and resource group an id names (``""``/None when it does not)."""
    parts = identifier.split("/")
    subscription = parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""
    group = parts[4] if len(parts) > 4 and parts[3].lower() == "resourcegroups" else None
    return subscription.lower(), group


def _machine_of(identifier: str) -> str | None:
    """The key of the machine an id is, or lies under; None for anything else."""
    parts = identifier.split("/")
    if len(parts) >= 9 and f"{parts[6]}/{parts[7]}".lower() in _MACHINE_TYPES:
        return "/".join(parts[:9]).lower()
    return None


def _tenant(connection: Connection) -> str:
    """The installation's tenant id, remembered by the database connection (it never
    changes once the first migration made it)."""
    from upkeep.resources.service import tenant_id

    known = connection.info.get("upkeep.tenant_id")
    if known is None:
        known = connection.info["upkeep.tenant_id"] = tenant_id(connection)
    return known


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for first in range(0, len(items), _CHUNK):
        yield items[first : first + _CHUNK]


def _arg_row(
    resource: dict[str, Any], location: str | None, tags: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A domain record (id, name, type, properties) as a Resource Graph row; locations are
    normalized as Resource Graph shows them (``East US`` is ``eastus``)."""
    return {
        "id": resource["id"],
        "name": resource["name"],
        "type": resource["type"].lower(),
        "location": location_key(location) if location else None,
        "properties": resource["properties"],
        "tags": tags,
    }


# --- machines --------------------------------------------------------------------------


def refresh_machine(connection: Connection, machine_key: str, now: datetime) -> None:
    """A machine's ``resources`` row after it enrolled, changed or reported."""
    refresh_machines(connection, [machine_key], now)


def refresh_machines(connection: Connection, machine_keys: Sequence[str], now: datetime) -> None:
    """Machines' ``resources`` rows, written only where what they show changed: a
    heartbeat with the same facts writes nothing. ``lastStatusChange`` is kept from the
    last change, so in the graph it says when the status (or anything else) last changed.
    """
    from upkeep.machines.service import machine_resource

    for chunk in _chunks(list(machine_keys)):
        # locked first: on PostgreSQL a concurrent rewrite of the same rows waits, and then
        # sees (and replaces) what this one wrote, rather than writing them twice
        found = connection.execute(
            select(machines).where(machines.c.key.in_(chunk)).with_for_update()
        ).mappings()
        shown = {
            row.owner: row
            for row in connection.execute(
                # a machine's key owns its resources row only
                select(graph_rows.c.owner, graph_rows.c.properties, graph_rows.c.tags).where(
                    graph_rows.c.owner.in_(chunk)
                )
            )
        }
        present, rows = set(), []
        for machine in found:
            present.add(machine["key"])
            resource = machine_resource(machine, now)
            row = _arg_row(resource, resource["location"], resource["tags"])
            before = shown.get(machine["key"])
            if before is None or not _same_machine(before, row):
                rows.append((machine["key"], RESOURCES, row))
        gone = [key for key in shown if key not in present]
        _write(connection, [*gone, *(owner for owner, *_ in rows)], rows, now)


def _same_machine(before: Any, row: dict[str, Any]) -> bool:
    def steady(properties: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in properties.items() if name != "lastStatusChange"}

    return before.tags == row["tags"] and steady(before.properties) == steady(row["properties"])


def machines_gone_silent(connection: Connection, now: datetime) -> list[str]:
    """Machines whose row shows them Connected though they have not been heard from for
    long enough to be Disconnected: time passing changes the status, not a write."""
    from upkeep.machines.service import DISCONNECTED_AFTER

    shown_connected = exists().where(
        graph_rows.c.owner == machines.c.key,
        graph_rows.c.properties["status"].as_string() == "Connected",
    )
    found = connection.execute(
        select(machines.c.key).where(
            machines.c.last_seen_at <= now - DISCONNECTED_AFTER, shown_connected
        )
    )
    return [row.key for row in found]


def machines_heard_from(connection: Connection, seen: dict[str, datetime]) -> None:
    """Machines were heard from (a batch of their polls): those shown Disconnected show
    Connected again."""
    status = graph_rows.c.properties["status"].as_string()
    for chunk in _chunks(sorted(seen)):
        back = connection.execute(
            select(graph_rows.c.owner).where(
                graph_rows.c.owner.in_(chunk), status == "Disconnected"
            )
        )
        keys = [row.owner for row in back]
        if keys:
            refresh_machines(connection, keys, max(seen[key] for key in keys))


def forget_machine(connection: Connection, machine_key: str, now: datetime) -> None:
    """A machine was deleted (with its assignments and history): its rows go, and the
    runs it was part of count it no more."""
    parts = connection.execute(
        select(graph_rows.c.configuration_key, graph_rows.c.name)
        .where(graph_rows.c.machine_key == machine_key, graph_rows.c.type == MACHINE_RUN_TYPE)
        .distinct()
    ).all()
    connection.execute(delete(graph_rows).where(graph_rows.c.machine_key == machine_key))
    _refresh_run_rows(connection, _runs_named(connection, parts), now)


def _runs_named(connection: Connection, parts: Sequence[Any]) -> list[str]:
    """Ids of the runs with these (configuration key, name) pairs."""
    found: list[str] = []
    pairs = [(part[0], part[1]) for part in parts if part[0] is not None]
    for first in range(0, len(pairs), _CHUNK):
        rows = connection.execute(
            select(maintenance_runs.c.id).where(
                tuple_(maintenance_runs.c.configuration_key, maintenance_runs.c.name).in_(
                    pairs[first : first + _CHUNK]
                )
            )
        )
        found += [row.id for row in rows]
    return found


# --- configurations and assignments ----------------------------------------------------


def refresh_configuration(connection: Connection, configuration_key: str, now: datetime) -> None:
    """A configuration's ``resources`` row after a PUT or PATCH, with the rows of its
    assignments (whose location may follow it)."""
    from upkeep.maintenance.service import configuration_resource

    found = (
        connection.execute(
            select(maintenance_configurations, resource_groups.c.name.label("group_name"))
            .join(resource_groups, resource_groups.c.key == maintenance_configurations.c.group_key)
            .where(maintenance_configurations.c.key == configuration_key)
            .with_for_update(of=maintenance_configurations)
        )
        .mappings()
        .first()
    )
    if found is None:
        forget_configuration(connection, configuration_key)
        return
    body = found["body"]
    resource = configuration_resource(
        found["subscription_id"], found["group_name"], found["name"], body, found["system_data"]
    )
    row = _arg_row(resource, body["location"], body.get("tags") or {})
    assignments = _assignment_rows(
        connection, configuration_assignments.c.configuration_key == configuration_key
    )
    _write(
        connection,
        [configuration_key, *(owner for owner, *_ in assignments)],
        [(configuration_key, RESOURCES, row), *assignments],
        now,
    )


def forget_configuration(connection: Connection, configuration_key: str) -> None:
    """A configuration was deleted, and its assignments with it. Its runs stay: history
    outlives the configuration."""
    connection.execute(
        delete(graph_rows).where(
            or_(
                graph_rows.c.owner == configuration_key,
                and_(
                    graph_rows.c.type == ASSIGNMENT_TYPE,
                    graph_rows.c.configuration_key == configuration_key,
                ),
            )
        )
    )


def refresh_assignment(connection: Connection, assignment_key: str, now: datetime) -> None:
    """An assignment's ``maintenanceresources`` row after a PUT or PATCH."""
    rows = _assignment_rows(connection, configuration_assignments.c.key == assignment_key)
    _write(connection, [assignment_key], rows, now)


def forget_assignment(connection: Connection, assignment_key: str) -> None:
    """An assignment was deleted."""
    connection.execute(delete(graph_rows).where(graph_rows.c.owner == assignment_key))


def _assignment_rows(connection: Connection, where: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """Assignment rows. Located where the machine is, for an assignment on one; else
    where the assignment says, else where its configuration is."""
    from upkeep.maintenance.service import assignment_resource

    found = connection.execute(
        select(
            configuration_assignments,
            machines.c.body.label("machine_body"),
            maintenance_configurations.c.body.label("configuration_body"),
        )
        .outerjoin(machines, machines.c.key == configuration_assignments.c.target_key)
        .outerjoin(
            maintenance_configurations,
            maintenance_configurations.c.key == configuration_assignments.c.configuration_key,
        )
        .where(where)
        .with_for_update(of=configuration_assignments)
    ).mappings()
    rows = []
    for assignment in found:
        resource = assignment_resource(assignment)
        location = (
            (assignment["machine_body"] or {}).get("location")
            or resource.get("location")
            or (assignment["configuration_body"] or {}).get("location")
        )
        rows.append((assignment["key"], MAINTENANCE, _arg_row(resource, location)))
    return rows


def forget_group(connection: Connection, subscription_id: str, group: str) -> None:
    """A resource group was deleted with everything in it: its machines (and their
    history), configurations and assignments, and assignments elsewhere that pointed at
    its configurations. Runs stay on record (their configuration's are history, as when a
    configuration is deleted); those that lost machines count them no more."""
    in_group = and_(
        graph_rows.c.subscription_id == subscription_id.lower(),
        graph_rows.c.group_key == group.lower(),
    )
    configurations = (
        connection.execute(
            select(graph_rows.c.owner).where(
                in_group,
                graph_rows.c.table_name == RESOURCES,
                graph_rows.c.type == CONFIGURATION_TYPE,
            )
        )
        .scalars()
        .all()
    )
    parts = connection.execute(
        select(graph_rows.c.configuration_key, graph_rows.c.name)
        .where(in_group, graph_rows.c.type == MACHINE_RUN_TYPE)
        .distinct()
    ).all()
    connection.execute(delete(graph_rows).where(in_group, graph_rows.c.type != RUN_TYPE))
    for configuration_key in configurations:
        forget_configuration(connection, configuration_key)
    # no clock reaches a group's deletion; the time is bookkeeping only, no rule reads it
    _refresh_run_rows(connection, _runs_named(connection, parts), datetime.now(UTC))


# --- jobs, assessments and runs ----------------------------------------------------------


#: A job with what its rows need of its machine.
_JOB_COLUMNS = "id machine_key kind state parameters started_by created_at started_at"
_JOB_COLUMNS += " finished_at result error run_id"
_JOBS = select(
    *(jobs.c[name] for name in _JOB_COLUMNS.split()),
    machines.c.id.label("machine_id"),
    machines.c.body["location"].as_string().label("machine_location"),
).join(machines, machines.c.key == jobs.c.machine_key)
_JOBS_BY_ID = _JOBS.where(jobs.c.id.in_(bindparam("ids", expanding=True))).with_for_update(of=jobs)
_JOBS_OF_RUN = _JOBS.where(jobs.c.run_id == bindparam("run")).with_for_update(of=jobs)
#: Runs with their configuration's location (none once it was deleted).
_RUNS = (
    select(
        maintenance_runs,
        maintenance_configurations.c.body["location"].as_string().label("configuration_location"),
    )
    .outerjoin(
        maintenance_configurations,
        maintenance_configurations.c.key == maintenance_runs.c.configuration_key,
    )
    .where(maintenance_runs.c.id.in_(bindparam("runs", expanding=True)))
    .with_for_update(of=maintenance_runs)
)
#: Runs' jobs by state, and when they last moved (all of a run's jobs: for its first row,
#: and after machines left it).
_PROGRESS = (
    select(
        jobs.c.run_id,
        jobs.c.state,
        func.count(),
        func.max(jobs.c.created_at),
        func.max(jobs.c.started_at),
        func.max(jobs.c.finished_at),
    )
    .where(jobs.c.run_id.in_(bindparam("runs", expanding=True)))
    .group_by(jobs.c.run_id, jobs.c.state)
)


def refresh_jobs(connection: Connection, job_ids: Sequence[str], now: datetime) -> None:
    """Patch jobs that changed (queued by a run, started, finished, failed, cancelled):
    their part of their run and the run itself, their installation once they finished,
    and their machine's latest assessment when one of them brought a new one."""
    found: list[RowMapping] = []
    for chunk in _chunks(list(job_ids)):
        found += _rewrite(connection, connection.execute(_JOBS_BY_ID, {"ids": chunk}), now)
    assessed = {
        job["machine_key"]: job["machine_id"] for job in found if _assessment_of(job) is not None
    }
    for machine_key, machine_id in assessed.items():
        _refresh_assessment(connection, machine_key, machine_id, now)


def refresh_run(connection: Connection, run_id: str, now: datetime) -> None:
    """A maintenance run's rows after it was created, missed or cancelled: the run under
    its configuration and every machine's part of it."""
    _rewrite(connection, connection.execute(_JOBS_OF_RUN, {"run": run_id}), now, [run_id])


def show_new_run(connection: Connection, run_id: str, now: datetime) -> None:
    """A new run's rows, written after its agents were told of their jobs: the run's own
    row, and those of its jobs that have none yet (the dispatcher writes the rows of the
    jobs it hands out). Rows already there are left as they are."""
    unshown = _JOBS_OF_RUN.where(~exists().where(graph_rows.c.owner == jobs.c.id))
    _rewrite(connection, connection.execute(unshown, {"run": run_id}), now, [run_id])


def refresh_run_named(
    connection: Connection, configuration_key: str, name: str, now: datetime
) -> None:
    """:func:`refresh_run` for the run of a configuration called ``name``."""
    for run_id in _runs_named(connection, [(configuration_key, name)]):
        refresh_run(connection, run_id, now)


def _rewrite(
    connection: Connection, found: Any, now: datetime, run_ids: Iterable[str] = ()
) -> Sequence[RowMapping]:
    """Rewrite the rows of the jobs ``found`` (rows of ``_JOBS``) and of their runs (and
    of ``run_ids``), in a few statements however many jobs there are; returns the jobs."""
    batch = found.mappings().all()
    runs = _runs(connection, {job["run_id"] for job in batch if job["run_id"]} | set(run_ids))
    rows = [
        (job["id"], table, row)
        for job in batch
        for table, row in _job_rows(job, runs.get(job["run_id"]) if job["run_id"] else None)
    ]
    moved = None if run_ids else batch
    rows += _run_rows(connection, runs, moved)
    _write(connection, [*(job["id"] for job in batch), *runs], rows, now)
    return batch


def _runs(connection: Connection, run_ids: Collection[str]) -> dict[str, RowMapping]:
    return {
        run["id"]: run
        for chunk in _chunks(sorted(run_ids))
        for run in connection.execute(_RUNS, {"runs": chunk}).mappings()
    }


def _job_rows(job: RowMapping, run: RowMapping | None) -> list[tuple[str, Any]]:
    """A job's rows: its part of its run (if a run queued it), and its installation
    with the patches once it finished."""
    from upkeep.orchestrator.service import correlation_id
    from upkeep.patching import records as patch_records
    from upkeep.patching import service as patching
    from upkeep.runs.service import machine_record

    rows: list[tuple[str, Any]] = []
    location = job["machine_location"]
    correlation = correlation_id(run["configuration_id"], run["name"]) if run else None
    if run is not None:
        record = machine_record(run, job, job["machine_id"])
        record["properties"]["maintenanceScope"] = MAINTENANCE_SCOPE
        rows.append((MAINTENANCE, _arg_row(record, location)))
    finished = job["state"] in (patching.SUCCEEDED, patching.FAILED)
    if job["kind"] == patching.INSTALL and finished:
        machine = ResourceId.parse(job["machine_id"], "id")
        summary = patch_records.installation_record(machine, job, correlation)
        rows.append((INSTALLATIONS, _arg_row(summary, location)))
        for patch in (job["result"] or {}).get("patches") or []:
            patch_row = patch_records.patch_record(summary, patch, job)
            rows.append((INSTALLATIONS, _arg_row(patch_row, location)))
    return rows


def _assessment_of(job: RowMapping) -> dict[str, Any] | None:
    """The assessment a succeeded job brought: an assessment's result, or the closing
    assessment of an install."""
    from upkeep.patching import service as patching

    if job["state"] != patching.SUCCEEDED or not job["result"]:
        return None
    return job["result"] if job["kind"] == patching.ASSESS else job["result"].get("assessment")


def _assessment_owner(machine_key: str) -> str:
    return f"{machine_key}/patchassessmentresults/latest"


def _refresh_assessment(
    connection: Connection, machine_key: str, machine_id: str, now: datetime
) -> None:
    """A machine's ``patchassessmentresources`` rows: its latest assessment (as the REST
    route shows it) and the patches it found; a new one replaces the previous ones."""
    from upkeep.patching import records as patch_records
    from upkeep.patching.service import latest_assessment

    body = connection.execute(  # locked: one writer of these rows at a time
        select(machines.c.body).where(machines.c.key == machine_key).with_for_update()
    ).scalar_one()
    machine = ResourceId.parse(machine_id, "id")
    found = latest_assessment(connection, machine)
    owner = _assessment_owner(machine_key)
    rows = []
    if found is not None:
        job, assessment = found["job"], found["assessment"]
        location = body.get("location")
        summary = patch_records.assessment_record(machine, job, assessment)
        rows.append((owner, ASSESSMENTS, _arg_row(summary, location)))
        for patch in assessment.get("patches") or []:
            patch_row = patch_records.patch_record(summary, patch, job)
            rows.append((owner, ASSESSMENTS, _arg_row(patch_row, location)))
    _write(connection, [owner], rows, now)


def _refresh_run_rows(connection: Connection, run_ids: Collection[str], now: datetime) -> None:
    """The rows of runs under their configurations; gone with the run."""
    runs = _runs(connection, run_ids)
    _write(connection, run_ids, _run_rows(connection, runs), now)


@dataclass
class _Progress:
    """What a run's row shows of its jobs: the states they are in, how many there are,
    and when the latest of them moved."""

    states: list[str]
    count: int
    latest: datetime


def _run_rows(
    connection: Connection,
    runs: dict[str, RowMapping],
    moved: Sequence[RowMapping] | None = None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """Rows of runs under their configurations; one whose configuration was deleted keeps
    its location. Given the jobs that just ``moved`` on (started, finished: their moments
    only grow), a run already shown is updated from its row and one index probe per job
    state, whatever its size; otherwise its jobs are counted."""
    shown = _shown(connection, list(runs)) if moved is not None else {}
    progress = _counted(connection, {key: run for key, run in runs.items() if key not in shown})
    for run_id, known in shown.items():
        progress[run_id] = _moved_on(known, [job for job in moved or () if job["run_id"] == run_id])
    rows = {run_id: _run_row(run, progress[run_id]) for run_id, run in runs.items()}
    orphans = [run_id for run_id, row in rows.items() if row["location"] is None]
    for chunk in _chunks(orphans):
        located = connection.execute(
            select(graph_rows.c.owner, graph_rows.c.location).where(graph_rows.c.owner.in_(chunk))
        )
        for owner, location in located:
            rows[owner]["location"] = location
    return [(run_id, MAINTENANCE, row) for run_id, row in rows.items()]


def _counted(connection: Connection, runs: dict[str, RowMapping]) -> dict[str, _Progress]:
    """Runs' progress from all their jobs."""
    progress = {run_id: _Progress([], 0, run["created_at"]) for run_id, run in runs.items()}
    for chunk in _chunks(sorted(progress)):
        for run_id, state, count, *moments in connection.execute(_PROGRESS, {"runs": chunk}):
            known = progress[run_id]
            known.states.append(state)
            known.count += count
            known.latest = max([known.latest, *(moment for moment in moments if moment)])
    return progress


def _shown(connection: Connection, run_ids: Sequence[str]) -> dict[str, RowMapping]:
    """Runs' rows (a run's id owns its row only), with which states their jobs are in."""
    return {
        row["owner"]: row
        for chunk in _chunks(run_ids)
        for row in connection.execute(_shown_runs(), {"runs": chunk}).mappings()
    }


@cache
def _job_states() -> tuple[str, ...]:
    from upkeep.patching import service as patching

    return (patching.HELD, patching.QUEUED, patching.RUNNING, patching.SUCCEEDED, patching.FAILED)


@cache
def _shown_runs() -> Select[Any]:
    """Runs' rows, and which states their jobs are in: one index probe per state."""
    return select(
        graph_rows.c.owner,
        graph_rows.c.properties,
        *(
            exists().where(jobs.c.run_id == graph_rows.c.owner, jobs.c.state == state).label(state)
            for state in _job_states()
        ),
    ).where(graph_rows.c.owner.in_(bindparam("runs", expanding=True)))


def _moved_on(shown: RowMapping, moved: Sequence[RowMapping]) -> _Progress:
    """A run's progress from its row, the states its jobs are in, and the jobs of it
    that moved."""
    properties = shown["properties"]
    latest = datetime.strptime(properties["lastUpdateTime"][:26], "%Y-%m-%dT%H:%M:%S.%f")
    moments = [
        moment
        for job in moved
        for moment in (job["created_at"], job["started_at"], job["finished_at"])
        if moment is not None
    ]
    states = [state for state in _job_states() if shown[state]]
    return _Progress(
        states, properties["machineCount"], max([latest.replace(tzinfo=UTC), *moments])
    )


def _run_row(run: RowMapping, progress: _Progress) -> dict[str, Any]:
    from upkeep.runs.service import machine_status, run_record

    # a run's status follows only which states its machines are in, not their results nor
    # how many are in each: one machine of each state stands for all of them
    statuses = [
        machine_status(run, {"state": state, "error": None, "result": None})
        for state in progress.states
    ]
    record = run_record({**run, "updated_at": progress.latest}, statuses)
    record["properties"].update(machineCount=progress.count, maintenanceScope=MAINTENANCE_SCOPE)
    return _arg_row(record, run["configuration_location"])


# --- history retention, and stores made before Resource Graph -----------------------------


def forget_history(
    connection: Connection, job_ids: Sequence[str], run_ids: Sequence[str], now: datetime
) -> None:
    """Jobs and runs were pruned (history retention): their rows go, runs that lost
    machines count them no more, and a machine whose latest assessment went shows the
    one before it (as its REST route does)."""
    summaries = [f"{machine_type}/patchassessmentresults" for machine_type in _MACHINE_TYPES]
    assessed = (
        connection.execute(
            select(graph_rows.c.machine_key, graph_rows.c.id).where(
                graph_rows.c.table_name == ASSESSMENTS,
                graph_rows.c.type.in_(summaries),
                graph_rows.c.name.in_(job_ids),
            )
        ).all()
        if job_ids
        else []
    )
    touched = (
        connection.execute(
            select(graph_rows.c.configuration_key, graph_rows.c.name)
            .where(graph_rows.c.owner.in_(job_ids), graph_rows.c.type == MACHINE_RUN_TYPE)
            .distinct()
        ).all()
        if job_ids
        else []
    )
    _write(connection, [*job_ids, *run_ids], [], now)
    _refresh_run_rows(connection, set(_runs_named(connection, touched)) - set(run_ids), now)
    for machine_key, identifier in assessed:
        machine_id = identifier.rsplit("/", 2)[0]  # less /patchAssessmentResults/latest
        _refresh_assessment(connection, machine_key, machine_id, now)


def rebuild_all(connection: Connection, now: datetime) -> None:
    """Every row again from the domains' tables (for a store made before Resource Graph)."""
    from upkeep.patching.service import SUCCEEDED

    connection.execute(delete(graph_rows))
    refresh_machines(connection, connection.execute(select(machines.c.key)).scalars().all(), now)
    configurations = connection.execute(select(maintenance_configurations.c.key)).scalars()
    for configuration_key in configurations.all():
        refresh_configuration(connection, configuration_key, now)
    job_ids = connection.execute(select(jobs.c.id).order_by(jobs.c.created_at, jobs.c.id))
    for chunk in _chunks(job_ids.scalars().all()):
        _rewrite(connection, connection.execute(_JOBS_BY_ID, {"ids": chunk}), now)
    run_ids = connection.execute(select(maintenance_runs.c.id)).scalars().all()
    _refresh_run_rows(connection, run_ids, now)  # those no job is part of
    assessed = connection.execute(
        select(machines.c.key, machines.c.id).where(
            machines.c.key.in_(select(jobs.c.machine_key).where(jobs.c.state == SUCCEEDED))
        )
    )
    for machine_key, machine_id in assessed.all():
        _refresh_assessment(connection, machine_key, machine_id, now)


def backfill(connection: Connection, now: datetime) -> bool:
    """Build every row once for a store that has records but no rows (one migrated from
    before Resource Graph); True if it did."""
    # servers starting together over one PostgreSQL store: one backfills, the others wait
    # here and then find its rows
    connection.execute(
        select(settings.c.value).where(settings.c.name == "tenant_id").with_for_update()
    )
    if connection.execute(select(graph_rows.c.row_id).limit(1)).first() is not None:
        return False
    has_records = any(
        connection.execute(select(table.c.key).limit(1)).first() is not None
        for table in (machines, maintenance_configurations)
    )
    if has_records:
        rebuild_all(connection, now)
    return has_records
