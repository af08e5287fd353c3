"""Tokens: create, verify, list and revoke. Secrets are stored only as SHA-256 hashes.

A token secret is 32 random bytes, so a fast hash is enough: there is nothing to guess
from a hash, unlike a password.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from upkeep.arm.errors import not_found
from upkeep.arm.ids import scope_covers
from upkeep.auth.models import Caller, Role, normalize_scope
from upkeep.db.tables import tokens
from upkeep.resources.service import require_scope

TOKEN_PREFIX = "upk_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    id: str
    name: str
    role: Role
    scope: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "Revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "Expired"
        return "Active"


def create_token(
    connection: Connection,
    *,
    role: Role,
    scope: str,
    now: datetime,
    name: str | None = None,
    lifetime: timedelta | None = None,
    created_by: str = "upkeep admin",
) -> tuple[TokenRecord, str]:
    """A new token and its secret; the secret is not stored and cannot be shown again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = TokenRecord(
        id=str(uuid.uuid4()),
        name=name or f"token-{secrets.token_hex(4)}",
        role=role,
        scope=normalize_scope(scope),
        created_at=now,
        created_by=created_by,
        expires_at=now + lifetime if lifetime else None,
        revoked_at=None,
    )
    connection.execute(
        insert(tokens).values(
            id=record.id,
            name=record.name,
            role=record.role.value,
            scope=record.scope,
            secret_hash=hash_secret(secret),
            created_at=record.created_at,
            created_by=record.created_by,
            expires_at=record.expires_at,
        )
    )
    return record, secret


def issue_token(
    connection: Connection,
    *,
    role: Role,
    scope: str,
    now: datetime,
    name: str | None = None,
    lifetime: timedelta | None = None,
    created_by: str = "upkeep admin",
) -> tuple[TokenRecord, str]:
    """:func:`create_token` for a scope that must exist (404 when it does not)."""
    scope = normalize_scope(scope)
    if scope != "/":
        require_scope(connection, scope)
    return create_token(
        connection,
        role=role,
        scope=scope,
        now=now,
        name=name,
        lifetime=lifetime,
        created_by=created_by,
    )


def find_caller(connection: Connection, secret: str, now: datetime) -> Caller | None:
    """The caller a secret belongs to, if the token exists, is not revoked and not expired."""
    row = connection.execute(
        select(tokens).where(tokens.c.secret_hash == hash_secret(secret))
    ).first()
    if row is None:
        return None
    record = _record(row)
    if record.state(now) != "Active":
        return None
    return Caller(record.id, record.name, record.role, record.scope, record.expires_at)


def list_tokens(connection: Connection, within: str = "/") -> list[TokenRecord]:
    """Every token whose scope lies within ``within``, oldest first."""
    rows = connection.execute(select(tokens).order_by(tokens.c.created_at))
    return [record for record in map(_record, rows) if scope_covers(within, record.scope)]


def get_token(connection: Connection, token_id: str) -> TokenRecord | None:
    row = connection.execute(select(tokens).where(tokens.c.id == token_id)).first()
    return _record(row) if row else None


def revoke_token(connection: Connection, token_id: str, now: datetime) -> TokenRecord:
    """Revoke a token by id (again is harmless); returns it, revoked."""
    connection.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    record = get_token(connection, token_id)
    if record is None:
        raise not_found("ResourceNotFound", f"The token '{token_id}' was not found.")
    return record


def has_active_owner_at_root(connection: Connection, now: datetime) -> bool:
    return any(
        record.role is Role.OWNER and record.scope == "/" and record.state(now) == "Active"
        for record in list_tokens(connection)
    )


def _record(row: object) -> TokenRecord:
    mapping = row._mapping  # type: ignore[attr-defined]
    return TokenRecord(
        id=mapping["id"],
        name=mapping["name"],
        role=Role(mapping["role"]),
        scope=mapping["scope"],
        created_at=mapping["created_at"],
        created_by=mapping["created_by"],
        expires_at=mapping["expires_at"],
        revoked_at=mapping["revoked_at"],
    )
