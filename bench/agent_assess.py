"""The agent's assessment on a Debian host next to apt alone, and the idle agent's memory.
Targets: assessment within 1.3x of ``apt-get -s dist-upgrade``; idle RSS under 30 MB.

The host is a test host (tests/hosts) with Debian's own bookworm and bookworm-security
package lists (a real-sized universe; needs the network, else ``--offline`` uses only the
local repository) plus a local repository of updates. Times are taken inside the host, the
median of ``--runs``; the baseline is apt doing the same work, measured in the same run:

- ``upkeep-agent assess --no-refresh`` against ``apt-get -s dist-upgrade``
- ``upkeep-agent assess`` (which refreshes first) against ``apt-get update`` plus it

The idle agent is connected to ``upkeep serve`` and long-polling when its RSS is read.

    sudo .venv/bin/python -m bench.agent_assess [--runs 5] [--offline]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tests.hosts.apt_repo import AptRepo, debian_with_old_versions
from tests.hosts.fleet import AGENT, Fleet
from tests.hosts.host import DebianHost
from tests.hosts.images import build_image
from tests.hosts.tools import require_root
from tests.server import start_server

TARGET_RATIO = 1.3
TARGET_RSS_MB = 30
#: Runs a command inside the host and prints its wall time (so no chroot cost is counted).
TIMER = """
import subprocess, sys, time
started = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(time.perf_counter() - started)
"""


def timed(host: DebianHost, runs: int, *command: str) -> float:
    """The median wall time of ``command`` in ``host``, after one warm-up run."""
    host.run("python3", "-c", TIMER, *command)
    samples = [float(host.run("python3", "-c", TIMER, *command).stdout) for _ in range(runs)]
    return statistics.median(samples)


#: Prints the RSS (kB) of the process whose command line is the agent's ``run``.
RSS = """
import os, sys
for pid in filter(str.isdigit, os.listdir("/proc")):
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        words = handle.read().split(b"\\0")
    if words[0].endswith(b"python3") and sys.argv[1].encode() in words and b"run" in words:
        with open(f"/proc/{pid}/status") as handle:
            print(next(line.split()[1] for line in handle if line.startswith("VmRSS")))
"""


def idle_rss_mb(host: DebianHost) -> float:
    return int(host.run("python3", "-c", RSS, AGENT).stdout.split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--offline", action="store_true", help="no Debian mirror: local repo")
    options = parser.parse_args()
    require_root()
    with tempfile.TemporaryDirectory(dir="/dev/shm") as scratch:
        work = Path(scratch)
        repo = AptRepo(work / "repo")
        host = DebianHost.create(build_image("debian"), work / "host", "bench1")
        server = start_server(work / "server")
        try:
            debian_with_old_versions(host, repo)
            if not options.offline:
                host.use_debian_mirror()
            host.run("apt-get", "update", "-q")
            fleet = Fleet(server)
            fleet.connect(host)
            time.sleep(3)  # connected, heartbeat sent, long-polling
            rss = idle_rss_mb(host)
            counted = json.loads(host.run("python3", AGENT, "assess", "--no-refresh").stdout)
            runs = options.runs
            figures = {
                "apt_simulate": timed(host, runs, "apt-get", "-s", "dist-upgrade"),
                "agent_cached": timed(host, runs, "python3", AGENT, "assess", "--no-refresh"),
                "apt_full": timed(
                    host, runs, "sh", "-c", "apt-get update && apt-get -s dist-upgrade"
                ),
                "agent_full": timed(host, runs, "python3", AGENT, "assess"),
            }
            packages = host.run("sh", "-c", "apt-cache stats | head -n 1").stdout.strip()
        finally:
            server.stop()
            host.destroy()
            repo.close()
    print(f"host                          : Debian bookworm, {packages}")
    print(f"updates found                 : {len(counted['patches'])}")
    print(f"apt-get -s dist-upgrade       : {figures['apt_simulate']:.3f} s (baseline)")
    print(f"agent assess --no-refresh     : {figures['agent_cached']:.3f} s")
    ratio = figures["agent_cached"] / figures["apt_simulate"]
    print(f"ratio                         : {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    print(f"apt-get update + simulate     : {figures['apt_full']:.3f} s (baseline)")
    print(f"agent assess (refreshing)     : {figures['agent_full']:.3f} s")
    print(f"ratio                         : {figures['agent_full'] / figures['apt_full']:.2f}x")
    print(f"idle agent RSS                : {rss:.1f} MB (target <= {TARGET_RSS_MB} MB)")


if __name__ == "__main__":
    main()
