"""The orchestrator's loop inside each server process: take the lease, then handle every
window that is due, give rollouts their next machines, queue periodic assessments, prune
old history, and show machines' Connected/Disconnected status in Resource Graph as time
passes.
Only the lease holder does this; the others keep trying, so one of them leads within a
lease period of the leader's death.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from upkeep.clock import Clock
from upkeep.db.store import Store, refresh_statistics
from upkeep.graph import records
from upkeep.machines.presence import JobBoard
from upkeep.orchestrator import lease
from upkeep.orchestrator import service as windows
from upkeep.orchestrator.assessments import (
    AssessmentSchedule,
    assessments_due,
    queue_due_assessments,
)
from upkeep.orchestrator.retention import DEFAULT_RETENTION, prune
from upkeep.patching import service as patching

logger = logging.getLogger("upkeep.orchestrator")

LEASE = "orchestrator"
PRUNE_EVERY = timedelta(hours=1)
#: How often machines' status in Resource Graph is brought up to date.
STATUS_EVERY = timedelta(seconds=10)


class Orchestrator:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        board: JobBoard,
        timeouts: patching.Timeouts,
        *,
        tick: float = 1.0,
        lease_period: timedelta = timedelta(seconds=5),
        assessments: AssessmentSchedule | None = None,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        self.store = store
        self.clock = clock
        self.board = board
        self.timeouts = timeouts
        self.tick = tick
        self.lease_period = lease_period
        self.assessments = assessments or AssessmentSchedule()
        self.retention = retention
        self._pruned_at: datetime | None = None
        self._statuses_at: datetime | None = None
        self.holder = uuid.uuid4().hex  # this process, for as long as it runs
        self.leading = False
        #: runs whose agents were told of their jobs, their graph rows still to write
        self._unshown: list[str] = []

    async def tick_once(self) -> list[windows.Handled]:
        """One round: lead (or not), and handle what is due now."""
        now = self.clock()
        leading = await self.store.write(lease.take, LEASE, self.holder, now, self.lease_period)
        if leading != self.leading:
            logger.info("leadership", extra={"leading": leading, "holder": self.holder})
            self.leading = leading
            # a leader that stopped may not have shown the runs it opened
            self._unshown = await self.store.read(windows.open_runs, now) if leading else []
        if not leading:
            return []
        # last round's runs: their agents have had a round to take their jobs
        await self._show_new_runs(now)
        handled = []
        # each pass moves every due configuration on by one window, so this ends; a server
        # that was down for days records each missed window
        while keys := await self.store.read(windows.due, now):
            for key in keys:
                outcome = await self.store.write(windows.handle_window, key, now)
                if outcome is not None:
                    handled.append(outcome)
                    self._announce(key, outcome)
                    if outcome.state == windows.STARTED:
                        self._unshown.append(outcome.run_id)
        # most rounds have neither: a read (cached on SQLite) spares a write transaction
        if await self.store.read(windows.has_held_jobs):
            self.board.notify(await self.store.write(windows.advance_rollouts, now))
        if await self.store.read(assessments_due, now):
            self.board.notify(
                await self.store.write(queue_due_assessments, now, self.assessments, self.timeouts)
            )
        await self._prune(now)
        await self._show_statuses(now)
        return handled

    async def _show_new_runs(self, now: datetime) -> None:
        """The graph rows of the runs opened since the last round: written after their
        agents were told, so that 10,000 rows do not hold back 10,000 jobs."""
        while self._unshown:
            await self.store.write(records.show_new_run, self._unshown[0], now)
            self._unshown.pop(0)

    async def _prune(self, now: datetime) -> None:
        """Delete old history, at most once an hour."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        operations, runs = await self.store.write(prune, now, self.retention)
        # the graph's tables grow with the fleet: keep SQLite's picture of them current
        await self.store.write(refresh_statistics)
        if operations or runs:
            logger.info("history pruned", extra={"operations": operations, "runs": runs})

    async def _show_statuses(self, now: datetime) -> None:
        """Show machines that went silent as Disconnected in Resource Graph (those heard
        from again show Connected as their polls are recorded)."""
        if self._statuses_at is not None and now - self._statuses_at < STATUS_EVERY:
            return
        self._statuses_at = now
        # a scan of every machine: off the event loop
        silent = await self.store.read_apart(records.machines_gone_silent, now)
        if silent:
            await self.store.write(records.refresh_machines, silent, now)

    def _announce(self, key: str, outcome: windows.Handled) -> None:
        self.board.notify(outcome.machine_keys)
        logger.info(
            "maintenance window",
            extra={
                "configuration": key,
                "run": outcome.run_id,
                "window": outcome.window_start.isoformat(),
                "state": outcome.state,
                "machines": len(outcome.machine_keys),
            },
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._loop())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if self.leading:  # let another process lead at once
                await self.store.write(lease.give_up, LEASE, self.holder, self.clock())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self.tick_once()
            except Exception:  # the next round tries again
                logger.exception("orchestrator round failed")
