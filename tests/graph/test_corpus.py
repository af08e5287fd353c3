"""The query corpus through the real endpoint: queries as Azure users write them, over a
fixed fleet, each answered with the rows worked out without Upkeep's engine
(``tests/graph/corpus.py``; the duckdb-kql oracle for some).

Every case runs on SQLite; the ones that lean on the SQL push-down (filters on
properties, ordering, limits) run on PostgreSQL too, whose SQL differs.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from tests.conftest import BY_HAND, SettableClock
from tests.graph import oracle
from tests.graph.corpus import CASES, NOW, SUBSCRIPTIONS, Case, batches
from upkeep.app import create_app
from upkeep.auth import service as auth
from upkeep.auth.models import Role
from upkeep.db.migrate import migrate
from upkeep.db.store import Store
from upkeep.graph import records
from upkeep.graph.views import GraphSettings
from upkeep.resources import service as resources

GRAPH = "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"


# --- a store holding the corpus's fleet, and an Owner's client on it ------------------


def _loaded(store: Store) -> str:
    """Fill ``store`` with the fleet; the secret of an Owner token at ``/``."""
    migrate(store.engine)
    with store.writing() as connection:
        for subscription, name in SUBSCRIPTIONS.items():
            resources.create_subscription(
                connection, display_name=name, now=NOW, subscription_id=subscription
            )
        for owner, table, rows in batches():
            records.replace_rows(connection, owner, table, rows, NOW)
        _, secret = auth.create_token(connection, role=Role.OWNER, scope="/", now=NOW)
    return secret


def _client(url: str) -> Iterator[TestClient]:
    store = Store(url)
    try:
        token = _loaded(store)
        # the corpus runs ~100 queries in a few seconds: more than a caller's usual quota
        app = create_app(
            store, SettableClock(NOW), intervals=BY_HAND, graph=GraphSettings(quota=10_000)
        )
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app, base_url="https://testserver", headers=headers) as client:
            yield client
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def sqlite_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("corpus") / "upkeep.db"
    yield from _client(f"sqlite:///{path}")


@pytest.fixture(scope="module")
def postgres_client(postgres_server: str) -> Iterator[TestClient]:
    """One PostgreSQL database for the module's cases, dropped afterwards."""
    server = make_url(postgres_server)
    name = f"upkeep_corpus_{uuid.uuid4().hex[:12]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield from _client(server.set(database=name).render_as_string(hide_password=False))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- comparing answers -----------------------------------------------------------------

_DATETIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$")


def _same_spelling(value: Any) -> Any:
    """``value`` with every instant spelled one way (Update Manager writes seven
    fractional digits, Kusto trims trailing zeros: the same instant either way) and
    floats rounded past arithmetic noise."""
    if isinstance(value, dict):
        return {key: _same_spelling(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_same_spelling(item) for item in value]
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, str) and (match := _DATETIME.match(value)):
        fraction = (match.group(2) or "").rstrip("0")
        return f"{match.group(1)}.{fraction}Z" if fraction else f"{match.group(1)}Z"
    return value


def _comparable(row: dict[str, Any], case: Case) -> str:
    row = _same_spelling(row)
    for column in case.unordered_lists:
        if isinstance(row.get(column), list):
            row[column] = sorted(row[column], key=json.dumps)
    return json.dumps(row, sort_keys=True)


def _expected(case: Case) -> list[dict[str, Any]]:
    rows = case.expect() if case.expect else oracle.answer(case.query, case.subscriptions)
    return json.loads(json.dumps(rows))  # as it would come over the wire


def _answer(client: TestClient, case: Case) -> list[dict[str, Any]]:
    body = {
        "subscriptions": list(case.subscriptions),
        "query": case.query,
        "options": {"$top": 1000},
    }
    response = client.post(GRAPH, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["resultTruncated"] == "false"
    assert answer["count"] == answer["totalRecords"] == len(answer["data"])
    return answer["data"]


def _ends_with_project(query: str) -> bool:
    """The query's last operator is ``project``, which fixes the columns' order."""
    last = re.split(r"\n\s*\|", query)[-1].strip()
    return re.match(r"project\s", last) is not None


def _check(client: TestClient, case: Case) -> None:
    expected = _expected(case)
    assert expected, f"{case.id}: the corpus expects no rows, which tests little"
    actual = _answer(client, case)
    got = [_comparable(row, case) for row in actual]
    wanted = [_comparable(row, case) for row in expected]
    if case.take is not None:
        assert len(got) == case.take
        assert len(set(got)) == case.take, "the same row twice"
        assert set(got) <= set(wanted), "rows the query does not select"
    elif case.ordered:
        assert got == wanted
    else:
        assert sorted(got) == sorted(wanted)
    if _ends_with_project(case.query):
        assert [list(row) for row in actual] == [list(expected[0])] * len(actual)


# --- the cases -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_query_answers_as_resource_graph_would(sqlite_client: TestClient, case: Case) -> None:
    _check(sqlite_client, case)


ON_POSTGRES = [case for case in CASES if case.postgres]


@pytest.mark.postgres
@pytest.mark.parametrize("case", ON_POSTGRES, ids=[case.id for case in ON_POSTGRES])
def test_query_answers_the_same_on_postgresql(postgres_client: TestClient, case: Case) -> None:
    _check(postgres_client, case)


def test_the_corpus_covers_every_table_and_enough_queries() -> None:
    tables = {re.match(r"\w+", case.query).group(0) for case in CASES}  # type: ignore[union-attr]
    assert {"resources", "maintenanceresources", "patchassessmentresources",
            "patchinstallationresources", "union"} <= tables  # fmt: skip
    assert len(CASES) >= 60
