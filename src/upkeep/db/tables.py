"""Every table Upkeep keeps, in SQLAlchemy Core.

Lookups are by ``key``: the lowercase form of an ARM id, because ids are case-insensitive.
Display names and request bodies are kept as the caller sent them, so responses echo them.
Ownership is expressed as foreign keys with ``ON DELETE CASCADE``: deleting a resource group
deletes what is in it, deleting a configuration deletes its assignments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: aware UTC in Python, naive UTC in the database (SQLite has no zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("instants must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


#: JSON documents: jsonb on PostgreSQL (indexable), JSON text on SQLite.
Document = JSON().with_variant(JSONB(), "postgresql")

settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("scope", String(512), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

resource_groups = Table(
    "resource_groups",
    metadata,
    Column("key", String(256), primary_key=True),
    Column(
        "subscription_id",
        String(36),
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(90), nullable=False),
    Column("body", Document, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

maintenance_configurations = Table(
    "maintenance_configurations",
    metadata,
    Column("key", String(512), primary_key=True),
    Column(
        "group_key",
        String(256),
        ForeignKey("resource_groups.key", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("subscription_id", String(36), nullable=False, index=True),
    Column("name", String(260), nullable=False),
    Column("body", Document, nullable=False),
    Column("system_data", Document, nullable=False),
    # the orchestrator's due-time index: the start of the next window it has not handled
    Column("next_window_at", UtcDateTime, index=True),
)

configuration_assignments = Table(
    "configuration_assignments",
    metadata,
    Column("key", String(1024), primary_key=True),
    Column("id", String(1024), nullable=False),
    Column("name", String(260), nullable=False),
    Column("subscription_id", String(36), nullable=False, index=True),
    # the group the assignment lives in (a machine's group, or the group scope); none at
    # subscription scope, where the subscription itself owns it
    Column(
        "group_key",
        String(256),
        ForeignKey("resource_groups.key", ondelete="CASCADE"),
        index=True,
    ),
    Column(
        "configuration_key",
        String(512),
        ForeignKey("maintenance_configurations.key", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("target_id", String(1024), nullable=False),
    Column("target_key", String(1024), nullable=False, index=True),
    Column("body", Document, nullable=False),
    Column("system_data", Document, nullable=False),
)

enrollment_tokens = Table(
    "enrollment_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("scope", String(512), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("expires_at", UtcDateTime),
    Column("uses_left", Integer),  # none: unlimited
    Column("revoked_at", UtcDateTime),
)

machines = Table(
    "machines",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("id", String(512), nullable=False),  # canonical case, as echoed
    Column("subscription_id", String(36), nullable=False, index=True),
    Column(
        "group_key",
        String(256),
        ForeignKey("resource_groups.key", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("type", String(64), nullable=False),
    Column("name", String(260), nullable=False),
    # the machine's own identity (ARM's vmId): stable while the resource id may be reused
    Column("vm_id", String(36), nullable=False, unique=True),
    Column("credential_hash", String(64), unique=True),  # none once revoked
    # what the owner set (location, tags, patch settings) and what the agent reports
    Column("body", Document, nullable=False),
    Column("facts", Document, nullable=False),
    Column("enrolled_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("system_data", Document, nullable=False),
    # when the orchestrator next assesses it (assessmentMode AutomaticByPlatform); else none
    Column("next_assessment_at", UtcDateTime, index=True),
)

#: One patch operation on one machine: what was asked, where it stands, what came of it.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "machine_key",
        String(512),
        ForeignKey("machines.key", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(16), nullable=False),  # assess | install
    # Held (waiting for its turn in a rollout) | Queued | Running | Succeeded | Failed
    Column("state", String(16), nullable=False),
    Column("parameters", Document, nullable=False),
    Column("started_by", String(16), nullable=False),  # User | Platform
    Column("created_at", UtcDateTime, nullable=False),
    Column("dispatch_by", UtcDateTime, nullable=False),  # fail unless picked up by then
    Column("started_at", UtcDateTime),
    Column("finish_by", UtcDateTime),  # fail unless reported by then
    Column("finished_at", UtcDateTime),
    Column("progress", Document),
    Column("result", Document),
    Column("error", Document),
    Column("run_id", String(36), index=True),  # the maintenance run that queued it
    # its run was cancelled while it ran: the agent is asked to start no further package
    Column("stop_requested_at", UtcDateTime),
    Index("ix_jobs_machine_state", "machine_key", "state"),
    Index("ix_jobs_machine_finished", "machine_key", "finished_at"),
    Index("ix_jobs_state", "state"),
    # which states a run's jobs are in, one probe each (a run's status in Resource Graph)
    Index("ix_jobs_run_state", "run_id", "state"),
)

#: One window of one maintenance configuration, as the orchestrator handled it: run (its
#: jobs carry its id) or missed. Unique per window, so no window is ever handled twice.
maintenance_runs = Table(
    "maintenance_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    # the applyUpdates name: the window's UTC start as yyyyMMddHHmmss, or a GUID for a run
    # started by hand ("apply updates now")
    Column("name", String(64), nullable=False),
    # kept after the configuration is deleted: the history outlives it
    Column("configuration_key", String(512), nullable=False),
    Column("configuration_id", String(512), nullable=False),
    Column("subscription_id", String(36), nullable=False, index=True),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # Started | Missed | Cancelled
    Column("reason", Text),
    Column("rollout", Document),  # maxConcurrency / maxErrors, as the run began
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("configuration_key", "window_start"),
)

#: Named leases: the holder is the one server process doing that work until it expires.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

#: Resource Graph's rows, kept current by the domains as they change (graph/records.py):
#: one row per record of the four tables, shaped as Azure's, with lowercase copies of the
#: values common filters use, so those filters are index lookups.
graph_rows = Table(
    "graph_rows",
    metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    # resources | maintenanceresources | patchassessmentresources | patchinstallationresources
    Column("table_name", String(32), nullable=False),
    # what produced the row (a machine, configuration, assignment, job or run key); a
    # domain change replaces every row of its owner at once
    Column("owner", String(600), nullable=False, index=True),
    Column("key", String(1200), nullable=False, index=True),  # lowercase id
    Column("id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("type", String(200), nullable=False),  # lowercase, as Resource Graph shows it
    Column("tenant_id", String(36), nullable=False),
    Column("location", String(100)),
    Column("subscription_id", String(36), nullable=False),
    Column("resource_group", String(90)),  # as written
    Column("group_key", String(90)),  # lowercase, for scope checks
    Column("properties", Document, nullable=False),
    Column("tags", Document),
    # kind, managedBy, sku, plan, identity, zones, extendedLocation where not empty
    Column("extras", Document),
    # lowercase properties.maintenanceConfigurationId / properties.resourceId
    Column("configuration_key", String(600), index=True),
    Column("resource_key", String(600), index=True),
    # the machine a row is about or under (its own row, assessments, installations, its
    # part of runs, assignments on it), lowercase: what goes when the machine goes
    Column("machine_key", String(512), index=True),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_graph_rows_table_name_type", "table_name", "type"),
    Index("ix_graph_rows_subscription_id_group_key", "subscription_id", "group_key"),
)
