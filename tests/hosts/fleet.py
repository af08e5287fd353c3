"""A control plane with real machines: ``upkeep serve`` on this machine, and the real agent
in test hosts, installed the way a user installs it (the server's ``/agent/install.sh``)
and running as each host's service. Tests drive it with the real Azure SDK clients.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.hybridcompute import HybridComputeManagementClient

from tests.hosts.host import Host
from tests.server import RunningServer, start_server, trusting

VM = "Microsoft.Compute/virtualMachines"
ARC = "Microsoft.HybridCompute/machines"
GROUP = "fleet"
#: Where install.sh puts the agent, inside a host.
AGENT = "/usr/local/lib/upkeep-agent/upkeep-agent.pyz"
#: Where a host keeps the server's certificate (as a user would copy it there).
SERVER_CERT = "/etc/upkeep-test/server.pem"


class Fleet:
    """The server and the machines connected to it in one test."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self._clients: list[Any] = []

    @property
    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            verify=trusting(self.server.cert),
            headers={"Authorization": f"Bearer {self.server.admin_token}"},
        )

    def enrollment_token(self) -> str:
        with self.http as http:
            made = http.post(
                f"/subscriptions/{self.server.subscription_id}/providers/Upkeep.Authorization"
                "/enrollmentTokens?api-version=2026-11-01",
                json={"uses": 1, "expiresIn": "1h"},
            )
        assert made.status_code == 201, made.text
        return made.json()["properties"]["secret"]

    def connect(self, host: Host, kind: str = VM, *options: str, token: str | None = None) -> str:
        """Install the agent in ``host`` with install.sh, connect it as a ``kind`` machine
        named after the host (with ``token``, or a new enrollment token), boot the host with
        the agent as its service, and return the machine's resource id."""
        host.write(SERVER_CERT, Path(self.server.cert).read_text())
        with self.http as http:
            script = http.get("/agent/install.sh").text
        arguments = [
            "--ca-cert", SERVER_CERT,
            "--enrollment-token", token or self.enrollment_token(),
            "--subscription-id", self.server.subscription_id,
            "--resource-group", GROUP,
            "--name", host.name,
            "--resource-type", kind,
            "--reboot-command", host.reboot_command,
            *options,
        ]  # fmt: skip
        installed = host.run("sh", "-s", "--", *arguments, input=script)
        found = re.search(r"Connected (\S+) ", installed.stdout)
        assert found, installed.stdout + installed.stderr
        host.start("python3", AGENT, "run")
        return found.group(1)

    def compute(self, **options: Any) -> ComputeManagementClient:
        client = ComputeManagementClient(
            self.server.credential(), self.server.subscription_id, **self._sdk(options)
        )
        self._clients.append(client)
        return client

    def hybrid(self, **options: Any) -> HybridComputeManagementClient:
        client = HybridComputeManagementClient(
            self.server.credential(), self.server.subscription_id, **self._sdk(options)
        )
        self._clients.append(client)
        return client

    def _sdk(self, options: dict[str, Any]) -> dict[str, Any]:
        # A poll every Retry-After (1 s) rather than the SDKs' 30 s default.
        return {**self.server.sdk_options(), "polling_interval": 1, **options}

    def restart_server(self) -> None:
        """Stop the server and start it again on the same port and data."""
        self.close_clients()
        self.server = self.server.restart()

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        gc.collect()


@pytest.fixture
def make_fleet(tmp_path: Path) -> Iterator[Callable[..., Fleet]]:
    """Starts a fleet's server (``make_fleet("--dispatch-timeout", "3s")`` for options)."""
    fleets: list[Fleet] = []

    def make(*server_options: str) -> Fleet:
        data = tmp_path / f"server-{len(fleets) + 1}"
        fleet = Fleet(start_server(data, extra_args=list(server_options)))
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.close_clients()
        fleet.server.stop()


@pytest.fixture
def fleet(make_fleet: Callable[..., Fleet]) -> Fleet:
    """A fleet with a server at its defaults."""
    return make_fleet()
