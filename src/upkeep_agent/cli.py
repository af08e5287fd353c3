"""``upkeep-agent``: connect a machine, run the agent, see what it knows.

upkeep-agent connect --server URL --enrollment-token T --subscription-id S
                     --resource-group RG --name NAME [--ca-cert PATH] […]
upkeep-agent run     [--state-dir DIR] [--once]
upkeep-agent status  [--state-dir DIR]
upkeep-agent assess  [--no-refresh]  (assess this machine now and print the result; no server)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from typing import Dict, List, Optional

from upkeep_agent import __version__, facts, managers
from upkeep_agent.client import Client, ServerError, ServerUnreachableError
from upkeep_agent.managers import PackageManagerError
from upkeep_agent.runner import Runner
from upkeep_agent.state import DEFAULT_STATE_DIR, State

MACHINE_TYPES = ("Microsoft.Compute/virtualMachines", "Microsoft.HybridCompute/machines")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="upkeep-agent", description="The Upkeep agent.")
    top.add_argument("--version", action="version", version="upkeep-agent " + __version__)
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    connect = commands.add_parser("connect", help="enroll this machine with a control plane")
    connect.add_argument("--server", required=True, help="e.g. https://upkeep.example:8443")
    connect.add_argument("--ca-cert", help="the server's certificate (or its CA) to trust")
    connect.add_argument("--enrollment-token", required=True)
    connect.add_argument("--subscription-id", required=True)
    connect.add_argument("--resource-group", required=True)
    connect.add_argument("--name", required=True, help="the machine's resource name")
    connect.add_argument("--resource-type", choices=MACHINE_TYPES, default=MACHINE_TYPES[1])
    connect.add_argument("--location", default="local")
    connect.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    connect.add_argument(
        "--assessment-mode", choices=("ImageDefault", "AutomaticByPlatform"), default="ImageDefault"
    )
    connect.add_argument("--reboot-command", help="how to reboot (default: shutdown -r now)")
    connect.add_argument(
        "--package-manager",
        choices=managers.NAMES,
        help="the one to patch with, if the machine has several (default: the distribution's)",
    )
    connect.add_argument("--state-dir", default=DEFAULT_STATE_DIR)

    run = commands.add_parser("run", help="run the agent (what the systemd unit starts)")
    run.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    run.add_argument("--once", action="store_true", help="take at most one job, then exit")

    status = commands.add_parser("status", help="what the agent knows")
    status.add_argument("--state-dir", default=DEFAULT_STATE_DIR)

    assess = commands.add_parser("assess", help="assess this machine now and print the result")
    assess.add_argument(
        "--no-refresh",
        action="store_true",
        help="use the package lists as they are (no apt-get update / makecache / refresh)",
    )
    return top


def tags(pairs: List[str]) -> Dict[str, str]:
    found = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not key or not equals:
            raise SystemExit("--tag: '{}' is not KEY=VALUE".format(pair))
        found[key] = value
    return found


def connect(options: argparse.Namespace) -> int:
    state = State(options.state_dir)
    if state.enrolled():
        print("This machine is already connected ({}).".format(state.config_path), file=sys.stderr)
        return 1
    try:
        package_manager = managers.choose(options.package_manager, facts.os_release())
    except PackageManagerError as error:
        print(error.message, file=sys.stderr)
        return 1
    os.makedirs(options.state_dir, mode=0o700, exist_ok=True)
    ca_path = None
    if options.ca_cert:
        shutil.copyfile(options.ca_cert, state.ca_path)
        os.chmod(state.ca_path, 0o600)
        ca_path = state.ca_path
    client = Client(options.server, None, ca_path)
    body = {
        "subscriptionId": options.subscription_id,
        "resourceGroup": options.resource_group,
        "name": options.name,
        "resourceType": options.resource_type,
        "location": options.location,
        "tags": tags(options.tag),
        "facts": facts.collect(package_manager),
        "patchSettings": {"assessmentMode": options.assessment_mode},
    }
    try:
        answer = client.call("POST", "/agent/v1/enroll", body, token=options.enrollment_token) or {}
    except (ServerError, ServerUnreachableError) as error:
        print("Could not connect: {}".format(error), file=sys.stderr)
        return 1
    state.save(
        {
            "server": options.server.rstrip("/"),
            "caPath": ca_path,
            "credential": answer["credential"],
            "machineId": answer["machine"]["id"],
            "vmId": answer["machine"]["properties"]["vmId"],
            "rebootCommand": options.reboot_command,
            "packageManager": options.package_manager,
        }
    )
    print(
        "Connected {} ({}).".format(
            answer["machine"]["id"], answer["machine"]["properties"]["vmId"]
        )
    )
    return 0


def run(options: argparse.Namespace) -> int:
    from upkeep_agent.daemon import Agent

    state = State(options.state_dir)
    if not state.enrolled():
        print("Not connected: run 'upkeep-agent connect' first.", file=sys.stderr)
        return 1
    Agent(state).run(once=options.once)
    return 0


def status(options: argparse.Namespace) -> int:
    state = State(options.state_dir)
    if not state.enrolled():
        print("Not connected.")
        return 1
    config = state.load()
    print("Machine:     {}".format(config["machineId"]))
    print("vmId:        {}".format(config["vmId"]))
    print("Server:      {}".format(config["server"]))
    print("Open jobs:   {}".format(", ".join(state.journaled_jobs()) or "none"))
    client = Client(config["server"], config["credential"], config.get("caPath"))
    try:
        client.call(
            "POST",
            "/agent/v1/heartbeat",
            {"facts": facts.collect(managers.detected_name(config.get("packageManager")))},
            timeout=10,
        )
        print("Connection:  ok")
    except (ServerError, ServerUnreachableError) as error:
        print("Connection:  failing ({})".format(error))
        return 1
    return 0


def assess(options: argparse.Namespace) -> int:
    try:
        state = State(DEFAULT_STATE_DIR)
        preferred = state.load().get("packageManager") if state.enrolled() else None
        manager = managers.detect(preferred)
    except PackageManagerError as error:
        print(error.message, file=sys.stderr)
        return 1
    result = Runner(manager, state, reboot=lambda: None).assess(refresh=not options.no_refresh)
    print(json.dumps(result, indent=2))
    return 0 if result["status"] == "Succeeded" else 1


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options = parser().parse_args(argv)
    handlers = {"connect": connect, "run": run, "status": status, "assess": assess}
    return handlers[options.command](options)


if __name__ == "__main__":
    sys.exit(main())
