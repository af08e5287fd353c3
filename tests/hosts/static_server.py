"""A static HTTP server on 127.0.0.1 (a free port) for the test package repositories.

It never answers ``304 Not Modified``: a repository republished within the same second
keeps its file times, and apt or dnf asking ``If-Modified-Since`` would otherwise keep
their stale indexes.
"""

from __future__ import annotations

import io
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO


class _Handler(SimpleHTTPRequestHandler):
    """Serves files as they are now, quietly, recording each request path."""

    served: list[str]

    def send_head(self) -> io.BytesIO | BinaryIO | None:
        for header in ("If-Modified-Since", "If-None-Match"):
            del self.headers[header]
        self.served.append(self.path)
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:
        """Requests are recorded in ``served`` rather than printed."""


class StaticServer:
    """Serves ``directory`` at ``url`` (``http://127.0.0.1:PORT``) until :meth:`close`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.requests: list[str] = []
        handler = type("Handler", (_Handler,), {"served": self.requests})
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(handler, directory=str(directory))
        )
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"static-server-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
