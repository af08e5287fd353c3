"""Maintenance configurations and configuration assignments in the store.

The rules that need more than one field or the store live here: a window must parse,
must leave time to install after its reboot reserve, and must still have a window to come
before it expires; an assignment must point at a configuration that exists and that
the caller may read, a resource group or machine is named as the store spells it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from upkeep.arm.bodies import merge_patch, parse_model, spec_spelling
from upkeep.arm.errors import ArmError, invalid_parameter, resource_not_found
from upkeep.arm.ids import MACHINE_TYPES, ResourceId, scope_covers
from upkeep.arm.systemdata import system_data
from upkeep.arm.timestamps import format_timestamp
from upkeep.db.tables import (
    configuration_assignments,
    maintenance_configurations,
    resource_groups,
)
from upkeep.graph import records
from upkeep.maintenance.models import AssignmentIn, ConfigurationIn, stored_body
from upkeep.maintenance.schedule import (
    REBOOT_RESERVE,
    UPDATE_TIME,
    Schedule,
    ScheduleError,
    next_occurrences,
    parse_schedule,
)
from upkeep.resources.service import Located, locate
from upkeep_agent.selection import REBOOT_SETTINGS

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


def next_window_start(body: dict[str, Any], after: datetime) -> datetime | None:
    """The start of the configuration's first window at or after ``after``; None once it
    has expired. The orchestrator's due-time index holds this per configuration."""
    upcoming = next_occurrences(schedule_of(body), after, 1)
    return upcoming[0].start if upcoming else None


def check_configuration(body: dict[str, Any], now: datetime) -> Schedule:
    """The rules of a configuration beyond its JSON shape; returns its schedule."""
    window = body["properties"]["maintenanceWindow"]
    try:
        schedule = parse_schedule(window)
    except ScheduleError as error:
        raise invalid_window(error.field, error.message) from None
    reboot_setting = body["properties"].get("installPatches", {}).get("rebootSetting")
    check_room_to_install(schedule.duration, reboot_setting or "IfRequired")
    if schedule.expires_before(now):
        raise invalid_window(
            "expirationDateTime",
            f"'{window['expirationDateTime']}' ({window['timeZone']}) is in the past; an"
            " expiration must be in the future",
        )
    if not next_occurrences(schedule, now, 1):
        raise invalid_window(
            "expirationDateTime",
            f"'{window['recurEvery']}' has no window left that starts before the expiration"
            f" '{window['expirationDateTime']}' ({window['timeZone']}); the configuration"
            " would never run again",
        )
    return schedule


def check_room_to_install(duration: timedelta, reboot_setting: str) -> None:
    """A window must leave time to install an update after its reboot reserve.

    A machine keeps the end of its window for the reboot (15 minutes on Linux, 10 on
    Windows; nothing when the reboot setting is Never) and starts no update that would run
    into it. A configuration may be assigned machines of either OS, so the longer reserve
    counts. What is left must hold one update (15 minutes), or no run could install
    anything. Azure's shortest window, 1 h 30 min (enforced when the duration is parsed),
    leaves 1 h 15 min after the longest reserve, so no duration accepted today breaks this
    rule; it keeps the reserve honoured should that floor ever be lowered.
    """
    rebooting = REBOOT_SETTINGS[reboot_setting.lower()] != "Never"
    reserve = max(REBOOT_RESERVE.values()) if rebooting else timedelta(0)
    left = max(duration - reserve, timedelta(0))
    if left >= UPDATE_TIME:
        return
    minute = timedelta(minutes=1)
    hours, minutes = divmod(duration // minute, 60)
    raise invalid_window(
        "duration",
        f"'{hours:02d}:{minutes:02d}' leaves {left // minute} minutes to install after the"
        f" {reserve // minute} minute reboot reserve of rebootSetting '{reboot_setting}'"
        f" (Linux {REBOOT_RESERVE['Linux'] // minute}, Windows"
        f" {REBOOT_RESERVE['Windows'] // minute} minutes; none for Never); one update needs"
        f" {UPDATE_TIME // minute} minutes",
    )


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
) -> Located:
    """The group (which must exist) and the configuration (if it does), in one query."""
    key = configuration_id(subscription_id, group, name).lower()
    return locate(connection, subscription_id, group, maintenance_configurations, key)


def _require_configuration(
    connection: Connection, subscription_id: str, group: str, name: str
) -> tuple[RowMapping, str]:
    """The configuration and its group's stored name; 404 when it does not exist."""
    found = _find_configuration(connection, subscription_id, group, name)
    if found.row is None:
        raise resource_not_found(CONFIGURATION_TYPE, name, group)
    return found.row, found.group_name or group


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
    found = _find_configuration(connection, subscription_id, group, name)
    group_name = found.group_name or group
    if found.row is not None:
        return _replace_configuration(connection, found.row, group_name, body, by, now), False
    stamp = system_data(by, now)
    connection.execute(
        insert(maintenance_configurations).values(
            key=configuration_id(subscription_id, group, name).lower(),
            group_key=found.group_key,
            subscription_id=subscription_id,
            name=name,
            body=body,
            system_data=stamp,
            next_window_at=next_window_start(body, now),
        )
    )
    records.refresh_configuration(
        connection, configuration_id(subscription_id, group, name).lower(), now
    )
    return configuration_resource(subscription_id, group_name, name, body, stamp), True


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
    existing, group_name = _require_configuration(connection, subscription_id, group, name)
    merged = merge_patch(existing["body"], spec_spelling(ConfigurationIn, changes))
    body = stored_body(parse_model(ConfigurationIn, merged))
    check_configuration(body, now)
    return _replace_configuration(connection, existing, group_name, body, by, now)


def _replace_configuration(
    connection: Connection,
    existing: RowMapping,
    group_name: str,
    body: dict[str, Any],
    by: str,
    now: datetime,
) -> dict[str, Any]:
    stamp = system_data(by, now, existing["system_data"])
    connection.execute(
        update(maintenance_configurations)
        .where(maintenance_configurations.c.key == existing["key"])
        .values(
            body=body,
            system_data=stamp,
            next_window_at=_next_window_after_change(existing, body, now),
        )
    )
    records.refresh_configuration(connection, existing["key"], now)
    return configuration_resource(
        existing["subscription_id"], group_name, existing["name"], body, stamp
    )


def _next_window_after_change(
    existing: RowMapping, body: dict[str, Any], now: datetime
) -> datetime | None:
    """A change applies from the next window that has not started; a window that has
    started and is waiting for the orchestrator still runs."""
    pending = existing["next_window_at"]
    if pending is not None and pending <= now:
        return pending
    return next_window_start(body, now)


def get_configuration(
    connection: Connection, subscription_id: str, group: str, name: str
) -> dict[str, Any]:
    row, group_name = _require_configuration(connection, subscription_id, group, name)
    return _resource_of(row, group_name)


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
    row, _ = _require_configuration(connection, subscription_id, group, name)
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
    found = _find_configuration(connection, subscription_id, group, name)
    if found.row is None:
        return None
    connection.execute(
        delete(maintenance_configurations).where(
            maintenance_configurations.c.key == found.row["key"]
        )
    )
    records.forget_configuration(connection, found.row["key"])
    return _resource_of(found.row, found.group_name or group)


def list_configurations(
    connection: Connection, subscription_id: str, group: str | None, visible: str
) -> list[dict[str, Any]]:
    """Configurations of a subscription (or one group in it) inside the ``visible`` scope."""
    found = locate(connection, subscription_id, group)
    if group is None:
        where = maintenance_configurations.c.subscription_id == subscription_id
    else:
        where = maintenance_configurations.c.group_key == found.group_key
    rows = connection.execute(
        select(maintenance_configurations, resource_groups.c.name.label("group_name"))
        .join(resource_groups, resource_groups.c.key == maintenance_configurations.c.group_key)
        .where(where)
        .order_by(maintenance_configurations.c.key)
    ).mappings()
    resources = (_resource_of(row, row["group_name"]) for row in rows)
    return [resource for resource in resources if scope_covers(visible, resource["id"])]


def _resource_of(row: RowMapping, group_name: str) -> dict[str, Any]:
    return configuration_resource(
        row["subscription_id"], group_name, row["name"], row["body"], row["system_data"]
    )


def configuration_resource(
    subscription_id: str,
    group_name: str,
    name: str,
    body: dict[str, Any],
    stamp: dict[str, Any],
) -> dict[str, Any]:
    """The ARM shape of a configuration: the stored body inside its envelope."""
    resource: dict[str, Any] = {
        "id": configuration_id(subscription_id, group_name, name),
        "name": name,
        "type": CONFIGURATION_TYPE,
        "location": body["location"],
    }
    if "tags" in body:
        resource["tags"] = body["tags"]
    resource["properties"] = body["properties"]
    resource["systemData"] = stamp
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


def _find_assignment(connection: Connection, scope: AssignmentScope, name: str) -> Located:
    """Where the assignment lives (which must exist) and the assignment (if it does)."""
    group = scope.machine.resource_group if scope.machine is not None else scope.group
    key = scope.assignment_id(group, name).lower()
    return locate(connection, scope.subscription_id, group, configuration_assignments, key)


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
    found = _find_assignment(connection, scope, name)
    target = scope.resource_id(found.group_name)
    row = {
        "key": scope.assignment_id(found.group_name, name).lower(),
        "id": scope.assignment_id(found.group_name, name),
        "name": name,
        "subscription_id": scope.subscription_id,
        "group_key": found.group_key,
        "configuration_key": configuration["key"],
        "target_id": target,
        "target_key": target.lower(),
        "body": {**body, "properties": {k: v for k, v in properties.items() if k != "resourceId"}},
        "system_data": system_data(by, now, found.row["system_data"] if found.row else None),
    }
    if found.row is None:
        connection.execute(insert(configuration_assignments).values(**row))
    else:
        connection.execute(
            update(configuration_assignments)
            .where(configuration_assignments.c.key == found.row["key"])
            .values(
                configuration_key=row["configuration_key"],
                body=row["body"],
                system_data=row["system_data"],
            )
        )
    records.refresh_assignment(connection, row["key"], now)
    return assignment_resource(row), found.row is None


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
    existing = _find_assignment(connection, scope, name).row
    if existing is None:
        raise resource_not_found(ASSIGNMENT_TYPE, name, scope.group)
    merged = merge_patch(existing["body"], spec_spelling(AssignmentIn, changes))
    body = stored_body(parse_model(AssignmentIn, merged))
    resource, _ = put_assignment(connection, scope, name, body, can_read=can_read, by=by, now=now)
    return resource


def get_assignment(connection: Connection, scope: AssignmentScope, name: str) -> dict[str, Any]:
    row = _find_assignment(connection, scope, name).row
    if row is None:
        raise resource_not_found(ASSIGNMENT_TYPE, name, scope.group)
    return assignment_resource(row)


def delete_assignment(
    connection: Connection, scope: AssignmentScope, name: str
) -> dict[str, Any] | None:
    row = _find_assignment(connection, scope, name).row
    if row is None:
        return None
    connection.execute(
        delete(configuration_assignments).where(configuration_assignments.c.key == row["key"])
    )
    records.forget_assignment(connection, row["key"])
    return assignment_resource(row)


def delete_assignments_of(connection: Connection, target_key: str) -> None:
    """Remove every assignment on one machine (the machine is going away)."""
    connection.execute(
        delete(configuration_assignments).where(
            configuration_assignments.c.target_key == target_key
        )
    )


def list_assignments_for_target(
    connection: Connection, scope: AssignmentScope
) -> list[dict[str, Any]]:
    """Assignments made on one machine (or at one group or subscription scope)."""
    group = scope.machine.resource_group if scope.machine is not None else scope.group
    found = locate(connection, scope.subscription_id, group)
    target = scope.resource_id(found.group_name).lower()
    return _assignments(connection, configuration_assignments.c.target_key == target)


def list_assignments_in_subscription(
    connection: Connection, subscription_id: str, visible: str
) -> list[dict[str, Any]]:
    locate(connection, subscription_id)
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
    row, _ = _require_configuration(connection, subscription_id, group, name)
    found = _assignments(connection, configuration_assignments.c.configuration_key == row["key"])
    return [resource for resource in found if can_read(resource["id"])]


def _assignments(connection: Connection, where: Any) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(configuration_assignments).where(where).order_by(configuration_assignments.c.key)
    ).mappings()
    return [assignment_resource(row) for row in rows]


def assignment_resource(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    body = row["body"]
    resource: dict[str, Any] = {"id": row["id"], "name": row["name"], "type": ASSIGNMENT_TYPE}
    if body.get("location") is not None:
        resource["location"] = body["location"]
    resource["properties"] = {**body["properties"], "resourceId": row["target_id"]}
    resource["systemData"] = row["system_data"]
    return resource
