"""Alembic environment: runs migrations on the engine that :func:`upkeep.db.migrate` passes in."""

from alembic import context

from upkeep.db.tables import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
