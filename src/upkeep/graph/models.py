"""Wire shapes of a Resource Graph query request (``QueryRequest`` in the spec)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from upkeep.maintenance.models import WireModel

#: Azure accepts at most this many subscriptions in one request.
MAX_SUBSCRIPTIONS = 1000
#: The longest query text Upkeep will parse.
MAX_QUERY_LENGTH = 64 * 1024

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _subscription_ids(values: list[str]) -> list[str]:
    for value in values:
        if not _GUID.match(value):
            raise ValueError(f"'{value}' is not a subscription id (a GUID)")
    return values


def _query_text(value: str) -> str:
    if not value.strip():
        raise ValueError("the query is empty")
    if len(value) > MAX_QUERY_LENGTH:
        raise ValueError(f"the query is longer than {MAX_QUERY_LENGTH:,} characters")
    return value


class QueryOptionsIn(WireModel):
    skip_token: str | None = Field(default=None, alias="$skipToken")
    top: int | None = Field(default=None, alias="$top", ge=1, le=1000)
    skip: int | None = Field(default=None, alias="$skip", ge=0)
    result_format: Literal["table", "objectArray"] = Field(
        default="objectArray", alias="resultFormat"
    )
    allow_partial_scopes: bool = Field(default=False, alias="allowPartialScopes")
    authorization_scope_filter: (
        Literal["AtScopeAndBelow", "AtScopeAndAbove", "AtScopeExact", "AtScopeAboveAndBelow"] | None
    ) = Field(default=None, alias="authorizationScopeFilter")


class FacetOptionsIn(WireModel):
    sort_by: str | None = Field(default=None, alias="sortBy")
    sort_order: Literal["asc", "desc"] = Field(default="desc", alias="sortOrder")
    filter: str | None = None
    top: int | None = Field(default=None, alias="$top", ge=1, le=1000)


class FacetIn(WireModel):
    expression: Annotated[str, AfterValidator(_query_text)]
    options: FacetOptionsIn | None = None


class QueryRequestIn(WireModel):
    query: Annotated[str, AfterValidator(_query_text)]
    subscriptions: Annotated[list[str], AfterValidator(_subscription_ids)] | None = None
    management_groups: list[str] | None = Field(default=None, alias="managementGroups")
    options: QueryOptionsIn | None = None
    facets: list[FacetIn] | None = None
