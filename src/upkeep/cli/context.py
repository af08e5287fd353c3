"""What every API command shares: the global flags, the client, the subscription, output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from upkeep.cli.client import ApiClient
from upkeep.cli.errors import CliError
from upkeep.cli.output import emit
from upkeep.cli.profile import Profile


def common_flags() -> argparse.ArgumentParser:
    """A parent parser with az's global flags, for every command that calls the API."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("Global Arguments")
    group.add_argument(
        "--output", "-o", choices=("json", "table"), default="json", help="output format"
    )
    group.add_argument("--subscription", help="subscription id (default: 'upkeep account set')")
    return parent


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @cached_property
    def profile(self) -> Profile:
        return Profile.load()

    @cached_property
    def client(self) -> ApiClient:
        return ApiClient(self.profile)

    @property
    def subscription(self) -> str:
        return self.profile.require_subscription(getattr(self.args, "subscription", None))

    def close(self) -> None:
        if "client" in self.__dict__:  # only if a command used it
            self.client.close()

    def emit(self, result: Any, columns: Sequence[str] | None = None) -> None:
        emit(result, self.args.output, columns)

    def confirm(self, question: str) -> None:
        """Ask before destroying something, as az does, unless ``--yes`` or not interactive."""
        if getattr(self.args, "yes", False) or not sys.stdin.isatty():
            return
        answer = input(f"{question} (y/n): ").strip().lower()
        if answer not in ("y", "yes"):
            raise CliError("Cancelled.")


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not prompt for confirmation")
