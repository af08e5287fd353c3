"""Subscriptions and resource groups in the store, and the existence checks every
resource below them relies on (``SubscriptionNotFound``, ``ResourceGroupNotFound``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from upkeep.arm.errors import ArmError, conflict, not_found
from upkeep.arm.ids import group_key, location_key, normalize_subscription_id, scope_covers
from upkeep.db.settings import read_setting
from upkeep.db.tables import resource_groups, subscriptions
from upkeep.graph import records


def tenant_id(connection: Connection) -> str:
    """The installation's tenant id (made by the first migration)."""
    value = read_setting(connection, "tenant_id")
    if value is None:
        raise RuntimeError("the store has no tenant id: was it migrated?")
    return value


# --- subscriptions -------------------------------------------------------------------


def create_subscription(
    connection: Connection, *, display_name: str, now: datetime, subscription_id: str | None = None
) -> dict[str, Any]:
    subscription_id = normalize_subscription_id(subscription_id or str(uuid.uuid4()))
    if get_subscription(connection, subscription_id) is not None:
        raise conflict(
            "SubscriptionExists", f"The subscription '{subscription_id}' already exists."
        )
    connection.execute(
        insert(subscriptions).values(
            id=subscription_id, display_name=display_name, state="Enabled", created_at=now
        )
    )
    return show_subscription(connection, subscription_id)


def get_subscription(connection: Connection, subscription_id: str) -> RowMapping | None:
    return (
        connection.execute(
            select(subscriptions).where(subscriptions.c.id == subscription_id.lower())
        )
        .mappings()
        .first()
    )


def require_subscription(connection: Connection, subscription_id: str) -> RowMapping:
    row = get_subscription(connection, subscription_id)
    if row is None:
        raise not_found(
            "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found."
        )
    return row


def show_subscription(connection: Connection, subscription_id: str) -> dict[str, Any]:
    return subscription_resource(connection, require_subscription(connection, subscription_id))


def list_subscriptions(connection: Connection, within: str = "/") -> list[dict[str, Any]]:
    """Subscriptions a caller whose scope is ``within`` can see (any access inside counts)."""
    rows = connection.execute(select(subscriptions).order_by(subscriptions.c.created_at)).mappings()
    return [
        subscription_resource(connection, row)
        for row in rows
        if scope_covers(within, f"/subscriptions/{row['id']}")
        or scope_covers(f"/subscriptions/{row['id']}", within)
    ]


def subscription_resource(connection: Connection, row: RowMapping) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{row['id']}",
        "authorizationSource": "RoleBased",
        "subscriptionId": row["id"],
        "tenantId": tenant_id(connection),
        "displayName": row["display_name"],
        "state": row["state"],
        "subscriptionPolicies": {
            "locationPlacementId": "Upkeep",
            "quotaId": "Upkeep",
            "spendingLimit": "Off",
        },
    }


# --- resource groups -----------------------------------------------------------------


def get_group(connection: Connection, subscription_id: str, name: str) -> RowMapping | None:
    return (
        connection.execute(
            select(resource_groups).where(resource_groups.c.key == group_key(subscription_id, name))
        )
        .mappings()
        .first()
    )


def require_group(connection: Connection, subscription_id: str, name: str) -> RowMapping:
    """The group, after checking its subscription; 404 with the code of what is missing."""
    require_subscription(connection, subscription_id)
    row = get_group(connection, subscription_id, name)
    if row is None:
        raise not_found("ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return row


@dataclass(frozen=True)
class Located:
    """What :func:`locate` found: the group (key and name as stored) and the resource row."""

    group_key: str | None
    group_name: str | None
    row: RowMapping | None


@cache
def _locator(table: Table | None, with_group: bool) -> Select[Any]:
    """One statement that finds a subscription, a group in it and a row of ``table``."""
    columns: list[Any] = [subscriptions.c.id.label("located_subscription")]
    joined: Any = subscriptions
    if with_group:
        columns += [
            resource_groups.c.key.label("located_group_key"),
            resource_groups.c.name.label("located_group_name"),
        ]
        joined = joined.outerjoin(resource_groups, resource_groups.c.key == bindparam("group_key"))
    if table is not None:
        columns += list(table.c)
        joined = joined.outerjoin(table, table.c.key == bindparam("key"))
    return (
        select(*columns).select_from(joined).where(subscriptions.c.id == bindparam("subscription"))
    )


def locate(
    connection: Connection,
    subscription_id: str,
    group: str | None = None,
    table: Table | None = None,
    key: str | None = None,
) -> Located:
    """Find a resource by store key in one query, raising ``SubscriptionNotFound`` or
    ``ResourceGroupNotFound`` when what it lives in does not exist."""
    parameters = {"subscription": subscription_id.lower()}
    if group is not None:
        parameters["group_key"] = group_key(subscription_id, group)
    if table is not None:
        parameters["key"] = key or ""
    found = connection.execute(_locator(table, group is not None), parameters).mappings().first()
    if found is None:
        raise not_found(
            "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found."
        )
    if group is not None and found["located_group_key"] is None:
        raise not_found("ResourceGroupNotFound", f"Resource group '{group}' could not be found.")
    row = found if table is not None and found["key"] is not None else None
    return Located(found.get("located_group_key"), found.get("located_group_name"), row)


def require_scope(connection: Connection, scope: str) -> None:
    """Check that a ``/subscriptions/S[/resourceGroups/G]`` scope exists."""
    parts = [part for part in scope.split("/") if part]
    if len(parts) >= 2:
        require_subscription(connection, parts[1])
    if len(parts) >= 4:
        require_group(connection, parts[1], parts[3])


def put_group(
    connection: Connection,
    subscription_id: str,
    name: str,
    body: dict[str, Any],
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Create or update a group; returns its resource and whether it was created."""
    require_subscription(connection, subscription_id)
    existing = get_group(connection, subscription_id, name)
    if existing is None:
        connection.execute(
            insert(resource_groups).values(
                key=group_key(subscription_id, name),
                subscription_id=subscription_id.lower(),
                name=name,
                body=body,
                created_at=now,
            )
        )
        return group_resource(require_group(connection, subscription_id, name)), True
    if location_key(existing["body"]["location"]) != location_key(body["location"]):
        raise ArmError(
            409,
            "InvalidResourceGroupLocation",
            f"Invalid resource group location '{body['location']}'. The resource group"
            f" '{existing['name']}' already exists in location '{existing['body']['location']}'.",
        )
    return _store_body(
        connection, existing, {**body, "location": existing["body"]["location"]}
    ), False


def patch_group(
    connection: Connection, subscription_id: str, name: str, changes: dict[str, Any]
) -> dict[str, Any]:
    existing = require_group(connection, subscription_id, name)
    return _store_body(connection, existing, {**existing["body"], **changes})


def _store_body(connection: Connection, row: RowMapping, body: dict[str, Any]) -> dict[str, Any]:
    connection.execute(
        update(resource_groups).where(resource_groups.c.key == row["key"]).values(body=body)
    )
    return group_resource({**row, "body": body})


def list_groups(connection: Connection, subscription_id: str, within: str) -> list[dict[str, Any]]:
    require_subscription(connection, subscription_id)
    rows = connection.execute(
        select(resource_groups)
        .where(resource_groups.c.subscription_id == subscription_id.lower())
        .order_by(resource_groups.c.created_at)
    ).mappings()
    return [
        group_resource(row)
        for row in rows
        if scope_covers(
            within, f"/subscriptions/{row['subscription_id']}/resourceGroups/{row['name']}"
        )
    ]


def delete_group(connection: Connection, subscription_id: str, name: str) -> None:
    """Delete a group and, through the store's cascades, everything in it."""
    row = require_group(connection, subscription_id, name)
    connection.execute(delete(resource_groups).where(resource_groups.c.key == row["key"]))
    records.forget_group(connection, row["subscription_id"], row["name"])


def group_resource(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    body = row["body"]
    resource: dict[str, Any] = {
        "id": f"/subscriptions/{row['subscription_id']}/resourceGroups/{row['name']}",
        "name": row["name"],
        "type": "Microsoft.Resources/resourceGroups",
        "location": body["location"],
        "properties": {"provisioningState": "Succeeded"},
    }
    if body.get("tags") is not None:
        resource["tags"] = body["tags"]
    if body.get("managedBy") is not None:
        resource["managedBy"] = body["managedBy"]
    return resource
