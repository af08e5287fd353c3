"""A fleet for orchestrator tests: machines, configurations and assignments made through
the API, and the orchestrator's rounds run by hand at the test clock's time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import SettableClock
from tests.helpers import MAINTENANCE, RESOURCES, assignment_path, configuration_path, group_path
from tests.helpers import seed as seed_configuration
from tests.machines.test_agent_protocol import as_agent, enroll, enrollment_token
from upkeep.db.store import Store
from upkeep.db.tables import maintenance_runs
from upkeep.machines.presence import JobBoard
from upkeep.orchestrator.loop import Orchestrator
from upkeep.orchestrator.service import Handled
from upkeep.patching.service import Timeouts


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(start: str, zone: str, every: str, duration: str = "03:00") -> dict[str, Any]:
    return {
        "maintenanceWindow": {
            "startDateTime": start,
            "duration": duration,
            "timeZone": zone,
            "recurEvery": every,
        }
    }


class Fleet:
    """A subscription with machines and configurations, set up through the API."""

    def __init__(
        self, api: TestClient, agents: TestClient, store: Store, clock: SettableClock, sub: str
    ) -> None:
        self.api, self.agents, self.store, self.clock, self.sub = api, agents, store, clock, sub
        self.token = enrollment_token(store, clock, f"/subscriptions/{sub}")
        self.credentials: dict[str, str] = {}
        self.orchestrator = Orchestrator(store, clock, JobBoard(), Timeouts())
        api.put(f"{group_path(sub, 'Schedules')}?{RESOURCES}", json={"location": "eastus"})

    def machine(self, group: str, name: str, **extra: Any) -> str:
        answer = enroll(self.agents, self.token, self.sub, group, name, **extra)
        assert answer.status_code == 201, answer.text
        self.credentials[name] = answer.json()["credential"]
        return answer.json()["machine"]["id"]

    def configuration(self, name: str, **properties: Any) -> str:
        path = configuration_path(self.sub, "Schedules", name)
        answer = self.api.put(f"{path}?{MAINTENANCE}", json=seed_configuration(**properties))
        assert answer.status_code in (200, 201), answer.text
        return path

    def assign(self, scope: str, name: str, configuration: str, **extra: Any) -> None:
        body = {"properties": {"maintenanceConfigurationId": configuration, **extra}}
        answer = self.api.put(f"{assignment_path(scope, name)}?{MAINTENANCE}", json=body)
        assert answer.status_code in (200, 201), answer.text

    def tick(self) -> list[Handled]:
        """One orchestrator round at the clock's time."""
        return asyncio.run(self.orchestrator.tick_once())

    def job_of(self, name: str) -> dict[str, Any] | None:
        answer = self.agents.get(
            "/agent/v1/jobs/next?wait=0", headers=as_agent(self.credentials[name])
        )
        return answer.json() if answer.status_code == 200 else None

    def runs(self) -> list[dict[str, Any]]:
        with self.store.reading() as connection:
            rows = connection.execute(
                select(maintenance_runs).order_by(maintenance_runs.c.window_start)
            )
            return [dict(row) for row in rows.mappings()]


# 09:00 UTC is 10:00 in Berlin in November
BERLIN_DAILY = window("2026-11-01 10:00", "W. Europe Standard Time", "1Day", "02:00")
INSTALL = {
    "rebootSetting": "IfRequired",
    "linuxParameters": {
        "classificationsToInclude": ["Critical", "Security"],
        "packageNameMasksToExclude": ["kernel*"],
    },
}
