"""History is kept for the retention (90 days by default) and then pruned by the leader;
a machine's newest result is kept however old it is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.conftest import SettableClock
from tests.helpers import MAINTENANCE
from tests.orchestrator.fleet import Fleet, utc, window
from upkeep.db.tables import jobs
from upkeep.orchestrator.retention import prune

COMPUTE = "api-version=2025-04-01"
ASSESSED = {"status": "Succeeded", "rebootPending": False, "patchServiceUsed": "APT",
            "osType": "Linux", "errors": [], "patches": []}  # fmt: skip


def assess(fleet: Fleet, machine: str, name: str) -> None:
    assert fleet.api.post(f"{machine}/assessPatches?{COMPUTE}").status_code == 202
    job: Any = fleet.job_of(name)
    answer = fleet.agents.post(
        f"/agent/v1/jobs/{job['id']}/result",
        json={"result": ASSESSED},
        headers={"Authorization": f"Bearer {fleet.credentials[name]}"},
    )
    assert answer.status_code == 200


def history(fleet: Fleet, machine: str) -> list[str]:
    """The days of the machine's finished operations on record, the newest first."""
    with fleet.store.reading() as connection:
        finished = connection.execute(
            select(jobs.c.finished_at)
            .where(jobs.c.machine_key == machine.lower())
            .order_by(jobs.c.finished_at.desc())
        ).scalars()
        return [moment.date().isoformat() for moment in finished]


def run_names(fleet: Fleet, configuration: str) -> list[str]:
    path = f"{configuration}/providers/Microsoft.Maintenance/applyUpdates?{MAINTENANCE}"
    return [run["name"] for run in fleet.api.get(path).json()["value"]]


def test_history_older_than_the_retention_is_pruned_but_the_newest_result_stays(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-01-01 08:00")
    busy = fleet.machine("Web", "busy")
    quiet = fleet.machine("Web", "quiet")
    daily = fleet.configuration(
        "daily", **window("2025-12-01 10:00", "W. Europe Standard Time", "1Day", "02:00")
    )
    assess(fleet, quiet, "quiet")
    for day in (1, 20, 95):
        clock.now = utc("2026-01-01 08:00") + timedelta(days=day - 1)
        assess(fleet, busy, "busy")
    clock.now = utc("2026-01-02 10:55")
    fleet.tick()  # windows on Jan 1 and 2 missed: runs on record
    assert len(run_names(fleet, daily)) == 2

    with fleet.store.writing() as connection:
        prune(connection, utc("2026-04-06 09:00"), timedelta(days=90))  # cutoff: Jan 6
    assert history(fleet, busy) == ["2026-04-05", "2026-01-20"]
    assert history(fleet, quiet) == ["2026-01-01"]  # its only, newest result
    assert run_names(fleet, daily) == []


def test_the_leader_prunes_at_most_hourly_with_its_retention(
    fleet: Fleet, clock: SettableClock
) -> None:
    clock.now = utc("2026-01-01 08:00")
    busy = fleet.machine("Web", "busy")
    assess(fleet, busy, "busy")
    clock.advance(days=1)
    assess(fleet, busy, "busy")
    fleet.orchestrator.retention = timedelta(days=30)
    clock.advance(days=30, minutes=30)
    fleet.tick()
    assert history(fleet, busy) == ["2026-01-02"]
