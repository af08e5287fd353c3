"""``POST /providers/Microsoft.ResourceGraph/resources``: paging, formats, facets, errors,
throttling, limits, which rows each caller may read, and queries sent again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import BY_HAND, SettableClock, Tokens
from upkeep.app import create_app
from upkeep.db.store import Store
from upkeep.graph import records
from upkeep.graph.service import Limits
from upkeep.graph.views import GraphSettings
from upkeep.resources import service as resources

GRAPH = "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
MACHINES = "microsoft.hybridcompute/machines"


def machine_row(subscription: str, group: str, name: str, **properties: Any) -> dict[str, Any]:
    machine_id = (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.HybridCompute/machines/{name}"
    )
    return {
        "id": machine_id,
        "name": name,
        "type": MACHINES,
        "location": "westeurope",
        "resourceGroup": group,
        "subscriptionId": subscription,
        "properties": {"osType": "Linux", **properties},
        "tags": {},
    }


def put_rows(store: Store, now: datetime, table: str, rows: list[dict[str, Any]]) -> None:
    with store.writing() as connection:
        for row in rows:
            records.replace_rows(connection, row["id"].lower(), table, [row], now)


@pytest.fixture
def fleet(store: Store, clock: SettableClock, subscription_id: str) -> dict[str, str]:
    """25 machines in subscription A (10 in group Web), 3 in subscription B."""
    with store.writing() as connection:
        other = resources.create_subscription(connection, display_name="Other", now=clock())
    rows = [
        machine_row(subscription_id, "Web" if index < 10 else "Db", f"m{index:02}")
        for index in range(25)
    ]
    rows += [machine_row(other["subscriptionId"], "Web", f"b{index}") for index in range(3)]
    put_rows(store, clock(), "resources", rows)
    return {"a": subscription_id, "b": other["subscriptionId"]}


def query(client: TestClient, text: str, **body: Any) -> Any:
    return client.post(GRAPH, json={"query": text, **body})


def as_caller(store: Store, clock: SettableClock, token: str, **settings: Any) -> TestClient:
    app = create_app(store, clock, intervals=BY_HAND, graph=GraphSettings(**settings))
    return TestClient(
        app, base_url="https://testserver", headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture
def owner(store: Store, clock: SettableClock, tokens: Tokens) -> Iterator[TestClient]:
    with as_caller(store, clock, tokens.make("Owner"), quota=1000) as client:
        yield client


# --- paging ----------------------------------------------------------------------------


def test_pages_follow_the_skip_token_until_the_last(owner: TestClient, fleet: dict) -> None:
    text = "resources | where subscriptionId == '%s' | project id, name | order by name asc"
    text %= fleet["a"]
    first = query(owner, text, subscriptions=[fleet["a"]], options={"$top": 10}).json()
    assert (first["totalRecords"], first["count"], first["resultTruncated"]) == (25, 10, "false")
    assert [row["name"] for row in first["data"]] == [f"m{index:02}" for index in range(10)]
    second = query(
        owner, text, subscriptions=[fleet["a"]], options={"$skipToken": first["$skipToken"]}
    ).json()
    assert [row["name"] for row in second["data"]][:2] == ["m10", "m11"]
    assert second["count"] == 15 and "$skipToken" not in second


def test_skip_and_top_page_without_a_token(owner: TestClient, fleet: dict) -> None:
    text = "resources | project id, name | order by name desc"
    page = query(owner, text, options={"$skip": 26, "$top": 5}).json()
    assert page["totalRecords"] == 28
    assert [row["name"] for row in page["data"]] == ["b1", "b0"]


def test_a_long_result_without_id_is_truncated_rather_than_paged(
    owner: TestClient, fleet: dict
) -> None:
    page = query(owner, "resources | project name", options={"$top": 5}).json()
    assert (page["count"], page["totalRecords"], page["resultTruncated"]) == (5, 28, "true")
    assert "$skipToken" not in page


def test_a_token_only_serves_the_query_that_gave_it(owner: TestClient, fleet: dict) -> None:
    first = query(owner, "resources | project id", options={"$top": 2}).json()
    other = query(
        owner, "resources | project id, name", options={"$skipToken": first["$skipToken"]}
    )
    assert other.status_code == 400
    assert other.json()["error"]["target"] == "options.$skipToken"


# --- formats and facets ----------------------------------------------------------------


def test_the_table_format_names_and_types_each_column(owner: TestClient, fleet: dict) -> None:
    text = "resources | where name == 'm03' | project name, n = 3, r = 1.5, ok = true, properties"
    data = query(owner, text, options={"resultFormat": "table"}).json()["data"]
    assert data["columns"] == [
        {"name": "name", "type": "string"},
        {"name": "n", "type": "integer"},
        {"name": "r", "type": "number"},
        {"name": "ok", "type": "boolean"},
        {"name": "properties", "type": "object"},
    ]
    assert data["rows"] == [["m03", 3, 1.5, True, {"osType": "Linux"}]]


def test_facets_count_rows_per_value(owner: TestClient, fleet: dict) -> None:
    body = {
        "facets": [
            {"expression": "resourceGroup", "options": {"sortOrder": "desc"}},
            {"expression": "resourceGroup", "options": {"filter": "name startswith 'b'"}},
            {"expression": "nosuchcolumn"},
        ]
    }
    answer = query(owner, "resources | project id, resourceGroup, name", **body).json()
    by_group, filtered, broken = answer["facets"]
    assert by_group["resultType"] == "FacetResult"
    assert (
        by_group["data"]
        == [
            {"resourceGroup": "Web", "count": 13},
            {"resourceGroup": "Db", "count": 15},
        ][::-1]
    )
    assert filtered["data"] == [{"resourceGroup": "Web", "count": 3}]
    assert broken["resultType"] == "FacetError"
    assert [error["code"] for error in broken["errors"]] == ["NoValidColumns", "InvalidColumnNames"]


# --- bad requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"query": "resources", "managementGroups": ["mg1"]}, "managementGroups"),
        ({"query": "resources", "options": {"$top": 0}}, "options.$top"),
        ({"query": "resources", "options": {"$top": 1001}}, "options.$top"),
        ({"query": "resources", "options": {"resultFormat": "csv"}}, "options.resultFormat"),
        ({"query": "resources", "subscriptions": ["not-a-guid"]}, "subscriptions"),
        ({"query": "resources", "sort": "name"}, "sort"),
        ({"query": "  "}, "query"),
        ({"subscriptions": []}, "query"),
    ],
)
def test_a_bad_request_names_the_field(owner: TestClient, body: dict, target: str) -> None:
    answer = owner.post(GRAPH, json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == target


def test_authorization_scope_filter_needs_2024_04_01(owner: TestClient, fleet: dict) -> None:
    body = {"query": "resources | count", "options": {"authorizationScopeFilter": "AtScopeExact"}}
    assert owner.post(GRAPH, json=body).status_code == 400
    newer = owner.post(GRAPH.replace("2021-03-01", "2024-04-01"), json=body)
    assert newer.status_code == 200
    assert newer.json()["data"] == [{"Count": 28}]


@pytest.mark.parametrize(
    ("text", "code", "line", "position"),
    [
        ("resources\n| render table", "UnsupportedOperator", 2, 2),
        ("resourcez | take 1", "UnknownTable", 1, 0),
        ("resources | where nme == 'x'", "UnknownColumn", 1, 18),
        ("resources | where name == 'x", "ParserFailure", 1, 26),
    ],
)
def test_a_bad_query_says_what_and_where(
    owner: TestClient, text: str, code: str, line: int, position: int
) -> None:
    answer = query(owner, text)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "BadRequest"
    invalid, problem = error["details"]
    assert invalid["code"] == "InvalidQuery"
    assert (problem["code"], problem["line"], problem["characterPositionInLine"]) == (
        code,
        line,
        position,
    )
    assert f"line {line}, column {position + 1}" in error["message"]


# --- limits ----------------------------------------------------------------------------


def test_a_caller_over_the_quota_is_told_when_to_retry(
    store: Store, clock: SettableClock, tokens: Tokens, fleet: dict
) -> None:
    token = tokens.make("Reader")
    with as_caller(store, clock, token, quota=3, window=60) as client:
        answers = [query(client, "resources | count") for _ in range(4)]
        with as_caller(store, clock, tokens.make("Reader"), quota=3, window=60) as other:
            assert query(other, "resources | count").status_code == 200
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[0].headers["x-ms-user-quota-remaining"] == "2"
    assert answers[3].json()["error"]["code"] == "RateLimiting"
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60


def test_a_query_holding_too_many_rows_stops_with_a_limit_error(
    store: Store, clock: SettableClock, tokens: Tokens, fleet: dict
) -> None:
    with as_caller(store, clock, tokens.make("Owner"), limits=Limits(rows=10)) as client:
        answer = query(client, "resources | extend n = strlen(name) | summarize sum(n)")
        assert answer.status_code == 400
        assert answer.json()["error"]["details"][1]["code"] == "QueryLimit"
        # the same rows counted by the store never come into memory
        assert query(client, "resources | count").json()["data"] == [{"Count": 28}]


def test_a_query_past_its_time_is_stopped(
    store: Store, clock: SettableClock, tokens: Tokens, fleet: dict
) -> None:
    join = " | join kind=inner (resources) on location"
    slow = "resources" + join * 3  # 28^4 rows
    limits = Limits(seconds=0.05, rows=10_000_000)
    with as_caller(store, clock, tokens.make("Owner"), limits=limits) as client:
        answer = query(client, slow)
    assert answer.status_code == 400
    assert answer.json()["error"]["details"][1]["code"] == "QueryLimit"


# --- who sees what ---------------------------------------------------------------------


def names(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return sorted(row["name"] for row in answer.json()["data"])


def test_each_subscriptions_token_sees_only_its_rows(
    store: Store, clock: SettableClock, tokens: Tokens, fleet: dict
) -> None:
    a, b = fleet["a"], fleet["b"]
    reader_b = tokens.make("Reader", f"/subscriptions/{b}")
    with as_caller(store, clock, reader_b) as client:
        assert names(query(client, "resources | project name")) == ["b0", "b1", "b2"]
        assert names(query(client, "resources | project name", subscriptions=[b])) == [
            "b0",
            "b1",
            "b2",
        ]
        refused = query(client, "resources | project name", subscriptions=[a, b])
        assert refused.status_code == 403
        assert a in refused.json()["error"]["message"]
        partial = query(
            client,
            "resources | project name",
            subscriptions=[a, b],
            options={"allowPartialScopes": True},
        )
        assert names(partial) == ["b0", "b1", "b2"]
        crossing = (
            "resources | join kind=leftouter (resources | project id2 = id, location) on location"
            " | union (resources) | project name"
        )
        assert set(names(query(client, crossing))) == {"b0", "b1", "b2"}


def test_a_group_reader_sees_only_that_groups_rows(
    store: Store, clock: SettableClock, tokens: Tokens, fleet: dict
) -> None:
    reader = tokens.make("Reader", f"/subscriptions/{fleet['a']}/resourceGroups/web")
    with as_caller(store, clock, reader) as client:
        seen = names(query(client, "resources | project name"))
        assert seen == [f"m{index:02}" for index in range(10)]
        counted = query(client, "resources | summarize count() by resourceGroup").json()["data"]
        assert counted == [{"resourceGroup": "Web", "count_": 10}]


def test_an_owner_at_the_root_sees_every_subscription(owner: TestClient, fleet: dict) -> None:
    assert len(names(query(owner, "resources | project name"))) == 28
    assert names(query(owner, "resources | project name", subscriptions=[fleet["b"]])) == [
        "b0",
        "b1",
        "b2",
    ]


def test_a_regex_that_would_backtrack_answers_at_once(
    owner: TestClient, store: Store, clock: SettableClock, fleet: dict
) -> None:
    # Python's own engine takes seconds on this; RE2 (Kusto's) takes microseconds
    long = machine_row(fleet["a"], "Web", "long", note="ab" * 2000)
    put_rows(store, clock(), "resources", [long])
    started = time.monotonic()
    answer = query(owner, "resources | where tostring(properties.note) matches regex '.*a.*c'")
    assert answer.status_code == 200
    assert answer.json()["data"] == []
    assert time.monotonic() - started < 2


def test_a_regex_kustos_engine_refuses_is_a_bad_query(owner: TestClient, fleet: dict) -> None:
    answer = query(owner, "resources | where name matches regex 'm*+0'")
    assert answer.status_code == 400
    problem = answer.json()["error"]["details"][1]
    assert problem["code"] == "InvalidArgument"
    assert "RE2" in problem["message"]


def test_keys_that_read_alike_are_one_group_with_their_distinct_counts_right(
    owner: TestClient, store: Store, clock: SettableClock, fleet: dict
) -> None:
    rows = [
        machine_row(fleet["a"], "Web", "p1", v=5),
        machine_row(fleet["a"], "Web", "p2", v="5"),
        machine_row(fleet["a"], "Web", "p3", v=5),
    ]
    put_rows(store, clock(), "resources", rows)
    counted = query(
        owner,
        "resources | where name startswith 'p'"
        " | summarize n = count(), places = dcount(location) by tostring(properties.v)",
    )
    assert counted.json()["data"] == [{"properties_v": "5", "n": 3, "places": 1}]


# --- a query sent again: kept plans never hide a change -----------------------------


def test_a_query_sent_again_sees_rows_written_in_between(
    owner: TestClient, store: Store, clock: SettableClock, fleet: dict
) -> None:
    text = "resources | where name startswith 'new' | project name"
    assert names(query(owner, text)) == []
    put_rows(store, clock(), "resources", [machine_row(fleet["a"], "Db", "new1")])
    assert names(query(owner, text)) == ["new1"]


def test_a_query_on_the_clock_moves_with_it(
    owner: TestClient, store: Store, clock: SettableClock, fleet: dict
) -> None:
    modified = (clock() - timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = machine_row(fleet["a"], "Db", "quiet", lastModifiedDateTime=modified)
    put_rows(store, clock(), "resources", [row])
    text = "resources | where properties.lastModifiedDateTime < ago(1d) | project name"
    assert names(query(owner, text)) == []
    clock.advance(days=1)
    assert names(query(owner, text)) == ["quiet"]


def test_the_same_text_from_two_callers_gives_each_its_own_rows(
    store: Store, clock: SettableClock, tokens: Tokens, fleet: dict
) -> None:
    text = "resources | where name startswith 'b' or name startswith 'm2' | project name"
    reader_a = tokens.make("Reader", f"/subscriptions/{fleet['a']}")
    reader_b = tokens.make("Reader", f"/subscriptions/{fleet['b']}")
    with as_caller(store, clock, reader_a) as client:
        assert names(query(client, text)) == ["m20", "m21", "m22", "m23", "m24"]
    with as_caller(store, clock, reader_b) as client:
        assert names(query(client, text)) == ["b0", "b1", "b2"]
