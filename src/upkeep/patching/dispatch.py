"""Handing jobs to agents in batches.

When a fleet is woken at once (a maintenance window opens), thousands of long-polls find
work in the same moment. Each would need a write to mark its job Running; the
:class:`Dispatcher` gathers the polls that arrive within a few milliseconds and serves them
all with one transaction (a group commit). Their Resource Graph rows (now InProgress)
follow in a second transaction once the agents have been answered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.graph import records
from upkeep.patching import service

#: How long a batch waits for company before it is written.
GATHER_SECONDS = 0.005


class Dispatcher:
    def __init__(self, store: Store, clock: Clock, timeouts: service.Timeouts) -> None:
        self.store = store
        self.clock = clock
        self.timeouts = timeouts
        self._waiting: dict[str, list[asyncio.Future[dict[str, Any] | None]]] = {}
        self._flush: asyncio.Task[None] | None = None

    async def next_job(self, machine_key: str) -> dict[str, Any] | None:
        """The machine's next job (marked Running), or None if it has none."""
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(machine_key, []).append(future)
        if self._flush is None:
            self._flush = asyncio.create_task(self._flush_soon())
        return await future

    async def _flush_soon(self) -> None:
        await asyncio.sleep(GATHER_SECONDS)
        batch, self._waiting, self._flush = self._waiting, {}, None
        now = self.clock()
        try:
            dispatched = await self.store.write(service.dispatch, list(batch), now, self.timeouts)
        except Exception as error:  # every poll in the batch learns of it
            for futures in batch.values():
                for future in futures:
                    future.set_exception(error)
            return
        for machine, futures in batch.items():
            for future in futures:
                future.set_result(dispatched.handed.get(machine))
        if dispatched.started:
            # after the agents have their jobs: a window's dispatch is the hot path, and
            # the graph showing Pending for a moment longer harms no one
            await self.store.write(records.refresh_jobs, dispatched.started, now)
