"""The agent's main loop: heartbeat, long-poll for work, do it, report it.

A job's result is written to its journal before it is sent, and sent until the server has
it, so neither a lost connection nor a killed agent loses a result; the server keeps the
first report of a job and ignores repeats.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import time
from typing import Any, Callable, Dict, Optional

from upkeep_agent import facts, managers
from upkeep_agent.client import Client, ServerError
from upkeep_agent.managers import PackageManagerError
from upkeep_agent.runner import Runner
from upkeep_agent.state import State

logger = logging.getLogger("upkeep_agent")

POLL_SECONDS = 30
#: If the machine is still up this long after the reboot command, the reboot failed.
REBOOT_WAIT_SECONDS = 600


class Agent:
    def __init__(self, state: State, sleep: Callable[[float], None] = time.sleep) -> None:
        self.state = state
        self.config = state.load()
        self.client = Client(
            self.config["server"], self.config["credential"], self.config.get("caPath")
        )
        self.sleep = sleep
        self.heartbeat_seconds = 300.0
        self._last_heartbeat = 0.0

    # --- talking to the server -----------------------------------------------------------

    def heartbeat(self) -> None:
        answer = self.client.retrying(
            lambda: self.client.call("POST", "/agent/v1/heartbeat", {"facts": self.facts()})
        )
        self.heartbeat_seconds = float(
            (answer or {}).get("heartbeatSeconds", self.heartbeat_seconds)
        )
        self._last_heartbeat = time.monotonic()

    def facts(self) -> Dict[str, object]:
        return facts.collect(managers.detected_name(self.config.get("packageManager")))

    def next_job(self, wait: float = POLL_SECONDS) -> Optional[Dict[str, Any]]:
        path = "/agent/v1/jobs/next?wait={}".format(int(wait))
        return self.client.retrying(lambda: self.client.call("GET", path, timeout=wait + 15))

    def progress(self, job_id: str, report: Dict[str, Any]) -> bool:
        """Report progress; False when the server asks to stop starting packages. Progress
        is best effort: a lost report is replaced by the next one."""
        try:
            answer = self.client.call("POST", "/agent/v1/jobs/{}/progress".format(job_id), report)
        except Exception as error:  # the job goes on; the final report is what counts
            logger.warning("progress report failed: %s", error)
            return True
        return not (answer or {}).get("stop")

    def report(
        self,
        job_id: str,
        result: Optional[Dict[str, Any]],
        failure: Optional[Dict[str, str]] = None,
    ) -> None:
        self.state.write_journal(
            job_id, {"phase": "reporting", "report": {"result": result, "failure": failure}}
        )
        body = {"result": result, "failure": failure}
        try:
            self.client.retrying(
                lambda: self.client.call("POST", "/agent/v1/jobs/{}/result".format(job_id), body)
            )
        except ServerError as error:
            if error.status != 404:  # a job deleted with its machine has no one to report to
                raise
        self.state.forget(job_id)

    # --- doing jobs ----------------------------------------------------------------------

    def runner(self) -> Runner:
        return Runner(managers.detect(self.config.get("packageManager")), self.state, self.reboot)

    def reboot(self) -> None:
        command = self.config.get("rebootCommand") or "shutdown -r now"
        logger.info("rebooting: %s", command)
        subprocess.Popen(shlex.split(command))
        self.sleep(REBOOT_WAIT_SECONDS)

    def handle(self, job: Dict[str, Any]) -> None:
        entry = self.state.journal(job["id"])
        if entry is not None and entry.get("phase") == "reporting":
            self.report(job["id"], entry["report"]["result"], entry["report"]["failure"])
            return
        try:
            runner = self.runner()
            if job["kind"] == "assess":
                result = runner.assess()  # type: Optional[Dict[str, Any]]
            elif job["kind"] == "install":
                result = runner.install(job, lambda report: self.progress(job["id"], report))
                if result is None:
                    return  # the machine did not reboot: the next poll hands the job back
            else:
                self.report(
                    job["id"],
                    None,
                    {"code": "UnknownOperation", "message": "unknown job kind " + job["kind"]},
                )
                return
        except PackageManagerError as error:
            self.report(job["id"], None, {"code": error.code, "message": error.message})
            return
        self.report(job["id"], result)

    def run(self, once: bool = False) -> None:
        while True:
            if time.monotonic() - self._last_heartbeat >= self.heartbeat_seconds:
                self.heartbeat()
            job = self.next_job(0 if once else POLL_SECONDS)
            if job:
                logger.info("job %s (%s)", job["id"], job["kind"])
                self.handle(job)
            if once:
                return
