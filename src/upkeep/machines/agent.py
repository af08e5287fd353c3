"""The protocol agents speak (``/agent/v1``), and the agent's own distribution.

Every call but enrollment is authenticated as exactly one machine by its credential
(``Authorization: Bearer upm_…``); a machine sees and reports only its own jobs.

- ``POST /agent/v1/enroll`` (with an enrollment token): register the machine, get a credential.
- ``POST /agent/v1/heartbeat``: the machine's facts; answers the server's time and settings.
- ``GET /agent/v1/jobs/next?wait=S``: long-poll for work; 200 with a job or 204 after S s
  (a long wait ends a little early, at random, so a fleet that started together does not
  keep coming back together).
- ``POST /agent/v1/jobs/{id}/progress`` and ``…/result``: idempotent reports.
- ``GET /agent/upkeep-agent.pyz`` and ``GET /agent/install.sh``: what a machine needs.
"""

from __future__ import annotations

import io
import logging
import random
import time
import zipapp
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import upkeep_agent
from upkeep.arm.bodies import parse_model, read_json
from upkeep.arm.errors import ArmError
from upkeep.arm.ids import normalize_subscription_id
from upkeep.arm.routing import error_response, json_response, new_request_id
from upkeep.clock import Clock
from upkeep.db.store import Store
from upkeep.machines import service
from upkeep.machines.presence import JobBoard, Presence
from upkeep.patching import service as patching
from upkeep.patching.dispatch import Dispatcher

logger = logging.getLogger("upkeep.agent")

PROTOCOL = 1
#: The longest a long-poll may be held; agents ask for less.
MAX_WAIT_SECONDS = 60
HEARTBEAT_SECONDS = 300
#: Polls waiting at least this long end at a random moment in their last fifth.
DESYNCHRONIZE_FROM_SECONDS = 10.0
CACHE_SECONDS = 5.0


class EnrollIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    subscription_id: str = Field(alias="subscriptionId")
    resource_group: str = Field(alias="resourceGroup", min_length=1, max_length=90)
    name: str = Field(pattern=r"^[a-zA-Z0-9-_\.]{1,54}$")
    resource_type: str = Field(alias="resourceType")
    location: str = Field(min_length=1, max_length=128)
    tags: dict[str, str] = {}
    facts: dict[str, Any] = {}
    patch_settings: dict[str, str] = Field(default={}, alias="patchSettings")


class ReportIn(BaseModel):
    """A result report: the result, or why the operation could not be done."""

    model_config = ConfigDict(extra="forbid", strict=True)

    result: dict[str, Any] | None = None
    failure: dict[str, str] | None = None


class AgentViews:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        board: JobBoard,
        presence: Presence,
        timeouts: patching.Timeouts,
    ) -> None:
        self.store = store
        self.clock = clock
        self.board = board
        self.presence = presence
        self.dispatcher = Dispatcher(store, clock, timeouts)
        self._credentials: dict[str, tuple[service.Agent, float]] = {}
        self._package: bytes | None = None

    async def _agent(self, request: Request) -> service.Agent:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret.startswith(service.CREDENTIAL_PREFIX):
            raise _unauthenticated("a machine credential (Bearer upm_…) is required")
        cached = self._credentials.get(secret)
        if cached and time.monotonic() - cached[1] < CACHE_SECONDS:
            agent = cached[0]
        else:
            found = await self.store.read(service.find_agent, secret)
            if found is None:
                self._credentials.pop(secret, None)
                raise _unauthenticated(
                    "the machine credential is not valid (was the machine deleted?)"
                )
            agent = found
            if len(self._credentials) > 100_000:
                self._credentials.clear()
            self._credentials[secret] = (agent, time.monotonic())
        self.presence.seen(agent.key, self.clock())
        return agent

    def forget_credentials(self) -> None:
        self._credentials.clear()

    # --- endpoints -------------------------------------------------------------------

    async def enroll(self, request: Request) -> Response:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip().startswith(service.ENROLLMENT_PREFIX):
            raise _unauthenticated("an enrollment token (Bearer upe_…) is required")
        body = parse_model(EnrollIn, await read_json(request))
        enrollment = service.Enrollment(
            subscription_id=normalize_subscription_id(body.subscription_id, "subscriptionId"),
            resource_group=body.resource_group,
            name=body.name,
            resource_type=body.resource_type,
            location=body.location,
            tags=body.tags,
            facts=body.facts,
            patch_settings=body.patch_settings,
        )
        resource, credential = await self.store.write(
            service.enroll, secret.strip(), enrollment, self.clock()
        )
        return json_response(
            {
                "protocol": PROTOCOL,
                "machine": resource,
                "credential": credential,
                "heartbeatSeconds": HEARTBEAT_SECONDS,
                "maxWaitSeconds": MAX_WAIT_SECONDS,
            },
            201,
        )

    async def heartbeat(self, request: Request) -> Response:
        agent = await self._agent(request)
        body = await read_json(request)
        facts = body.get("facts") if isinstance(body, dict) else None
        if not isinstance(facts, dict):
            raise ArmError(
                400, "InvalidRequestContent", "facts: an object is required.", target="facts"
            )
        await self.store.write(service.report_facts, agent, facts, self.clock())
        return json_response(
            {
                "protocol": PROTOCOL,
                "machineId": agent.id,
                "serverTime": self.clock().isoformat(),
                "heartbeatSeconds": HEARTBEAT_SECONDS,
                "maxWaitSeconds": MAX_WAIT_SECONDS,
            }
        )

    async def next_job(self, request: Request) -> Response:
        agent = await self._agent(request)
        try:
            wait = min(max(float(request.query_params.get("wait", "0")), 0.0), MAX_WAIT_SECONDS)
        except ValueError:
            raise ArmError(
                400, "InvalidParameter", "wait: seconds, as a number.", target="wait"
            ) from None
        listening = self.board.listen(agent.key)
        if not await self.store.read(patching.has_work, agent.key):
            # Woken means work was queued (a job queued elsewhere wakes it within a second);
            # the dispatcher's claim is the check, so a woken fleet costs no extra reads.
            woken = await self.board.wait(agent.key, listening, _desynchronized(wait))
            if not woken or self.board.closed:
                return Response(None, 204)
        job = await self.dispatcher.next_job(agent.key)
        return json_response(job) if job else Response(None, 204)

    async def progress(self, request: Request) -> Response:
        agent = await self._agent(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The body must be a JSON object.")
        stop = await self.store.write(
            patching.record_progress, agent.key, request.path_params["jobId"], body
        )
        if stop:  # the agent starts no further package, and reports what it did
            return json_response({"stop": True, "reason": "The maintenance run was cancelled."})
        return Response(None, 204)

    async def result(self, request: Request) -> Response:
        agent = await self._agent(request)
        body = parse_model(ReportIn, await read_json(request))
        state = await self.store.write(
            patching.record_result,
            agent.key,
            request.path_params["jobId"],
            body.result,
            body.failure,
            self.clock(),
        )
        return json_response({"state": state})

    # --- distribution ----------------------------------------------------------------

    async def package(self, request: Request) -> Response:
        if self._package is None:
            self._package = build_zipapp()
        return Response(self._package, media_type="application/octet-stream")

    async def install_script(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        script = resources.files("upkeep_agent").joinpath("install.sh").read_text()
        return Response(script.replace("@SERVER@", base), media_type="text/x-shellscript")


def build_zipapp() -> bytes:
    """The agent package as one executable zip: ``python3 upkeep-agent.pyz …``."""
    source = Path(upkeep_agent.__file__).parent
    archive = io.BytesIO()
    zipapp.create_archive(
        source.parent,
        archive,
        interpreter="/usr/bin/env python3",
        main="upkeep_agent.cli:main",
        filter=lambda path: path.parts[0] == "upkeep_agent" and "__pycache__" not in path.parts,
    )
    return archive.getvalue()


def _unauthenticated(why: str) -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        f"Authentication failed: {why}.",
        headers={"WWW-Authenticate": 'Bearer realm="upkeep-agent"'},
    )


def _desynchronized(wait: float) -> float:
    """A long poll's wait shortened by up to a fifth, at random: 10,000 agents that connect
    at once would otherwise all poll again at the same moment, every time."""
    if wait < DESYNCHRONIZE_FROM_SECONDS:
        return wait
    return wait * random.uniform(0.8, 1.0)


def _guarded(endpoint: Any) -> Any:
    """An endpoint whose errors become ARM error responses, as the ARM routes' do."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ArmError as error:
            return error_response(error)
        except Exception:
            request_id = new_request_id()
            logger.exception("unhandled error", extra={"request_id": request_id})
            return error_response(
                ArmError(
                    500,
                    "InternalServerError",
                    f"The server failed to process the request (request id {request_id}).",
                )
            )

    return guarded


def routes(views: AgentViews) -> list[Route]:
    return [
        Route("/agent/upkeep-agent.pyz", views.package),
        Route("/agent/install.sh", views.install_script),
        Route("/agent/v1/enroll", _guarded(views.enroll), methods=["POST"]),
        Route("/agent/v1/heartbeat", _guarded(views.heartbeat), methods=["POST"]),
        Route("/agent/v1/jobs/next", _guarded(views.next_job), methods=["GET"]),
        Route("/agent/v1/jobs/{jobId}/progress", _guarded(views.progress), methods=["POST"]),
        Route("/agent/v1/jobs/{jobId}/result", _guarded(views.result), methods=["POST"]),
    ]
