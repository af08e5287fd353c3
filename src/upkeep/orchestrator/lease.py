"""A named lease in the store: which server process leads, and until when.

Every process sharing a store tries to take the lease on each tick; the holder renews it,
anyone else takes it only once it has expired. A leader that dies stops renewing, so
another process leads within one lease period. Works alike on SQLite and PostgreSQL: the
take is one conditional UPDATE (or the first INSERT), inside a write transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, or_, select, update

from upkeep.db.tables import leases


def take(connection: Connection, name: str, holder: str, now: datetime, period: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + period``; True if
    ``holder`` holds it now."""
    held = connection.execute(select(leases.c.name).where(leases.c.name == name)).first()
    if held is None:
        # a racing insert fails on the primary key; the store runs the write again
        connection.execute(insert(leases).values(name=name, holder=holder, expires_at=now + period))
        return True
    taken = connection.execute(
        update(leases)
        .where(leases.c.name == name)
        .where(or_(leases.c.holder == holder, leases.c.expires_at <= now))
        .values(holder=holder, expires_at=now + period)
    )
    return taken.rowcount == 1


def give_up(connection: Connection, name: str, holder: str, now: datetime) -> None:
    """Let the lease go now (a leader stopping cleanly), so another need not wait it out."""
    connection.execute(
        update(leases)
        .where(leases.c.name == name, leases.c.holder == holder)
        .values(expires_at=now)
    )
