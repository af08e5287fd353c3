"""``upkeep serve`` as a real process: first start, HTTPS, health, metrics, restarts."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.helpers import MAINTENANCE, RESOURCES, configuration_path, group_path, seed
from tests.server import RunningServer, start_server, trusting
from upkeep.db.store import Store
from upkeep.patching import service as patching
from upkeep.tls import ensure_certificate

pytestmark = pytest.mark.slow


def client(
    server: RunningServer, token: str | None = None, host: str = "127.0.0.1"
) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token or server.admin_token}"}
    return httpx.Client(
        base_url=server.url.replace("127.0.0.1", host),
        verify=trusting(server.cert),
        headers=headers,
    )


def test_first_start_prepares_everything_and_says_where(server: RunningServer) -> None:
    banner = server.banner
    assert server.url.startswith("https://127.0.0.1:")
    assert f"TLS cert:     {server.data_dir / 'tls' / 'cert.pem'}" in banner
    assert f"Admin token:  {server.data_dir / 'admin.token'} (new)" in banner
    assert "Subscription: " in banner and "(Default)" in banner
    for secret in (server.data_dir / "admin.token", server.data_dir / "tls" / "key.pem"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    with client(server) as http:
        subscriptions = http.get("/subscriptions?api-version=2022-12-01").json()["value"]
    assert [item["subscriptionId"] for item in subscriptions] == [server.subscription_id]


def test_the_certificate_is_valid_for_localhost_and_loopback(server: RunningServer) -> None:
    certificate = x509.load_pem_x509_certificate(Path(server.cert).read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(address) for address in names.get_values_for_type(x509.IPAddress)}
    for host in ("127.0.0.1", "localhost"):
        with client(server, host=host) as http:
            assert http.get("/healthz").json()["status"] == "ok"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz")  # not trusted without the certificate


def test_health_and_metrics(server: RunningServer) -> None:
    with client(server) as http:
        http.get("/subscriptions?api-version=2022-12-01")
        http.get("/subscriptions?api-version=2022-12-01", headers={"Authorization": "Bearer nope"})
        metrics = http.get("/metrics").text
    assert (
        'upkeep_http_requests_total{method="GET",route="/subscriptions",status="200"} 1.0'
        in metrics
    )
    assert (
        'upkeep_http_requests_total{method="GET",route="/subscriptions",status="401"} 1.0'
        in metrics
    )
    assert "upkeep_http_request_duration_seconds_bucket" in metrics


def test_restart_keeps_everything(server: RunningServer) -> None:
    subscription = server.subscription_id
    token = server.admin_token
    certificate = Path(server.cert).read_bytes()
    group = f"{group_path(subscription, 'Kept')}?{RESOURCES}"
    configuration = f"{configuration_path(subscription, 'Kept', 'nightly')}?{MAINTENANCE}"
    with client(server) as http:
        http.put(group, json={"location": "eastus", "tags": {"keep": "yes"}})
        created = http.put(configuration, json=seed()).json()
    restarted = server.restart()
    try:
        assert "(new)" not in restarted.banner
        assert restarted.subscription_id == subscription
        assert restarted.admin_token == token
        assert Path(restarted.cert).read_bytes() == certificate
        with client(restarted) as http:
            assert http.get(group).json()["tags"] == {"keep": "yes"}
            assert http.get(configuration).json() == created
    finally:
        restarted.stop()


def test_plain_http_when_asked(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data", extra_args=["--insecure-http"])
    try:
        assert running.url.startswith("http://")
        assert "TLS cert:     none" in running.banner
        assert httpx.get(f"{running.url}/healthz").status_code == 200
        assert not (tmp_path / "data" / "tls").exists()
    finally:
        running.stop()


def test_a_given_certificate_is_served(tmp_path: Path) -> None:
    cert, key = tmp_path / "mine.pem", tmp_path / "mine.key"
    ensure_certificate(cert, key, hostnames=("upkeep.test",))
    running = start_server(
        tmp_path / "data", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]
    )
    try:
        assert f"TLS cert:     {cert}" in running.banner
        assert httpx.get(f"{running.url}/healthz", verify=trusting(cert)).status_code == 200
        assert not (tmp_path / "data" / "tls").exists()
    finally:
        running.stop()


def test_a_busy_port_is_a_clear_error(server: RunningServer, tmp_path: Path) -> None:
    port = server.url.rsplit(":", 1)[1]
    finished = subprocess.run(
        [sys.executable, "-m", "upkeep", "serve", "--data-dir", str(tmp_path / "second"),
         "--port", port],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in finished.stderr


def enrollment_token(server: RunningServer) -> str:
    with client(server) as http:
        return http.post(
            f"/subscriptions/{server.subscription_id}/providers/Upkeep.Authorization"
            "/enrollmentTokens?api-version=2026-11-01",
            json={},
        ).json()["properties"]["secret"]


def enroll(server: RunningServer, token: str, name: str = "web-1") -> httpx.Response:
    body = {"subscriptionId": server.subscription_id, "resourceGroup": "fleet",
            "name": name, "location": "eastus", "facts": {"osType": "Linux"},
            "resourceType": "Microsoft.Compute/virtualMachines"}  # fmt: skip
    with client(server, token) as http:
        return http.post("/agent/v1/enroll", json=body)


def enroll_agent(server: RunningServer) -> tuple[httpx.Client, str]:
    """A client speaking as a newly enrolled machine's agent, and the machine's id."""
    enrolled = enroll(server, enrollment_token(server))
    assert enrolled.status_code == 201, enrolled.text
    answer = enrolled.json()
    return client(server, answer["credential"]), answer["machine"]["id"]


def test_machines_enrolling_at_once_into_a_new_group_all_get_in(server: RunningServer) -> None:
    token = enrollment_token(server)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda index: enroll(server, token, f"m{index}"), range(32)))
    assert [answer.status_code for answer in answers] == [201] * 32
    with client(server) as http:
        listed = http.get(
            f"{group_path(server.subscription_id, 'fleet')}/providers/Microsoft.Compute"
            "/virtualMachines?api-version=2024-11-01"
        ).json()["value"]
    assert len(listed) == 32


def wait_until_agents_wait(server: RunningServer, count: int) -> None:
    metrics = f"{server.url}/metrics"
    while (
        f"upkeep_agents_waiting {count:.1f}"
        not in httpx.get(metrics, verify=trusting(server.cert)).text
    ):
        time.sleep(0.05)


def test_a_job_another_process_queued_reaches_the_waiting_agent(server: RunningServer) -> None:
    agent, machine = enroll_agent(server)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(agent.get, "/agent/v1/jobs/next?wait=55", timeout=60)
        wait_until_agents_wait(server, 1)
        # Stamped a minute ago: as if its transaction took that long to commit.
        queued_at = datetime.now(UTC) - timedelta(minutes=1)
        store = Store(server.database or f"sqlite:///{server.data_dir / 'upkeep.db'}")
        with store.writing() as connection:
            patching.queue_many(
                connection, [machine.lower()], patching.ASSESS, {}, queued_at, patching.Timeouts()
            )
        store.dispose()
        # within a few of housekeeping's 1 s rounds, not when the 55 s poll runs out
        assert poll.result(timeout=15).status_code == 200
    agent.close()


def test_stopping_answers_waiting_agents_instead_of_waiting_for_them(
    server: RunningServer,
) -> None:
    agent, _ = enroll_agent(server)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(agent.get, "/agent/v1/jobs/next?wait=55", timeout=60)
        wait_until_agents_wait(server, 1)
        server.process.terminate()
        assert poll.result().status_code == 204  # answered, not cut off at the deadline
    server.process.wait(10)
    agent.close()
