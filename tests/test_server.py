"""``upkeep serve`` as a real process: first start, HTTPS, health, metrics, restarts."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.helpers import MAINTENANCE, RESOURCES, configuration_path, group_path, seed
from tests.server import RunningServer, start_server, trusting
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


def test_stopping_answers_waiting_agents_instead_of_waiting_for_them(
    server: RunningServer,
) -> None:
    with client(server) as http:
        token = http.post(
            f"/subscriptions/{server.subscription_id}/providers/Upkeep.Authorization"
            "/enrollmentTokens?api-version=2026-11-01",
            json={},
        ).json()["properties"]["secret"]
        body = {"subscriptionId": server.subscription_id, "resourceGroup": "fleet",
                "name": "web-1", "location": "eastus", "facts": {"osType": "Linux"},
                "resourceType": "Microsoft.Compute/virtualMachines"}  # fmt: skip
        enrolled = http.post(
            "/agent/v1/enroll", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert enrolled.status_code == 201, enrolled.text
    agent = client(server, enrolled.json()["credential"])
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(agent.get, "/agent/v1/jobs/next?wait=55", timeout=60)
        while (
            "upkeep_agents_waiting 1.0"
            not in httpx.get(f"{server.url}/metrics", verify=trusting(server.cert)).text
        ):
            time.sleep(0.05)
        server.process.terminate()
        assert poll.result().status_code == 204  # answered, not cut off at the deadline
    server.process.wait(10)
    agent.close()
