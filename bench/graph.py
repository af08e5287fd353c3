"""Resource Graph queries over a big SQLite store: 100,000 configuration assignments and
1,000,000 softwarepatches rows (10,000 machines with 100 pending updates each).

Each query runs through the engine (parse, plan, SQL, evaluation, the first page) and,
next to it on the same database in the same run, a hand-written SQL query doing the same
work. Target: the seed document's assignment lookup in at most 50 ms and at most 2x its
hand-written SQL. Figures are medians; the two run in turn, and fast queries run for a
second each so that their medians hold still.

    .venv/bin/python -m bench.graph [--machines 10000] [--runs 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from upkeep.db.migrate import migrate
from upkeep.db.store import Store, refresh_statistics
from upkeep.graph import records, service
from upkeep.resources.service import create_subscription

TARGET_MS = 50.0
TARGET_RATIO = 2.0
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
CONFIGURATIONS = 10  # each machine is assigned to every one: 10 x machines assignments
PATCHES = 100  # pending updates per machine
MEASURE_SECONDS = 1.0
MAX_RUNS = 5000
CLASSES = ["Security", "Critical", "Other", "Other", "Other"]


def machine_id(subscription: str, index: int) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/rg{index % 50}"
        f"/providers/Microsoft.Compute/virtualMachines/vm{index:05}"
    )


def configuration_id(subscription: str, index: int) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/schedules"
        f"/providers/Microsoft.Maintenance/maintenanceConfigurations/cfg{index}"
    )


def base(subscription: str, row_id: str, row_type: str, name: str) -> dict[str, Any]:
    return {
        "id": row_id,
        "name": name,
        "type": row_type,
        "location": "westeurope",
        "resourceGroup": row_id.split("/")[4],
        "subscriptionId": subscription,
    }


def fill(store: Store, subscription: str, machines: int, rng: random.Random) -> None:
    for index in range(machines):
        machine = machine_id(subscription, index)
        assignments = [
            {
                **base(
                    subscription,
                    f"{machine}/providers/Microsoft.Maintenance/configurationAssignments/cfg{c}",
                    "microsoft.maintenance/configurationassignments",
                    f"cfg{c}",
                ),
                "properties": {
                    "maintenanceConfigurationId": configuration_id(subscription, c),
                    "resourceId": machine,
                },
            }
            for c in range(CONFIGURATIONS)
        ]
        latest = f"{machine}/patchAssessmentResults/latest"
        modified = NOW - timedelta(hours=rng.randrange(0, 240))
        patches = [
            {
                **base(
                    subscription,
                    f"{latest}/softwarePatches/pkg{p}",
                    "microsoft.compute/virtualmachines/patchassessmentresults/softwarepatches",
                    f"pkg{p}",
                ),
                "properties": {
                    "patchName": f"pkg{p}",
                    "version": f"1.{p}.{rng.randrange(9)}",
                    "kbId": None,
                    "classifications": [rng.choice(CLASSES)],
                    "rebootRequired": p % 17 == 0,
                    "rebootBehavior": "CanRequestReboot" if p % 17 == 0 else "NeverReboots",
                    "publishedDateTime": None,
                    "lastModifiedDateTime": modified.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
                },
            }
            for p in range(rng.randrange(PATCHES - 20, PATCHES + 21))
        ]
        with store.writing() as connection:
            records.replace_rows(
                connection, f"bench:{machine}:a", "maintenanceresources", assignments, NOW
            )
            records.replace_rows(
                connection, f"bench:{machine}:p", "patchassessmentresources", patches, NOW
            )


def medians_ms(
    engine: Callable[[], Any], sql: Callable[[], Any], runs: int
) -> tuple[float, Any, float, Any]:
    """Median milliseconds of each, run in turn (so a passing load slows both alike), at
    least ``runs`` times and, for fast queries, until a second of measuring has passed."""
    engine_result, sql_result = engine(), sql()  # warm: statement caches, SQLite pages
    engine_times: list[float] = []
    sql_times: list[float] = []
    measuring = time.perf_counter()
    while len(engine_times) < runs or (
        time.perf_counter() - measuring < MEASURE_SECONDS and len(engine_times) < MAX_RUNS
    ):
        for work, times in ((engine, engine_times), (sql, sql_times)):
            started = time.perf_counter()
            work()
            times.append((time.perf_counter() - started) * 1000)
    return (
        statistics.median(engine_times),
        engine_result,
        statistics.median(sql_times),
        sql_result,
    )


def queries(subscription: str) -> list[tuple[str, str, str]]:
    """(label, KQL, hand-written SQL) for the same answer."""
    configuration = configuration_id(subscription, 3)
    machine = machine_id(subscription, 4242)
    scope = f"subscription_id = '{subscription}'"
    patches = (
        "table_name = 'patchassessmentresources'"
        " AND type = 'microsoft.compute/virtualmachines/patchassessmentresults/softwarepatches'"
    )
    return [
        (
            "seed: assignment by configuration and machine",
            "maintenanceresources"
            " | where type =~ 'microsoft.maintenance/configurationassignments'"
            f" | where properties.maintenanceConfigurationId =~ '{configuration.upper()}'"
            f" | where properties.resourceId =~ '{machine}'"
            " | project name, id",
            "SELECT name, id FROM graph_rows WHERE table_name = 'maintenanceresources'"
            " AND type = 'microsoft.maintenance/configurationassignments'"
            f" AND configuration_key = '{configuration.lower()}'"
            f" AND resource_key = '{machine.lower()}' AND {scope}",
        ),
        (
            "pending updates by classification",
            "patchassessmentresources | where type has 'softwarepatches'"
            " | summarize count() by tostring(properties.classifications)",
            f"SELECT properties -> '$.classifications', count(*) FROM graph_rows WHERE {patches}"
            f" AND {scope} GROUP BY 1",
        ),
        (
            "machines assigned per configuration",
            "maintenanceresources"
            " | where type =~ 'microsoft.maintenance/configurationassignments'"
            " | summarize machines = dcount(tostring(properties.resourceId))"
            " by configuration = tostring(properties.maintenanceConfigurationId)",
            "SELECT configuration_key, count(DISTINCT resource_key) FROM graph_rows"
            " WHERE table_name = 'maintenanceresources'"
            f" AND type = 'microsoft.maintenance/configurationassignments' AND {scope}"
            " GROUP BY 1",
        ),
        (
            "one machine's pending security updates",
            "patchassessmentresources | where type has 'softwarepatches'"
            f" | where id startswith '{machine}/'"
            " | where properties.classifications has 'Security'"
            " | project patch = tostring(properties.patchName),"
            " version = tostring(properties.version)"
            " | order by patch asc",
            "SELECT json_extract(properties, '$.patchName') AS patch,"
            f" json_extract(properties, '$.version') FROM graph_rows WHERE {patches}"
            # the ids under the machine, as an index range ('0' follows '/')
            f" AND key >= '{machine.lower()}/' AND key < '{machine.lower()}0' AND {scope}"
            " AND EXISTS (SELECT 1 FROM json_each(properties, '$.classifications')"
            " WHERE value = 'Security') ORDER BY patch",
        ),
        (
            "assignments of one configuration, first page",
            "maintenanceresources"
            f" | where properties.maintenanceConfigurationId =~ '{configuration}'"
            " | project id, machine = tostring(properties.resourceId)",
            "SELECT id, json_extract(properties, '$.resourceId') FROM graph_rows"
            " WHERE table_name = 'maintenanceresources'"
            f" AND configuration_key = '{configuration.lower()}'"
            f" AND {scope} ORDER BY row_id LIMIT 1000",
        ),
        (
            "updates that need a reboot, per machine, top 10",
            "patchassessmentresources | where type has 'softwarepatches'"
            " | where properties.rebootRequired == true"
            " | summarize count() by machine = tostring(split(id, '/')[8])"
            " | top 10 by count_ desc",
            "SELECT substr(key, 1, instr(key, '/patchassessmentresults') - 1) AS machine,"
            f" count(*) AS n FROM graph_rows WHERE {patches} AND {scope}"
            " AND json_extract(properties, '$.rebootRequired') = 1"
            " GROUP BY 1 ORDER BY n DESC LIMIT 10",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        store = Store(f"sqlite:///{Path(directory) / 'graph.db'}")
        migrate(store.engine)
        with store.writing() as connection:
            subscription = create_subscription(connection, display_name="Bench", now=NOW)[
                "subscriptionId"
            ]
        started = time.perf_counter()
        fill(store, subscription, args.machines, random.Random(5))
        analyzing = time.perf_counter()
        with store.writing() as connection:
            refresh_statistics(connection)  # as the server does at start and every hour
        print(f"index statistics refreshed in {time.perf_counter() - analyzing:.2f} s")
        with store.reading() as connection:
            counts = dict(
                connection.execute(
                    text("SELECT table_name, count(*) FROM graph_rows GROUP BY 1")
                ).all()
            )
        print(f"filled in {time.perf_counter() - started:.1f} s: {counts}")

        scope = service.Scope((subscription,))
        print(f"{'query':<50} {'engine':>10} {'SQL':>10} {'ratio':>6}  rows")
        for label, kql, sql in queries(subscription):
            with store.reading() as connection:
                engine_ms, result, sql_ms, rows = medians_ms(
                    lambda c=connection, q=kql: service.run(c, q, scope, NOW, service.Page()),
                    lambda c=connection, q=sql: c.execute(text(q)).all(),
                    args.runs,
                )
            ratio = engine_ms / sql_ms if sql_ms else float("inf")
            print(
                f"{label:<50} {engine_ms:>9.3f}ms {sql_ms:>9.3f}ms {ratio:>5.2f}x"
                f"  {result.total} / {len(rows)}"
            )
            if label.startswith("seed"):
                verdict = engine_ms <= TARGET_MS and ratio <= TARGET_RATIO
                print(
                    f"  seed target: <= {TARGET_MS:.0f} ms and <= {TARGET_RATIO:.0f}x SQL:"
                    f" {'met' if verdict else 'NOT met'}"
                )
        store.dispose()


if __name__ == "__main__":
    main()
