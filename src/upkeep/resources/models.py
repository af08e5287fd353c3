"""Wire shapes of subscriptions and resource groups (Microsoft.Resources)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ResourceGroupIn(BaseModel):
    """The body of a resource group PUT."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    location: str = Field(min_length=1, max_length=128)
    tags: dict[str, str] | None = None
    managed_by: str | None = Field(default=None, alias="managedBy")
    # read-only members a client may echo back; ignored
    id: Any = None
    name: Any = None
    type: Any = None
    properties: Any = None


class ResourceGroupPatch(BaseModel):
    """The body of a resource group PATCH: only tags and managedBy change."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    tags: dict[str, str] | None = None
    managed_by: str | None = Field(default=None, alias="managedBy")
    location: Any = None
    id: Any = None
    name: Any = None
    type: Any = None
    properties: Any = None
