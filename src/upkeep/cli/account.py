"""``upkeep login`` and ``upkeep account``: which server, which token, which subscription."""

from __future__ import annotations

import argparse
from dataclasses import replace

from upkeep.cli.client import SUBSCRIPTIONS_API, ApiClient
from upkeep.cli.context import Context
from upkeep.cli.errors import CliError
from upkeep.cli.profile import Profile, profile_path

COLUMNS = ["name", "subscriptionId", "state", "isDefault"]


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    login = commands.add_parser("login", parents=[common], help="log in to a control plane")
    login.add_argument("--server", required=True, help="e.g. https://127.0.0.1:8443")
    login.add_argument("--token", required=True, help="a bearer token (upkeep admin token create)")
    login.add_argument("--ca-cert", help="CA certificate to trust, e.g. DATA_DIR/tls/cert.pem")
    login.set_defaults(handler=do_login)

    logout = commands.add_parser("logout", help="forget the stored login")
    logout.set_defaults(handler=do_logout)

    account = commands.add_parser("account", help="subscriptions of the logged-in token")
    actions = account.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="list subscriptions").set_defaults(
        handler=do_list
    )
    actions.add_parser("show", parents=[common], help="show the current subscription").set_defaults(
        handler=do_show
    )
    chosen = actions.add_parser("set", help="choose the default subscription")
    chosen.add_argument("--subscription", "-s", required=True, help="subscription id or name")
    chosen.set_defaults(handler=do_set)


def _listing(client: ApiClient, current: str | None) -> list[dict]:
    found = client.get("/subscriptions", SUBSCRIPTIONS_API)["value"]
    return [
        {
            "id": item["subscriptionId"],
            "name": item["displayName"],
            "subscriptionId": item["subscriptionId"],
            "tenantId": item["tenantId"],
            "state": item["state"],
            "isDefault": item["subscriptionId"] == current,
        }
        for item in found
    ]


def do_login(context: Context) -> None:
    args = context.args
    profile = Profile(server=args.server.rstrip("/"), token=args.token, ca_cert=args.ca_cert)
    client = ApiClient(profile, server=profile.server, token=profile.token, ca_cert=args.ca_cert)
    try:
        found = _listing(client, None)
    finally:
        client.close()
    if not found:
        raise CliError("Logged in, but the token can see no subscription.")
    profile = replace(profile, subscription=found[0]["subscriptionId"])
    profile.save()
    found[0]["isDefault"] = True
    context.emit(found, COLUMNS if args.output == "table" else None)


def do_logout(context: Context) -> None:
    path = profile_path()
    if path.exists():
        path.unlink()


def do_list(context: Context) -> None:
    context.emit(_listing(context.client, context.profile.subscription), COLUMNS)


def do_show(context: Context) -> None:
    wanted = context.subscription
    for item in _listing(context.client, wanted):
        if item["subscriptionId"] == wanted:
            context.emit(item, COLUMNS)
            return
    raise CliError(f"Subscription '{wanted}' is not visible to this token.", 3)


def do_set(context: Context) -> None:
    args = context.args
    for item in _listing(context.client, None):
        if args.subscription in (item["subscriptionId"], item["name"]):
            replace(context.profile, subscription=item["subscriptionId"]).save()
            return
    raise CliError(f"Subscription '{args.subscription}' is not visible to this token.", 3)
