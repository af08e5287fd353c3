"""What a maintenance command acts on, as flags and as an ARM path: a maintenance
configuration (``-g`` and ``-n``) or a machine (az's ``--resource-group --resource-name
--resource-type --provider-name``)."""

from __future__ import annotations

import argparse

from upkeep.cli.context import Context


def configuration_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resource-group", "-g", required=True)
    parser.add_argument("--resource-name", "--name", "-n", dest="name", required=True)


def configuration_path(context: Context) -> str:
    args = context.args
    return (
        f"/subscriptions/{context.subscription}/resourcegroups/{args.resource_group}"
        f"/providers/Microsoft.Maintenance/maintenanceConfigurations/{args.name}"
    )


def machine_flags(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--resource-group", "-g", required=required)
    parser.add_argument("--resource-name", required=required, help="the machine's name")
    parser.add_argument("--resource-type", required=required, help="virtualMachines or machines")
    parser.add_argument(
        "--provider-name", required=required, help="Microsoft.Compute or Microsoft.HybridCompute"
    )


def machine_path(context: Context) -> str:
    args = context.args
    return (
        f"/subscriptions/{context.subscription}/resourcegroups/{args.resource_group}"
        f"/providers/{args.provider_name}/{args.resource_type}/{args.resource_name}"
    )


def resource_name(resource_id: str) -> str:
    """The last segment of a resource id: a machine's or a configuration's own name."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1]
