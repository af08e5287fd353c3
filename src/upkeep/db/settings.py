"""Installation-wide values that live in the store (the tenant id, for one).

Migrations write them; the code only reads them."""

from __future__ import annotations

from sqlalchemy import Connection, select

from upkeep.db.tables import settings


def read_setting(connection: Connection, name: str) -> str | None:
    return connection.execute(select(settings.c.value).where(settings.c.name == name)).scalar()
