"""Resource Graph rows

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "graph_rows",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=600), nullable=False),
        sa.Column("key", sa.String(length=1200), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("resource_group", sa.String(length=90), nullable=True),
        sa.Column("group_key", sa.String(length=90), nullable=True),
        sa.Column("properties", DOCUMENT, nullable=False),
        sa.Column("tags", DOCUMENT, nullable=True),
        sa.Column("extras", DOCUMENT, nullable=True),
        sa.Column("configuration_key", sa.String(length=600), nullable=True),
        sa.Column("resource_key", sa.String(length=600), nullable=True),
        sa.Column("machine_key", sa.String(length=512), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_graph_rows")),
    )
    for columns in (
        ["owner"],
        ["key"],
        ["configuration_key"],
        ["resource_key"],
        ["machine_key"],
        ["table_name", "type"],
        ["subscription_id", "group_key"],
    ):
        op.create_index(op.f(f"ix_graph_rows_{'_'.join(columns)}"), "graph_rows", columns)
    op.create_index(op.f("ix_jobs_run_state"), "jobs", ["run_id", "state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_run_state"), table_name="jobs")
    op.drop_table("graph_rows")
