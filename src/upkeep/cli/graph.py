"""``upkeep graph query``: a KQL query over Resource Graph's tables, like ``az graph query``.

Prints az's shape — ``{"count", "data", "skip_token", "total_records"}`` — or, with
``--output table``, the rows as a table with the query's own columns.
"""

from __future__ import annotations

import argparse
from typing import Any

from upkeep.cli.context import Context

GRAPH_API = "2021-03-01"
QUERY_PATH = "/providers/Microsoft.ResourceGraph/resources"


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    graph = commands.add_parser("graph", help="query machines, maintenance and patch records")
    actions = graph.add_subparsers(dest="action", required=True, metavar="ACTION")
    query = actions.add_parser("query", parents=[common], help="run a Resource Graph query")
    query.add_argument("--graph-query", "-q", dest="query", required=True, help="the KQL query")
    query.add_argument(
        "--first", type=_page_size, default=100, help="rows to return, 1 to 1000 (default 100)"
    )
    query.add_argument("--skip", type=_non_negative, help="rows to skip")
    query.add_argument("--skip-token", help="the skip_token of the previous page")
    query.add_argument(
        "--subscriptions",
        nargs="+",
        metavar="ID",
        help="subscriptions to query (default: every one this login can read)",
    )
    query.add_argument(
        "--allow-partial-scopes",
        "-a",
        action="store_true",
        help="query the readable subscriptions and leave out the others",
    )
    query.set_defaults(handler=do_query)


def do_query(context: Context) -> None:
    args = context.args
    options: dict[str, Any] = {"$top": args.first, "resultFormat": "objectArray"}
    if args.skip is not None:
        options["$skip"] = args.skip
    if args.skip_token:
        options["$skipToken"] = args.skip_token
    if args.allow_partial_scopes:
        options["allowPartialScopes"] = True
    body: dict[str, Any] = {"query": args.query, "options": options}
    if args.subscriptions:
        body["subscriptions"] = args.subscriptions
    answer = context.client.call("POST", QUERY_PATH, GRAPH_API, body)
    if args.output == "table":
        rows = answer["data"]
        context.emit(rows, list(rows[0]) if rows else None)
        return
    context.emit(
        {
            "count": answer["count"],
            "data": answer["data"],
            "skip_token": answer.get("$skipToken"),
            "total_records": answer["totalRecords"],
        }
    )


def _page_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value
