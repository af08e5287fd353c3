"""maintenance runs, the due-time indexes and leases

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "maintenance_configurations", sa.Column("next_window_at", sa.DateTime(), nullable=True)
    )
    op.create_index(
        op.f("ix_maintenance_configurations_next_window_at"),
        "maintenance_configurations",
        ["next_window_at"],
    )
    op.add_column("machines", sa.Column("next_assessment_at", sa.DateTime(), nullable=True))
    op.create_index(op.f("ix_machines_next_assessment_at"), "machines", ["next_assessment_at"])
    op.add_column("jobs", sa.Column("run_id", sa.String(length=36), nullable=True))
    op.create_index(op.f("ix_jobs_run_id"), "jobs", ["run_id"])
    op.add_column("jobs", sa.Column("stop_requested_at", sa.DateTime(), nullable=True))
    op.create_table(
        "maintenance_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("configuration_key", sa.String(length=512), nullable=False),
        sa.Column("configuration_id", sa.String(length=512), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "rollout",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_runs")),
        sa.UniqueConstraint(
            "configuration_key",
            "window_start",
            name=op.f("uq_maintenance_runs_configuration_key_window_start"),
        ),
    )
    op.create_index(
        op.f("ix_maintenance_runs_subscription_id"), "maintenance_runs", ["subscription_id"]
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index(op.f("ix_maintenance_runs_subscription_id"), table_name="maintenance_runs")
    op.drop_table("maintenance_runs")
    op.drop_index(op.f("ix_machines_next_assessment_at"), table_name="machines")
    op.drop_column("machines", "next_assessment_at")
    op.drop_column("jobs", "stop_requested_at")
    op.drop_index(op.f("ix_jobs_run_id"), table_name="jobs")
    op.drop_column("jobs", "run_id")
    op.drop_index(
        op.f("ix_maintenance_configurations_next_window_at"),
        table_name="maintenance_configurations",
    )
    op.drop_column("maintenance_configurations", "next_window_at")
