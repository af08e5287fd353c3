"""Where the CLI keeps its login: server URL, token, CA certificate, default subscription.

Stored in ``$XDG_CONFIG_HOME/upkeep/cli.json`` (0600). ``UPKEEP_SERVER``, ``UPKEEP_TOKEN``,
``UPKEEP_CA_CERT`` and ``UPKEEP_SUBSCRIPTION`` override it, so scripts need no login.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from upkeep.cli.errors import CliError
from upkeep.files import write_private


def profile_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "upkeep" / "cli.json"


@dataclass(frozen=True)
class Profile:
    server: str | None = None
    token: str | None = None
    ca_cert: str | None = None
    subscription: str | None = None

    @classmethod
    def load(cls) -> Profile:
        path = profile_path()
        stored = json.loads(path.read_text()) if path.exists() else {}
        profile = cls(
            **{key: stored.get(key) for key in ("server", "token", "ca_cert", "subscription")}
        )
        overrides = {
            "server": os.environ.get("UPKEEP_SERVER"),
            "token": os.environ.get("UPKEEP_TOKEN"),
            "ca_cert": os.environ.get("UPKEEP_CA_CERT"),
            "subscription": os.environ.get("UPKEEP_SUBSCRIPTION"),
        }
        return replace(profile, **{key: value for key, value in overrides.items() if value})

    def save(self) -> None:
        write_private(profile_path(), json.dumps(asdict(self), indent=2).encode())

    def require_server(self) -> tuple[str, str]:
        if not self.server or not self.token:
            raise CliError(
                "Not logged in. Run 'upkeep login --server URL --token TOKEN' or set"
                " UPKEEP_SERVER and UPKEEP_TOKEN."
            )
        return self.server, self.token

    def require_subscription(self, override: str | None = None) -> str:
        subscription = override or self.subscription
        if not subscription:
            raise CliError(
                "No subscription selected. Run 'upkeep account set --subscription ID' or pass"
                " --subscription."
            )
        return subscription
