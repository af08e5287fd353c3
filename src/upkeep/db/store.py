"""The store: one SQLAlchemy engine and transactions that run off the event loop.

SQLite (WAL) is the embedded default and PostgreSQL the shared one. A write transaction on
SQLite starts with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of
failing when a read lock cannot be upgraded. Views never see a connection: they hand a
service function to :meth:`Store.read` / :meth:`Store.write`, which run it in a worker
thread inside one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

Result = TypeVar("Result")
Params = ParamSpec("Params")

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_store_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings Upkeep relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=8,
            max_overflow=8,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control from the driver so BEGIN can be IMMEDIATE
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = connection.info.pop("begin_mode", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Store:
    """Transactions over one engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        self.dialect = self.engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            connection.info["begin_mode"] = "IMMEDIATE"
            with connection.begin():
                yield connection

    async def read(self, work: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """Run ``work(connection, *args, **kwargs)`` in a read transaction off the loop."""
        return await anyio.to_thread.run_sync(lambda: self._run(self.reading, work, args, kwargs))

    async def write(self, work: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """Run ``work(connection, *args, **kwargs)`` in a write transaction off the loop."""
        return await anyio.to_thread.run_sync(lambda: self._run(self.writing, work, args, kwargs))

    @staticmethod
    def _run(transaction: Any, work: Callable[..., Result], args: Any, kwargs: Any) -> Result:
        with transaction() as connection:
            return work(connection, *args, **kwargs)

    def dispose(self) -> None:
        self.engine.dispose()
