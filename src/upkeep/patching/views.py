"""ARM routes of the patch operations: assessPatches and installPatches on VMs and Arc
machines as long-running operations, their operation URLs, and each machine's history.

A POST answers 202 with ``Azure-AsyncOperation`` (the operation's status) and ``Location``
(202 until done, then 200 with the bare result), as Azure's pollers expect.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from upkeep.arm.apiversions import ApiFamily
from upkeep.arm.bodies import parse_model, read_json
from upkeep.arm.errors import invalid_parameter, not_found
from upkeep.arm.ids import ResourceId
from upkeep.arm.routing import ArmRequest, ArmRouter, Operation, Permission, json_response
from upkeep.arm.timestamps import format_timestamp
from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.machines import service as machines
from upkeep.machines.presence import JobBoard
from upkeep.machines.views import GROUP, MACHINE_KINDS, machine_from
from upkeep.patching import service
from upkeep.patching.models import InstallPatchesIn, render_assessment, render_installation
from upkeep.patching.records import assessment_record, installation_record, patch_record

#: Seconds a poller should wait between polls.
RETRY_AFTER = "1"

#: Where each provider puts its operation status and its operation result.
OPERATION_PATHS = {
    "Microsoft.Compute": ("operations", "operations"),
    "Microsoft.HybridCompute": ("operationstatus", "operationresults"),
}


class PatchViews:
    def __init__(
        self, store: Store, clock: Clock, board: JobBoard, timeouts: service.Timeouts
    ) -> None:
        self.store = store
        self.clock = clock
        self.board = board
        self.timeouts = timeouts

    # --- starting ----------------------------------------------------------------------

    async def assess(self, call: ArmRequest) -> Response:
        return await self._start(call, service.ASSESS, {})

    async def install(self, call: ArmRequest) -> Response:
        machine = machine_from(call)
        body = parse_model(InstallPatchesIn, await read_json(call.request))
        parameters = body.model_dump(by_alias=True, exclude_none=True)
        if machine.namespace == "Microsoft.HybridCompute" and body.maximum_duration is None:
            raise invalid_parameter("maximumDuration", "a value is required for Arc machines")
        os_type = await self.store.read(_os_type, machine)
        wrong = "windowsParameters" if os_type == "Linux" else "linuxParameters"
        if parameters.get(wrong):  # az sends the other OS's parameters as {}
            raise invalid_parameter(wrong, f"the machine runs {os_type}; {wrong} do not apply")
        right = parameters.get("linuxParameters" if os_type == "Linux" else "windowsParameters", {})
        if not right.get("classificationsToInclude") and not (
            right.get("packageNameMasksToInclude") or right.get("kbNumbersToInclude")
        ):
            field = "linuxParameters" if os_type == "Linux" else "windowsParameters"
            raise invalid_parameter(
                f"{field}.classificationsToInclude",
                "name at least one classification, or packages/KBs to include",
            )
        return await self._start(call, service.INSTALL, parameters)

    async def _start(self, call: ArmRequest, kind: str, parameters: dict[str, Any]) -> Response:
        machine = machine_from(call)
        job = await self.store.write(
            service.start, machine, kind, parameters, self.clock(), self.timeouts
        )
        self.board.notify([job["machine_key"]])
        status, result = _operation_urls(call, machine, job["location"], job["id"])
        return Response(
            None,
            202,
            {"Azure-AsyncOperation": status, "Location": result, "Retry-After": RETRY_AFTER},
        )

    # --- polling -------------------------------------------------------------------------

    async def _job(self, call: ArmRequest) -> dict[str, Any]:
        job = await self.store.read(service.get_job, call.params["operationId"])
        if not call.caller.can_read(job["machine_id"]):
            raise not_found("OperationNotFound", f"The operation '{job['id']}' was not found.")
        if _overdue(job, self.clock()):
            await self.store.write(service.expire, self.clock())
            job = await self.store.read(service.get_job, job["id"])
        return job

    async def status(self, call: ArmRequest, namespace: str) -> Response:
        job = await self._job(call)
        if call.query.get("monitor", "").lower() == "true":
            return self._result_response(call, job, namespace)
        body = operation_status(
            job, call.request.scope["path"], namespace, call.api_version.legacy_patch_names
        )
        # pollers wait Retry-After between polls (azure-core's default is 30 s)
        headers = {"Retry-After": RETRY_AFTER} if job["state"] in service.UNFINISHED else None
        return json_response(body, headers=headers)

    async def result(self, call: ArmRequest, namespace: str) -> Response:
        return self._result_response(call, await self._job(call), namespace)

    def _result_response(self, call: ArmRequest, job: dict[str, Any], namespace: str) -> Response:
        if job["state"] in service.UNFINISHED:
            return Response(None, 202, {"Retry-After": RETRY_AFTER})
        return json_response(render_result(job, namespace, call.api_version.legacy_patch_names))

    # --- history -------------------------------------------------------------------------

    async def latest_assessment(self, call: ArmRequest) -> Response:
        machine = machine_from(call)
        found = await self.store.read(service.latest_assessment, machine)
        if found is None:
            raise not_found(
                "ResourceNotFound", f"No assessment of '{machine.name}' has finished yet."
            )
        return json_response(assessment_record(machine, found["job"], found["assessment"]))

    async def latest_assessment_patches(self, call: ArmRequest) -> Response:
        machine = machine_from(call)
        found = await self.store.read(service.latest_assessment, machine)
        if found is None:
            return json_response({"value": []})
        latest = assessment_record(machine, found["job"], found["assessment"])
        patches = found["assessment"].get("patches", [])
        return json_response(
            {"value": [patch_record(latest, patch, found["job"]) for patch in patches]}
        )

    async def installations(self, call: ArmRequest) -> Response:
        machine = machine_from(call)
        found = await self.store.read(service.installations, machine)
        return json_response({"value": [installation_record(machine, job) for job in found]})

    async def installation(self, call: ArmRequest) -> Response:
        machine = machine_from(call)
        job = await self._installation(machine, call.params["installationId"])
        return json_response(installation_record(machine, job))

    async def installation_patches(self, call: ArmRequest) -> Response:
        machine = machine_from(call)
        job = await self._installation(machine, call.params["installationId"])
        installation = installation_record(machine, job)
        patches = (job["result"] or {}).get("patches", [])
        return json_response(
            {"value": [patch_record(installation, patch, job) for patch in patches]}
        )

    async def _installation(self, machine: ResourceId, installation: str) -> dict[str, Any]:
        for job in await self.store.read(service.installations, machine):
            if job["id"].lower() == installation.lower():
                return job
        raise not_found(
            "ResourceNotFound", f"No installation '{installation}' on '{machine.name}'."
        )


def _os_type(connection: Any, machine: ResourceId) -> str:
    return machines.require_machine(connection, machine)["facts"].get("osType", "Linux")


def _overdue(job: dict[str, Any], now: datetime) -> bool:
    if job["state"] == service.QUEUED:
        return job["dispatch_by"] <= now
    return job["state"] == service.RUNNING and job["finish_by"] <= now


def _operation_urls(
    call: ArmRequest, machine: ResourceId, location: str, job_id: str
) -> tuple[str, str]:
    base = str(call.request.base_url).rstrip("/")
    status, results = OPERATION_PATHS[machine.namespace or ""]
    root = (
        f"{base}/subscriptions/{machine.subscription_id}/providers/{machine.namespace}"
        f"/locations/{location}"
    )
    version = call.api_version.name
    if status == results:
        return (
            f"{root}/{status}/{job_id}?{urlencode({'api-version': version})}",
            f"{root}/{results}/{job_id}?{urlencode({'monitor': 'true', 'api-version': version})}",
        )
    return (
        f"{root}/{status}/{job_id}?{urlencode({'api-version': version})}",
        f"{root}/{results}/{job_id}?{urlencode({'api-version': version})}",
    )


LRO_STATUS = {
    service.QUEUED: "InProgress",
    service.RUNNING: "InProgress",
    service.SUCCEEDED: "Succeeded",
    service.FAILED: "Failed",
}


def operation_status(
    job: dict[str, Any], path: str, namespace: str, legacy: bool
) -> dict[str, Any]:
    """ARM's OperationStatusResult for a job; once it succeeded, with the result inside as
    Azure puts it (Compute: ``properties.output``; HybridCompute: ``properties``)."""
    body: dict[str, Any] = {
        "id": path,
        "name": job["id"],
        "status": LRO_STATUS[job["state"]],
        "startTime": format_timestamp(job["created_at"]),
    }
    if job["finished_at"] is not None:
        body["endTime"] = format_timestamp(job["finished_at"])
    if job["state"] == service.FAILED and job["error"]:
        body["error"] = {"code": job["error"]["code"], "message": job["error"]["message"]}
    if job["state"] == service.SUCCEEDED:
        result = render_result(job, namespace, legacy)
        body["properties"] = {"output": result} if namespace == "Microsoft.Compute" else result
    progress = job.get("progress") or {}
    if "percentComplete" in progress:
        body["percentComplete"] = progress["percentComplete"]
    return body


def render_result(job: dict[str, Any], namespace: str, legacy: bool) -> dict[str, Any]:
    """The finished job's result in the shape of its provider and api-version; a job that
    failed as a whole still answers a result, Failed, with the reason as its error."""
    result = dict(job["result"] or {})
    result.setdefault("startDateTime", format_timestamp(job["created_at"]))
    if job["state"] == service.FAILED:
        result["status"] = "Failed"
        result.setdefault("error", job["error"])
    result.setdefault("startedBy", job["started_by"])
    render = render_assessment if job["kind"] == service.ASSESS else render_installation
    return render(result, job["id"], provider=namespace, legacy=legacy)


def add_routes(router: ArmRouter, views: PatchViews) -> None:
    read, write = Permission.READ, Permission.WRITE
    for namespace, kind, family, name in MACHINE_KINDS:
        machine = f"{GROUP}/providers/{namespace}/{kind}/{{{name}}}"
        router.add(f"{machine}/assessPatches", family, post=Operation(views.assess, write))
        router.add(f"{machine}/installPatches", family, post=Operation(views.install, write))
        router.add(
            f"{machine}/patchAssessmentResults/latest",
            family,
            get=Operation(views.latest_assessment, read),
        )
        router.add(
            f"{machine}/patchAssessmentResults/latest/softwarePatches",
            family,
            get=Operation(views.latest_assessment_patches, read),
        )
        router.add(
            f"{machine}/patchInstallationResults", family, get=Operation(views.installations, read)
        )
        router.add(
            f"{machine}/patchInstallationResults/{{installationId}}",
            family,
            get=Operation(views.installation, read),
        )
        router.add(
            f"{machine}/patchInstallationResults/{{installationId}}/softwarePatches",
            family,
            get=Operation(views.installation_patches, read),
        )
        add_operation_routes(router, views, namespace, family)


def add_operation_routes(
    router: ArmRouter, views: PatchViews, namespace: str, family: ApiFamily
) -> None:
    status, results = OPERATION_PATHS[namespace]
    root = f"/subscriptions/{{subscriptionId}}/providers/{namespace}/locations/{{location}}"
    # lists=True: a group-scoped caller may poll; the view checks it may read the machine
    router.add(
        f"{root}/{status}/{{operationId}}",
        family,
        get=Operation(partial(views.status, namespace=namespace), Permission.READ, lists=True),
    )
    if results != status:
        router.add(
            f"{root}/{results}/{{operationId}}",
            family,
            get=Operation(partial(views.result, namespace=namespace), Permission.READ, lists=True),
        )
