"""``upkeep maintenance applyupdate`` and ``upkeep maintenance run``: what maintenance did.

``applyupdate`` is az's: a machine's part of each run (``create`` applies the machine's
maintenance now). ``run`` is Upkeep's: the runs of one configuration, one window each,
cancelling a window, and per machine what its install did. JSON is flattened as az prints
it; tables name each machine rather than its whole id.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from upkeep.cli.client import MAINTENANCE_API
from upkeep.cli.context import Context, add_yes
from upkeep.cli.output import flatten
from upkeep.cli.targets import (
    configuration_flags,
    configuration_path,
    machine_flags,
    machine_path,
    resource_name,
)

#: Cancelling a run came with this version of Microsoft.Maintenance.
CANCEL_API = "2023-09-01-preview"
APPLY_UPDATES = "/providers/Microsoft.Maintenance/applyUpdates"

APPLY_UPDATE_COLUMNS = [
    "name",
    "machine",
    "resourceGroup",
    "configuration",
    "status",
    "lastUpdateTime",
]
RUN_COLUMNS = ["name", "startDateTime", "endDateTime", "status", "machineCount", "error"]
RUN_MACHINE_COLUMNS = [
    "machine",
    "status",
    "installed",
    "failed",
    "pending",
    "rebootStatus",
    "duration",
    "error",
]


def register(groups: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_apply_updates(groups, common)
    _register_runs(groups, common)


# --- applyupdate: a machine's part of each run ----------------------------------------


def _register_apply_updates(
    groups: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    apply_update = groups.add_parser(
        "applyupdate", help="maintenance runs on machines; apply a machine's maintenance now"
    )
    actions = apply_update.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create", parents=[common], help="apply the machine's maintenance configuration now"
    )
    machine_flags(create)
    create.set_defaults(handler=do_create)

    show = actions.add_parser("show", parents=[common], help="a machine's part of one run")
    machine_flags(show)
    show.add_argument(
        "--apply-update-name",
        "--name",
        "-n",
        dest="apply_update_name",
        required=True,
        help="the run's name, e.g. 20261126090000",
    )
    show.set_defaults(handler=do_show)

    listing = actions.add_parser(
        "list", parents=[common], help="every machine's part of every run, the newest first"
    )
    listing.add_argument("--resource-group", "-g", help="only machines of this group")
    listing.set_defaults(handler=do_list)


def _apply_update_row(record: dict[str, Any]) -> dict[str, Any]:
    flat = flatten(record)
    machine = flat.get("resourceId") or ""
    return {
        **flat,
        "machine": resource_name(machine),
        "resourceGroup": machine.split("/")[4] if machine.count("/") >= 4 else None,
        "configuration": resource_name(flat.get("maintenanceConfigurationId") or ""),
    }


def _emit_apply_updates(context: Context, records: list[dict[str, Any]]) -> None:
    table = context.args.output == "table"
    rows = [_apply_update_row(record) if table else flatten(record) for record in records]
    context.emit(rows, APPLY_UPDATE_COLUMNS)


def _emit_apply_update(context: Context, record: dict[str, Any]) -> None:
    table = context.args.output == "table"
    context.emit(_apply_update_row(record) if table else flatten(record), APPLY_UPDATE_COLUMNS)


def do_create(context: Context) -> None:
    path = f"{machine_path(context)}{APPLY_UPDATES}/default"
    _emit_apply_update(context, context.client.call("PUT", path, MAINTENANCE_API))


def do_show(context: Context) -> None:
    path = f"{machine_path(context)}{APPLY_UPDATES}/{context.args.apply_update_name}"
    _emit_apply_update(context, context.client.get(path, MAINTENANCE_API))


def do_list(context: Context) -> None:
    scope = f"/subscriptions/{context.subscription}"
    if context.args.resource_group:
        scope += f"/resourceGroups/{context.args.resource_group}"
    found = context.client.get(scope + APPLY_UPDATES, MAINTENANCE_API)["value"]
    _emit_apply_updates(context, found)


# --- run: the runs of one configuration -------------------------------------------------


def _register_runs(groups: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    run = groups.add_parser("run", help="the runs of a configuration, one per window")
    actions = run.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser(
        "list", parents=[common], help="the configuration's runs, the newest first"
    )
    configuration_flags(listing)
    listing.set_defaults(handler=do_list_runs)

    show = actions.add_parser(
        "show", parents=[common], help="a run and, per machine, what its install did"
    )
    configuration_flags(show)
    _run_name(show)
    show.set_defaults(handler=do_show_run)

    cancel = actions.add_parser(
        "cancel",
        parents=[common],
        help="cancel a window: before it opens it does not run; once open, machines that"
        " have not started are not patched",
    )
    configuration_flags(cancel)
    _run_name(cancel)
    add_yes(cancel)
    cancel.set_defaults(handler=do_cancel_run)


def _run_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run-name",
        "--apply-update-name",
        dest="run_name",
        required=True,
        help="the window's UTC start, yyyyMMddHHmmss (see show-schedule), or a run's GUID",
    )


def _run_path(context: Context) -> str:
    return f"{configuration_path(context)}{APPLY_UPDATES}/{context.args.run_name}"


def _run_row(record: dict[str, Any], table: bool) -> dict[str, Any]:
    flat = flatten(record)
    error = flat.get("error")
    if table and isinstance(error, dict):
        flat["error"] = f"({error.get('code')}) {error.get('message')}"
    return flat


def do_list_runs(context: Context) -> None:
    table = context.args.output == "table"
    found = context.client.get(configuration_path(context) + APPLY_UPDATES, MAINTENANCE_API)
    context.emit([_run_row(record, table) for record in found["value"]], RUN_COLUMNS)


def do_show_run(context: Context) -> None:
    path = _run_path(context)
    run = context.client.get(path, MAINTENANCE_API)
    machines = [
        _machine_row(record)
        for record in context.client.get(path + "/machines", MAINTENANCE_API)["value"]
    ]
    if context.args.output != "table":
        context.emit({**_run_row(run, table=False), "machines": machines})
        return
    context.emit(_run_row(run, table=True), RUN_COLUMNS)
    if machines:
        print()
        context.emit([_machine_table_row(machine) for machine in machines], RUN_MACHINE_COLUMNS)


def do_cancel_run(context: Context) -> None:
    args = context.args
    context.confirm(f"Are you sure you want to cancel the run '{args.run_name}' of '{args.name}'?")
    body = {"properties": {"status": "Cancel"}}
    record = context.client.call("PUT", _run_path(context), CANCEL_API, body)
    context.emit(_run_row(record, context.args.output == "table"), RUN_COLUMNS)


def _machine_row(record: dict[str, Any]) -> dict[str, Any]:
    """One machine's part of a run with what its install did (counts, reboot, times);
    the install fields are null until the machine starts."""
    properties = record["properties"]
    installation = properties.get("installation") or {}
    start, end = installation.get("startDateTime"), installation.get("endDateTime")
    return {
        "machine": resource_name(properties["resourceId"]),
        "resourceId": properties["resourceId"],
        "status": properties["status"],
        "installedPatchCount": installation.get("installedPatchCount"),
        "failedPatchCount": installation.get("failedPatchCount"),
        "pendingPatchCount": installation.get("pendingPatchCount"),
        "rebootStatus": installation.get("rebootStatus"),
        "duration": _duration(start, end),
        "startDateTime": start,
        "endDateTime": end,
        "installationActivityId": installation.get("installationActivityId"),
        "lastUpdateTime": properties.get("lastUpdateTime"),
        "error": properties.get("error"),
    }


def _machine_table_row(machine: dict[str, Any]) -> dict[str, Any]:
    error = machine["error"]
    return {
        **machine,
        "installed": machine["installedPatchCount"],
        "failed": machine["failedPatchCount"],
        "pending": machine["pendingPatchCount"],
        "error": error.get("code") if isinstance(error, dict) else None,
    }


def _duration(start: str | None, end: str | None) -> str | None:
    """``HH:MM:SS`` from the install's start to its end; None while it runs."""
    if not start or not end:
        return None
    seconds = int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours:02}:{rest // 60:02}:{rest % 60:02}"
