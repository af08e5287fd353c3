"""Roles, scopes and the caller: who may do what, where.

A token carries one role at one scope. A scope is ``/``, ``/subscriptions/S`` or
``/subscriptions/S/resourceGroups/G``; it covers every path below it. Readers read,
Contributors also write, Owners also manage tokens.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from upkeep.arm.errors import ArmError
from upkeep.arm.ids import normalize_subscription_id, path_scope, scope_covers
from upkeep.arm.routing import Permission


class Role(enum.Enum):
    READER = "Reader"
    CONTRIBUTOR = "Contributor"
    OWNER = "Owner"

    @classmethod
    def parse(cls, text: str) -> Role:
        for role in cls:
            if role.value.lower() == text.lower():
                return role
        names = ", ".join(role.value for role in cls)
        raise ValueError(f"unknown role '{text}'; the roles are {names}")

    @property
    def permissions(self) -> frozenset[Permission]:
        return PERMISSIONS[self]


#: Readers read, Contributors also write, Owners also manage tokens.
PERMISSIONS = {
    Role.READER: frozenset({Permission.READ}),
    Role.CONTRIBUTOR: frozenset({Permission.READ, Permission.WRITE}),
    Role.OWNER: frozenset({Permission.READ, Permission.WRITE, Permission.MANAGE_ACCESS}),
}


def normalize_scope(text: str) -> str:
    """The canonical spelling of a token scope, or ``ValueError`` saying what a scope is."""
    parts = [part for part in text.strip().split("/") if part]
    if not parts:
        return "/"
    if parts[0].lower() == "subscriptions" and len(parts) in (2, 4):
        try:
            subscription = normalize_subscription_id(parts[1])
        except ArmError:
            raise ValueError(f"'{parts[1]}' in scope '{text}' is not a subscription id") from None
        if len(parts) == 2:
            return f"/subscriptions/{subscription}"
        if parts[2].lower() == "resourcegroups":
            return f"/subscriptions/{subscription}/resourceGroups/{parts[3]}"
    raise ValueError(
        f"'{text}' is not a scope; use /, /subscriptions/S or /subscriptions/S/resourceGroups/G"
    )


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request."""

    token_id: str
    name: str
    role: Role
    scope: str
    expires_at: datetime | None = None

    def authorize(self, permission: Permission, path: str, *, lists: bool) -> str:
        """The scope visible to this caller at ``path``; a 403 when none is allowed."""
        if permission in self.role.permissions:
            if scope_covers(self.scope, path):
                return path_scope(path)
            if lists and scope_covers(path_scope(path), self.scope):
                return self.scope
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The client '{self.name}' with role '{self.role.value}' at scope '{self.scope}'"
            f" does not have authorization to {permission.value} at '{path}'.",
        )

    def can_read(self, path: str) -> bool:
        return scope_covers(self.scope, path)
