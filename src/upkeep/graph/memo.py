"""Work a query's text needs before it reads any row, kept for the next time it comes.

Dashboards, scripts and the seed document's lookups send the same texts again and again.
A text parses to the same tree each time (the parse is cached by text), and the tree's
plan and SELECT statements stay valid until the clock moves under them, which a plan
says itself (``Plan.timeless``). Keeping them leaves a repeated query the cost of reading
its rows, which is what a hand-written statement pays too.

Entries are keyed by an object's identity (a tree, a plan) and hold that object, so its
id cannot be reused by another object while the entry lives.
"""

from __future__ import annotations

from collections.abc import Hashable
from threading import Lock
from typing import Generic, TypeVar

Value = TypeVar("Value")


class IdentityMemo(Generic[Value]):
    """Values built from long-lived objects, by the object and a detail (a dialect, a
    scope). Holds at most ``limit`` entries; past that it starts again empty, which costs
    a rebuild of what is still in use and nothing else."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[tuple[int, Hashable], tuple[object, Value]] = {}
        self._lock = Lock()

    def get(self, owner: object, detail: Hashable) -> Value | None:
        entry = self._entries.get((id(owner), detail))
        if entry is None or entry[0] is not owner:
            return None
        return entry[1]

    def put(self, owner: object, detail: Hashable, value: Value) -> None:
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            self._entries[(id(owner), detail)] = (owner, value)

    def __len__(self) -> int:
        return len(self._entries)
