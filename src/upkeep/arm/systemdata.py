"""``systemData``: who created and last modified a resource, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from upkeep.arm.timestamps import format_timestamp

#: Callers are named tokens held by people or their automation; both are shown as "User".
CALLER_KIND = "User"


def system_data(by: str, at: datetime, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """New ``systemData`` for a write by ``by`` at ``at``; creation fields survive updates."""
    stamp = format_timestamp(at)
    created = previous or {"createdBy": by, "createdByType": CALLER_KIND, "createdAt": stamp}
    return {
        "createdBy": created["createdBy"],
        "createdByType": created["createdByType"],
        "createdAt": created["createdAt"],
        "lastModifiedBy": by,
        "lastModifiedByType": CALLER_KIND,
        "lastModifiedAt": stamp,
    }
