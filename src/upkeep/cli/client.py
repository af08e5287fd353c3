"""The CLI's HTTP client for the control plane's ARM API."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from upkeep.cli.errors import ApiError, CliError
from upkeep.cli.profile import Profile

MAINTENANCE_API = "2023-04-01"
RESOURCES_API = "2025-04-01"
SUBSCRIPTIONS_API = "2022-12-01"
UPKEEP_API = "2026-11-01"


class ApiClient:
    def __init__(
        self,
        profile: Profile,
        *,
        server: str | None = None,
        token: str | None = None,
        ca_cert: str | None = None,
    ) -> None:
        if server is None or token is None:
            server, token = profile.require_server()
        ca_cert = ca_cert or profile.ca_cert
        self._client = httpx.Client(
            base_url=server.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "upkeep-cli"},
            verify=ssl.create_default_context(cafile=ca_cert) if ca_cert else True,
            timeout=60,
        )

    def call(
        self,
        method: str,
        path: str,
        api_version: str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        query = {"api-version": api_version, **(params or {})}
        try:
            response = self._client.request(method, path, params=query, json=body)
        except httpx.HTTPError as error:
            raise CliError(f"Cannot reach the server: {error}") from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, _json(response))
        if not response.content:
            return None
        return response.json()

    def start(self, path: str, api_version: str, body: Any = None) -> dict[str, str]:
        """POST a long-running operation; the 202's headers (lowercase names)."""
        try:
            response = self._client.post(path, params={"api-version": api_version}, json=body)
        except httpx.HTTPError as error:
            raise CliError(f"Cannot reach the server: {error}") from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, _json(response))
        return {name.lower(): value for name, value in response.headers.items()}

    def get_url(self, url: str) -> Any:
        """GET an absolute URL the server handed out (an operation's status or result)."""
        try:
            response = self._client.get(url)
        except httpx.HTTPError as error:
            raise CliError(f"Cannot reach the server: {error}") from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, _json(response))
        return response.json() if response.content else None

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, api_version: str, **params: str) -> Any:
        return self.call("GET", path, api_version, params=params or None)

    def exists(self, path: str, api_version: str) -> bool:
        response = self._client.head(path, params={"api-version": api_version})
        if response.status_code in (200, 204):
            return True
        if response.status_code == 404:
            return False
        raise ApiError(response.status_code, None)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
