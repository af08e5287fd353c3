"""How the CLI fails: ``ERROR: …`` on stderr and an exit code like az's."""

from __future__ import annotations

from typing import Any

#: az's exit codes: 1 for most errors, 2 for usage, 3 when the resource does not exist.
EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND = 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ApiError(CliError):
    """A failed API call, printed as az prints one: ``(Code) Message`` then the fields."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.code = error.get("code") or f"HTTP{status}"
        self.message = error.get("message") or str(body or "(no body)")
        lines = [f"({self.code}) {self.message}", f"Code: {self.code}", f"Message: {self.message}"]
        if error.get("target"):
            lines.append(f"Target: {error['target']}")
        for detail in error.get("details") or []:
            lines.append(f"Exception Details:\t({detail.get('code')}) {detail.get('message')}")
        super().__init__("\n".join(lines), EXIT_NOT_FOUND if status == 404 else EXIT_ERROR)
