"""Maintenance configurations and configuration assignments in the store.

The rules that need more than one field or the store live here: a window must parse and
must not have expired, an assignment must point at a configuration that exists and that
the caller may read, a resource group or machine is named as the store spells it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from upkeep.arm.bodies import merge_patch, parse_model
from upkeep.arm.errors import ArmError, invalid_parameter, resource_not_found
from upkeep.arm.ids import MACHINE_TYPES, ResourceId, scope_covers
from upkeep.arm.systemdata import system_data
from upkeep.arm.timestamps import format_timestamp
from upkeep.db.tables import (
    configuration_assignments,
    maintenance_configurations,
    resource_groups,
)
from upkeep.maintenance.models import AssignmentIn, ConfigurationIn, stored_body
from upkeep.maintenance.schedule import Schedule, ScheduleError, next_occurrences, parse_schedule
from upkeep.resources.service import require_group, require_subscription

CONFIGURATION_TYPE = "Microsoft.Maintenance/maintenanceConfigurations"
ASSIGNMENT_TYPE = "Microsoft.Maintenance/configurationAssignments"

# --- configurations ------------------------------------------------------------------


def configuration_id(subscription_id: str, group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{group}"
        f"/providers/{CONFIGURATION_TYPE}/{name}"
    )


def schedule_of(body: dict[str, Any]) -> Schedule:
    """The parsed window of a stored configuration body."""
    return parse_schedule(body["properties"]["maintenanceWindow"])


def check_configuration(body: dict[str, Any], now: datetime) -> Schedule:
    """The rules of a configuration beyond its JSON shape; returns its schedule."""
    window = body["properties"]["maintenanceWindow"]
    try:
        schedule = parse_schedule(window)
    except ScheduleError as error:
        raise invalid_window(error.field, error.message) from None
    if schedule.expires_before(now):
        raise invalid_window(
            "expirationDateTime",
            f"'{window['expirationDateTime']}' ({window['timeZone']}) is in the past; an"
            " expiration must be in the future",
        )
    return schedule


def invalid_window(field: str, message: str) -> ArmError:
    target = f"properties.maintenanceWindow.{field}"
    return ArmError(
        400,
        "InvalidMaintenanceWindow",
        f"Invalid maintenance window. {target}: {message}",
        target=target,
    )


def _find_configuration(
    connection: Connection, subscription_id: str, group: str, name: str
) -> tuple[RowMapping, RowMapping | None]:
    """The group (which must exist) and the configuration (if it does)."""
    group_row = require_group(connection, subscription_id, group)
    row = (
        connection.execute(
            select(maintenance_configurations).where(
                maintenance_configurations.c.key
                == configuration_id(subscription_id, group, name).lower()
            )
        )
        .mappings()
        .first()
    )
    return group_row, row


def put_configuration(
    connection: Connection,
    subscription_id: str,
    group: str,
    name: str,
    body: dict[str, Any],
    *,
    by: str,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Create or replace; returns the resource and whether it was created."""
    check_configuration(body, now)
    group_row, existing = _find_configuration(connection, subscription_id, group, name)
    if existing is None:
        key = configuration_id(subscription_id, group, name).lower()
        connection.execute(
            insert(maintenance_configurations).values(
                key=key,
                group_key=group_row["key"],
                subscription_id=subscription_id,
                name=name,
                body=body,
                system_data=system_data(by, now),
            )
        )
        return _configuration_by_key(connection, key), True
    return _replace_configuration(connection, existing, body, by, now), False


def patch_configuration(
    connection: Connection,
    subscription_id: str,
    group: str,
    name: str,
    changes: dict[str, Any],
    *,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """Merge ``changes`` (a JSON merge patch) into the configuration and validate the result."""
    _, existing = _find_configuration(connection, subscription_id, group, name)
    if existing is None:
        raise resource_not_found(CONFIGURATION_TYPE, name, group)
    merged = merge_patch(existing["body"], changes)
    body = stored_body(parse_model(ConfigurationIn, merged))
    check_configuration(body, now)
    return _replace_configuration(connection, existing, body, by, now)


def _replace_configuration(
    connection: Connection, existing: RowMapping, body: dict[str, Any], by: str, now: datetime
) -> dict[str, Any]:
    connection.execute(
        update(maintenance_configurations)
        .where(maintenance_configurations.c.key == existing["key"])
        .values(body=body, system_data=system_data(by, now, existing["system_data"]))
    )
    return _configuration_by_key(connection, existing["key"])


def get_configuration(
    connection: Connection, subscription_id: str, group: str, name: str
) -> dict[str, Any]:
    _, row = _find_configuration(connection, subscription_id, group, name)
    if row is None:
        raise resource_not_found(CONFIGURATION_TYPE, name, group)
    return _configuration_by_key(connection, row["key"])


def upcoming_windows(
    connection: Connection,
    subscription_id: str,
    group: str,
    name: str,
    *,
    after: datetime,
    count: int,
) -> list[dict[str, Any]]:
    """The next ``count`` windows of a configuration, in UTC and in its own time zone."""
    _, row = _find_configuration(connection, subscription_id, group, name)
    if row is None:
        raise resource_not_found(CONFIGURATION_TYPE, name, group)
    schedule = schedule_of(row["body"])
    time_zone = row["body"]["properties"]["maintenanceWindow"]["timeZone"]
    return [
        {
            "startDateTime": format_timestamp(occurrence.start),
            "endDateTime": format_timestamp(occurrence.end),
            "localStartDateTime": occurrence.start.astimezone(schedule.zone).isoformat(),
            "localEndDateTime": occurrence.end.astimezone(schedule.zone).isoformat(),
            "timeZone": time_zone,
        }
        for occurrence in next_occurrences(schedule, after, count)
    ]


def delete_configuration(
    connection: Connection, subscription_id: str, group: str, name: str
) -> dict[str, Any] | None:
    """Delete a configuration and its assignments; the deleted resource, or None if absent."""
    _, row = _find_configuration(connection, subscription_id, group, name)
    if row is None:
        return None
    resource = _configuration_by_key(connection, row["key"])
    connection.execute(
        delete(maintenance_configurations).where(maintenance_configurations.c.key == row["key"])
    )
    return resource


def list_configurations(
    connection: Connection, subscription_id: str, group: str | None, visible: str
) -> list[dict[str, Any]]:
    """Configurations of a subscription (or one group in it) inside the ``visible`` scope."""
    if group is None:
        require_subscription(connection, subscription_id)
        where = maintenance_configurations.c.subscription_id == subscription_id
    else:
        group_row = require_group(connection, subscription_id, group)
        where = maintenance_configurations.c.group_key == group_row["key"]
    return [
        resource
        for resource in _configuration_resources(connection, where)
        if scope_covers(visible, resource["id"])
    ]


def _configuration_by_key(connection: Connection, key: str) -> dict[str, Any]:
    return _configuration_resources(connection, maintenance_configurations.c.key == key)[0]


def _configuration_resources(connection: Connection, where: Any) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(
            maintenance_configurations,
            resource_groups.c.name.label("group_name"),
        )
        .join(resource_groups, resource_groups.c.key == maintenance_configurations.c.group_key)
        .where(where)
        .order_by(maintenance_configurations.c.key)
    ).mappings()
    return [configuration_resource(row) for row in rows]


def configuration_resource(row: RowMapping) -> dict[str, Any]:
    body = row["body"]
    resource: dict[str, Any] = {
        "id": configuration_id(row["subscription_id"], row["group_name"], row["name"]),
        "name": row["name"],
        "type": CONFIGURATION_TYPE,
        "location": body["location"],
    }
    if "tags" in body:
        resource["tags"] = body["tags"]
    resource["properties"] = body["properties"]
    resource["systemData"] = row["system_data"]
    return resource


# --- assignments ---------------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentScope:
    """Where an assignment lives: on a machine, on a resource group, or on a subscription."""

    subscription_id: str
    group: str | None = None
    machine: ResourceId | None = None

    @property
    def is_dynamic(self) -> bool:
        return self.machine is None

    def resource_id(self, group_name: str | None) -> str:
        """The ``properties.resourceId`` of assignments here, with the group as stored."""
        if self.machine is not None:
            return str(
                self.machine.with_group_name(group_name or self.machine.resource_group or "")
            )
        if self.group is not None:
            return f"/subscriptions/{self.subscription_id}/resourceGroups/{group_name}"
        return f"/subscriptions/{self.subscription_id}"

    def assignment_id(self, group_name: str | None, name: str) -> str:
        return f"{self.resource_id(group_name)}/providers/{ASSIGNMENT_TYPE}/{name}"


def machine_scope(
    subscription_id: str, group: str, provider: str, types: list[str], names: list[str]
) -> AssignmentScope:
    """The scope of an assignment on a machine; a 400 when the resource is not a machine."""
    machine = ResourceId(subscription_id, group, provider, tuple(types), tuple(names)).canonical()
    if machine.type not in MACHINE_TYPES:
        raise ArmError(
            400,
            "InvalidResourceType",
            f"Configuration assignments on '{machine.type}' cannot be carried out: Upkeep"
            f" patches {' and '.join(MACHINE_TYPES)}.",
            target="resourceType",
        )
    return AssignmentScope(subscription_id, group, machine)


def _scope_group(connection: Connection, scope: AssignmentScope) -> RowMapping | None:
    group = scope.machine.resource_group if scope.machine is not None else scope.group
    if group is None:
        require_subscription(connection, scope.subscription_id)
        return None
    return require_group(connection, scope.subscription_id, group)


def _find_assignment(
    connection: Connection, scope: AssignmentScope, name: str
) -> tuple[RowMapping | None, RowMapping | None]:
    group_row = _scope_group(connection, scope)
    key = scope.assignment_id(group_row["name"] if group_row else None, name).lower()
    row = (
        connection.execute(
            select(configuration_assignments).where(configuration_assignments.c.key == key)
        )
        .mappings()
        .first()
    )
    return group_row, row


def _linked_configuration(
    connection: Connection, configuration_ref: str, can_read: Callable[[str], bool]
) -> RowMapping:
    """The configuration an assignment points at; it must exist and the caller must read it."""
    field = "properties.maintenanceConfigurationId"
    configuration = ResourceId.parse(configuration_ref, field)
    if configuration.type != CONFIGURATION_TYPE or configuration.resource_group is None:
        raise invalid_parameter(
            field, f"'{configuration_ref}' is not the id of a {CONFIGURATION_TYPE} resource"
        )
    if not can_read(str(configuration)):
        raise ArmError(
            403,
            "LinkedAuthorizationFailed",
            f"The client has no read access to the linked maintenance configuration"
            f" '{configuration_ref}'.",
            target=field,
        )
    row = (
        connection.execute(
            select(maintenance_configurations).where(
                maintenance_configurations.c.key == configuration.key
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise invalid_parameter(
            field, f"the maintenance configuration '{configuration_ref}' does not exist"
        )
    return row


def put_assignment(
    connection: Connection,
    scope: AssignmentScope,
    name: str,
    body: dict[str, Any],
    *,
    can_read: Callable[[str], bool],
    by: str,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Create or replace an assignment; returns the resource and whether it was created."""
    properties = body["properties"]
    if "filter" in properties and not scope.is_dynamic:
        raise invalid_parameter(
            "properties.filter",
            "a filter (dynamic scope) applies to subscription and resource-group assignments,"
            " not to an assignment on a machine",
        )
    configuration = _linked_configuration(
        connection, properties["maintenanceConfigurationId"], can_read
    )
    group_row, existing = _find_assignment(connection, scope, name)
    group_name = group_row["name"] if group_row else None
    target = scope.resource_id(group_name)
    stored = {**body, "properties": {k: v for k, v in properties.items() if k != "resourceId"}}
    values = {
        "configuration_key": configuration["key"],
        "body": stored,
        "system_data": system_data(by, now, existing["system_data"] if existing else None),
    }
    if existing is None:
        key = scope.assignment_id(group_name, name).lower()
        connection.execute(
            insert(configuration_assignments).values(
                key=key,
                id=scope.assignment_id(group_name, name),
                name=name,
                subscription_id=scope.subscription_id,
                group_key=group_row["key"] if group_row else None,
                target_id=target,
                target_key=target.lower(),
                **values,
            )
        )
        return _assignment_by_key(connection, key), True
    connection.execute(
        update(configuration_assignments)
        .where(configuration_assignments.c.key == existing["key"])
        .values(**values)
    )
    return _assignment_by_key(connection, existing["key"]), False


def patch_assignment(
    connection: Connection,
    scope: AssignmentScope,
    name: str,
    changes: dict[str, Any],
    *,
    can_read: Callable[[str], bool],
    by: str,
    now: datetime,
) -> dict[str, Any]:
    _, existing = _find_assignment(connection, scope, name)
    if existing is None:
        raise resource_not_found(ASSIGNMENT_TYPE, name, scope.group)
    merged = merge_patch(existing["body"], changes)
    body = stored_body(parse_model(AssignmentIn, merged))
    resource, _ = put_assignment(connection, scope, name, body, can_read=can_read, by=by, now=now)
    return resource


def get_assignment(connection: Connection, scope: AssignmentScope, name: str) -> dict[str, Any]:
    _, row = _find_assignment(connection, scope, name)
    if row is None:
        raise resource_not_found(ASSIGNMENT_TYPE, name, scope.group)
    return assignment_resource(row)


def delete_assignment(
    connection: Connection, scope: AssignmentScope, name: str
) -> dict[str, Any] | None:
    _, row = _find_assignment(connection, scope, name)
    if row is None:
        return None
    connection.execute(
        delete(configuration_assignments).where(configuration_assignments.c.key == row["key"])
    )
    return assignment_resource(row)


def list_assignments_for_target(
    connection: Connection, scope: AssignmentScope
) -> list[dict[str, Any]]:
    """Assignments made on one machine (or at one group or subscription scope)."""
    group_row = _scope_group(connection, scope)
    target = scope.resource_id(group_row["name"] if group_row else None).lower()
    return _assignments(connection, configuration_assignments.c.target_key == target)


def list_assignments_in_subscription(
    connection: Connection, subscription_id: str, visible: str
) -> list[dict[str, Any]]:
    require_subscription(connection, subscription_id)
    found = _assignments(connection, configuration_assignments.c.subscription_id == subscription_id)
    return [resource for resource in found if scope_covers(visible, resource["id"])]


def list_assignments_of_configuration(
    connection: Connection,
    subscription_id: str,
    group: str,
    name: str,
    can_read: Callable[[str], bool],
) -> list[dict[str, Any]]:
    """Every assignment that points at one configuration, wherever it lives, that the caller
    may read."""
    _, row = _find_configuration(connection, subscription_id, group, name)
    if row is None:
        raise resource_not_found(CONFIGURATION_TYPE, name, group)
    found = _assignments(connection, configuration_assignments.c.configuration_key == row["key"])
    return [resource for resource in found if can_read(resource["id"])]


def _assignment_by_key(connection: Connection, key: str) -> dict[str, Any]:
    return _assignments(connection, configuration_assignments.c.key == key)[0]


def _assignments(connection: Connection, where: Any) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(configuration_assignments).where(where).order_by(configuration_assignments.c.key)
    ).mappings()
    return [assignment_resource(row) for row in rows]


def assignment_resource(row: RowMapping) -> dict[str, Any]:
    body = row["body"]
    resource: dict[str, Any] = {"id": row["id"], "name": row["name"], "type": ASSIGNMENT_TYPE}
    if body.get("location") is not None:
        resource["location"] = body["location"]
    resource["properties"] = {**body["properties"], "resourceId": row["target_id"]}
    resource["systemData"] = row["system_data"]
    return resource
