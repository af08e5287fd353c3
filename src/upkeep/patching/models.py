"""Wire shapes of assessPatches/installPatches: the install request, and the results in the
shape each provider and api-version gives them.

A result is kept in one internal shape (what the agent reports) and rendered per request:
Compute says ``availablePatches`` and ``kbId`` (and, for 2020-12-01, also the ``patches`` and
``kbid`` of the spec copy this project was given); HybridCompute has no patch lists, only
counts, and calls its error ``errorDetails``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from upkeep.arm.timestamps import format_timestamp
from upkeep.maintenance.models import (
    KbNumbers,
    LinuxClassification,
    PackageMasks,
    WindowsClassification,
    WireModel,
    one_of,
)
from upkeep_agent.selection import REBOOT_SETTINGS, SECURITY_BUCKET, parse_time

#: installPatches' maximumDuration bounds: Azure documents no minimum and accepts PT4H.
SHORTEST_INSTALL = timedelta(minutes=1)
LONGEST_INSTALL = timedelta(hours=4)

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE)


def parse_iso_duration(text: str) -> timedelta:
    """``PT4H``, ``PT120M``, ``PT1H30M`` -> a timedelta; ``ValueError`` otherwise."""
    found = _DURATION.match(text.strip())
    if not found or text.upper().endswith("T") or not any(found.groups()):
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT4H or PT90M")
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _maximum_duration(text: str) -> str:
    duration = parse_iso_duration(text)
    if not SHORTEST_INSTALL <= duration <= LONGEST_INSTALL:
        raise ValueError(f"'{text}' must be from PT1M to PT4H")
    return text


def _instant(text: str) -> str:
    parse_time(text)
    return text


class LinuxParametersIn(WireModel):
    classifications_to_include: list[LinuxClassification] | None = Field(
        default=None, alias="classificationsToInclude"
    )
    package_name_masks_to_include: PackageMasks | None = Field(
        default=None, alias="packageNameMasksToInclude"
    )
    package_name_masks_to_exclude: PackageMasks | None = Field(
        default=None, alias="packageNameMasksToExclude"
    )
    maintenance_run_id: str | None = Field(default=None, alias="maintenanceRunId")


class WindowsParametersIn(WireModel):
    classifications_to_include: list[WindowsClassification] | None = Field(
        default=None, alias="classificationsToInclude"
    )
    kb_numbers_to_include: KbNumbers | None = Field(default=None, alias="kbNumbersToInclude")
    kb_numbers_to_exclude: KbNumbers | None = Field(default=None, alias="kbNumbersToExclude")
    exclude_kbs_requiring_reboot: bool | None = Field(
        default=None, alias="excludeKbsRequiringReboot"
    )
    max_patch_publish_date: Annotated[str, AfterValidator(_instant)] | None = Field(
        default=None, alias="maxPatchPublishDate"
    )
    patch_name_masks_to_include: PackageMasks | None = Field(
        default=None, alias="patchNameMasksToInclude"
    )
    patch_name_masks_to_exclude: PackageMasks | None = Field(
        default=None, alias="patchNameMasksToExclude"
    )


class InstallPatchesIn(WireModel):
    """The body of installPatches (Compute and HybridCompute)."""

    maximum_duration: Annotated[str, AfterValidator(_maximum_duration)] | None = Field(
        default=None, alias="maximumDuration"
    )
    reboot_setting: Annotated[str, one_of(REBOOT_SETTINGS, "reboot setting")] = Field(
        alias="rebootSetting"
    )
    windows_parameters: WindowsParametersIn | None = Field(default=None, alias="windowsParameters")
    linux_parameters: LinuxParametersIn | None = Field(default=None, alias="linuxParameters")


# --- results -------------------------------------------------------------------------

ARC_COUNT_KEYS = {
    "Critical": "critical",
    "Security": "security",
    "UpdateRollup": "updateRollup",
    "FeaturePack": "featurePack",
    "ServicePack": "servicePack",
    "Definition": "definition",
    "Tools": "tools",
    "Updates": "updates",
    "Other": "other",
}


#: Errors a result keeps, as Azure keeps them.
MAX_ERRORS = 5


def _api_error(errors: list[dict[str, Any]], failure: dict[str, Any] | None) -> dict[str, Any]:
    """A result's error object. As Azure's Linux agent reports it, it is there on success
    too: code "0", "0 error/s reported.", and the first five errors as details."""
    details = [{"code": item.get("code"), "message": item.get("message")} for item in errors]
    if failure:
        details.insert(0, {"code": failure.get("code"), "message": failure.get("message")})
    details = details[:MAX_ERRORS]
    return {
        "code": str(len(details)),
        "message": f"{len(details)} error/s reported.",
        "details": details,
    }


def _classifications(patch: dict[str, Any]) -> list[str]:
    return list(patch.get("classifications") or [patch.get("classification", "Other")])


def render_assessment(
    result: dict[str, Any], activity_id: str, *, provider: str, legacy: bool
) -> dict[str, Any]:
    """A VirtualMachineAssessPatchesResult / MachineAssessPatchesResult."""
    patches = result.get("patches", [])
    if provider == "Microsoft.HybridCompute":
        counts = dict.fromkeys(ARC_COUNT_KEYS.values(), 0)
        for patch in patches:
            counts[ARC_COUNT_KEYS.get(patch.get("classification", "Other"), "other")] += 1
        return {
            "status": result["status"],
            "assessmentActivityId": activity_id,
            "rebootPending": result.get("rebootPending", False),
            "availablePatchCountByClassification": counts,
            "startDateTime": result.get("startDateTime"),
            "lastModifiedDateTime": result.get("lastModifiedDateTime"),
            "startedBy": result.get("startedBy", "User"),
            "patchServiceUsed": result.get("patchServiceUsed", "Unknown"),
            "osType": result.get("osType", "Linux"),
            "errorDetails": _api_error(result.get("errors", []), result.get("error")),
        }
    security = sum(1 for patch in patches if patch.get("classification") in SECURITY_BUCKET)
    listed = [
        {
            "patchId": patch["patchId"],
            "name": patch["name"],
            "version": patch.get("version", ""),
            **_kb(patch, legacy),
            "classifications": _classifications(patch),
            "rebootBehavior": patch.get("rebootBehavior", "Unknown"),
            "activityId": activity_id,
            "publishedDate": patch.get("publishedDate"),
            "lastModifiedDateTime": result.get("lastModifiedDateTime"),
            "assessmentState": "Available",
        }
        for patch in patches
    ]
    shaped = {
        "status": result["status"],
        "assessmentActivityId": activity_id,
        "rebootPending": result.get("rebootPending", False),
        "criticalAndSecurityPatchCount": security,
        "otherPatchCount": len(patches) - security,
        "startDateTime": result.get("startDateTime"),
        "availablePatches": listed,
        "error": _api_error(result.get("errors", []), result.get("error")),
    }
    if legacy:
        shaped["patches"] = listed
    return shaped


def _kb(patch: dict[str, Any], legacy: bool) -> dict[str, Any]:
    kb = {"kbId": patch.get("kbId")}
    if legacy:
        kb["kbid"] = patch.get("kbId")
    return kb


def installation_counts(patches: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(("Excluded", "NotSelected", "Pending", "Installed", "Failed"), 0)
    for patch in patches:
        state = patch.get("installationState", "Pending")
        counts[state] = counts.get(state, 0) + 1
    return counts


def render_installation(
    result: dict[str, Any], activity_id: str, *, provider: str, legacy: bool
) -> dict[str, Any]:
    """A VirtualMachineInstallPatchesResult / MachineInstallPatchesResult."""
    patches = result.get("patches", [])
    counts = installation_counts(patches)
    shaped: dict[str, Any] = {
        "status": result["status"],
        "installationActivityId": activity_id,
        "rebootStatus": result.get("rebootStatus", "Unknown"),
        "maintenanceWindowExceeded": result.get("maintenanceWindowExceeded", False),
        "excludedPatchCount": counts["Excluded"],
        "notSelectedPatchCount": counts["NotSelected"],
        "pendingPatchCount": counts["Pending"],
        "installedPatchCount": counts["Installed"],
        "failedPatchCount": counts["Failed"],
        "startDateTime": result.get("startDateTime"),
    }
    if provider == "Microsoft.HybridCompute":
        shaped.update(
            {
                "lastModifiedDateTime": result.get("lastModifiedDateTime"),
                "startedBy": result.get("startedBy", "User"),
                "patchServiceUsed": result.get("patchServiceUsed", "Unknown"),
                "osType": result.get("osType", "Linux"),
                "errorDetails": _api_error(result.get("errors", []), result.get("error")),
            }
        )
        return shaped
    shaped["patches"] = [
        {
            "patchId": patch["patchId"],
            "name": patch["name"],
            "version": patch.get("version", ""),
            **_kb(patch, legacy),
            "classifications": _classifications(patch),
            "installationState": patch.get("installationState", "Pending"),
        }
        for patch in patches
    ]
    shaped["error"] = _api_error(result.get("errors", []), result.get("error"))
    return shaped


def timestamp_or_none(value: Any) -> str | None:
    return format_timestamp(value) if value is not None else None
