"""Structured logs, Prometheus metrics and the health check.

Every request leaves one JSON log line (method, path, route template, status, duration,
caller) and feeds two metrics: a request counter and a latency histogram, both labelled by
route template so ids do not explode the label space.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from upkeep import __version__

logger = logging.getLogger("upkeep.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    # the record's own attributes, and uvicorn's copy of its message with terminal colours
    _standard = {*vars(logging.makeLogRecord({})), "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._standard})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Metrics:
    """The server's Prometheus registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "upkeep_http_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "upkeep_http_request_duration_seconds",
            "Time to serve a request, by method and route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.agents_waiting = Gauge(
            "upkeep_agents_waiting",
            "Agents holding a long-poll open on this server process.",
            registry=self.registry,
        )
        info = Counter("upkeep_build", "Build information.", ["version"], registry=self.registry)
        info.labels(__version__).inc(0)
        # label children looked up once: .labels() takes a lock and builds a key every call
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self.requests.labels(method, route, str(status))
            self._counted[(method, route, status)] = counted
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[(method, route)] = self.latency.labels(method, route)
        counted.inc()
        timed.observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class AccessLog:
    """One JSON line per request on stderr, in the shape :class:`JsonFormatter` writes.

    Written directly rather than through ``logging`` records: on the hot path a record, its
    formatter and its handler cost more than the request they describe.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._second = -1
        self._second_text = ""

    def write(self, fields: dict[str, Any]) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        now = time.time()
        second = int(now)
        if second != self._second:  # formatting a time costs more than writing the line
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        stamp = f"{self._second_text}.{int((now - second) * 1000):03d}Z"
        line = {"time": stamp, "level": "info", "logger": logger.name, "message": "request"}
        line.update(fields)
        (self._stream or sys.stderr).write(json.dumps(line) + "\n")


class RequestObserver:
    """ASGI middleware: time each HTTP request, count it, log it."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: AccessLog | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log or AccessLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            elapsed = time.perf_counter() - started
            route = (
                scope.get("upkeep.route")
                or getattr(scope.get("route"), "path", None)
                or "unmatched"
            )
            method = scope["method"]
            self.metrics.observe(method, route, status, elapsed)
            self.access_log.write(
                {
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "caller": scope.get("upkeep.caller"),
                }
            )


def health_endpoint(check: Any) -> Any:
    """``/healthz``: 200 when the store answers, 503 when it does not."""

    async def healthz(request: Request) -> Response:
        try:
            await check()
        except Exception as error:  # the point is to report any store failure
            return JSONResponse({"status": "unavailable", "store": str(error)}, 503)
        return JSONResponse({"status": "ok", "version": __version__})

    return healthz
