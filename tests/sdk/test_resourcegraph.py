"""The real azure-mgmt-resourcegraph client against ``upkeep serve``: the seed document's
way to take a machine off a schedule (find the assignment with a ``maintenanceresources``
query, then DELETE it), and the next window skipping that machine."""

from __future__ import annotations

import gc
from datetime import timedelta
from pathlib import Path

import pytest
from azure.mgmt.maintenance import MaintenanceManagementClient
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from tests.orchestrator.test_servers import (
    enroll_machine,
    next_minute,
    now,
    schedule_daily_window,
    show_logs,
    sleep_until,
)
from tests.server import start_server
from tests.test_server import client, enrollment_token

pytestmark = pytest.mark.slow

#: The query of "Remove machine from the schedule" in Azure's "How to programmatically
#: manage updates", with the two ids filled in.
SEED_QUERY = """maintenanceresources
| where type =~ "microsoft.maintenance/configurationassignments"
| where properties.maintenanceConfigurationId =~ "{configuration}"
| where properties.resourceId =~ "{machine}"
| project name, id"""


def test_the_seed_query_finds_the_assignment_and_its_delete_takes_the_machine_off_the_schedule(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "data")
    graph = ResourceGraphClient(server.credential(), **server.sdk_options())
    maintenance = MaintenanceManagementClient(
        server.credential(), server.subscription_id, **server.sdk_options()
    )
    try:
        token = enrollment_token(server)
        leaving = enroll_machine(server, token, "web-1", [server])
        staying = enroll_machine(server, token, "web-2", [server])
        start = next_minute()
        with client(server, server.admin_token) as http:
            configuration = schedule_daily_window(
                http, server.subscription_id, start, [leaving.machine_id, staying.machine_id]
            )

        # the configuration id as the portal copies it: lowercase, and the machine's as is
        query = SEED_QUERY.format(configuration=configuration.lower(), machine=leaving.machine_id)
        answer = graph.resources(QueryRequest(subscriptions=[server.subscription_id], query=query))
        assert (answer.total_records, answer.count, answer.result_truncated) == (1, 1, "false")
        [row] = answer.data
        assert row == {
            "name": "daily",
            "id": f"{leaving.machine_id}/providers/Microsoft.Maintenance/configurationAssignments/daily",
        }

        # the seed's DELETE, through the maintenance client
        group, provider, kind, name = _parts(leaving.machine_id)
        maintenance.configuration_assignments.delete(
            group, provider, kind, name, configuration_assignment_name=row["name"]
        )
        again = graph.resources(QueryRequest(subscriptions=[server.subscription_id], query=query))
        assert again.total_records == 0 and again.data == []

        # the table format, through the same client
        tabled = graph.resources(
            QueryRequest(
                subscriptions=[server.subscription_id],
                query="maintenanceresources | where type =~"
                " 'microsoft.maintenance/configurationassignments' | project name, id",
                options=QueryRequestOptions(result_format="table"),
            )
        )
        assert [column["name"] for column in tabled.data["columns"]] == ["name", "id"]
        assert tabled.data["rows"] == [
            [
                "daily",
                f"{staying.machine_id}/providers/Microsoft.Maintenance/configurationAssignments/daily",
            ]
        ]

        assert now() < start, "setting up took past the window's start"
        sleep_until(start + timedelta(seconds=1))
        job = staying.wait_for_job(20)
        assert job["kind"] == "install"
        assert leaving.poll(wait=2) is None  # the window skipped the unassigned machine
    finally:
        graph.close()
        maintenance.close()
        gc.collect()
        server.stop()
        show_logs(server)


def _parts(machine_id: str) -> tuple[str, str, str, str]:
    """(group, provider, type, name) of a machine id, as the maintenance client wants them."""
    parts = machine_id.split("/")
    return parts[4], parts[6], parts[7], parts[8]
