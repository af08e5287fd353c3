"""N simulated agents long-poll one server; one job is then queued for every machine at
once (as a maintenance run queues them); how long until every agent has its job?

Agents are protocol-level clients in this process (one keep-alive connection each, plain
HTTP). The baseline, measured in the same run, is the time the server takes to answer one
immediate poll from every agent: the cost of N answers, without any waiting or waking.
Targets: every agent has its job within 5 s at 10,000 agents; the server's RSS is printed.

    .venv/bin/python -m bench.fanout [--agents 2000] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from upkeep.db.store import Store
from upkeep.patching import service as patching

TARGET_SECONDS = 5.0


def raise_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Connection:
    """One keep-alive HTTP/1.1 connection, as small as an agent's. Like the agent, it opens
    a new one when the server has closed an idle one (uvicorn's keep-alive timeout)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @classmethod
    async def open(cls, port: int) -> Connection:
        connection = cls(port)
        await connection.reopen()
        return connection

    async def reopen(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(
        self, method: str, path: str, token: str, body: object = None
    ) -> tuple[int, object]:
        try:
            return await self._exchange(method, path, token, body)
        except (ConnectionError, asyncio.IncompleteReadError, IndexError):
            await self.reopen()  # closed while idle: a GET or an enrolment is safe to resend
            return await self._exchange(method, path, token, body)

    async def _exchange(
        self, method: str, path: str, token: str, body: object
    ) -> tuple[int, object]:
        assert self.reader is not None
        assert self.writer is not None
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        return status, json.loads(data) if data else None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def start_server(data: Path, database: str | None) -> tuple[subprocess.Popen[str], int, str]:
    command = [sys.executable, "-m", "upkeep", "serve", "--insecure-http", "--data-dir", str(data),
               "--port", "0", "--log-level", "warning"]  # fmt: skip
    if database:
        command += ["--database", database]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=raise_file_limit,
    )
    assert process.stdout is not None
    banner = "".join(process.stdout.readline() for _ in range(6))
    port = int(re.search(r"URL:\s+http://127.0.0.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
    subscription = re.search(r"Subscription: (\S+)", banner).group(1)  # type: ignore[union-attr]
    return process, port, subscription


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def enroll_all(
    port: int,
    token: str,
    subscription: str,
    count: int,
    prefix: str = "m",
    tags: dict[str, str] | None = None,
) -> list[str]:
    """Enroll machines ``{prefix}0``, ``{prefix}1``, … (with ``tags``) over 32 connections;
    their credentials, in order."""
    credentials: list[str] = [""] * count
    lanes = 32

    async def lane(first: int) -> None:
        connection = await Connection.open(port)
        for index in range(first, count, lanes):
            body = {"subscriptionId": subscription, "resourceGroup": "fleet",
                    "name": f"{prefix}{index}", "tags": tags or {},
                    "resourceType": "Microsoft.HybridCompute/machines", "location": "lab",
                    "facts": {"osType": "Linux"}}  # fmt: skip
            status, answer = await connection.request("POST", "/agent/v1/enroll", token, body)
            assert status == 201, answer
            credentials[index] = answer["credential"]  # type: ignore[index]
        connection.close()

    await asyncio.gather(*(lane(first) for first in range(lanes)))
    return credentials


async def waiting(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
    await writer.drain()
    text = (await reader.read(1 << 20)).decode()
    writer.close()
    found = re.search(r"^upkeep_agents_waiting (\S+)", text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


async def run(
    options: argparse.Namespace, port: int, subscription: str, data: Path, store: Store
) -> dict[str, float]:
    database = ["--database", options.database] if options.database else []
    command = [sys.executable, "-m", "upkeep", "admin", "enrollment-token", "create"]
    command += ["--data-dir", str(data), "--scope", f"/subscriptions/{subscription}", *database]
    token = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    started = time.perf_counter()
    credentials = await enroll_all(port, token, subscription, options.agents)
    enrolled = time.perf_counter() - started
    connections = [await Connection.open(port) for _ in credentials]

    began = time.perf_counter()
    answers = await asyncio.gather(
        *(connection.request("GET", "/agent/v1/jobs/next?wait=0", credential)
          for connection, credential in zip(connections, credentials, strict=True))
    )  # fmt: skip
    baseline = time.perf_counter() - began
    assert all(status == 204 for status, _ in answers)

    received: list[float] = []

    async def agent(connection: Connection, credential: str) -> None:
        while True:
            status, _ = await connection.request("GET", "/agent/v1/jobs/next?wait=55", credential)
            if status == 200:
                received.append(time.perf_counter())
                return

    agents = [
        asyncio.create_task(agent(c, k)) for c, k in zip(connections, credentials, strict=True)
    ]
    while await waiting(port) < options.agents:
        failed = [task for task in agents if task.done()]
        if failed:
            raise RuntimeError(f"{len(failed)} agents stopped before any job was queued") from (
                failed[0].exception()
            )
        await asyncio.sleep(0.2)
    idle_rss = rss_mb(options.server_pid)

    fleet = f"/subscriptions/{subscription}/resourcegroups/fleet"
    keys = [
        f"{fleet}/providers/microsoft.hybridcompute/machines/m{i}" for i in range(options.agents)
    ]
    with store.writing() as connection:
        patching.queue_many(
            connection, keys, patching.ASSESS, {}, datetime.now(UTC), patching.Timeouts()
        )
    queued = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*agents), timeout=120)
    for connection in connections:
        connection.close()
    latencies = sorted(moment - queued for moment in received)
    return {
        "enrolled": enrolled,
        "baseline": baseline,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "all": latencies[-1],
        "idle_rss": idle_rss,
        "busy_rss": rss_mb(options.server_pid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--database", help="a PostgreSQL URL (default: SQLite in a temp dir)")
    options = parser.parse_args()
    raise_file_limit()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        server, port, subscription = start_server(data, options.database)
        options.server_pid = server.pid
        store = Store(options.database or f"sqlite:///{data / 'upkeep.db'}")
        try:
            figures = asyncio.run(run(options, port, subscription, data, store))
        finally:
            store.dispose()
            server.terminate()
            server.wait()
    kind = "PostgreSQL" if options.database else "SQLite"
    print(f"agents                      : {options.agents:,} (store: {kind})")
    print(f"enrolment                   : {figures['enrolled']:6.2f} s")
    print(f"baseline: one answer each   : {figures['baseline']:6.2f} s")
    print(f"queued -> agent has its job : p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s,"
          f" all {figures['all']:.2f} s")  # fmt: skip
    print(f"ratio all/baseline          : {figures['all'] / figures['baseline']:.1f}x")
    print(f"server RSS                  : {figures['idle_rss']:.0f} MB with every agent waiting,"
          f" {figures['busy_rss']:.0f} MB after")  # fmt: skip
    verdict = "meets" if figures["all"] <= TARGET_SECONDS else "MISSES"
    print(f"target                      : all within {TARGET_SECONDS:.0f} s ({verdict})")


if __name__ == "__main__":
    main()
