"""Machines in the store: enrollment tokens, enrollment, credentials, facts and presence.

A machine is a `Microsoft.Compute/virtualMachines` or `Microsoft.HybridCompute/machines`
resource that an agent enrolled. Its identity is its ``vmId`` (a GUID made at enrollment);
the agent authenticates with a per-machine credential that is stored only as a hash.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from upkeep.arm.errors import ArmError, conflict, invalid_parameter, not_found
from upkeep.arm.ids import MACHINE_TYPES, ResourceId, scope_covers
from upkeep.arm.systemdata import system_data
from upkeep.arm.timestamps import format_timestamp
from upkeep.auth.models import normalize_scope
from upkeep.auth.service import hash_secret
from upkeep.db.tables import enrollment_tokens, machines
from upkeep.graph import records
from upkeep.maintenance.service import delete_assignments_of
from upkeep.resources.service import get_group, locate, put_group, require_scope

ENROLLMENT_PREFIX = "upe_"
CREDENTIAL_PREFIX = "upm_"

#: A machine not heard from for this long shows as Disconnected.
DISCONNECTED_AFTER = timedelta(minutes=5)


# --- enrollment tokens ---------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentToken:
    id: str
    name: str
    scope: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    uses_left: int | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "Revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "Expired"
        if self.uses_left is not None and self.uses_left <= 0:
            return "UsedUp"
        return "Active"


def create_enrollment_token(
    connection: Connection,
    *,
    scope: str,
    now: datetime,
    name: str | None = None,
    lifetime: timedelta | None = None,
    uses: int | None = None,
    created_by: str = "upkeep admin",
) -> tuple[EnrollmentToken, str]:
    """A token that lets machines enroll into ``scope`` (a subscription or a group)."""
    scope = normalize_scope(scope)
    if scope == "/":
        raise ValueError("an enrollment token needs a subscription or resource group scope")
    require_scope(connection, scope)
    secret = ENROLLMENT_PREFIX + secrets.token_urlsafe(32)
    token = EnrollmentToken(
        id=str(uuid.uuid4()),
        name=name or f"enroll-{secrets.token_hex(4)}",
        scope=scope,
        created_at=now,
        created_by=created_by,
        expires_at=now + lifetime if lifetime else None,
        uses_left=uses,
        revoked_at=None,
    )
    connection.execute(
        insert(enrollment_tokens).values(
            id=token.id,
            name=token.name,
            scope=token.scope,
            secret_hash=hash_secret(secret),
            created_at=token.created_at,
            created_by=token.created_by,
            expires_at=token.expires_at,
            uses_left=token.uses_left,
        )
    )
    return token, secret


def list_enrollment_tokens(connection: Connection, within: str = "/") -> list[EnrollmentToken]:
    rows = connection.execute(select(enrollment_tokens).order_by(enrollment_tokens.c.created_at))
    return [token for token in map(_enrollment, rows) if scope_covers(within, token.scope)]


def get_enrollment_token(connection: Connection, token_id: str) -> EnrollmentToken | None:
    row = connection.execute(
        select(enrollment_tokens).where(enrollment_tokens.c.id == token_id)
    ).first()
    return _enrollment(row) if row else None


def revoke_enrollment_token(
    connection: Connection, token_id: str, now: datetime
) -> EnrollmentToken:
    connection.execute(
        update(enrollment_tokens)
        .where(enrollment_tokens.c.id == token_id, enrollment_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token = get_enrollment_token(connection, token_id)
    if token is None:
        raise not_found("ResourceNotFound", f"The enrollment token '{token_id}' was not found.")
    return token


def _enrollment(row: Any) -> EnrollmentToken:
    values = row._mapping
    return EnrollmentToken(
        id=values["id"],
        name=values["name"],
        scope=values["scope"],
        created_at=values["created_at"],
        created_by=values["created_by"],
        expires_at=values["expires_at"],
        uses_left=values["uses_left"],
        revoked_at=values["revoked_at"],
    )


# --- enrollment ----------------------------------------------------------------------


@dataclass(frozen=True)
class Enrollment:
    """What an agent sends to enroll: where the machine goes, and what it is."""

    subscription_id: str
    resource_group: str
    name: str
    resource_type: str
    location: str
    tags: dict[str, str]
    facts: dict[str, Any]
    patch_settings: dict[str, str]


def enroll(
    connection: Connection, secret: str, enrollment: Enrollment, now: datetime
) -> tuple[dict[str, Any], str]:
    """Register a machine with an enrollment token; returns its resource and credential."""
    token = _usable_token(connection, secret, now)
    machine = ResourceId(
        enrollment.subscription_id,
        enrollment.resource_group,
        *enrollment.resource_type.split("/", 1)[:1],
        (enrollment.resource_type.split("/", 1)[1],),
        (enrollment.name,),
    ).canonical()
    if machine.type not in MACHINE_TYPES:
        raise ArmError(
            400,
            "InvalidResourceType",
            f"resourceType: '{enrollment.resource_type}' is not a machine type; use"
            f" {' or '.join(MACHINE_TYPES)}.",
            target="resourceType",
        )
    group_id = machine.group_id or ""
    if not scope_covers(token.scope, str(machine)):
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The enrollment token '{token.name}' is for '{token.scope}', not for '{group_id}'.",
        )
    group = get_group(connection, enrollment.subscription_id, enrollment.resource_group)
    if group is None:
        if not scope_covers(token.scope, group_id):
            raise not_found(
                "ResourceGroupNotFound",
                f"Resource group '{enrollment.resource_group}' could not be found, and the"
                f" enrollment token's scope '{token.scope}' does not allow creating it.",
            )
        put_group(
            connection,
            enrollment.subscription_id,
            enrollment.resource_group,
            {"location": enrollment.location},
            now,
        )
        group = get_group(connection, enrollment.subscription_id, enrollment.resource_group)
    assert group is not None
    machine = machine.with_group_name(group["name"])
    if _machine_row(connection, machine.key) is not None:
        raise conflict(
            "MachineAlreadyEnrolled",
            f"'{machine}' is already enrolled; delete the machine resource to enroll it again.",
        )
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    body: dict[str, Any] = {"location": enrollment.location, "tags": enrollment.tags}
    if enrollment.patch_settings:
        body["patchSettings"] = check_patch_settings(enrollment.patch_settings, "patchSettings")
    connection.execute(
        insert(machines).values(
            key=machine.key,
            id=str(machine),
            subscription_id=machine.subscription_id,
            group_key=group["key"],
            type=machine.type,
            name=enrollment.name,
            vm_id=str(uuid.uuid4()),
            credential_hash=hash_secret(credential),
            body=body,
            facts=enrollment.facts,
            enrolled_at=now,
            last_seen_at=now,
            system_data=system_data(f"enrollment:{token.name}", now),
            next_assessment_at=now if assessed_by_platform(body) else None,
        )
    )
    if token.uses_left is not None:
        connection.execute(
            update(enrollment_tokens)
            .where(enrollment_tokens.c.id == token.id)
            .values(uses_left=enrollment_tokens.c.uses_left - 1)
        )
    records.refresh_machine(connection, machine.key, now)
    return machine_resource(_require_row(connection, machine.key), now), credential


def _usable_token(connection: Connection, secret: str, now: datetime) -> EnrollmentToken:
    row = connection.execute(
        select(enrollment_tokens).where(enrollment_tokens.c.secret_hash == hash_secret(secret))
    ).first()
    token = _enrollment(row) if row else None
    if token is None or token.state(now) != "Active":
        state = token.state(now).lower() if token else "unknown"
        raise ArmError(
            401,
            "AuthenticationFailed",
            f"Authentication failed. The enrollment token is {state}.",
        )
    return token


# --- the machine as its agent sees it --------------------------------------------------


@dataclass(frozen=True)
class Agent:
    """The machine a credential belongs to."""

    key: str
    id: str
    name: str
    vm_id: str


_BY_CREDENTIAL = select(machines.c.key, machines.c.id, machines.c.name, machines.c.vm_id).where(
    machines.c.credential_hash == bindparam("credential")
)


def find_agent(connection: Connection, credential: str) -> Agent | None:
    row = connection.execute(_BY_CREDENTIAL, {"credential": hash_secret(credential)}).first()
    return Agent(row.key, row.id, row.name, row.vm_id) if row else None


def report_facts(
    connection: Connection, agent: Agent, facts: dict[str, Any], now: datetime
) -> None:
    """The agent's latest description of the machine (a heartbeat)."""
    connection.execute(
        update(machines).where(machines.c.key == agent.key).values(facts=facts, last_seen_at=now)
    )
    records.refresh_machine(connection, agent.key, now)


def record_presence(connection: Connection, seen: dict[str, datetime]) -> None:
    """Write when machines were last heard from (batched by the presence tracker)."""
    if not seen:
        return
    connection.execute(
        update(machines)
        .where(machines.c.key == bindparam("machine"))
        .where(machines.c.last_seen_at < bindparam("seen"))
        .values(last_seen_at=bindparam("seen")),
        [{"machine": key, "seen": moment} for key, moment in seen.items()],
    )
    records.machines_heard_from(connection, seen)


# --- machine resources ---------------------------------------------------------------


def _machine_row(connection: Connection, key: str) -> RowMapping | None:
    return connection.execute(select(machines).where(machines.c.key == key)).mappings().first()


def _require_row(connection: Connection, key: str) -> RowMapping:
    row = _machine_row(connection, key)
    if row is None:
        raise not_found("ResourceNotFound", f"The machine '{key}' was not found.")
    return row


def require_machine(connection: Connection, machine: ResourceId) -> RowMapping:
    """The machine's row; 404 with the code of whatever is missing."""
    found = locate(
        connection, machine.subscription_id, machine.resource_group, machines, machine.key
    )
    if found.row is None:
        raise not_found(
            "ResourceNotFound",
            f"The Resource '{machine.type}/{machine.name}' under resource group"
            f" '{machine.resource_group}' was not found.",
        )
    return found.row


def get_machine(connection: Connection, machine: ResourceId, now: datetime) -> dict[str, Any]:
    return machine_resource(require_machine(connection, machine), now)


def list_machines(
    connection: Connection,
    subscription_id: str,
    group: str | None,
    machine_type: str,
    visible: str,
    now: datetime,
) -> list[dict[str, Any]]:
    found = locate(connection, subscription_id, group)
    where = [machines.c.type == machine_type, machines.c.subscription_id == subscription_id]
    if group is not None:
        where.append(machines.c.group_key == found.group_key)
    rows = connection.execute(select(machines).where(*where).order_by(machines.c.key)).mappings()
    resources = (machine_resource(row, now) for row in rows)
    return [resource for resource in resources if scope_covers(visible, resource["id"])]


def delete_machine(
    connection: Connection, machine: ResourceId, now: datetime
) -> dict[str, Any] | None:
    """Delete a machine: its credential stops working, its assignments and history go."""
    found = locate(
        connection, machine.subscription_id, machine.resource_group, machines, machine.key
    )
    if found.row is None:
        return None
    resource = machine_resource(found.row, now)
    delete_assignments_of(connection, machine.key)
    connection.execute(delete(machines).where(machines.c.key == machine.key))
    records.forget_machine(connection, machine.key, now)
    return resource


AUTOMATIC_BY_PLATFORM = "AutomaticByPlatform"
#: The patch settings Upkeep honours, and their values (Azure's spellings).
PATCH_SETTINGS = {
    "assessmentMode": ("ImageDefault", AUTOMATIC_BY_PLATFORM),
    "patchMode": ("ImageDefault", AUTOMATIC_BY_PLATFORM, "AutomaticByOS", "Manual"),
}


def check_patch_settings(settings: Any, field: str) -> dict[str, str]:
    """Patch settings in Azure's spelling; a 400 naming ``field`` for anything else."""
    if not isinstance(settings, dict):
        raise invalid_parameter(field, "patch settings must be an object")
    checked = {}
    for name, value in settings.items():
        known = next((key for key in PATCH_SETTINGS if key.lower() == str(name).lower()), None)
        if known is None:
            raise invalid_parameter(
                f"{field}.{name}", f"Upkeep knows the patch settings {', '.join(PATCH_SETTINGS)}"
            )
        allowed = PATCH_SETTINGS[known]
        spelled = next((choice for choice in allowed if choice.lower() == str(value).lower()), None)
        if spelled is None:
            raise invalid_parameter(
                f"{field}.{known}", f"'{value}' is not one of {', '.join(allowed)}"
            )
        checked[known] = spelled
    return checked


def assessed_by_platform(body: dict[str, Any]) -> bool:
    """Whether the machine's patch settings ask for periodic assessment by the platform."""
    mode = (body.get("patchSettings") or {}).get("assessmentMode", "")
    return str(mode).lower() == AUTOMATIC_BY_PLATFORM.lower()


def patch_machine(
    connection: Connection, machine: ResourceId, changes: Any, *, by: str, now: datetime
) -> dict[str, Any]:
    """PATCH a machine: its tags, and the patch settings under
    ``properties.osProfile.{linux|windows}Configuration.patchSettings``. A machine switched
    to assessmentMode AutomaticByPlatform is assessed at the orchestrator's next round."""
    row = require_machine(connection, machine)
    if not isinstance(changes, dict):
        raise invalid_parameter("body", "a machine PATCH is a JSON object")
    body = dict(row["body"])
    for name, value in changes.items():
        if name.lower() == "tags":
            if not isinstance(value, dict) or not all(
                isinstance(item, str) for item in value.values()
            ):
                raise invalid_parameter("tags", "tags are an object of strings")
            body["tags"] = value
        elif name.lower() == "properties":
            settings = _patch_settings_in(value)
            body["patchSettings"] = {**body.get("patchSettings", {}), **settings}
        else:
            raise invalid_parameter(name, "Upkeep changes a machine's tags and patch settings only")
    was_automatic = assessed_by_platform(row["body"])
    next_assessment = row["next_assessment_at"]
    if not assessed_by_platform(body):
        next_assessment = None
    elif not was_automatic:
        next_assessment = now
    connection.execute(
        update(machines)
        .where(machines.c.key == row["key"])
        .values(
            body=body,
            next_assessment_at=next_assessment,
            system_data=system_data(by, now, row["system_data"]),
        )
    )
    records.refresh_machine(connection, row["key"], now)
    return machine_resource(_require_row(connection, row["key"]), now)


def _patch_settings_in(properties: Any) -> dict[str, str]:
    """The patch settings in a PATCH's ``properties`` (nothing else there may change)."""
    field = "properties"
    if not isinstance(properties, dict):
        raise invalid_parameter(field, "must be an object")
    settings: dict[str, str] = {}
    for name, value in properties.items():
        if name.lower() != "osprofile" or not isinstance(value, dict):
            raise invalid_parameter(
                f"{field}.{name}", "only osProfile patch settings can be changed"
            )
        for os_name, configuration in value.items():
            where = f"{field}.osProfile.{os_name}"
            if os_name.lower() not in ("linuxconfiguration", "windowsconfiguration") or not (
                isinstance(configuration, dict)
            ):
                raise invalid_parameter(where, "only the patch settings can be changed")
            for key, patch_settings in configuration.items():
                if key.lower() != "patchsettings":
                    raise invalid_parameter(f"{where}.{key}", "only patchSettings can be changed")
                settings.update(check_patch_settings(patch_settings, f"{where}.patchSettings"))
    return settings


def status_of(last_seen: datetime, now: datetime) -> str:
    return "Connected" if now - last_seen < DISCONNECTED_AFTER else "Disconnected"


def machine_resource(row: RowMapping, now: datetime) -> dict[str, Any]:
    """The ARM shape of a VM or Arc machine, from what its owner set and its agent said."""
    body, facts = row["body"], row["facts"]
    status = status_of(row["last_seen_at"], now)
    os_type = facts.get("osType", "Linux")
    patch_settings = {
        "assessmentMode": "ImageDefault",
        "patchMode": "ImageDefault",
        **body.get("patchSettings", {}),
    }
    properties: dict[str, Any] = {
        "vmId": row["vm_id"],
        "provisioningState": "Succeeded",
        "status": status,
        "lastStatusChange": format_timestamp(row["last_seen_at"]),
        "agentVersion": facts.get("agentVersion"),
        "osType": os_type,
        "osName": facts.get("osName"),
        "osVersion": facts.get("osVersion"),
        "osSku": facts.get("osSku") or facts.get("osName"),
        "machineFqdn": facts.get("hostname"),
        "packageManager": facts.get("packageManager"),
        "enrolledAt": format_timestamp(row["enrolled_at"]),
    }
    configuration = "linuxConfiguration" if os_type == "Linux" else "windowsConfiguration"
    properties["osProfile"] = {
        "computerName": facts.get("hostname"),
        configuration: {"patchSettings": patch_settings},
    }
    if row["type"] == "Microsoft.Compute/virtualMachines":
        properties["storageProfile"] = {"osDisk": {"osType": os_type}}
        properties["instanceView"] = {"computerName": facts.get("hostname"),
                                      "osName": facts.get("osName"),
                                      "osVersion": facts.get("osVersion")}  # fmt: skip
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "location": body["location"],
        "tags": body.get("tags", {}),
        "properties": properties,
        "systemData": row["system_data"],
    }
