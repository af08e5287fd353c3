"""Installation-wide values that live in the store (the tenant id, for one)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from upkeep.db.tables import settings


def read_setting(connection: Connection, name: str) -> str | None:
    return connection.execute(select(settings.c.value).where(settings.c.name == name)).scalar()


def ensure_setting(connection: Connection, name: str, value: str) -> str:
    """The stored value of ``name``, storing ``value`` first if there is none."""
    current = read_setting(connection, name)
    if current is None:
        connection.execute(insert(settings).values(name=name, value=value))
        return value
    return current
