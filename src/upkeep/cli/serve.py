"""``upkeep serve``: run the control plane."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from upkeep.cli.context import Context
from upkeep.durations import parse_span
from upkeep.server import DEFAULT_PORT, ServerSettings, default_data_dir, serve


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the control plane",
        description="Run the control plane (HTTPS on 127.0.0.1:8443, SQLite in the data dir).",
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="state directory")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 picks a free one)")
    parser.add_argument(
        "--database", help="store URL, e.g. postgresql+psycopg://user@host/db (default: SQLite)"
    )
    parser.add_argument("--insecure-http", action="store_true", help="serve plain HTTP")
    parser.add_argument(
        "--tls-cert", type=Path, help="certificate to serve instead of a generated one"
    )
    parser.add_argument("--tls-key", type=Path, help="key of --tls-cert")
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.add_argument(
        "--dispatch-timeout",
        default="10m",
        help="how long a patch operation waits for its machine's agent (e.g. 10m, 1h)",
    )
    parser.add_argument(
        "--assessment-interval",
        default="24h",
        help="how often machines with assessmentMode AutomaticByPlatform are assessed",
    )
    parser.add_argument(
        "--history-retention",
        default="90d",
        help="how long finished operations and maintenance runs are kept (Azure: 30d)",
    )
    parser.set_defaults(handler=run)


def run(context: Context) -> None:
    args = context.args
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SystemExit("upkeep serve: --tls-cert and --tls-key go together")
    dispatch_timeout = _span(args.dispatch_timeout, "--dispatch-timeout")
    assessment_interval = _span(args.assessment_interval, "--assessment-interval")
    history_retention = _span(args.history_retention, "--history-retention")
    serve(
        ServerSettings(
            data_dir=args.data_dir,
            host=args.host,
            port=args.port,
            database_url=args.database,
            insecure_http=args.insecure_http,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            log_level=args.log_level,
            dispatch_timeout=dispatch_timeout,
            assessment_interval=assessment_interval,
            history_retention=history_retention,
        )
    )


def _span(text: str, flag: str) -> timedelta:
    try:
        return parse_span(text)
    except ValueError as error:
        raise SystemExit(f"upkeep serve: {flag}: {error}") from None
