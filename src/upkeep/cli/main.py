"""The ``upkeep`` entry point: build the command tree, run one command, report errors az-style."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from upkeep import __version__
from upkeep.cli import account, admin, graph, groups, machines, maintenance, serve
from upkeep.cli.context import Context, common_flags
from upkeep.cli.errors import EXIT_USAGE, CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upkeep",
        description="Upkeep: a self-hosted update manager that speaks Azure Update Manager's API.",
    )
    parser.add_argument("--version", action="version", version=f"upkeep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_flags()
    serve.register(commands)
    admin.register(commands)
    account.register(commands, common)
    groups.register(commands, common)
    maintenance.register(commands, common)
    machines.register(commands, common)
    graph.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    context = Context(parser.parse_args(argv))
    try:
        context.args.handler(context)
    except CliError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_USAGE
    finally:
        context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
