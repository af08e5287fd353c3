"""Periodic work inside each server process, started and stopped with the app.

- write when machines were last heard from (batched, see ``machines.presence``);
- wake agents whose machines got a job from another server process sharing the store;
- fail jobs whose machines did not pick them up, or did not report, in time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.machines import service as machines
from upkeep.machines.presence import JobBoard, Presence
from upkeep.patching import service as patching

logger = logging.getLogger("upkeep.housekeeping")


@dataclass(frozen=True)
class Intervals:
    presence: float = 10.0
    wake: float = 1.0
    expire: float = 5.0
    orchestrate: float = 1.0  # the orchestrator's round (see ``orchestrator.loop``)


class Housekeeping:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        board: JobBoard,
        presence: Presence,
        intervals: Intervals = Intervals(),
    ) -> None:
        self.store = store
        self.clock = clock
        self.board = board
        self.presence = presence
        self.intervals = intervals

    async def flush_presence(self) -> None:
        seen = self.presence.take()
        if seen:
            await self.store.write(machines.record_presence, seen)

    async def wake(self) -> None:
        """Agents waiting here for a machine that has a queued job were not told of it (it
        was queued by another process): tell them. Telling one twice is harmless."""
        self.board.notify(await self.store.read(patching.queued_machines))

    async def expire(self) -> None:
        expired = await self.store.write(patching.expire, self.clock())
        if expired:
            logger.info("operations timed out", extra={"operations": expired})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_every(self.intervals.presence, self.flush_presence)),
            asyncio.create_task(_every(self.intervals.wake, self.wake)),
            asyncio.create_task(_every(self.intervals.expire, self.expire)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.flush_presence()


async def _every(seconds: float, work: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception:  # keep the loop alive; the next round tries again
            logger.exception("housekeeping failed", extra={"work": work.__name__})
