"""``upkeep maintenance``: configurations and assignments, with ``az maintenance``'s flags
(runs and applyUpdates are in :mod:`upkeep.cli.runs`).

Output is flattened the way az prints these resources (``properties`` and the maintenance
window lifted to the top), so scripts written against az read it unchanged.
"""

from __future__ import annotations

import argparse
from typing import Any

from upkeep.cli import runs
from upkeep.cli.client import MAINTENANCE_API, RESOURCES_API
from upkeep.cli.context import Context, add_yes
from upkeep.cli.errors import CliError
from upkeep.cli.output import flatten
from upkeep.cli.shorthand import parse_list, parse_mapping, parse_object
from upkeep.cli.targets import (
    configuration_flags,
    configuration_path,
    machine_flags,
    machine_path,
    resource_name,
)

LINUX_KEYS = {
    "classifications-to-include": ("classificationsToInclude", list),
    "package-name-masks-to-exclude": ("packageNameMasksToExclude", list),
    "package-name-masks-to-include": ("packageNameMasksToInclude", list),
}
WINDOWS_KEYS = {
    "classifications-to-include": ("classificationsToInclude", list),
    "kb-numbers-to-exclude": ("kbNumbersToExclude", list),
    "kb-numbers-to-include": ("kbNumbersToInclude", list),
    "exclude-kbs-requiring-reboot": ("excludeKbsRequiringReboot", bool),
}

#: Flag -> where its value goes in a configuration body.
WINDOW_FLAGS = {
    "duration": "duration",
    "expiration_date_time": "expirationDateTime",
    "recur_every": "recurEvery",
    "start_date_time": "startDateTime",
    "time_zone": "timeZone",
}

CONFIGURATION_COLUMNS = [
    "name",
    "location",
    "maintenanceScope",
    "startDateTime",
    "duration",
    "recurEvery",
    "timeZone",
    "expirationDateTime",
]
ASSIGNMENT_COLUMNS = ["name", "location", "maintenanceConfigurationId", "resourceId"]
SCHEDULE_COLUMNS = [
    "localStart",
    "localEnd",
    "startDateTime",
    "endDateTime",
    "machineCount",
    "machines",
]
#: How many machine names a schedule table shows before it says how many more.
SCHEDULE_NAMES = 3


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    maintenance = commands.add_parser(
        "maintenance", help="maintenance configurations, assignments and runs"
    )
    groups = maintenance.add_subparsers(dest="group", required=True, metavar="GROUP")
    _register_configurations(groups, common)
    _register_assignments(groups, common)
    runs.register(groups, common)


# --- configurations ------------------------------------------------------------------


def _register_configurations(
    groups: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    configuration = groups.add_parser(
        "configuration", help="maintenance configurations (schedules)"
    )
    actions = configuration.add_subparsers(dest="action", required=True, metavar="ACTION")

    for action, handler, help_text in (
        ("create", do_create, "create or replace a configuration"),
        ("update", do_update, "change some fields of a configuration"),
    ):
        parser = actions.add_parser(action, parents=[common], help=help_text)
        configuration_flags(parser)
        _configuration_fields(parser)
        parser.set_defaults(handler=handler)

    show = actions.add_parser("show", parents=[common], help="show a configuration")
    configuration_flags(show)
    show.set_defaults(handler=do_show)

    listing = actions.add_parser("list", parents=[common], help="list configurations")
    listing.add_argument("--resource-group", "-g", help="only this group")
    listing.set_defaults(handler=do_list)

    delete = actions.add_parser("delete", parents=[common], help="delete a configuration")
    configuration_flags(delete)
    add_yes(delete)
    delete.set_defaults(handler=do_delete)

    schedule = actions.add_parser(
        "show-schedule", parents=[common], help="the next windows, locally and in UTC"
    )
    configuration_flags(schedule)
    schedule.add_argument("--count", type=int, default=10, help="how many windows (default 10)")
    schedule.set_defaults(handler=do_show_schedule)


def _configuration_fields(parser: argparse.ArgumentParser) -> None:
    fields = parser.add_argument_group("Configuration Arguments")
    fields.add_argument("--location", "-l", help="default: the resource group's location")
    fields.add_argument("--tags", nargs="+", help="space-separated key=value")
    fields.add_argument("--extension-properties", nargs="+", help="e.g. InGuestPatchMode=User")
    fields.add_argument("--maintenance-scope", help="InGuestPatch")
    fields.add_argument("--namespace")
    fields.add_argument("--visibility", help="Custom")
    window = parser.add_argument_group("MaintenanceWindow Arguments")
    window.add_argument(
        "--maintenance-window-duration", "--duration", dest="duration", help="HH:mm"
    )
    window.add_argument(
        "--maintenance-window-expiration-date-time",
        "--expiration-date-time",
        dest="expiration_date_time",
        help="YYYY-MM-DD hh:mm",
    )
    window.add_argument(
        "--maintenance-window-recur-every",
        "--recur-every",
        dest="recur_every",
        help="e.g. Day, 3Days, Week Saturday,Sunday, Month Second Tuesday Offset4",
    )
    window.add_argument(
        "--maintenance-window-start-date-time",
        "--start-date-time",
        dest="start_date_time",
        help="YYYY-MM-DD hh:mm, in the time zone",
    )
    window.add_argument(
        "--maintenance-window-time-zone",
        "--time-zone",
        dest="time_zone",
        help="Windows or IANA name, e.g. 'Pacific Standard Time'",
    )
    patches = parser.add_argument_group("InstallPatches Arguments")
    patches.add_argument("--reboot-setting", help="IfRequired, Never or Always")
    patches.add_argument(
        "--install-patches-linux-parameters",
        "--linux-parameters",
        dest="linux_parameters",
        nargs="+",
        help="key=value: classifications-to-include, package-name-masks-to-include/-exclude",
    )
    patches.add_argument(
        "--install-patches-windows-parameters",
        "--windows-parameters",
        dest="windows_parameters",
        nargs="+",
        help="key=value: classifications-to-include, kb-numbers-to-include/-exclude,"
        " exclude-kbs-requiring-reboot",
    )


def _configuration_body(args: argparse.Namespace) -> dict[str, Any]:
    """The body the flags describe; only what was given."""
    body: dict[str, Any] = {}
    if args.location:
        body["location"] = args.location
    if args.tags:
        body["tags"] = parse_mapping(args.tags, "--tags")
    properties: dict[str, Any] = {}
    if args.extension_properties:
        properties["extensionProperties"] = parse_mapping(
            args.extension_properties, "--extension-properties"
        )
    for flag, wire in (
        ("maintenance_scope", "maintenanceScope"),
        ("namespace", "namespace"),
        ("visibility", "visibility"),
    ):
        if getattr(args, flag):
            properties[wire] = getattr(args, flag)
    window = {
        wire: getattr(args, flag) for flag, wire in WINDOW_FLAGS.items() if getattr(args, flag)
    }
    if window:
        properties["maintenanceWindow"] = window
    patches: dict[str, Any] = {}
    if args.reboot_setting:
        patches["rebootSetting"] = args.reboot_setting
    if args.linux_parameters:
        patches["linuxParameters"] = parse_object(
            args.linux_parameters, LINUX_KEYS, "--install-patches-linux-parameters"
        )
    if args.windows_parameters:
        patches["windowsParameters"] = parse_object(
            args.windows_parameters, WINDOWS_KEYS, "--install-patches-windows-parameters"
        )
    if patches:
        properties["installPatches"] = patches
    if properties:
        body["properties"] = properties
    return body


def _show_configuration(context: Context, resource: dict[str, Any]) -> None:
    context.emit(flatten(resource, "maintenanceWindow"), CONFIGURATION_COLUMNS)


def do_create(context: Context) -> None:
    args = context.args
    body = _configuration_body(args)
    if "location" not in body:
        group = context.client.get(
            f"/subscriptions/{context.subscription}/resourcegroups/{args.resource_group}",
            RESOURCES_API,
        )
        body["location"] = group["location"]
    result = context.client.call("PUT", configuration_path(context), MAINTENANCE_API, body)
    _show_configuration(context, result)


def do_update(context: Context) -> None:
    args = context.args
    body = _configuration_body(args)
    if not body:
        raise CliError("Nothing to update: give at least one field to change.", 2)
    result = context.client.call("PATCH", configuration_path(context), MAINTENANCE_API, body)
    _show_configuration(context, result)


def do_show(context: Context) -> None:
    _show_configuration(context, context.client.get(configuration_path(context), MAINTENANCE_API))


def do_list(context: Context) -> None:
    args = context.args
    scope = f"/subscriptions/{context.subscription}"
    if args.resource_group:
        scope += f"/resourceGroups/{args.resource_group}"
    found = context.client.get(
        f"{scope}/providers/Microsoft.Maintenance/maintenanceConfigurations", MAINTENANCE_API
    )
    context.emit(
        [flatten(item, "maintenanceWindow") for item in found["value"]], CONFIGURATION_COLUMNS
    )


def do_delete(context: Context) -> None:
    context.confirm("Are you sure you want to perform this operation?")
    context.client.call("DELETE", configuration_path(context), MAINTENANCE_API)


def do_show_schedule(context: Context) -> None:
    args = context.args
    found = context.client.get(
        configuration_path(context) + "/schedule", MAINTENANCE_API, count=str(args.count)
    )["value"]
    if args.output == "table":
        found = [
            {
                **window,
                "localStart": _local(window["localStartDateTime"]),
                "localEnd": _local(window["localEndDateTime"]),
                "machineCount": len(window.get("machines", [])),
                "machines": _names(window.get("machines", [])),
            }
            for window in found
        ]
    context.emit(found, SCHEDULE_COLUMNS)


def _names(machine_ids: list[str]) -> str:
    """``web-1, web-2, web-3 +2 more``: the first few machines of a window, by name."""
    names = [resource_name(machine) for machine in machine_ids]
    shown = ", ".join(names[:SCHEDULE_NAMES])
    more = len(names) - SCHEDULE_NAMES
    return f"{shown} +{more} more" if more > 0 else shown


def _local(iso: str) -> str:
    """``2026-11-26T09:30:00+05:30`` -> ``2026-11-26 09:30 +05:30``."""
    return f"{iso[:10]} {iso[11:16]} {iso[19:]}"


# --- assignments ---------------------------------------------------------------------


def _register_assignments(
    groups: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    assignment = groups.add_parser("assignment", help="which machines a configuration patches")
    actions = assignment.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="assign a machine")
    machine_flags(create)
    _assignment_name(create)
    _assignment_fields(create, dynamic=False)
    create.set_defaults(handler=do_assign, scope="machine")

    for action, handler, help_text in (
        ("show", do_show_assignment, "show an assignment of a machine"),
        ("delete", do_delete_assignment, "remove a machine's assignment"),
    ):
        parser = actions.add_parser(action, parents=[common], help=help_text)
        machine_flags(parser)
        _assignment_name(parser)
        if action == "delete":
            add_yes(parser)
        parser.set_defaults(handler=handler, scope="machine")

    listing = actions.add_parser(
        "list", parents=[common], help="assignments of a machine, or of a configuration"
    )
    machine_flags(listing, required=False)
    listing.add_argument(
        "--maintenance-configuration-id",
        "--config-id",
        dest="config_id",
        help="list every assignment of this configuration instead",
    )
    listing.set_defaults(handler=do_list_assignments)

    actions.add_parser(
        "list-subscription", parents=[common], help="every assignment in the subscription"
    ).set_defaults(handler=do_list_subscription_assignments)

    for suffix, scope in (("subscription", "subscription"), ("resource-group", "group")):
        upsert = actions.add_parser(
            f"create-or-update-{suffix}",
            parents=[common],
            help=f"a dynamic scope at {suffix} level",
        )
        update = actions.add_parser(
            f"update-{suffix}", parents=[common], help=f"change a {suffix}-level dynamic scope"
        )
        show = actions.add_parser(
            f"show-{suffix}", parents=[common], help=f"show a {suffix} assignment"
        )
        delete = actions.add_parser(
            f"delete-{suffix}", parents=[common], help=f"delete a {suffix} assignment"
        )
        for parser in (upsert, update, show, delete):
            if scope == "group":
                parser.add_argument("--resource-group", "-g", required=True)
            _assignment_name(parser)
        _assignment_fields(upsert, dynamic=True)
        _assignment_fields(update, dynamic=True)
        add_yes(delete)
        upsert.set_defaults(handler=do_assign, scope=scope)
        update.set_defaults(handler=do_update_assignment, scope=scope)
        show.set_defaults(handler=do_show_assignment, scope=scope)
        delete.set_defaults(handler=do_delete_assignment, scope=scope)


def _assignment_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--configuration-assignment-name", "--name", "-n", dest="name", required=True
    )


def _assignment_fields(parser: argparse.ArgumentParser, *, dynamic: bool) -> None:
    parser.add_argument(
        "--maintenance-configuration-id", "--config-id", dest="config_id", help="configuration id"
    )
    parser.add_argument("--location", "-l")
    if not dynamic:
        return
    scope = parser.add_argument_group("Filter Arguments")
    scope.add_argument("--filter-locations", nargs="+")
    scope.add_argument("--filter-os-types", nargs="+", help="Windows Linux")
    scope.add_argument("--filter-resource-groups", nargs="+")
    scope.add_argument(
        "--filter-resource-types",
        nargs="+",
        help="Microsoft.Compute/virtualMachines Microsoft.HybridCompute/machines",
    )
    scope.add_argument("--filter-tags", nargs="+", help="{tag1:[v1,v2],tag2:[v3]}")
    scope.add_argument("--filter-tags-operator", choices=("All", "Any"))


def _assignment_path(context: Context) -> str:
    args = context.args
    if args.scope == "machine":
        base = machine_path(context)
    else:
        base = f"/subscriptions/{context.subscription}"
        if args.scope == "group":
            base += f"/resourcegroups/{args.resource_group}"
    return f"{base}/providers/Microsoft.Maintenance/configurationAssignments/{args.name}"


def _assignment_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.location:
        body["location"] = args.location
    properties: dict[str, Any] = {}
    if args.config_id:
        properties["maintenanceConfigurationId"] = args.config_id
    scope_filter: dict[str, Any] = {}
    for flag, wire in (
        ("filter_locations", "locations"),
        ("filter_os_types", "osTypes"),
        ("filter_resource_groups", "resourceGroups"),
        ("filter_resource_types", "resourceTypes"),
    ):
        if getattr(args, flag, None):
            scope_filter[wire] = parse_list(getattr(args, flag))
    tags: dict[str, Any] = {}
    if getattr(args, "filter_tags", None):
        tags["tags"] = {
            key: value if isinstance(value, list) else [value]
            for key, value in parse_mapping(args.filter_tags, "--filter-tags").items()
        }
    if getattr(args, "filter_tags_operator", None):
        tags["filterOperator"] = args.filter_tags_operator
    if tags:
        scope_filter["tagSettings"] = tags
    if scope_filter:
        properties["filter"] = scope_filter
    if properties:
        body["properties"] = properties
    return body


def _show_assignment(context: Context, resource: dict[str, Any]) -> None:
    context.emit(flatten(resource), ASSIGNMENT_COLUMNS)


def do_assign(context: Context) -> None:
    args = context.args
    body = _assignment_body(args)
    if not body.get("properties", {}).get("maintenanceConfigurationId"):
        raise CliError("--maintenance-configuration-id is required to create an assignment.", 2)
    result = context.client.call("PUT", _assignment_path(context), MAINTENANCE_API, body)
    _show_assignment(context, result)


def do_update_assignment(context: Context) -> None:
    args = context.args
    body = _assignment_body(args)
    if not body:
        raise CliError("Nothing to update: give at least one field to change.", 2)
    result = context.client.call("PATCH", _assignment_path(context), MAINTENANCE_API, body)
    _show_assignment(context, result)


def do_show_assignment(context: Context) -> None:
    _show_assignment(context, context.client.get(_assignment_path(context), MAINTENANCE_API))


def do_delete_assignment(context: Context) -> None:
    context.confirm("Are you sure you want to perform this operation?")
    context.client.call("DELETE", _assignment_path(context), MAINTENANCE_API)


def do_list_assignments(context: Context) -> None:
    args = context.args
    if args.config_id:
        path = args.config_id.rstrip("/") + "/configurationAssignments"
    else:
        machine = (args.resource_group, args.resource_name, args.resource_type, args.provider_name)
        if not all(machine):
            raise CliError(
                "Give the machine (--resource-group, --resource-name, --resource-type,"
                " --provider-name) or --maintenance-configuration-id.",
                2,
            )
        path = machine_path(context) + "/providers/Microsoft.Maintenance/configurationAssignments"
    found = context.client.get(path, MAINTENANCE_API)["value"]
    context.emit([flatten(item) for item in found], ASSIGNMENT_COLUMNS)


def do_list_subscription_assignments(context: Context) -> None:
    found = context.client.get(
        f"/subscriptions/{context.subscription}/providers/Microsoft.Maintenance/configurationAssignments",
        MAINTENANCE_API,
    )["value"]
    context.emit([flatten(item) for item in found], ASSIGNMENT_COLUMNS)
