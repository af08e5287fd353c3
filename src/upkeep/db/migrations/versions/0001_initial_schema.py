"""initial schema, and the installation's tenant id

Revision ID: 0001
Revises: (none)
"""

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_settings")),
    )
    op.bulk_insert(
        sa.table("settings", sa.column("name", sa.String), sa.column("value", sa.Text)),
        [{"name": "tenant_id", "value": str(uuid.uuid4())}],
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=512), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_tokens_secret_hash")),
    )
    op.create_table(
        "resource_groups",
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=90), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_resource_groups_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_resource_groups")),
    )
    with op.batch_alter_table("resource_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resource_groups_subscription_id"), ["subscription_id"], unique=False
        )

    op.create_table(
        "maintenance_configurations",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("group_key", sa.String(length=256), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=260), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "system_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["group_key"],
            ["resource_groups.key"],
            name=op.f("fk_maintenance_configurations_group_key_resource_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_maintenance_configurations")),
    )
    with op.batch_alter_table("maintenance_configurations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_configurations_group_key"), ["group_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_configurations_subscription_id"),
            ["subscription_id"],
            unique=False,
        )

    op.create_table(
        "configuration_assignments",
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("id", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=260), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("group_key", sa.String(length=256), nullable=True),
        sa.Column("configuration_key", sa.String(length=512), nullable=False),
        sa.Column("target_id", sa.String(length=1024), nullable=False),
        sa.Column("target_key", sa.String(length=1024), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "system_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["configuration_key"],
            ["maintenance_configurations.key"],
            name=op.f("fk_configuration_assignments_configuration_key_maintenance_configurations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_key"],
            ["resource_groups.key"],
            name=op.f("fk_configuration_assignments_group_key_resource_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_configuration_assignments")),
    )
    with op.batch_alter_table("configuration_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_configuration_assignments_configuration_key"),
            ["configuration_key"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_configuration_assignments_group_key"), ["group_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_configuration_assignments_subscription_id"),
            ["subscription_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_configuration_assignments_target_key"), ["target_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("configuration_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_configuration_assignments_target_key"))
        batch_op.drop_index(batch_op.f("ix_configuration_assignments_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_configuration_assignments_group_key"))
        batch_op.drop_index(batch_op.f("ix_configuration_assignments_configuration_key"))

    op.drop_table("configuration_assignments")
    with op.batch_alter_table("maintenance_configurations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_configurations_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_configurations_group_key"))

    op.drop_table("maintenance_configurations")
    with op.batch_alter_table("resource_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_groups_subscription_id"))

    op.drop_table("resource_groups")
    op.drop_table("tokens")
    op.drop_table("subscriptions")
    op.drop_table("settings")
