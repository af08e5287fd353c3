"""Periodic assessment: machines whose patch settings say ``assessmentMode:
AutomaticByPlatform`` are assessed every ``every`` (24 h, as Azure does), spread out.

Each such machine carries ``next_assessment_at`` (set when it enrolls or is switched to
that mode), so finding due machines is one indexed query. At that time a machine that was
assessed since (an install ends with an assessment; so does an on-demand one) is simply
rescheduled from that assessment; a busy one is tried again shortly; the rest get an
assessment job. Each machine's slot is offset by a fixed share of ``spread`` (from its
vmId), so a fleet enrolled at once does not assess at once every day.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select, update

from upkeep.db.tables import jobs, machines
from upkeep.patching import service as patching

#: How long to wait before trying again a machine that was busy when its turn came.
BUSY_RETRY = timedelta(minutes=5)


@dataclass(frozen=True)
class AssessmentSchedule:
    every: timedelta = timedelta(hours=24)
    spread: timedelta = timedelta(hours=1)

    def offset(self, vm_id: str) -> timedelta:
        """The machine's fixed place within the spread."""
        share = int(hashlib.sha256(vm_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return self.spread * share


def assessments_due(connection: Connection, now: datetime) -> bool:
    """Whether any machine's periodic assessment is due."""
    found = connection.execute(
        select(machines.c.key).where(machines.c.next_assessment_at <= now).limit(1)
    ).first()
    return found is not None


def queue_due_assessments(
    connection: Connection,
    now: datetime,
    schedule: AssessmentSchedule,
    timeouts: patching.Timeouts,
    limit: int = 1000,
) -> list[str]:
    """Queue the assessments that are due; returns the keys of the machines that got one."""
    due = connection.execute(
        select(machines.c.key, machines.c.vm_id)
        .where(machines.c.next_assessment_at <= now)
        .order_by(machines.c.next_assessment_at)
        .limit(limit)
    ).all()
    if not due:
        return []
    keys = [machine.key for machine in due]
    last_assessed = dict(
        connection.execute(
            select(jobs.c.machine_key, func.max(jobs.c.finished_at))
            .where(jobs.c.machine_key.in_(keys), jobs.c.state == patching.SUCCEEDED)
            .group_by(jobs.c.machine_key)
        ).all()
    )
    busy = set(
        connection.execute(
            select(jobs.c.machine_key).where(
                jobs.c.machine_key.in_(keys), jobs.c.state.in_(patching.UNFINISHED)
            )
        ).scalars()
    )
    queued, next_at = [], {}
    for machine in due:
        last = last_assessed.get(machine.key)
        if last is not None and last + schedule.every > now:
            next_at[machine.key] = last + schedule.every + schedule.offset(machine.vm_id)
        elif machine.key in busy:
            next_at[machine.key] = now + BUSY_RETRY
        else:
            queued.append(machine.key)
            next_at[machine.key] = now + schedule.every + schedule.offset(machine.vm_id)
    if queued:
        patching.queue_many(connection, queued, patching.ASSESS, {}, now, timeouts, "Platform")
    connection.execute(
        update(machines)
        .where(machines.c.key == bindparam("machine"))
        .values(next_assessment_at=bindparam("moment")),
        [{"machine": key, "moment": moment} for key, moment in next_at.items()],
    )
    return queued
