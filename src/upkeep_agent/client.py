"""The agent's side of the protocol: JSON over HTTPS to the control plane, with retries.

Every call is authenticated with the machine's credential. When the server is away the
agent backs off exponentially with full jitter (so a fleet that lost its server does not
return in lockstep) and tries again; reports are idempotent on the server, so a retry of a
report that did arrive changes nothing.
"""

from __future__ import annotations

import itertools
import json
import random
import ssl
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, Optional

PROTOCOL = 1
USER_AGENT = "upkeep-agent"


class ServerError(Exception):
    """The server answered with an error (``status`` and the ARM error ``code``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__("{} ({}): {}".format(status, code, message))
        self.status = status
        self.code = code
        self.message = message


class ServerUnreachableError(Exception):
    """The server could not be reached, or did not answer in time."""


def backoff(attempt: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): full jitter up to base * 2^attempt."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class Client:
    def __init__(
        self, server: str, credential: Optional[str] = None, ca_path: Optional[str] = None
    ) -> None:
        self.server = server.rstrip("/")
        self.credential = credential
        if server.startswith("https:"):
            self.context = (
                ssl.create_default_context(cafile=ca_path)
                if ca_path
                else ssl.create_default_context()
            )
        else:
            self.context = None

    def call(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        timeout: float = 30,
        token: Optional[str] = None,
    ) -> Optional[Dict[str, Any]]:
        """One request: the JSON answer, or None for 204; raises ServerError or
        ServerUnreachableError."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("User-Agent", USER_AGENT)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        secret = token or self.credential
        if secret:
            request.add_header("Authorization", "Bearer " + secret)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context) as response:
                payload = response.read()
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            raise _server_error(error) from None
        except (urllib.error.URLError, OSError) as error:
            raise ServerUnreachableError(str(error)) from None

    def retrying(
        self,
        action: Callable[[], Any],
        give_up_after: Optional[float] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Any:
        """Run ``action`` until the server is reachable and not failing (5xx, 429); other
        errors raise at once. With ``give_up_after`` seconds, ServerUnreachableError after that."""
        started = time.monotonic()
        for attempt in itertools.count():
            try:
                return action()
            except ServerUnreachableError:
                if give_up_after is not None and time.monotonic() - started > give_up_after:
                    raise
            except ServerError as error:
                if error.status < 500 and error.status != 429:
                    raise
                if give_up_after is not None and time.monotonic() - started > give_up_after:
                    raise ServerUnreachableError(str(error)) from None
            sleep(backoff(min(attempt, 6)))


def _server_error(error: urllib.error.HTTPError) -> ServerError:
    try:
        body = json.loads(error.read() or b"{}")
        detail = body.get("error", {})
    except ValueError:
        detail = {}
    return ServerError(
        error.code,
        detail.get("code", "HTTP{}".format(error.code)),
        detail.get("message", error.reason),
    )
