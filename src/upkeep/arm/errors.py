"""The ARM error envelope and the exceptions that produce it.

Every failure leaves the server as ``{"error": {"code", "message", "target"?, "details"?}}``
with the HTTP status ARM uses for that code. Raising an :class:`ArmError` anywhere below a
view is how a request fails; nothing else writes error bodies.
"""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    """A request failure with an ARM error code, a message and an optional target field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[ArmError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details or []
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = [detail.to_dict()["error"] for detail in self.details]
        return {"error": error}

    def __repr__(self) -> str:
        return f"ArmError({self.status}, {self.code!r}, {self.message!r})"


def invalid_parameter(target: str, message: str) -> ArmError:
    """A 400 for one field whose value breaks a rule; the message names the field."""
    return ArmError(400, "InvalidParameter", f"{target}: {message}", target=target)


def invalid_content(message: str, target: str | None = None) -> ArmError:
    """A 400 for a body that is not the resource: bad JSON, a wrong type, an unknown member."""
    return ArmError(400, "InvalidRequestContent", message, target=target)


def not_found(code: str, message: str) -> ArmError:
    return ArmError(404, code, message)


def resource_not_found(resource_type: str, name: str, resource_group: str | None) -> ArmError:
    where = f" under resource group '{resource_group}'" if resource_group else ""
    return ArmError(
        404, "ResourceNotFound", f"The Resource '{resource_type}/{name}'{where} was not found."
    )


def conflict(code: str, message: str) -> ArmError:
    return ArmError(409, code, message)
