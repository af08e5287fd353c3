"""``upkeep vm`` and ``upkeep connectedmachine``: machines and their patch operations, with
the flags of ``az vm`` / ``az connectedmachine``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from upkeep.cli.client import ApiClient
from upkeep.cli.context import Context, add_yes
from upkeep.cli.errors import ApiError, CliError
from upkeep.cli.shorthand import parse_list

#: (command, provider/type, api-version the CLI sends)
KINDS = {
    "vm": ("Microsoft.Compute/virtualMachines", "2024-11-01"),
    "connectedmachine": ("Microsoft.HybridCompute/machines", "2025-01-13"),
}
COLUMNS = ["name", "resourceGroup", "location", "osName", "osVersion", "status", "agentVersion"]
#: What ``show --output table`` adds from the latest assessment.
ASSESSMENT_COLUMNS = ["lastAssessed", "criticalAndSecurity", "other", "rebootPending"]
#: How often the CLI polls a running operation (seconds).
POLL_SECONDS = 1.0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    for command in KINDS:
        what = "virtual machines" if command == "vm" else "Arc-style machines"
        group = commands.add_parser(command, help=f"{what} and their patches")
        actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

        listing = actions.add_parser("list", parents=[common], help=f"list {what}")
        listing.add_argument("--resource-group", "-g")
        listing.set_defaults(handler=do_list, kind=command)

        for action, handler, help_text in (
            ("show", do_show, "show a machine"),
            ("delete", do_delete, "delete a machine (its agent is locked out)"),
            ("assess-patches", do_assess, "assess the machine's available updates"),
            ("install-patches", do_install, "install updates on the machine"),
        ):
            parser = actions.add_parser(action, parents=[common], help=help_text)
            parser.add_argument("--resource-group", "-g", required=True)
            parser.add_argument("--name", "-n", required=True)
            if action == "delete":
                add_yes(parser)
            if action in ("assess-patches", "install-patches"):
                parser.add_argument(
                    "--no-wait", action="store_true", help="do not wait for the result"
                )
            if action == "install-patches":
                _install_flags(parser)
            parser.set_defaults(handler=handler, kind=command)


def _install_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--maximum-duration", required=True, help="ISO 8601, e.g. PT4H")
    parser.add_argument("--reboot-setting", required=True, help="IfRequired, Never or Always")
    linux = parser.add_argument_group("Linux")
    linux.add_argument(
        "--classifications-to-include-linux", nargs="+", help="Critical Security Other"
    )
    linux.add_argument("--package-name-masks-to-include", nargs="+")
    linux.add_argument("--package-name-masks-to-exclude", nargs="+")
    windows = parser.add_argument_group("Windows")
    windows.add_argument("--classifications-to-include-win", nargs="+")
    windows.add_argument("--kb-numbers-to-include", nargs="+")
    windows.add_argument("--kb-numbers-to-exclude", nargs="+")
    windows.add_argument("--exclude-kbs-requiring-reboot", choices=("true", "false"))
    windows.add_argument("--max-patch-publish-date", help="e.g. 2026-11-01T00:00:00Z")


def _path(context: Context, group: str | None = None, name: str | None = None) -> str:
    machine_type, _ = KINDS[context.args.kind]
    path = f"/subscriptions/{context.subscription}"
    if group:
        path += f"/resourceGroups/{group}"
    path += f"/providers/{machine_type}"
    return f"{path}/{name}" if name else path


def _version(context: Context) -> str:
    return KINDS[context.args.kind][1]


def _row(machine: dict[str, Any]) -> dict[str, Any]:
    properties = machine.get("properties", {})
    return {
        **machine,
        "resourceGroup": machine["id"].split("/")[4],
        "osName": properties.get("osName"),
        "osVersion": properties.get("osVersion"),
        "status": properties.get("status"),
        "agentVersion": properties.get("agentVersion"),
    }


def do_list(context: Context) -> None:
    found = context.client.get(_path(context, context.args.resource_group), _version(context))
    rows = found["value"]
    context.emit([_row(row) for row in rows] if context.args.output == "table" else rows, COLUMNS)


def do_show(context: Context) -> None:
    """The machine, with its latest assessment (``latestAssessment``; Upkeep's addition)."""
    args = context.args
    path = _path(context, args.resource_group, args.name)
    machine = context.client.get(path, _version(context))
    try:
        latest = context.client.get(f"{path}/patchAssessmentResults/latest", _version(context))
    except ApiError as error:
        if error.status != 404:
            raise
        latest = None
    machine["latestAssessment"] = latest["properties"] if latest else None
    if args.output == "table":
        context.emit(_assessed_row(machine), [*COLUMNS, *ASSESSMENT_COLUMNS])
    else:
        context.emit(machine, COLUMNS)


def _assessed_row(machine: dict[str, Any]) -> dict[str, Any]:
    latest = machine["latestAssessment"] or {}
    counts = latest.get("availablePatchCountByClassification") or {}
    return {
        **_row(machine),
        "lastAssessed": latest.get("lastModifiedDateTime"),
        "criticalAndSecurity": (counts.get("critical") or 0) + (counts.get("security") or 0)
        if latest
        else None,
        "other": counts.get("other") if latest else None,
        "rebootPending": latest.get("rebootPending"),
    }


def do_delete(context: Context) -> None:
    args = context.args
    context.confirm(f"Are you sure you want to delete '{args.name}'?")
    context.client.call("DELETE", _path(context, args.resource_group, args.name), _version(context))


def do_assess(context: Context) -> None:
    _operate(context, "assessPatches", None)


def do_install(context: Context) -> None:
    args = context.args
    body: dict[str, Any] = {
        "maximumDuration": args.maximum_duration,
        "rebootSetting": args.reboot_setting,
    }
    linux = {
        wire: parse_list(value)
        for wire, value in (
            ("classificationsToInclude", args.classifications_to_include_linux),
            ("packageNameMasksToInclude", args.package_name_masks_to_include),
            ("packageNameMasksToExclude", args.package_name_masks_to_exclude),
        )
        if value
    }
    windows: dict[str, Any] = {
        wire: parse_list(value)
        for wire, value in (
            ("classificationsToInclude", args.classifications_to_include_win),
            ("kbNumbersToInclude", args.kb_numbers_to_include),
            ("kbNumbersToExclude", args.kb_numbers_to_exclude),
        )
        if value
    }
    if args.exclude_kbs_requiring_reboot is not None:
        windows["excludeKbsRequiringReboot"] = args.exclude_kbs_requiring_reboot == "true"
    if args.max_patch_publish_date:
        windows["maxPatchPublishDate"] = args.max_patch_publish_date
    if linux:
        body["linuxParameters"] = linux
    if windows:
        body["windowsParameters"] = windows
    _operate(context, "installPatches", body)


def _operate(context: Context, action: str, body: dict[str, Any] | None) -> None:
    args = context.args
    path = f"{_path(context, args.resource_group, args.name)}/{action}"
    headers = context.client.start(path, _version(context), body)
    if args.no_wait:
        return
    status_url, result_url = headers["azure-asyncoperation"], headers["location"]
    status = _wait(context.client, status_url)
    if status["status"] != "Succeeded":
        error = status.get("error", {})
        raise CliError(f"({error.get('code')}) {error.get('message')}")
    context.emit(context.client.get_url(result_url))


def _wait(client: ApiClient, status_url: str) -> dict[str, Any]:
    """Poll an operation until it ends, showing its progress on a terminal."""
    shown = ""
    started = time.monotonic()
    while True:
        status = client.get_url(status_url)
        line = f"{status['status']} {status.get('percentComplete', '')}".strip()
        if sys.stderr.isatty():
            elapsed = int(time.monotonic() - started)
            sys.stderr.write(f"\r{line} ({elapsed} s) ")
            sys.stderr.flush()
        elif line != shown:
            print(line, file=sys.stderr)
        shown = line
        if status["status"] in ("Succeeded", "Failed", "Canceled"):
            if sys.stderr.isatty():
                sys.stderr.write("\n")
            return status
        time.sleep(POLL_SECONDS)
