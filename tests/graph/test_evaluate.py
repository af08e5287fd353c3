"""Tabular KQL as a user sees it: each operator over a small fleet, column naming, join
kinds and their suffixes, union, Resource Graph's limits, the deadline, and speed."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.graph.test_scalars import any_expression, any_row
from upkeep.graph import syntax as s
from upkeep.graph.errors import KqlError
from upkeep.graph.evaluate import Context, Frame, output_name, run_operators, to_json
from upkeep.graph.parser import parse

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
COLUMNS = ["id", "name", "type", "location", "properties", "tags"]
VM = "microsoft.compute/virtualmachines"
ARC = "microsoft.hybridcompute/machines"


def machine(name: str, kind: str, location: str, properties: dict, tags: dict) -> dict:
    return {
        "id": f"/subscriptions/s1/resourceGroups/rg/providers/{kind}/{name}",
        "name": name,
        "type": kind,
        "location": location,
        "properties": properties,
        "tags": tags,
    }


MACHINES = [
    machine(
        "web1",
        VM,
        "westeurope",
        {"osType": "Linux", "disks": ["os", "data"], "modified": "2024-04-30T10:00:00Z"},
        {"env": "prod", "team": "web"},
    ),
    machine(
        "web2",
        VM,
        "eastus",
        {"osType": "Windows", "disks": ["os"], "modified": "2024-01-15T08:00:00Z"},
        {"env": "test"},
    ),
    machine("db1", ARC, "westeurope", {"osType": "Linux", "disks": []}, {}),
]

#: Kusto's documented join example: keys a..d on two sides.
X = Frame(
    ["Key", "Value1"],
    [{"Key": k, "Value1": v} for k, v in [("a", 1), ("b", 2), ("b", 3), ("c", 4)]],
)
Y = Frame(
    ["Key", "Value2"],
    [{"Key": k, "Value2": v} for k, v in [("b", 10), ("c", 20), ("c", 30), ("d", 40)]],
)


def tables() -> dict[str, Frame]:
    return {"resources": Frame(list(COLUMNS), MACHINES, "resources"), "x": X, "y": Y}


def context(found: dict[str, Frame] | None = None, **limits: Any) -> Context:
    """A context whose subqueries read ``found`` (by table name), as the service's do."""
    known = tables() if found is None else found

    def run(query: s.Query) -> Frame:
        if isinstance(query.source, s.Union):
            return run_operators(Frame([], []), (query.source, *query.operators), current)
        table = known[query.source.name]
        start = Frame(list(table.columns), list(table.rows), query.source.name)
        return run_operators(start, query.operators, current)

    current = Context(now=NOW, run=run, **limits)
    return current


def kql(text: str, **limits: Any) -> Frame:
    """The result of ``text`` over the fleet and the join tables."""
    return context(**limits).run(parse(text))


def column(frame: Frame, name: str) -> list[Any]:
    return [row[name] for row in frame.rows]


def failure(text: str, **limits: Any) -> KqlError:
    with pytest.raises(KqlError) as caught:
        kql(text, **limits)
    return caught.value


# --- where, project, extend ------------------------------------------------------------------------


def test_where_keeps_rows_whose_predicate_is_exactly_true() -> None:
    assert column(kql("resources | where properties.osType == 'Linux'"), "name") == ["web1", "db1"]
    assert column(kql("resources | where tags.env != 'prod'"), "name") == ["web2"]
    assert kql("resources | where properties.missing == 'x' or true").rows == MACHINES
    assert kql("resources | where properties.osType").rows == []


def test_project_yields_columns_in_the_order_written_with_kusto_names() -> None:
    result = kql(
        "resources | project name, properties.osType, os = tolower(properties.osType),"
        " strlen(name), tags['env']"
    )
    assert result.columns == ["name", "properties_osType", "os", "Column4", "tags_env"]
    assert result.rows[0] == {
        "name": "web1",
        "properties_osType": "Linux",
        "os": "linux",
        "Column4": 4,
        "tags_env": "prod",
    }


def test_a_repeated_column_name_gets_a_numeric_suffix() -> None:
    assert kql("resources | project name, name, name").columns == ["name", "name1", "name2"]


def test_project_away_drops_columns_by_name_and_wildcard() -> None:
    assert kql("resources | project-away prop*, tags").columns == ["id", "name", "type", "location"]
    assert kql("resources | project-away *a*").columns == ["id", "type", "properties"]


def test_project_rename_keeps_the_column_in_place() -> None:
    result = kql("resources | project-rename machine = name, where = location")
    assert result.columns == ["id", "machine", "type", "where", "properties", "tags"]
    assert result.rows[0]["machine"] == "web1"


def test_extend_replaces_an_existing_column_in_place_and_appends_new_ones() -> None:
    result = kql("resources | extend name = toupper(name), disks = array_length(properties.disks)")
    assert result.columns == [*COLUMNS, "disks"]
    assert column(result, "name") == ["WEB1", "WEB2", "DB1"]
    assert column(result, "disks") == [2, 1, 0]


def test_extend_sees_the_columns_it_defined_before() -> None:
    assert column(kql("resources | extend a = 1, b = a + 1 | take 1"), "b") == [2]


def test_a_typed_bool_stays_typed_through_operators_and_prints_as_kusto_does() -> None:
    result = kql(
        "resources | extend linux = properties.osType == 'Linux', flag = parse_json('true')"
        " | project name, linux, flag | join kind=inner (resources | project name) on name"
        " | summarize take_any(linux), take_any(flag) by name"
        " | project name, text = strcat(any_linux, '/', any_flag)"
    )
    assert column(result, "text") == ["True/true", "False/true", "True/true"]


def test_operators_never_change_the_rows_they_were_given() -> None:
    before = json.dumps(MACHINES)
    kql("resources | extend name = 'x' | project-rename n = name | mv-expand properties.disks")
    assert json.dumps(MACHINES) == before


# --- unknown columns --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("T | where nmae == 'web1'", "nmae"),
        ("T | project name, nmae", "nmae"),
        ("T | extend x = strlen(nmae)", "nmae"),
        ("T | summarize count() by nmae", "nmae"),
        ("T | summarize max(nmae)", "nmae"),
        ("T | order by nmae", "nmae"),
        ("T | top 3 by nmae", "nmae"),
        ("T | distinct nmae", "nmae"),
        ("T | mv-expand nmae", "nmae"),
        ("T | parse nmae with 'a' x", "nmae"),
        ("T | project-rename a = nmae", "project-rename"),
        ("T | project-away nmae", "project-away"),
        ("T | project n = name | where name == 'x'", "name == 'x'"),
    ],
)
def test_an_unknown_column_fails_even_when_there_are_no_rows(text: str, at: str) -> None:
    with pytest.raises(KqlError) as caught:
        run_operators(Frame(list(COLUMNS), []), parse(text).operators, context())
    error = caught.value
    assert error.code == "UnknownColumn"
    assert error.pos == text.index(at)


def test_an_unknown_column_names_the_position_of_the_reference() -> None:
    text = "T | where name == 'a' | where nmae == 'b'"
    with pytest.raises(KqlError) as caught:
        run_operators(Frame(list(COLUMNS), []), parse(text).operators, context())
    assert caught.value.pos == text.index("nmae")


# --- naming ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "name"),
    [
        ("name", "name"),
        ("n = strlen(name)", "n"),
        ("properties.osType", "properties_osType"),
        ("properties.a.b", "properties_a_b"),
        ("properties['a']", "properties_a"),
        ("tostring(properties.classifications)", "properties_classifications"),
        ("toint(properties.count)", "properties_count"),
        ("tolower(tostring(properties.osType))", "properties_osType"),
        ("bin(todatetime(properties.modified), 1d)", "properties_modified"),
        ("count()", "count_"),
        ("countif(name == 'x')", "countif_"),
        ("dcount(name)", "dcount_name"),
        ("sum(toint(properties.count))", "sum_properties_count"),
        ("min(name)", "min_name"),
        ("max(name)", "max_name"),
        ("avg(properties.count)", "avg_properties_count"),
        ("make_list(name)", "list_name"),
        ("make_set(location)", "set_location"),
        ("take_any(name)", "any_name"),
        ("strlen(name)", "Column3"),
        ("1 + 1", "Column3"),
    ],
)
def test_output_names_follow_kusto(item: str, name: str) -> None:
    assignment = parse(f"T | summarize {item}").operators[0].aggregates[0]  # type: ignore[union-attr]
    assert output_name(assignment, 2) == name


# --- summarize --------------------------------------------------------------------------------------


def test_summarize_puts_keys_first_then_aggregates() -> None:
    result = kql(
        "resources | summarize machines = count(), linux = countif(properties.osType == 'Linux')"
        " by location"
    )
    assert result.columns == ["location", "machines", "linux"]
    assert result.rows == [
        {"location": "westeurope", "machines": 2, "linux": 2},
        {"location": "eastus", "machines": 1, "linux": 0},
    ]


def test_summarize_by_a_converted_path_names_the_key_after_the_path() -> None:
    result = kql("resources | summarize count() by tostring(properties.osType)")
    assert result.columns == ["properties_osType", "count_"]
    assert {row["properties_osType"]: row["count_"] for row in result.rows} == {
        "Linux": 2,
        "Windows": 1,
    }


def test_summarize_bins_time_keys() -> None:
    result = kql(
        "resources | where isnotempty(properties.modified)"
        " | summarize count() by bin(todatetime(properties.modified), 30d)"
    )
    assert result.columns == ["properties_modified", "count_"]
    assert len(result.rows) == 2
    assert all(type(row["properties_modified"]) is datetime for row in result.rows)


def test_aggregates_skip_nulls_and_count_counts_rows() -> None:
    result = kql(
        "resources | extend n = array_length(properties.disks), t = tags.team"
        " | summarize count(), sum(n), avg(n), min(n), max(n), dcount(t), make_list(t),"
        " take_any(t)"
    )
    assert result.rows == [
        {
            "count_": 3,
            "sum_n": 3,
            "avg_n": 1.0,
            "min_n": 0,
            "max_n": 2,
            "dcount_t": 1,
            "list_t": ["web"],
            "any_t": "web",
        }
    ]


def test_make_set_is_distinct_and_merges_arrays() -> None:
    result = kql("resources | summarize make_set(properties.disks), make_set(location, 1)")
    assert result.rows == [{"set_properties_disks": ["os", "data"], "set_location": ["westeurope"]}]


def test_expressions_over_aggregates() -> None:
    result = kql(
        "resources | summarize pct = 100.0 * countif(properties.osType == 'Linux') / count()"
    )
    assert result.rows[0]["pct"] == pytest.approx(66.666, rel=1e-3)


def test_summarize_of_no_rows_gives_one_row_without_keys_and_none_with_them() -> None:
    empty = kql(
        "resources | where name == 'nothing'"
        " | summarize count(), countif(true), dcount(name), sum(1), min(name), make_list(name)"
    )
    assert empty.rows == [
        {
            "count_": 0,
            "countif_": 0,
            "dcount_name": 0,
            "sum_": None,
            "min_name": None,
            "list_name": [],
        }
    ]
    assert kql("resources | where name == 'nothing' | summarize count() by location").rows == []


def test_arg_max_returns_the_row_with_the_largest_value() -> None:
    result = kql("resources | summarize arg_max(todatetime(properties.modified), *) by location")
    assert result.columns == [
        "location",
        "properties_modified",
        *[c for c in COLUMNS if c != "location"],
    ]
    by_location = {row["location"]: row["name"] for row in result.rows}
    assert by_location == {"westeurope": "web1", "eastus": "web2"}


def test_arg_min_with_named_columns() -> None:
    result = kql("resources | summarize arg_min(strlen(name), name, location)")
    assert result.columns == ["Column1", "name", "location"]
    assert result.rows == [{"Column1": 3, "name": "db1", "location": "westeurope"}]


@pytest.mark.parametrize(
    "text",
    [
        "resources | summarize name by location",
        "resources | summarize count(count())",
        "resources | summarize 1 + arg_max(name, *)",
        "resources | summarize arg_max(*, name)",
        "resources | where count() > 1",
        "resources | extend n = sum(1)",
    ],
)
def test_aggregates_belong_in_summarize_and_summarize_needs_them(text: str) -> None:
    assert failure(text).code == "InvalidArgument"


# --- order, take, top, distinct, count --------------------------------------------------------------


def test_sort_is_stable_with_several_keys_and_descending_by_default() -> None:
    result = kql("resources | order by location, name asc")
    assert column(result, "name") == ["db1", "web1", "web2"]


def test_nulls_go_first_ascending_and_last_descending_unless_told() -> None:
    frame = "resources | extend team = tags.team"
    assert column(kql(f"{frame} | sort by team asc"), "name") == ["web2", "db1", "web1"]
    assert column(kql(f"{frame} | sort by team desc"), "name") == ["web1", "web2", "db1"]
    assert column(kql(f"{frame} | sort by team desc nulls first"), "name") == [
        "web2",
        "db1",
        "web1",
    ]
    assert column(kql(f"{frame} | sort by team asc nulls last"), "name") == ["web1", "web2", "db1"]


def test_strings_sort_ordinally() -> None:
    result = kql(
        "resources | extend k = case(name == 'web1', 'b', name == 'web2', 'B', 'a') | sort by k asc"
    )
    assert column(result, "k") == ["B", "a", "b"]


def test_sorting_mixed_types_does_not_fail() -> None:
    result = kql(
        "resources | extend v = case(name == 'web1', pack_array(1), name == 'web2', 'text', 2.5)"
        " | sort by v"
    )
    assert len(result.rows) == 3


def test_take_limit_and_top() -> None:
    assert column(kql("resources | take 2"), "name") == ["web1", "web2"]
    assert column(kql("resources | limit 1"), "name") == ["web1"]
    assert column(kql("resources | top 2 by name asc"), "name") == ["db1", "web1"]
    assert failure("resources | take -1").code == "InvalidArgument"
    assert failure("resources | take name").code == "InvalidArgument"


def test_distinct_and_count() -> None:
    assert kql("resources | distinct location").rows == [
        {"location": "westeurope"},
        {"location": "eastus"},
    ]
    assert len(kql("resources | project location, type | distinct *").rows) == 3
    assert kql("resources | count").rows == [{"Count": 3}]
    assert kql("resources | where false | count").rows == [{"Count": 0}]


# --- mv-expand ---------------------------------------------------------------------------------------


def test_mv_expand_makes_a_row_per_element() -> None:
    result = kql("resources | mv-expand disk = properties.disks | project name, disk")
    # an empty array makes no row
    assert result.rows == [
        {"name": "web1", "disk": "os"},
        {"name": "web1", "disk": "data"},
        {"name": "web2", "disk": "os"},
    ]


def test_mv_expand_of_a_path_names_the_column_after_it_and_null_gives_one_row() -> None:
    result = kql("resources | mv-expand tags.team | project name, tags_team")
    assert result.rows == [
        {"name": "web1", "tags_team": "web"},
        {"name": "web2", "tags_team": None},
        {"name": "db1", "tags_team": None},
    ]


def test_mv_expand_of_a_bag_makes_one_key_bags() -> None:
    result = kql("resources | where name == 'web1' | mv-expand tags | project tags")
    assert column(result, "tags") == [{"env": "prod"}, {"team": "web"}]


def test_mv_expand_converts_with_to_typeof_and_expands_columns_in_parallel() -> None:
    result = kql(
        "resources | where name == 'web1'"
        " | mv-expand n = dynamic(['1', 'x', '3']), d = properties.disks to typeof(long)"
        " | project n, d"
    )
    assert result.rows == [{"n": 1, "d": None}, {"n": None, "d": None}, {"n": 3, "d": None}]


def test_mv_expand_stops_at_its_limit_and_at_resource_graphs_default_of_128() -> None:
    assert len(kql("resources | take 1 | mv-expand a = dynamic([1, 2, 3]) limit 2").rows) == 2
    numbers = ",".join(str(i) for i in range(300))
    text = f"resources | take 1 | mv-expand a = split('{numbers}', ',')"
    assert len(kql(text).rows) == 128
    assert len(kql(text + " limit 300").rows) == 300
    error = failure(text + " limit 401")
    assert error.code == "QueryLimit"


# --- parse -----------------------------------------------------------------------------------------


def test_parse_captures_typed_values_and_gives_nulls_when_it_does_not_match() -> None:
    result = kql(
        "resources | extend text = strcat('disks=', array_length(properties.disks), ';os=',"
        " properties.osType) | parse text with 'disks=' disks:long ';os=' os | project name, disks, os"
    )
    assert result.rows == [
        {"name": "web1", "disks": 2, "os": "Linux"},
        {"name": "web2", "disks": 1, "os": "Windows"},
        {"name": "db1", "disks": 0, "os": "Linux"},
    ]
    missed = kql("resources | parse name with 'db' n:long | project name, n")
    assert column(missed, "n") == [None, None, 1]


def test_parse_skips_with_star_and_takes_regex_parts_in_regex_kind() -> None:
    skipped = kql("resources | parse id with * '/providers/' provider '/' * | project provider")
    assert column(skipped, "provider") == [
        "microsoft.compute",
        "microsoft.compute",
        "microsoft.hybridcompute",
    ]
    regex = kql(r"resources | parse kind=regex name with @'[a-z]+' n:long | project n")
    assert column(regex, "n") == [1, 2, 1]


def test_parse_takes_many_captures_and_never_backtracks() -> None:
    text = "Event: sync (name=pipe, total=27, slice=23, lock=2016-02-17 08:40:01) done"
    query = (
        "t | parse s with * 'name=' name ', total=' total:long ', slice=' slice:long"
        " ', lock=' lock:datetime ')' * | project name, total, slice, lock"
    )
    found = {"t": Frame(["s"], [{"s": text}, {"s": "name=" + ", total=" * 20_000}])}
    started = time.perf_counter()
    result = context(found).run(parse(query))
    assert time.perf_counter() - started < 1
    assert result.rows == [
        {
            "name": "pipe",
            "total": 27,
            "slice": 23,
            "lock": datetime(2016, 2, 17, 8, 40, 1, tzinfo=UTC),
        },
        {"name": None, "total": None, "slice": None, "lock": None},
    ]


def test_parse_must_consume_the_whole_text() -> None:
    assert column(kql("resources | parse name with 'web' n"), "n") == ["1", "2", None]
    assert column(kql("resources | parse name with 'w' n '1'"), "n") == ["eb", None, None]
    assert column(kql("resources | parse id with '/' * '/' rest"), "rest") == [
        machine["id"].split("/", 2)[2] for machine in MACHINES
    ]


def test_parse_type_mismatch_gives_nulls() -> None:
    assert column(kql("resources | parse name with 'web' n:long | project n"), "n") == [1, 2, None]
    assert column(kql("resources | parse location with x:long | project x"), "x") == [None] * 3


# --- join ---------------------------------------------------------------------------------------------


def joined(kind: str) -> list[tuple[Any, ...]]:
    result = kql(f"x | join kind={kind} (y) on Key")
    return [tuple(row.values()) for row in result.rows]


def test_the_default_join_is_innerunique_and_right_columns_that_clash_get_a_1() -> None:
    result = kql("x | join (y) on Key")
    assert result.columns == ["Key", "Value1", "Key1", "Value2"]
    assert [tuple(row.values()) for row in result.rows] == [
        ("b", 2, "b", 10),
        ("c", 4, "c", 20),
        ("c", 4, "c", 30),
    ]


@pytest.mark.parametrize(
    ("kind", "rows"),
    [
        ("inner", [("b", 2, "b", 10), ("b", 3, "b", 10), ("c", 4, "c", 20), ("c", 4, "c", 30)]),
        (
            "leftouter",
            [
                ("a", 1, None, None),
                ("b", 2, "b", 10),
                ("b", 3, "b", 10),
                ("c", 4, "c", 20),
                ("c", 4, "c", 30),
            ],
        ),
        (
            "rightouter",
            [
                ("b", 2, "b", 10),
                ("b", 3, "b", 10),
                ("c", 4, "c", 20),
                ("c", 4, "c", 30),
                (None, None, "d", 40),
            ],
        ),
        (
            "fullouter",
            [
                ("a", 1, None, None),
                ("b", 2, "b", 10),
                ("b", 3, "b", 10),
                ("c", 4, "c", 20),
                ("c", 4, "c", 30),
                (None, None, "d", 40),
            ],
        ),
        ("leftsemi", [("b", 2), ("b", 3), ("c", 4)]),
        ("leftanti", [("a", 1)]),
        ("rightsemi", [("b", 10), ("c", 20), ("c", 30)]),
        ("rightanti", [("d", 40)]),
    ],
)
def test_join_kinds(kind: str, rows: list[tuple[Any, ...]]) -> None:
    assert joined(kind) == rows


def test_join_on_differently_named_columns() -> None:
    result = kql(
        "resources | project machine = id, name"
        " | join kind=leftouter (resources | project id, os = properties.osType)"
        " on $left.machine == $right.id | project name, os"
    )
    assert result.rows == [
        {"name": "web1", "os": "Linux"},
        {"name": "web2", "os": "Windows"},
        {"name": "db1", "os": "Linux"},
    ]


def test_join_keys_compare_with_equality() -> None:
    result = kql("x | extend Key = toupper(Key) | join kind=inner (y) on Key")
    assert result.rows == []


def test_join_keys_must_exist_on_their_side() -> None:
    text = "x | join (y | project Value2) on Key"
    error = failure(text)
    assert error.code == "UnknownColumn"
    assert error.pos == text.rindex("Key")
    assert failure("x | join (y) on $left.Nope == $right.Key").code == "UnknownColumn"


# --- union --------------------------------------------------------------------------------------------


def test_union_outer_has_every_column_and_inner_the_common_ones() -> None:
    outer = kql("x | union (y)")
    assert outer.columns == ["Key", "Value1", "Value2"]
    assert outer.rows[0] == {"Key": "a", "Value1": 1, "Value2": None}
    assert outer.rows[-1] == {"Key": "d", "Value1": None, "Value2": 40}
    assert len(outer.rows) == 8
    inner = kql("x | union kind=inner (y)")
    assert inner.columns == ["Key"]


def test_union_withsource_names_each_rows_table() -> None:
    result = kql("union withsource=table x, (y | take 1)")
    assert result.columns == ["table", "Key", "Value1", "Value2"]
    assert column(result, "table") == ["x", "x", "x", "x", "y"]
    piped = kql("x | take 1 | union withsource=source (y | take 1)")
    assert column(piped, "source") == ["x", "y"]


# --- Resource Graph's limits, the row limit and the deadline ----------------------------------------------


def test_at_most_three_joins_in_a_query_subqueries_included() -> None:
    three = "x | join (y) on Key | join (y) on Key | join (y | join (y) on Key) on Key"
    error = failure(three)
    assert error.code == "QueryLimit"
    assert error.pos == three.index("join (y) on Key) on Key")
    assert len(kql("x | join (y) on Key | join (y) on Key | join (y) on Key").rows) == 3


def test_at_most_three_mv_expands_in_a_query() -> None:
    expand = " | mv-expand properties.disks"
    assert kql("resources" + expand * 3).rows
    text = "resources" + expand * 4
    error = failure(text)
    assert error.code == "QueryLimit"
    assert error.pos == text.rindex("mv-expand")


def test_a_step_that_would_hold_too_many_rows_stops_the_query() -> None:
    assert failure("x | join kind=inner (x) on Key", max_rows=3).code == "QueryLimit"
    error = failure("resources | mv-expand properties.disks", max_rows=2)
    assert error.code == "QueryLimit"
    assert error.pos == len("resources | ")
    assert len(kql("resources | mv-expand properties.disks", max_rows=3).rows) == 3


def test_a_query_past_its_deadline_stops() -> None:
    error = failure("resources | where name == 'web1'", deadline=time.monotonic() - 1)
    assert error.code == "QueryLimit"
    assert error.pos == len("resources | ")


# --- speed and robustness ------------------------------------------------------------------------------


def test_where_and_summarize_over_200k_rows_take_well_under_a_second() -> None:
    chooser = random.Random(5)
    rows = [
        {
            "name": f"vm{i}",
            "type": chooser.choice([VM, ARC]),
            "location": chooser.choice(["westeurope", "eastus", "westus"]),
            "properties": {"osType": chooser.choice(["Linux", "Windows"])},
        }
        for i in range(200_000)
    ]
    query = parse(
        "T | where type has 'virtualmachines' and properties.osType =~ 'linux'"
        " | summarize count() by location"
    )
    started = time.perf_counter()
    result = run_operators(
        Frame(["name", "type", "location", "properties"], rows), query.operators, context()
    )
    elapsed = time.perf_counter() - started
    assert sum(column(result, "count_")) == sum(
        1 for row in rows if row["type"] == VM and row["properties"]["osType"] == "Linux"
    )
    # About 0.3 s on one core; the margin is for busy test machines.
    assert elapsed < 1.5


_SINGLE_OPERATORS = st.sampled_from(
    ["where", "extend", "sort", "summarize", "mv-expand", "distinct"]
)


def _operator(kind: str, expression: s.Expression) -> s.Operator:
    if kind == "where":
        return s.Where(expression)
    if kind == "extend":
        return s.Extend((s.Assignment(expression, "x"),))
    if kind == "sort":
        return s.Sort((s.SortKey(expression),))
    if kind == "summarize":
        aggregate = s.Call("make_set", (expression,))
        return s.Summarize((s.Assignment(aggregate),), (s.Assignment(expression, "k"),))
    if kind == "mv-expand":
        return s.MvExpand((s.Assignment(expression, "m"),))
    return s.Distinct((expression,))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(_SINGLE_OPERATORS, min_size=1, max_size=3),
    expression=any_expression,
    rows=st.lists(any_row, max_size=4),
)
def test_random_operators_over_random_rows_raise_nothing_but_kql_errors(
    kinds: list[str], expression: s.Expression, rows: list[dict[str, Any]]
) -> None:
    frame = Frame(list(rows[0]) if rows else ["a", "b", "c"], rows)
    try:
        result = run_operators(frame, [_operator(kind, expression) for kind in kinds], context())
    except KqlError:
        return
    json.dumps([to_json(row) for row in result.rows], allow_nan=False)
