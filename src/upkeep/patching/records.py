"""A machine's patch results as records: ``…/patchAssessmentResults/latest``,
``…/patchInstallationResults/{id}`` and their ``…/softwarePatches/{patch}``, shaped as
Azure Resource Graph shows them (lowercase types, Arc-style counts).

The REST routes of a machine's history and the graph's ``patchassessmentresources`` and
``patchinstallationresources`` rows both come from here.
"""

from __future__ import annotations

from typing import Any

from upkeep.arm.ids import ResourceId
from upkeep.arm.timestamps import format_timestamp
from upkeep.patching import service
from upkeep.patching.models import render_assessment, render_installation

#: Results are rendered as Arc shows them: counts by classification, ``errorDetails``.
SHAPE = "Microsoft.HybridCompute"


def assessment_record(
    machine: ResourceId, job: dict[str, Any], assessment: dict[str, Any]
) -> dict[str, Any]:
    """``{machine}/patchAssessmentResults/latest``, named by the job that assessed."""
    rendered = render_assessment(
        {**assessment, "startedBy": job["started_by"]}, job["id"], provider=SHAPE, legacy=False
    )
    return {
        "id": f"{machine}/patchAssessmentResults/latest",
        "name": job["id"],
        "type": f"{machine.type}/patchAssessmentResults".lower(),
        "properties": rendered,
    }


def installation_record(
    machine: ResourceId, job: dict[str, Any], maintenance_run_id: str | None = None
) -> dict[str, Any]:
    """``{machine}/patchInstallationResults/{job}`` of a finished install. Its
    ``maintenanceRunId`` is the run's correlation id: given, or as the job carries it."""
    result = dict(job["result"] or {"status": "Failed"})
    if job["state"] == service.FAILED:
        result["status"] = "Failed"
        result.setdefault("error", job["error"])
    result.setdefault("startedBy", job["started_by"])
    rendered = render_installation(result, job["id"], provider=SHAPE, legacy=False)
    run = maintenance_run_id or (job["parameters"].get("linuxParameters") or {}).get(
        "maintenanceRunId"
    )
    if run:
        rendered["maintenanceRunId"] = run
    return {
        "id": f"{machine}/patchInstallationResults/{job['id']}",
        "name": job["id"],
        "type": f"{machine.type}/patchInstallationResults".lower(),
        "properties": rendered,
    }


def patch_record(
    parent: dict[str, Any], patch: dict[str, Any], job: dict[str, Any]
) -> dict[str, Any]:
    """One ``…/softwarePatches/{patch}`` under an assessment or installation record
    (``parent``): its type is the parent's, ``…/softwarepatches`` appended."""
    properties = {
        "patchName": patch["name"],
        "version": patch.get("version"),
        "kbId": patch.get("kbId"),
        "classifications": patch.get("classifications") or [patch.get("classification", "Other")],
        "rebootBehavior": patch.get("rebootBehavior", "Unknown"),
        "rebootRequired": patch.get("rebootBehavior") == "AlwaysRequiresReboot",
        "publishedDateTime": patch.get("publishedDate"),
        "lastModifiedDateTime": format_timestamp(job["finished_at"])
        if job["finished_at"]
        else None,
    }
    if "installationState" in patch:
        properties["installationState"] = patch["installationState"]
    return {
        "id": f"{parent['id']}/softwarePatches/{patch['patchId']}",
        "name": patch["patchId"],
        "type": f"{parent['type']}/softwarepatches",
        "properties": properties,
    }
