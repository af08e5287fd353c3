"""``upkeep admin``: tokens and subscriptions, straight on a data directory's store."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection

from upkeep.arm.errors import ArmError
from upkeep.arm.timestamps import format_timestamp
from upkeep.auth import service as auth
from upkeep.auth.models import Role, normalize_scope
from upkeep.cli.context import Context
from upkeep.cli.errors import CliError
from upkeep.cli.output import emit
from upkeep.clock import system_clock
from upkeep.durations import parse_span
from upkeep.machines import service as machines
from upkeep.resources import service as resources
from upkeep.server import default_data_dir, open_store


def register(commands: argparse._SubParsersAction) -> None:
    admin = commands.add_parser("admin", help="administer a data directory directly")
    groups = admin.add_subparsers(dest="group", required=True, metavar="GROUP")

    token = groups.add_parser("token", help="bearer tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = _with_store(token.add_parser("create", help="create a token and print it once"))
    create.add_argument("--role", required=True, help="Reader, Contributor or Owner")
    create.add_argument(
        "--scope", required=True, help="/, /subscriptions/S or .../resourceGroups/G"
    )
    create.add_argument("--expires", help="lifetime such as 30d, 24h, 90m (default: never)")
    create.add_argument("--name", help="a name to recognise it by")
    create.set_defaults(handler=create_token)
    listing = _with_store(token.add_parser("list", help="list tokens (never their secrets)"))
    listing.add_argument("--output", "-o", choices=("json", "table"), default="table")
    listing.set_defaults(handler=list_tokens)
    revoke = _with_store(token.add_parser("revoke", help="revoke a token by id or name"))
    revoke.add_argument("token", help="token id or name")
    revoke.set_defaults(handler=revoke_token)

    enrollment = groups.add_parser(
        "enrollment-token", help="tokens machines enroll with"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    made = _with_store(enrollment.add_parser("create", help="create one and print it once"))
    made.add_argument(
        "--scope", required=True, help="/subscriptions/S or /subscriptions/S/resourceGroups/G"
    )
    made.add_argument("--expires", help="lifetime such as 24h (default: never)")
    made.add_argument("--uses", type=int, help="how many machines may enroll with it")
    made.add_argument("--name", help="a name to recognise it by")
    made.set_defaults(handler=create_enrollment_token)
    shown = _with_store(enrollment.add_parser("list", help="list enrollment tokens"))
    shown.add_argument("--output", "-o", choices=("json", "table"), default="table")
    shown.set_defaults(handler=list_enrollment_tokens)
    gone = _with_store(enrollment.add_parser("revoke", help="revoke one by id or name"))
    gone.add_argument("token", help="token id or name")
    gone.set_defaults(handler=revoke_enrollment_token)

    subscription = groups.add_parser("subscription", help="subscriptions").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    new = _with_store(subscription.add_parser("create", help="create a subscription"))
    new.add_argument("--name", required=True, help="display name")
    new.add_argument("--id", help="subscription id (a GUID; default: a new one)")
    new.set_defaults(handler=create_subscription)
    listed = _with_store(subscription.add_parser("list", help="list subscriptions"))
    listed.add_argument("--output", "-o", choices=("json", "table"), default="table")
    listed.set_defaults(handler=list_subscriptions)


def _with_store(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="state directory")
    parser.add_argument("--database", help="store URL when the server uses one (default: SQLite)")
    return parser


@contextmanager
def _store_connection(args: argparse.Namespace, *, write: bool) -> Iterator[Connection]:
    """A connection to the data directory's store; store errors become CLI errors."""
    store = open_store(args.data_dir, args.database)
    try:
        with store.writing() if write else store.reading() as connection:
            yield connection
    except ArmError as error:
        raise CliError(error.message, 3 if error.status == 404 else 1) from None
    finally:
        store.dispose()


def create_token(context: Context) -> None:
    args = context.args
    try:
        role = Role.parse(args.role)
        scope = normalize_scope(args.scope)
        lifetime = parse_span(args.expires) if args.expires else None
    except ValueError as error:
        raise CliError(str(error), 2) from None
    with _store_connection(args, write=True) as connection:
        _, secret = auth.issue_token(
            connection,
            role=role,
            scope=scope,
            now=system_clock(),
            name=args.name,
            lifetime=lifetime,
        )
    print(secret)


def list_tokens(context: Context) -> None:
    args = context.args
    with _store_connection(args, write=False) as connection:
        records = auth.list_tokens(connection)
    now = system_clock()
    emit(
        [
            {
                "id": record.id,
                "name": record.name,
                "role": record.role.value,
                "scope": record.scope,
                "state": record.state(now),
                "created": format_timestamp(record.created_at),
                "expires": format_timestamp(record.expires_at) if record.expires_at else "never",
            }
            for record in records
        ],
        args.output,
        ["name", "role", "scope", "state", "expires", "id"],
    )


def revoke_token(context: Context) -> None:
    args = context.args
    with _store_connection(args, write=True) as connection:
        matches = [
            record
            for record in auth.list_tokens(connection)
            if args.token in (record.id, record.name) and record.revoked_at is None
        ]
        if not matches:
            raise CliError(f"No active token has the id or name '{args.token}'.", 3)
        if len(matches) > 1:
            raise CliError(f"Several tokens are named '{args.token}'; revoke one by its id.")
        auth.revoke_token(connection, matches[0].id, system_clock())
    print(f"Revoked token {matches[0].id} ({matches[0].name}).")


def create_subscription(context: Context) -> None:
    args = context.args
    with _store_connection(args, write=True) as connection:
        created = resources.create_subscription(
            connection, display_name=args.name, now=system_clock(), subscription_id=args.id
        )
    emit(created, "json")


def list_subscriptions(context: Context) -> None:
    args = context.args
    with _store_connection(args, write=False) as connection:
        found = resources.list_subscriptions(connection)
    emit(found, args.output, ["displayName", "subscriptionId", "state"])


def create_enrollment_token(context: Context) -> None:
    args = context.args
    try:
        lifetime = parse_span(args.expires) if args.expires else None
        if args.uses is not None and args.uses < 1:
            raise ValueError("--uses must be at least 1")
        with _store_connection(args, write=True) as connection:
            _, secret = machines.create_enrollment_token(
                connection,
                scope=args.scope,
                now=system_clock(),
                name=args.name,
                lifetime=lifetime,
                uses=args.uses,
            )
    except ValueError as error:
        raise CliError(str(error), 2) from None
    print(secret)


def list_enrollment_tokens(context: Context) -> None:
    args = context.args
    with _store_connection(args, write=False) as connection:
        tokens = machines.list_enrollment_tokens(connection)
    now = system_clock()
    emit(
        [
            {
                "id": token.id,
                "name": token.name,
                "scope": token.scope,
                "state": token.state(now),
                "usesLeft": "unlimited" if token.uses_left is None else token.uses_left,
                "expires": format_timestamp(token.expires_at) if token.expires_at else "never",
            }
            for token in tokens
        ],
        args.output,
        ["name", "scope", "state", "usesLeft", "expires", "id"],
    )


def revoke_enrollment_token(context: Context) -> None:
    args = context.args
    with _store_connection(args, write=True) as connection:
        matches = [
            token
            for token in machines.list_enrollment_tokens(connection)
            if args.token in (token.id, token.name) and token.revoked_at is None
        ]
        if len(matches) != 1:
            raise CliError(
                f"No single active enrollment token has the id or name '{args.token}'.", 3
            )
        machines.revoke_enrollment_token(connection, matches[0].id, system_clock())
    print(f"Revoked enrollment token {matches[0].id} ({matches[0].name}).")
