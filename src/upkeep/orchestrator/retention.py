"""History retention: finished operations and maintenance runs older than the retention
(90 days by default, three times Azure's 30) are deleted by the orchestrator's leader.

A machine's newest finished operation is always kept, so what ``upkeep vm show`` and the
latest-assessment views show never disappears, however long ago it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, exists, func, select

from upkeep.db.tables import jobs, maintenance_runs
from upkeep.graph import records
from upkeep.patching import service as patching

DEFAULT_RETENTION = timedelta(days=90)


def prune(connection: Connection, now: datetime, retention: timedelta) -> tuple[int, int]:
    """Delete history older than ``retention``; returns (operations, runs) deleted."""
    cutoff = now - retention
    newest = (
        select(jobs.c.machine_key, func.max(jobs.c.finished_at).label("finished_at"))
        .where(jobs.c.state.in_((patching.SUCCEEDED, patching.FAILED)))
        .group_by(jobs.c.machine_key)
        .subquery()
    )
    kept = select(newest.c.machine_key).where(
        newest.c.machine_key == jobs.c.machine_key, newest.c.finished_at == jobs.c.finished_at
    )
    operations = connection.execute(
        delete(jobs)
        .where(
            jobs.c.state.in_((patching.SUCCEEDED, patching.FAILED)),
            jobs.c.finished_at < cutoff,
            ~exists(kept),
        )
        .returning(jobs.c.id)
    ).scalars()
    runs = connection.execute(
        delete(maintenance_runs)
        .where(
            maintenance_runs.c.window_end < cutoff,
            ~exists(select(jobs.c.id).where(and_(jobs.c.run_id == maintenance_runs.c.id))),
        )
        .returning(maintenance_runs.c.id)
    ).scalars()
    pruned_operations, pruned_runs = operations.all(), runs.all()
    records.forget_history(connection, pruned_operations, pruned_runs, now)
    return len(pruned_operations), len(pruned_runs)
