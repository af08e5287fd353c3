"""Wire shapes of maintenance configurations and configuration assignments.

Request bodies are validated strictly: a member the resource does not have, a value of the
wrong JSON type, or a value Upkeep cannot act on is a 400 naming the field. Where Azure's
documents spell one value several ways (``Never``/``NeverReboot``, ``UpdateRollup``/
``UpdateRollUp``), every spelling is accepted, matched without case, and stored as sent so
responses echo it. Read-only members (id, name, type, systemData) may be sent and are
ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from upkeep.arm.ids import MACHINE_TYPES
from upkeep.maintenance.rollout import MAX_CONCURRENCY, MAX_ERRORS, check_amount
from upkeep_agent.selection import (
    LINUX_CLASSIFICATIONS,
    REBOOT_SETTINGS,
    WINDOWS_CLASSIFICATIONS,
    kb_number,
    valid_mask,
)

# --- vocabularies --------------------------------------------------------------------

IN_GUEST_PATCH_MODES = {"user": "User", "platform": "Platform"}
OS_TYPES = {"windows": "Windows", "linux": "Linux"}
TAG_OPERATORS = {"All", "Any"}


def one_of(vocabulary: dict[str, str], what: str) -> AfterValidator:
    """A validator that accepts any spelling in ``vocabulary`` and keeps the value as sent."""

    def check(value: str) -> str:
        if value.lower() not in vocabulary:
            allowed = ", ".join(sorted(set(vocabulary.values())))
            raise ValueError(f"'{value}' is not a {what} Upkeep can act on; use one of {allowed}")
        return value

    return AfterValidator(check)


def _each(valid: Callable[[str], object], what: str) -> AfterValidator:
    def check(values: list[str]) -> list[str]:
        for value in values:
            if not valid(value):
                raise ValueError(f"'{value}' is not a valid {what}")
        return values

    return AfterValidator(check)


def _no_duplicates(values: list[str]) -> list[str]:
    seen = [value.lower() for value in values]
    if len(seen) != len(set(seen)):
        raise ValueError("lists a value more than once")
    return values


class WireModel(BaseModel):
    """Strict JSON: no unknown members, no type coercion, camelCase names on the wire."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ArmResourceModel(WireModel):
    """Read-only envelope members a client may send back; accepted and ignored."""

    id: Any = None
    name: Any = None
    type: Any = None
    system_data: Any = Field(default=None, alias="systemData")


# --- maintenance configurations ------------------------------------------------------

LinuxClassification = Annotated[str, one_of(LINUX_CLASSIFICATIONS, "Linux classification")]
WindowsClassification = Annotated[str, one_of(WINDOWS_CLASSIFICATIONS, "Windows classification")]
PackageMasks = Annotated[list[str], _each(valid_mask, "package name mask")]
KbNumbers = Annotated[list[str], _each(kb_number, "KB number (digits, optionally after 'KB')")]


class MaintenanceWindowIn(WireModel):
    start_date_time: str | None = Field(default=None, alias="startDateTime")
    expiration_date_time: str | None = Field(default=None, alias="expirationDateTime")
    duration: str | None = None
    time_zone: str | None = Field(default=None, alias="timeZone")
    recur_every: str | None = Field(default=None, alias="recurEvery")


class LinuxParametersIn(WireModel):
    classifications_to_include: (
        Annotated[list[LinuxClassification], AfterValidator(_no_duplicates)] | None
    ) = Field(default=None, alias="classificationsToInclude")
    package_name_masks_to_exclude: PackageMasks | None = Field(
        default=None, alias="packageNameMasksToExclude"
    )
    package_name_masks_to_include: PackageMasks | None = Field(
        default=None, alias="packageNameMasksToInclude"
    )


class WindowsParametersIn(WireModel):
    classifications_to_include: (
        Annotated[list[WindowsClassification], AfterValidator(_no_duplicates)] | None
    ) = Field(default=None, alias="classificationsToInclude")
    kb_numbers_to_exclude: KbNumbers | None = Field(default=None, alias="kbNumbersToExclude")
    kb_numbers_to_include: KbNumbers | None = Field(default=None, alias="kbNumbersToInclude")
    exclude_kbs_requiring_reboot: bool | None = Field(
        default=None, alias="excludeKbsRequiringReboot"
    )


def _no_tasks(value: dict[str, Any]) -> dict[str, Any]:
    if any(value.get(kind) for kind in ("preTasks", "postTasks")):
        raise ValueError(
            "pre- and post-tasks are not run by Upkeep (Azure marks them '[Not supported]');"
            " remove them"
        )
    return value


class InstallPatchesIn(WireModel):
    reboot_setting: Annotated[str, one_of(REBOOT_SETTINGS, "reboot setting")] | None = Field(
        default=None, alias="rebootSetting"
    )
    windows_parameters: WindowsParametersIn | None = Field(default=None, alias="windowsParameters")
    linux_parameters: LinuxParametersIn | None = Field(default=None, alias="linuxParameters")
    tasks: Annotated[dict[str, Any], AfterValidator(_no_tasks)] | None = None


def _extension_properties(value: dict[str, str]) -> dict[str, str]:
    """The patch mode (Azure's), and the rollout settings (Upkeep's, see ``rollout``)."""
    known = {"inguestpatchmode", MAX_CONCURRENCY.lower(), MAX_ERRORS.lower()}
    for key, setting in value.items():
        if key.lower() not in known:
            raise ValueError(
                f"'{key}' is not an extension property Upkeep knows (InGuestPatchMode,"
                f" {MAX_CONCURRENCY}, {MAX_ERRORS})"
            )
        if key.lower() == "inguestpatchmode":
            if setting.lower() not in IN_GUEST_PATCH_MODES:
                raise ValueError(f"InGuestPatchMode '{setting}' must be User or Platform")
        else:
            check_amount(MAX_CONCURRENCY if "concurrency" in key.lower() else MAX_ERRORS, setting)
    if not any(key.lower() == "inguestpatchmode" for key in value):
        raise ValueError('must contain the patch mode: {"InGuestPatchMode": "User"}')
    return value


def _in_guest_patch(value: str) -> str:
    if value.lower() != "inguestpatch":
        raise ValueError(
            f"'{value}' maintenance is platform maintenance that Upkeep cannot carry out;"
            " Upkeep performs InGuestPatch maintenance"
        )
    return value


def _custom(value: str) -> str:
    if value.lower() != "custom":
        raise ValueError(
            f"'{value}' configurations are published by the platform; create Custom ones"
        )
    return value


class ConfigurationPropertiesIn(WireModel):
    namespace: str | None = None
    extension_properties: Annotated[dict[str, str], AfterValidator(_extension_properties)] = Field(
        alias="extensionProperties"
    )
    maintenance_scope: Annotated[str, AfterValidator(_in_guest_patch)] = Field(
        alias="maintenanceScope"
    )
    maintenance_window: MaintenanceWindowIn = Field(alias="maintenanceWindow")
    visibility: Annotated[str, AfterValidator(_custom)] | None = None
    install_patches: InstallPatchesIn | None = Field(default=None, alias="installPatches")


class ConfigurationIn(ArmResourceModel):
    location: str = Field(min_length=1, max_length=128)
    tags: dict[str, str] | None = None
    properties: ConfigurationPropertiesIn


# --- configuration assignments -------------------------------------------------------


def _machine_types(values: list[str]) -> list[str]:
    known = {name.lower() for name in MACHINE_TYPES}
    for value in values:
        if value.lower() not in known:
            raise ValueError(f"'{value}' is not a machine type; use {' or '.join(MACHINE_TYPES)}")
    return values


def _tag_operator(value: str) -> str:
    if value not in TAG_OPERATORS:
        raise ValueError(f"'{value}' is not a tag operator; use All or Any")
    return value


class TagSettingsIn(WireModel):
    tags: dict[str, list[str]] | None = None
    filter_operator: Annotated[str, AfterValidator(_tag_operator)] | None = Field(
        default=None, alias="filterOperator"
    )


class AssignmentFilterIn(WireModel):
    resource_types: Annotated[list[str], AfterValidator(_machine_types)] | None = Field(
        default=None, alias="resourceTypes"
    )
    resource_groups: list[str] | None = Field(default=None, alias="resourceGroups")
    os_types: list[Annotated[str, one_of(OS_TYPES, "OS type")]] | None = Field(
        default=None, alias="osTypes"
    )
    locations: list[str] | None = None
    tag_settings: TagSettingsIn | None = Field(default=None, alias="tagSettings")


class AssignmentPropertiesIn(WireModel):
    maintenance_configuration_id: str = Field(alias="maintenanceConfigurationId")
    #: Set by the server from the URL; a value sent is ignored.
    resource_id: Any = Field(default=None, alias="resourceId")
    filter: AssignmentFilterIn | None = None


class AssignmentIn(ArmResourceModel):
    location: str | None = None
    properties: AssignmentPropertiesIn


def stored_body(model: BaseModel) -> dict[str, Any]:
    """What a request set, in wire names, without the read-only envelope: what is echoed.

    A member sent as ``null`` is a member not set (the specs allow no nulls), so it is not
    stored and not echoed.
    """
    return model.model_dump(
        by_alias=True,
        exclude_unset=True,
        exclude_none=True,
        exclude={"id", "name", "type", "system_data"},
    )
