"""``upkeep graph query``, as ``az graph query`` users expect it: az's JSON shape, pages by
``--first``/``--skip-token``, a table, and errors that point into the query."""

from __future__ import annotations

import json

from tests.cli import test_runs_cli
from tests.cli.test_cli import Cli
from tests.orchestrator.fleet import Fleet

# the fleet of the runs CLI tests, and the CLI on the in-process app
fleet = test_runs_cli.fleet
cli = test_runs_cli.cli

ASSIGNMENTS = (
    "maintenanceresources"
    " | where type =~ 'microsoft.maintenance/configurationassignments'"
    " | project name, id, machine = tostring(split(properties.resourceId, '/')[8])"
    " | order by machine asc"
)


def test_a_query_prints_azs_shape_and_pages_by_skip_token(cli: Cli, fleet: Fleet) -> None:
    first = json.loads(cli(f'graph query -q "{ASSIGNMENTS}" --first 1'))
    assert (first["count"], first["total_records"]) == (1, 2)
    assert [row["machine"] for row in first["data"]] == ["web-1"]
    assert first["data"][0]["name"] == "daily"
    second = json.loads(
        cli(f'graph query -q "{ASSIGNMENTS}" --first 1 --skip-token {first["skip_token"]}')
    )
    assert [row["machine"] for row in second["data"]] == ["web-2"]
    assert second["skip_token"] is None


def test_a_table_has_the_querys_columns(cli: Cli, fleet: Fleet) -> None:
    lines = cli(
        "graph query -o table -q \"resources | where type =~ 'microsoft.compute/virtualmachines'"
        ' | project name, resourceGroup | order by name asc"'
    ).splitlines()
    assert lines[0].split() == ["Name", "ResourceGroup"]
    assert [line.split() for line in lines[2:]] == [
        ["db-1", "Db"],
        ["web-1", "Web"],
        ["web-2", "Web"],
    ]


def test_a_bad_query_is_an_error_naming_its_place(cli: Cli, fleet: Fleet) -> None:
    error = cli('graph query -q "resources | sort name"', code=1)
    assert error.startswith("ERROR: (BadRequest)")
    assert "line 1, column 18" in error


def test_a_subscription_with_nothing_in_it_counts_nothing(cli: Cli, fleet: Fleet) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    assert json.loads(cli(f'graph query -q "resources | count" --subscriptions {other}'))[
        "data"
    ] == [{"Count": 0}]
