"""Who is listening, and who was heard from: state kept in memory by one server process.

:class:`JobBoard` wakes an agent's long-poll the moment work is queued for its machine, so
an idle agent costs a parked coroutine and an open socket, not a database connection or a
busy loop. :class:`Presence` remembers when each machine was last heard from and writes it
to the store in batches, so that polls do not each write a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime


class JobBoard:
    """Long-polling agents wait here; whoever queues a job for a machine wakes it."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Event] = {}
        self._parked = 0
        self._closed = False

    def listen(self, machine: str) -> asyncio.Event:
        """Start listening for ``machine`` (before looking for work, so none is missed)."""
        event = self._waiting.get(machine)
        if event is None:
            event = self._waiting[machine] = asyncio.Event()
        if self._closed:
            event.set()
        return event

    async def wait(self, machine: str, event: asyncio.Event, seconds: float) -> bool:
        """Wait until :meth:`notify` for ``machine`` or ``seconds`` pass; True if notified."""
        self._parked += 1
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        finally:
            self._parked -= 1
            if self._waiting.get(machine) is event:
                del self._waiting[machine]
        return True

    def notify(self, machines: Iterable[str]) -> None:
        for machine in machines:
            event = self._waiting.pop(machine, None)
            if event is not None:
                event.set()

    def close(self) -> None:
        """The server is stopping: answer every waiting agent now, and any that asks later,
        so shutting down does not wait out their polls."""
        self._closed = True
        self.notify(list(self._waiting))

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def parked(self) -> int:
        """Agents waiting in a long poll now (not those still looking for work)."""
        return self._parked


class Presence:
    """When machines were last heard from, until the next flush."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}

    def seen(self, machine: str, moment: datetime) -> None:
        self._seen[machine] = moment

    def take(self) -> dict[str, datetime]:
        """Everything recorded since the last call (to be written to the store)."""
        seen, self._seen = self._seen, {}
        return seen
