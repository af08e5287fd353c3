"""The store: one SQLAlchemy engine, and where store work runs.

SQLite (WAL) is the embedded default and PostgreSQL the shared one. Views never see a
connection: they hand a service function to :meth:`Store.read` or :meth:`Store.write`.

- Writes run in a worker thread inside one transaction. On SQLite it starts with
  ``BEGIN IMMEDIATE``, so two writers queue on the busy timeout instead of failing when a
  read lock cannot be upgraded. On PostgreSQL two writers can race past the same "is it
  there?" check (two agents enrolling into a new group); the loser's transaction is run
  again, and then sees the winner's row.
- Reads are statements in autocommit mode, each seeing the newest committed data; read
  functions must not need several statements to agree. On PostgreSQL they run in worker
  threads. On SQLite they run on the event loop over one query-only connection (a WAL read
  never waits for a writer and costs less than a hop to a thread), and their results are
  remembered until any connection commits, which SQLite reports through
  ``PRAGMA data_version``. Read results are therefore shared: callers must not mutate them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

Result = TypeVar("Result")

SQLITE_BUSY_TIMEOUT_MS = 30_000
AUTOCOMMIT = "AUTOCOMMIT"
#: PostgreSQL errors that mean "another transaction got there first; run yours again":
#: unique_violation, serialization_failure, deadlock_detected.
RETRYABLE_SQLSTATES = frozenset({"23505", "40001", "40P01"})
WRITE_ATTEMPTS = 3
_MISSING = object()


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
        if connection.get_execution_options().get("isolation_level") == AUTOCOMMIT:
            return
        mode = connection.info.pop("begin_mode", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Store:
    """Transactions over one engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        self.dialect = self.engine.dialect.name
        self._loop_reads = LoopReads(self.engine) if self.dialect == "sqlite" else None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads (autocommit), for code that is not on the event loop."""
        with self.engine.connect().execution_options(isolation_level=AUTOCOMMIT) as connection:
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            connection.info["begin_mode"] = "IMMEDIATE"
            with connection.begin():
                yield connection

    async def read(self, work: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """Run ``work(connection, *args, **kwargs)`` as reads (see the module docstring)."""
        if self._loop_reads is not None:
            return self._loop_reads.run(work, args, kwargs)
        return await anyio.to_thread.run_sync(lambda: self._run(self.reading, work, args, kwargs))

    async def write(self, work: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """Run ``work(connection, *args, **kwargs)`` in a write transaction off the loop
        (again, when it lost a race to another transaction)."""
        return await anyio.to_thread.run_sync(lambda: self._write(work, args, kwargs))

    def _write(self, work: Callable[..., Result], args: Any, kwargs: Any) -> Result:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return self._run(self.writing, work, args, kwargs)
            except DBAPIError as error:
                sqlstate = getattr(error.orig, "sqlstate", None)
                if sqlstate not in RETRYABLE_SQLSTATES or attempt == WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _run(transaction: Any, work: Callable[..., Result], args: Any, kwargs: Any) -> Result:
        with transaction() as connection:
            return work(connection, *args, **kwargs)

    async def read_apart(self, work: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """Reads that may take long (a Resource Graph query): in a worker thread on a
        connection of their own, never on the event loop, and never remembered."""
        return await anyio.to_thread.run_sync(lambda: self._run(self.reading, work, args, kwargs))

    async def ping(self) -> None:
        """Raise unless the database answers a query (never answered from memory)."""
        await self.read_uncached(lambda connection: connection.exec_driver_sql("SELECT 1"))

    async def read_uncached(self, work: Callable[..., Result], *args: Any) -> Result:
        if self._loop_reads is not None:
            return work(self._loop_reads.connection(), *args)
        return await anyio.to_thread.run_sync(lambda: self._run(self.reading, work, args, {}))

    def dispose(self) -> None:
        if self._loop_reads is not None:
            self._loop_reads.close()
        self.engine.dispose()


def refresh_statistics(connection: Connection) -> None:
    """Tell SQLite's query planner how selective each index is (``ANALYZE``). Without it
    SQLite guesses, and can pick the subscription index over the one that finds a single
    assignment; with only a sample, an index whose rows are mostly null (most graph rows
    have no configuration) looks useless. PostgreSQL keeps its own statistics."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("ANALYZE")


class LoopReads:
    """SQLite reads on the event loop, remembered until the database changes."""

    #: Results remembered at most; all are forgotten when the limit is reached.
    LIMIT = 4096

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._version: int | None = None
        self._version_cursor: Any = None
        self._results: dict[Hashable, Any] = {}

    def run(
        self, work: Callable[..., Result], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Result:
        connection = self.connection()
        self._forget_if_changed(connection)
        key = (work, args, tuple(sorted(kwargs.items())))
        try:
            remembered = self._results.get(key, _MISSING)
        except TypeError:  # an argument that cannot be a key: do not remember
            return work(connection, *args, **kwargs)
        if remembered is not _MISSING:
            return remembered
        result = work(connection, *args, **kwargs)
        if len(self._results) >= self.LIMIT:
            self._results.clear()
        self._results[key] = result
        return result

    def connection(self) -> Connection:
        if self._connection is None:
            connection = self._engine.connect().execution_options(isolation_level=AUTOCOMMIT)
            # a commit from this connection would not change its own data_version
            connection.exec_driver_sql("PRAGMA query_only = ON")
            self._connection = connection
        return self._connection

    def _forget_if_changed(self, connection: Connection) -> None:
        if self._version_cursor is None:
            self._version_cursor = connection.connection.driver_connection.cursor()
        version = self._version_cursor.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._results.clear()
            self._version = version

    def close(self) -> None:
        if self._version_cursor is not None:
            self._version_cursor.close()
            self._version_cursor = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
