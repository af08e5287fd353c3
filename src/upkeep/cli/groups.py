"""``upkeep group``: resource groups, like ``az group``."""

from __future__ import annotations

import argparse

from upkeep.cli.client import RESOURCES_API
from upkeep.cli.context import Context, add_yes
from upkeep.cli.shorthand import parse_mapping

COLUMNS = ["name", "location", "provisioningState"]


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("group", help="resource groups")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="create or update a group")
    _name(create)
    create.add_argument("--location", "-l", required=True)
    create.add_argument("--tags", nargs="*", help="space-separated tags: key[=value]")
    create.add_argument("--managed-by", help="id of the resource that manages the group")
    create.set_defaults(handler=do_create)

    show = actions.add_parser("show", parents=[common], help="show a group")
    _name(show)
    show.set_defaults(handler=do_show)

    listing = actions.add_parser("list", parents=[common], help="list groups")
    listing.set_defaults(handler=do_list)

    exists = actions.add_parser("exists", parents=[common], help="whether a group exists")
    _name(exists)
    exists.set_defaults(handler=do_exists)

    delete = actions.add_parser(
        "delete", parents=[common], help="delete a group and everything in it"
    )
    _name(delete)
    add_yes(delete)
    delete.set_defaults(handler=do_delete)


def _name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", "-n", "--resource-group", "-g", dest="name", required=True)


def _path(context: Context) -> str:
    return f"/subscriptions/{context.subscription}/resourcegroups/{context.args.name}"


def _row(group: dict) -> dict:
    return {**group, "provisioningState": group.get("properties", {}).get("provisioningState")}


def do_create(context: Context) -> None:
    args = context.args
    body: dict = {"location": args.location}
    if args.tags is not None:
        body["tags"] = parse_mapping(args.tags, "--tags") if args.tags else {}
    if args.managed_by:
        body["managedBy"] = args.managed_by
    result = context.client.call("PUT", _path(context), RESOURCES_API, body)
    context.emit(_row(result) if args.output == "table" else result, COLUMNS)


def do_show(context: Context) -> None:
    args = context.args
    result = context.client.get(_path(context), RESOURCES_API)
    context.emit(_row(result) if args.output == "table" else result, COLUMNS)


def do_list(context: Context) -> None:
    args = context.args
    found = context.client.get(
        f"/subscriptions/{context.subscription}/resourcegroups", RESOURCES_API
    )
    rows = found["value"]
    context.emit([_row(row) for row in rows] if args.output == "table" else rows, COLUMNS)


def do_exists(context: Context) -> None:
    print("true" if context.client.exists(_path(context), RESOURCES_API) else "false")


def do_delete(context: Context) -> None:
    args = context.args
    context.confirm(
        f"Are you sure you want to delete resource group '{args.name}' and everything in it?"
    )
    context.client.call("DELETE", _path(context), RESOURCES_API)
