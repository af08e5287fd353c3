"""Starting ``upkeep serve`` as a real process for tests, and SDK credentials for it."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from azure.core.credentials import AccessToken

STARTUP_SECONDS = 30


def trusting(cert: str | Path) -> ssl.SSLContext:
    """A TLS context that trusts one certificate (httpx's ``verify=``)."""
    return ssl.create_default_context(cafile=str(cert))


class StaticToken:
    """An azure-core credential that hands out one Upkeep bearer token."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.secret, int(time.time()) + 3600)


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    data_dir: Path
    url: str
    banner: str
    database: str | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def cert(self) -> str:
        """The certificate the server said it serves."""
        found = re.search(r"TLS cert:\s+(\S+)", self.banner)
        assert found, self.banner
        return found.group(1)

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    @property
    def subscription_id(self) -> str:
        found = re.search(r"Subscription: (\S+)", self.banner)
        assert found, self.banner
        return found.group(1)

    def sdk_options(self) -> dict[str, object]:
        """What an Azure SDK client needs to talk to this server."""
        return {"base_url": self.url, "connection_verify": self.cert}

    def credential(self, secret: str | None = None) -> StaticToken:
        return StaticToken(secret or self.admin_token)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].rstrip("/"))

    def restart(self) -> RunningServer:
        """Stop it and start it again on the same port, so agents find it where it was."""
        self.stop()
        return start_server(
            self.data_dir, database=self.database, extra_args=self.extra_args, port=self.port
        )


def start_server(
    data_dir: Path,
    *,
    database: str | None = None,
    extra_args: list[str] | None = None,
    port: int = 0,
) -> RunningServer:
    """Run ``python -m upkeep serve`` (on a free port unless given one) and wait until its
    banner is out."""
    command = [sys.executable, "-m", "upkeep", "serve", "--data-dir", str(data_dir)]
    command += ["--port", str(port)]
    if database:
        command += ["--database", database]
    command += extra_args or []
    log = open(data_dir.parent / f"{data_dir.name}-server.log", "a")  # noqa: SIM115
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ}
    )
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.lstrip().startswith("Store:"):
            break
    banner = "\n".join(lines)
    found = re.search(r"URL:\s+(\S+)", banner)
    if not found:
        process.kill()
        raise RuntimeError(f"upkeep serve did not start; it printed:\n{banner}")
    running = RunningServer(process, data_dir, found.group(1), banner, database, extra_args or [])
    try:
        _wait_until_healthy(running)
    except BaseException:
        running.stop()  # never leave a server behind
        raise
    return running


def _wait_until_healthy(running: RunningServer) -> None:
    verify = trusting(running.cert) if running.url.startswith("https") else False
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{running.url}/healthz", verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    running.stop()
    raise RuntimeError("upkeep serve never became healthy")
