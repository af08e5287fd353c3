"""The store: migrations on both databases, and SQLite reads remembered until a commit."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError

from upkeep.db.migrate import migrate
from upkeep.db.store import Store
from upkeep.db.tables import metadata, settings
from upkeep.resources.service import tenant_id


def open_migrated(url: str) -> Store:
    store = Store(url)
    migrate(store.engine)
    return store


def test_migrations_build_exactly_the_declared_tables(any_store_url: str) -> None:
    store = open_migrated(any_store_url)
    migrate(store.engine)  # a second start changes nothing
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
        assert len(tenant_id(connection)) == 36
    store.dispose()


def names(connection: object) -> list[str]:
    return [row.name for row in connection.execute(select(settings.c.name))]  # type: ignore[attr-defined]


def test_sqlite_reads_are_remembered_until_any_connection_commits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'upkeep.db'}"
    store, elsewhere = open_migrated(url), Store(url)  # elsewhere: another process's engine

    async def scenario() -> None:
        first = await store.read(names)
        assert await store.read(names) is first  # answered from memory
        with elsewhere.writing() as connection:
            connection.execute(insert(settings).values(name="other", value="process"))
        assert sorted(await store.read(names)) == sorted([*first, "other"])
        with store.writing() as connection:
            connection.execute(insert(settings).values(name="this", value="process"))
        assert "this" in await store.read(names)

    anyio.run(scenario)
    store.dispose()
    elsewhere.dispose()


def test_sqlite_reads_cannot_write(tmp_path: Path) -> None:
    store = open_migrated(f"sqlite:///{tmp_path / 'upkeep.db'}")

    def sneaky(connection: object) -> None:
        connection.execute(insert(settings).values(name="x", value="y"))  # type: ignore[attr-defined]

    with pytest.raises(OperationalError, match="readonly"):
        anyio.run(store.read, sneaky)
    store.dispose()


def test_reads_with_unhashable_arguments_still_run(tmp_path: Path) -> None:
    store = open_migrated(f"sqlite:///{tmp_path / 'upkeep.db'}")

    def count(connection: object, wanted: list[str]) -> int:
        return len([name for name in names(connection) if name in wanted])

    assert anyio.run(store.read, count, ["tenant_id"]) == 1
    store.dispose()
