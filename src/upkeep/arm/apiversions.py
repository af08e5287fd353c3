"""The api-versions Upkeep serves, one table per resource provider.

A request's ``api-version`` picks a row; the row says which shapes that version has, so
views ask the row ("does this version know dynamic scopes?") instead of comparing dates.
A missing version is ``MissingApiVersionParameter``, one not in the table is
``InvalidApiVersionParameter``; both are 400 and name the versions that are served.
"""

from __future__ import annotations

from dataclasses import dataclass

from upkeep.arm.errors import ArmError


@dataclass(frozen=True)
class ApiVersion:
    """One served api-version and the shape differences Upkeep honours for it."""

    name: str
    #: Subscription- and resource-group-scope configuration assignments with ``filter``.
    dynamic_scopes: bool = False
    #: Status of a PUT that creates: 201 where the spec declares it, else 200.
    created_status: int = 201
    #: Also write the 2020-06-01 names in patch results (``patches``, ``kbid``): the saved
    #: 2020-12-01 spec has them, the published one and its clients have ``availablePatches``
    #: and ``kbId``, so 2020-12-01 answers with both.
    legacy_patch_names: bool = False


@dataclass(frozen=True)
class ApiFamily:
    """The versions of one provider namespace, newest last."""

    namespace: str
    versions: tuple[ApiVersion, ...]

    def resolve(self, requested: str | None) -> ApiVersion:
        if not requested:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
                target="api-version",
            )
        for version in self.versions:
            if version.name == requested.lower():
                return version
        supported = ", ".join(f"'{version.name}'" for version in self.versions)
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{requested}' is invalid for {self.namespace}."
            f" The supported versions are {supported}.",
            target="api-version",
        )

    @property
    def newest(self) -> ApiVersion:
        return self.versions[-1]


#: Every published Microsoft.Maintenance version that has InGuestPatch configurations with
#: installPatches. 2021-05-01 (no installPatches) and older cannot carry Upkeep's resources.
#: Members a version adds that Upkeep cannot act on (2022-11-01-preview ``overrides``, the
#: maintenance plans of 2026-02-01-preview) are rejected as unknown by the wire models.
MAINTENANCE = ApiFamily(
    "Microsoft.Maintenance",
    (
        ApiVersion("2021-04-01-preview", created_status=200),
        ApiVersion("2021-09-01-preview", created_status=200),
        ApiVersion("2022-07-01-preview", created_status=200),
        ApiVersion("2022-11-01-preview", created_status=200),
        ApiVersion("2023-04-01", dynamic_scopes=True),
        ApiVersion("2023-09-01-preview", dynamic_scopes=True),
        ApiVersion("2023-10-01-preview", dynamic_scopes=True),
        ApiVersion("2025-10-01-preview", dynamic_scopes=True),
        ApiVersion("2025-11-01", dynamic_scopes=True),
        ApiVersion("2026-02-01-preview", dynamic_scopes=True),
    ),
)

#: Microsoft.Resources resource groups: the shape has not changed across these versions.
RESOURCES = ApiFamily(
    "Microsoft.Resources",
    tuple(
        ApiVersion(name)
        for name in (
            "2019-10-01",
            "2020-06-01",
            "2020-10-01",
            "2021-01-01",
            "2021-04-01",
            "2022-09-01",
            "2023-07-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-01-01",
            "2025-03-01",
            "2025-04-01",
        )
    ),
)

#: Microsoft.Resources subscriptions (``GET /subscriptions``), a family of its own in ARM.
SUBSCRIPTIONS = ApiFamily(
    "Microsoft.Resources",
    tuple(
        ApiVersion(name)
        for name in ("2016-06-01", "2019-11-01", "2020-01-01", "2021-01-01", "2022-12-01")
    ),
)

#: Microsoft.Compute virtualMachines, for the patch operations and reading machines.
COMPUTE = ApiFamily(
    "Microsoft.Compute",
    (
        ApiVersion("2020-12-01", legacy_patch_names=True),
        *(
            ApiVersion(name)
            for name in (
                "2021-03-01",
                "2021-04-01",
                "2021-07-01",
                "2021-11-01",
                "2022-03-01",
                "2022-08-01",
                "2022-11-01",
                "2023-03-01",
                "2023-07-01",
                "2023-09-01",
                "2024-03-01",
                "2024-07-01",
                "2024-11-01",
                "2025-04-01",
                "2025-11-01",
                "2026-04-01",
            )
        ),
    ),
)

#: Microsoft.HybridCompute machines (Arc), for the patch operations and reading machines.
HYBRIDCOMPUTE = ApiFamily(
    "Microsoft.HybridCompute",
    tuple(
        ApiVersion(name)
        for name in (
            "2022-12-27",
            "2023-03-15-preview",
            "2023-06-20-preview",
            "2023-10-03-preview",
            "2024-03-31-preview",
            "2024-05-20-preview",
            "2024-07-10",
            "2024-07-31-preview",
            "2024-09-10-preview",
            "2024-11-10-preview",
            "2025-01-13",
            "2025-02-19-preview",
            "2026-07-15",
        )
    ),
)

#: Upkeep's own resources (tokens): one version for now.
UPKEEP = ApiFamily("Upkeep.Authorization", (ApiVersion("2026-11-01"),))

#: Microsoft.ResourceGraph: the SDK's default and the newest stable version; the request
#: shape is the same but for 2024-04-01's ``authorizationScopeFilter``.
RESOURCE_GRAPH = ApiFamily(
    "Microsoft.ResourceGraph",
    tuple(ApiVersion(name) for name in ("2021-03-01", "2024-04-01")),
)
