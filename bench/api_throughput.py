"""Requests/s and p99 latency of GET one maintenance configuration through the full stack
(plain HTTP, bearer auth, SQLite, access log on) next to a bare Starlette JSON endpoint
serving the same bytes, both under uvicorn on one pinned core, loaded by wrk on the other.

Target: the full stack reaches at least 50% of the bare figure.

    .venv/bin/python -m bench.api_throughput [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from tests.helpers import MAINTENANCE, RESOURCES, configuration_path, group_path, seed

TARGET_RATIO = 0.5


def pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() > 1 else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} never answered")


def start_upkeep(data: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*pinned(0), sys.executable, "-m", "upkeep", "serve", "--insecure-http",
         "--data-dir", str(data), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    banner = "".join(process.stdout.readline() for _ in range(6))
    found = re.search(r"URL:\s+(\S+)", banner)
    if not found:
        raise RuntimeError(f"upkeep serve did not start:\n{banner}")
    wait_healthy(f"{found.group(1)}/healthz")
    return process, found.group(1)


def start_bare(body_file: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [*pinned(0), sys.executable, "-m", "uvicorn", "bench.bare_starlette:app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env={**os.environ, "BENCH_BODY": str(body_file)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return process, url


def load(url: str, token: str, seconds: int, connections: int) -> tuple[float, float]:
    """wrk's requests/s and p99 latency (ms) for GET ``url``."""

    def wrk(duration: int) -> str:
        command = [*pinned(1), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
                   "-H", f"Authorization: Bearer {token}", url]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    wrk(2)  # warm-up: connections, caches, the token cache
    output = wrk(seconds)
    if "Non-2xx" in output:
        raise RuntimeError(f"errors under load:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("api_throughput needs wrk (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        upkeep, base = start_upkeep(data)
        try:
            token = (data / "admin.token").read_text().strip()
            headers = {"Authorization": f"Bearer {token}"}
            subscription = httpx.get(
                f"{base}/subscriptions?api-version=2022-12-01", headers=headers
            ).json()["value"][0]["subscriptionId"]
            httpx.put(
                f"{base}{group_path(subscription, 'bench')}?{RESOURCES}",
                json={"location": "eastus"},
                headers=headers,
            ).raise_for_status()
            path = f"{configuration_path(subscription, 'bench', 'nightly')}?{MAINTENANCE}"
            httpx.put(f"{base}{path}", json=seed(), headers=headers).raise_for_status()
            body = httpx.get(f"{base}{path}", headers=headers)
            body_file = Path(scratch) / "body.json"
            body_file.write_bytes(body.content)
            full = load(f"{base}{path}", token, options.seconds, options.connections)
        finally:
            upkeep.terminate()
            upkeep.wait()
        bare_process, bare_url = start_bare(body_file)
        try:
            bare = load(f"{bare_url}{path}", token, options.seconds, options.connections)
        finally:
            bare_process.terminate()
            bare_process.wait()
    ratio = full[0] / bare[0]
    print(f"response body: {len(body.content)} bytes; {options.connections} connections,"
          f" {options.seconds} s each, server and wrk on separate cores")  # fmt: skip
    print(f"bare Starlette JSON : {bare[0]:9.0f} req/s   p99 {bare[1]:7.2f} ms")
    print(f"Upkeep full stack   : {full[0]:9.0f} req/s   p99 {full[1]:7.2f} ms")
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"ratio full/bare     : {ratio:.2f} ({verdict} the {TARGET_RATIO:.0%} target)")


if __name__ == "__main__":
    main()
