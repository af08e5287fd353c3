"""The KQL parser: query text in, syntax tree out, or a KqlError that says what and where.

Most cases compare whole trees with positions set to 0 (``shape``), so each reads as
"this text means this tree"; positions are checked on their own, and exactly, for errors.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from upkeep.graph.errors import KqlError
from upkeep.graph.parser import MAX_BRACKET_DEPTH, MAX_TREE_DEPTH, parse
from upkeep.graph.syntax import (
    Assignment,
    Between,
    Binary,
    Call,
    Column,
    Count,
    Distinct,
    Extend,
    Index,
    InList,
    Join,
    JoinKey,
    Literal,
    Member,
    MvExpand,
    Parse,
    ParsePart,
    Project,
    ProjectAway,
    ProjectRename,
    Query,
    Sort,
    SortKey,
    Star,
    Summarize,
    Table,
    Take,
    Top,
    Unary,
    Union,
    Where,
)

# --- helpers ----------------------------------------------------------------------------


def shape(node: Any) -> Any:
    """``node`` with every position set to 0, to compare with trees written by hand."""
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changes = {
        field.name: 0 if field.name == "pos" else shape(getattr(node, field.name))
        for field in dataclasses.fields(node)
    }
    return dataclasses.replace(node, **changes)


def operators(text: str) -> tuple[Any, ...]:
    return shape(parse(text)).operators


def operator(text: str) -> Any:
    """The only operator of ``resources | …``."""
    (only,) = operators(f"resources | {text}")
    return only


def predicate(text: str) -> Any:
    """The expression of ``resources | where <text>``."""
    return operator(f"where {text}").predicate


def value(text: str) -> Any:
    """The expression of ``resources | extend x = <text>``."""
    (column,) = operator(f"extend x = {text}").columns
    return column.expr


def failure(text: str) -> KqlError:
    with pytest.raises(KqlError) as raised:
        parse(text)
    return raised.value


def col(name: str) -> Column:
    return Column(name)


def lit(v: Any, kind: str | None = None) -> Literal:
    if kind is None:
        kinds = {str: "string", bool: "bool", int: "long", float: "real"}
        kind = kinds.get(type(v)) or ("timespan" if isinstance(v, timedelta) else "datetime")
    return Literal(v, kind)


def bin_(op: str, left: Any, right: Any) -> Binary:
    return Binary(op, left, right)


def call(name: str, *args: Any) -> Call:
    return Call(name, args)


def item(expr: Any, name: str | None = None) -> Assignment:
    return Assignment(expr, name)


def table(name: str, *ops: Any) -> Query:
    return Query(Table(name), ops)


# --- sources ----------------------------------------------------------------------------


def test_a_query_is_a_table_then_operators() -> None:
    assert shape(parse("Resources | where true | count")) == Query(
        Table("resources"), (Where(lit(True)), Count())
    )


@pytest.mark.parametrize(
    "text",
    [
        "Resources",
        "resources;",
        "  RESOURCES  ",
        "// every resource\nResources // no filter\n",
        "Resources\r\n\t;",
    ],
)
def test_table_names_ignore_case_whitespace_comments_and_a_trailing_semicolon(text: str) -> None:
    assert shape(parse(text)) == table("resources")


def test_union_as_the_source() -> None:
    assert shape(
        parse("union kind=inner withsource=Src Resources, (maintenanceresources | take 1)")
    ) == Query(
        Union(
            (table("resources"), table("maintenanceresources", Take(lit(1)))),
            kind="inner",
            withsource="Src",
        )
    )


def test_union_as_an_operator_holds_only_the_other_queries() -> None:
    assert operator("union patchassessmentresources") == Union(
        (table("patchassessmentresources"),), kind="outer"
    )


# --- tabular operators ------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["where", "filter"])
def test_where_and_filter(keyword: str) -> None:
    assert operator(f"{keyword} location == 'westeurope'") == Where(
        bin_("==", col("location"), lit("westeurope"))
    )


def test_project_names_expressions_and_bracketed_columns() -> None:
    assert operator("project id, os = properties.osType, ['my col'], properties.osType") == Project(
        (
            item(col("id")),
            item(Member(col("properties"), "osType"), "os"),
            item(col("my col")),
            item(Member(col("properties"), "osType")),
        )
    )


def test_project_away_takes_wildcards() -> None:
    assert operator("project-away properties, tag*, *Id, ['odd name']") == ProjectAway(
        ("properties", "tag*", "*Id", "odd name")
    )


def test_project_rename_pairs_new_with_old() -> None:
    assert operator("project-rename machine = name, ['the id'] = id") == ProjectRename(
        (("machine", "name"), ("the id", "id"))
    )


def test_extend() -> None:
    assert operator("extend prop = parse_json(properties), n = 1") == Extend(
        (item(call("parse_json", col("properties")), "prop"), item(lit(1), "n"))
    )


def test_summarize_aggregates_and_keys() -> None:
    text = "summarize total = count(), countif(a > 1), arg_max(t, *) by type, day = bin(t, 1d)"
    assert operator(text) == Summarize(
        (
            item(call("count"), "total"),
            item(call("countif", bin_(">", col("a"), lit(1)))),
            item(call("arg_max", col("t"), Star())),
        ),
        (item(col("type")), item(call("bin", col("t"), lit(timedelta(days=1))), "day")),
    )


@pytest.mark.parametrize(
    "aggregate",
    ["count()", "dcount(id)", "sum(n)", "min(n)", "max(n)", "avg(n)", "make_list(x, 10)",
     "make_set(x)", "arg_min(t, *)", "any(x)", "take_any(x)"],
)  # fmt: skip
def test_summarize_aggregate_calls(aggregate: str) -> None:
    (only,) = operator(f"summarize {aggregate}").aggregates
    assert isinstance(only.expr, Call)
    assert aggregate.startswith(only.expr.name + "(")


def test_summarize_with_only_keys() -> None:
    assert operator("summarize by type") == Summarize((), (item(col("type")),))


@pytest.mark.parametrize("keyword", ["order", "sort"])
def test_order_by_with_directions_and_nulls(keyword: str) -> None:
    assert operator(f"{keyword} by name asc nulls last, id, t desc nulls first") == Sort(
        (
            SortKey(col("name"), descending=False, nulls_first=False),
            SortKey(col("id")),
            SortKey(col("t"), descending=True, nulls_first=True),
        )
    )


def test_a_sort_key_defaults_to_descending_with_kusto_default_nulls() -> None:
    (key,) = operator("order by name").keys
    assert (key.descending, key.nulls_first) == (True, None)


@pytest.mark.parametrize("keyword", ["take", "limit"])
def test_take_and_limit(keyword: str) -> None:
    assert operator(f"{keyword} 5") == Take(lit(5))


def test_top() -> None:
    assert operator("top 3 by t asc nulls last") == Top(
        lit(3), SortKey(col("t"), descending=False, nulls_first=False)
    )


def test_distinct_columns_or_star() -> None:
    assert operator("distinct name, type") == Distinct((col("name"), col("type")))
    assert operator("distinct *") == Distinct(())


def test_count() -> None:
    assert operator("count") == Count()


def test_mv_expand_with_names_type_and_limit() -> None:
    assert operator(
        "mv-expand p = properties.patches, tags to typeof(string) limit 10"
    ) == MvExpand(
        (item(Member(col("properties"), "patches"), "p"), item(col("tags"))),
        to_type="string",
        limit=10,
    )
    assert operator("mv-expand zones") == MvExpand((item(col("zones")),))


def test_parse_simple_pattern_with_typed_columns_and_skips() -> None:
    assert operator('parse id with "/subscriptions/" sub "/" * "/n/" n:long') == Parse(
        col("id"),
        (
            ParsePart(text="/subscriptions/"),
            ParsePart(column="sub"),
            ParsePart(text="/"),
            ParsePart(),
            ParsePart(text="/n/"),
            ParsePart(column="n", type="long"),
        ),
    )


def test_parse_kind_regex() -> None:
    parsed = operator('parse kind=regex name with @"vm-" n:int')
    assert (parsed.kind, parsed.pattern) == (
        "regex",
        (ParsePart(text="vm-"), ParsePart(column="n", type="int")),
    )


@pytest.mark.parametrize("kind", ["simple", "regex", "relaxed"])
def test_every_parse_kind(kind: str) -> None:
    assert operator(f"parse kind={kind} name with 'a' rest").kind == kind


def test_type_names_are_kept_as_written() -> None:
    # int and long differ in Kusto (32 and 64 bits): the evaluator decides what each means
    assert operator("mv-expand x to typeof(int)").to_type == "int"
    assert operator("parse name with n:double").pattern == (ParsePart(column="n", type="double"),)


def test_join_with_kind_subquery_and_keys() -> None:
    text = (
        "join kind=leftouter (maintenanceresources | where type has 'assignments') "
        "on id, $left.id == $right.resourceId, $right.vm == $left.name"
    )
    assert operator(text) == Join(
        table("maintenanceresources", Where(bin_("has", col("type"), lit("assignments")))),
        (JoinKey("id", "id"), JoinKey("id", "resourceId"), JoinKey("name", "vm")),
        kind="leftouter",
    )


def test_join_with_a_bare_table_defaults_to_innerunique() -> None:
    assert operator("join maintenanceresources on id") == Join(
        table("maintenanceresources"), (JoinKey("id", "id"),), kind="innerunique"
    )


@pytest.mark.parametrize(
    "kind",
    ["inner", "innerunique", "leftouter", "rightouter", "fullouter", "leftanti", "leftsemi",
     "rightanti", "rightsemi"],
)  # fmt: skip
def test_every_join_kind(kind: str) -> None:
    assert operator(f"join kind={kind} (resources) on id").kind == kind


# --- expressions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    ["==", "!=", "<", ">", "<=", ">=", "=~", "!~", "contains", "!contains", "contains_cs",
     "!contains_cs", "has", "!has", "has_cs", "!has_cs", "startswith", "!startswith",
     "startswith_cs", "!startswith_cs", "endswith", "!endswith", "endswith_cs", "!endswith_cs",
     "hasprefix", "!hasprefix", "hassuffix", "!hassuffix", "matches regex"],
)  # fmt: skip
def test_comparison_and_string_operators(op: str) -> None:
    assert predicate(f"name {op} 'x'") == bin_(op, col("name"), lit("x"))


def test_not_equal_can_be_written_as_angle_brackets() -> None:
    assert predicate("a <> 1") == bin_("!=", col("a"), lit(1))


@pytest.mark.parametrize("op", ["in", "!in", "in~", "!in~", "has_any", "has_all"])
def test_list_operators(op: str) -> None:
    assert predicate(f"name {op} ('a', 'b')") == InList(op, col("name"), (lit("a"), lit("b")))


def test_in_a_dynamic_array() -> None:
    assert predicate("name in (dynamic(['a', 'b']))") == InList(
        "in", col("name"), (lit(["a", "b"], "dynamic"),)
    )


def test_between_and_not_between() -> None:
    assert predicate("n between (1 .. 10)") == Between(col("n"), lit(1), lit(10))
    assert predicate("t !between (ago(1d)..now())") == Between(
        col("t"), call("ago", lit(timedelta(days=1))), call("now"), negated=True
    )


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        # * binds tighter than +, + tighter than comparison, and tighter than or
        ("a + b * c", bin_("+", col("a"), bin_("*", col("b"), col("c")))),
        ("a * b + c", bin_("+", bin_("*", col("a"), col("b")), col("c"))),
        ("a - b - c", bin_("-", bin_("-", col("a"), col("b")), col("c"))),
        ("a / b % c", bin_("%", bin_("/", col("a"), col("b")), col("c"))),
        ("a + 1 > b", bin_(">", bin_("+", col("a"), lit(1)), col("b"))),
        (
            "a == 1 or b == 2 and c == 3",
            bin_("or", bin_("==", col("a"), lit(1)),
                 bin_("and", bin_("==", col("b"), lit(2)), bin_("==", col("c"), lit(3)))),
        ),
        (
            "(a == 1 or b == 2) and c",
            bin_("and", bin_("or", bin_("==", col("a"), lit(1)), bin_("==", col("b"), lit(2))),
                 col("c")),
        ),
        ("a has 'x' and b", bin_("and", bin_("has", col("a"), lit("x")), col("b"))),
        ("a in (1) or b", bin_("or", InList("in", col("a"), (lit(1),)), col("b"))),
        ("-a * b", bin_("*", Unary("-", col("a")), col("b"))),
        ("-a.b", Unary("-", Member(col("a"), "b"))),
        ("not(a) or b", bin_("or", call("not", col("a")), col("b"))),
    ],
)  # fmt: skip
def test_precedence(text: str, tree: Any) -> None:
    assert predicate(text) == tree


def test_member_and_index_chains() -> None:
    assert value("properties.storageProfile['osDisk'].disks[0][-1]") == Index(
        Index(
            Member(Index(Member(col("properties"), "storageProfile"), lit("osDisk")), "disks"),
            lit(0),
        ),
        lit(-1),
    )


def test_calls_take_expressions_and_star() -> None:
    assert value("iff(isnotempty(a), strcat(a, '-', b), '')") == call(
        "iff",
        call("isnotempty", col("a")),
        call("strcat", col("a"), lit("-"), col("b")),
        lit(""),
    )
    assert value("count(*)") == call("count", Star())


def test_unary_signs() -> None:
    assert value("-x") == Unary("-", col("x"))
    assert value("+x") == Unary("+", col("x"))
    # a signed number is one literal, as in Kusto
    assert value("-5") == lit(-5)
    assert value("- -5") == lit(5)
    assert value("-1.5") == lit(-1.5)
    assert value("-1d") == lit(timedelta(days=-1))


def test_bracketed_columns() -> None:
    assert value("['id']") == col("id")
    assert value('["odd name"]') == col("odd name")


# --- names that are also keywords -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where type =~ 'x'", Where(bin_("=~", col("type"), lit("x")))),
        ("where kind == 'x'", Where(bin_("==", col("kind"), lit("x")))),
        ("where by == 1 and count > 2", Where(
            bin_("and", bin_("==", col("by"), lit(1)), bin_(">", col("count"), lit(2))))),
        ("project name, kind, type, location, count, by", Project(tuple(
            item(col(n)) for n in ("name", "kind", "type", "location", "count", "by")))),
        ("summarize count() by type", Summarize((item(call("count")),), (item(col("type")),))),
        ("summarize by kind, location", Summarize((), (item(col("kind")), item(col("location"))))),
        ("extend kind = 1", Extend((item(lit(1), "kind"),))),
        ("extend by = name", Extend((item(col("name"), "by"),))),
        ("order by kind", Sort((SortKey(col("kind")),))),
        ("parse kind with 'a' rest", Parse(col("kind"), (ParsePart(text="a"), ParsePart(column="rest"))),),
        ("project-rename kind = type", ProjectRename((("kind", "type"),))),
        ("join (resources) on kind", Join(table("resources"), (JoinKey("kind", "kind"),))),
        ("where properties.type == 1", Where(bin_("==", Member(col("properties"), "type"), lit(1)))),
        ("where tags.environment == 1", Where(
            bin_("==", Member(col("tags"), "environment"), lit(1)))),
        ("where properties.count > 1", Where(bin_(">", Member(col("properties"), "count"), lit(1)))),
    ],
)  # fmt: skip
def test_keywords_work_as_column_names(text: str, expected: Any) -> None:
    assert operator(text) == expected


@pytest.mark.parametrize(
    "word",
    ["where", "by", "kind", "with", "on", "and", "or", "in", "has", "between", "asc", "nulls",
     "dynamic", "datetime", "project", "summarize", "true", "null", "typeof"],
)  # fmt: skip
def test_any_word_is_a_member_name_after_a_dot(word: str) -> None:
    assert value(f"properties.{word}") == Member(col("properties"), word)


# --- literals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'it\\'s'", lit("it's")),
        ('"say \\"hi\\""', lit('say "hi"')),
        ("'a\\\\b\\n\\tc'", lit("a\\b\n\tc")),
        ("'\\u00e9'", lit("é")),
        ("@'c:\\dir\\'", lit("c:\\dir\\")),
        ('@"c:\\x""y"', lit('c:\\x"y')),
        ("h'secret'", lit("secret")),
        ("H@'secret'", lit("secret")),
        ("5", lit(5)),
        ("0x1F", lit(31)),
        ("int(5)", lit(5)),
        ("long(-5)", lit(-5)),
        ("long(null)", lit(None, "long")),
        ("1.5", lit(1.5)),
        ("1e3", lit(1000.0)),
        ("real(2)", lit(2.0)),
        ("double(null)", lit(None, "real")),
        ("true", lit(True)),
        ("false", lit(False)),
        ("bool(true)", lit(True)),
        ("7d", lit(timedelta(days=7))),
        ("1h", lit(timedelta(hours=1))),
        ("30m", lit(timedelta(minutes=30))),
        ("10s", lit(timedelta(seconds=10))),
        ("100ms", lit(timedelta(milliseconds=100))),
        ("1.5h", lit(timedelta(minutes=90))),
        ("10microsecond", lit(timedelta(microseconds=10))),
        ("2days", lit(timedelta(days=2))),
        ("time(1d)", lit(timedelta(days=1))),
        ("timespan(2h)", lit(timedelta(hours=2))),
        ("timespan(15 seconds)", lit(timedelta(seconds=15))),
        ("timespan(2)", lit(timedelta(days=2))),
        ("time(1.02:03:04.5)", lit(timedelta(days=1, hours=2, minutes=3, seconds=4.5))),
        ("time(null)", lit(None, "timespan")),
        ("datetime(2024-01-01)", lit(datetime(2024, 1, 1, tzinfo=UTC))),
        ("datetime(2024-01-01T10:00:00Z)", lit(datetime(2024, 1, 1, 10, tzinfo=UTC))),
        ("datetime(2024-01-01 10:00)", lit(datetime(2024, 1, 1, 10, tzinfo=UTC))),
        (
            "datetime(2024-01-01T10:00:00.1234567Z)",
            lit(datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ),
        ("datetime(2024-01-01T12:30:00+02:00)", lit(datetime(2024, 1, 1, 10, 30, tzinfo=UTC))),
        ("datetime(null)", lit(None, "datetime")),
        (
            "dynamic([1, 'a', \"b\", 2.5, -3, true, null])",
            lit([1, "a", "b", 2.5, -3, True, None], "dynamic"),
        ),
        ("dynamic({'a': {\"b\": []}})", lit({"a": {"b": []}}, "dynamic")),
        ("dynamic(null)", lit(None, "null")),
        ("guid(74be27de-1e4e-49d9-b579-fe0b331d3642)", lit("74be27de-1e4e-49d9-b579-fe0b331d3642")),
        ("null", col("null")),  # not KQL: left to the evaluator as an unknown column
    ],
)
def test_literals(text: str, expected: Any) -> None:
    assert value(text) == expected


def test_a_timespan_unit_must_end_the_word() -> None:
    # 1day is a timespan, 1dx is a number glued to a word
    assert value("1day") == lit(timedelta(days=1))
    assert failure("resources | extend x = 1dx").code == "ParserFailure"


# --- Azure Update Manager's own queries -------------------------------------------------


def test_configuration_assignments_of_a_machine() -> None:
    text = (
        'maintenanceresources | where type =~ "microsoft.maintenance/configurationassignments" '
        '| where properties.maintenanceConfigurationId =~ "/subscriptions/x/resourcegroups/rg/'
        'providers/microsoft.maintenance/maintenanceconfigurations/cfg" '
        '| where properties.resourceId =~ "/subscriptions/x/resourcegroups/rg/providers/'
        'microsoft.compute/virtualmachines/vm1" | project name, id'
    )
    assert shape(parse(text)) == table(
        "maintenanceresources",
        Where(bin_("=~", col("type"), lit("microsoft.maintenance/configurationassignments"))),
        Where(
            bin_(
                "=~",
                Member(col("properties"), "maintenanceConfigurationId"),
                lit(
                    "/subscriptions/x/resourcegroups/rg/providers/microsoft.maintenance/maintenanceconfigurations/cfg"
                ),
            )
        ),
        Where(
            bin_(
                "=~",
                Member(col("properties"), "resourceId"),
                lit(
                    "/subscriptions/x/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"
                ),
            )
        ),
        Project((item(col("name")), item(col("id")))),
    )


def test_patch_counts_by_classification() -> None:
    text = (
        'patchassessmentresources | where type has "softwarepatches" '
        "| extend prop = parse_json(properties) "
        "| summarize count() by tostring(prop.classifications)"
    )
    assert shape(parse(text)) == table(
        "patchassessmentresources",
        Where(bin_("has", col("type"), lit("softwarepatches"))),
        Extend((item(call("parse_json", col("properties")), "prop"),)),
        Summarize(
            (item(call("count")),),
            (item(call("tostring", Member(col("prop"), "classifications"))),),
        ),
    )


def test_pending_reboot_machines_over_several_lines() -> None:
    text = """
        patchassessmentresources
        | where type in~ ("microsoft.compute/virtualmachines/patchassessmentresults",
                          "microsoft.hybridcompute/machines/patchassessmentresults")
        | where properties.status =~ "Succeeded"
        | extend vm = tolower(tostring(split(id, "/patchAssessmentResults/")[0]))
        | where properties.rebootPending == true
        | project vm, lastAssessed = todatetime(properties.lastModifiedDateTime)
        | order by lastAssessed desc
        | take 100
    """
    query = parse(text)
    assert [type(op).__name__ for op in query.operators] == [
        "Where", "Where", "Extend", "Where", "Project", "Sort", "Take",
    ]  # fmt: skip
    extend = shape(query.operators[2])
    assert extend == Extend(
        (
            item(
                call(
                    "tolower",
                    call(
                        "tostring",
                        Index(call("split", col("id"), lit("/patchAssessmentResults/")), lit(0)),
                    ),
                ),
                "vm",
            ),
        )
    )


# --- positions --------------------------------------------------------------------------


def test_positions_are_offsets_of_first_characters() -> None:
    text = "Resources | where properties.osType =~ 'Linux' | project n = name"
    query = parse(text)
    where, project = query.operators
    assert query.pos == query.source.pos == 0
    assert where.pos == text.index("where")
    predicate_ = where.predicate
    assert predicate_.pos == predicate_.left.pos == text.index("properties")
    assert predicate_.right.pos == text.index("'Linux'")
    (column,) = project.columns
    assert column.pos == text.index("n =")
    assert column.expr.pos == text.index("name")


def test_positions_inside_a_join() -> None:
    text = "resources | join kind=inner (maintenanceresources | take 1) on $left.id == $right.rid"
    join = parse(text).operators[0]
    assert join.pos == text.index("join")
    assert join.right.pos == text.index("maintenanceresources")
    assert join.right.operators[0].pos == text.index("take")
    assert join.on[0].pos == text.index("$left")


def test_a_signed_literal_starts_at_its_sign() -> None:
    text = "resources | take -1"
    assert parse(text).operators[0].count.pos == text.index("-")


# --- failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    ["render", "evaluate", "make-series", "lookup", "serialize", "invoke", "as", "sample",
     "sample-distinct", "getschema", "search", "find", "facet", "fork", "range", "print",
     "scan", "partition", "top-nested", "top-hitters", "project-keep", "project-reorder",
     "mv-apply", "reduce"],
)  # fmt: skip
def test_unsupported_operators_are_named_where_they_are(word: str) -> None:
    text = f"Resources | where true | {word} something"
    error = failure(text)
    assert error.code == "UnsupportedOperator"
    assert error.message == f"The operator '{word}' is not supported."
    assert error.pos == text.index(word, 12)
    assert error.token == word


@pytest.mark.parametrize("word", ["let", "print", "datatable", "externaldata", "range"])
def test_unsupported_statements_at_the_start(word: str) -> None:
    error = failure(f"{word} x = 1; Resources")
    assert (error.code, error.pos, error.token) == ("UnsupportedOperator", 0, word)


def test_unsupported_operator_inside_a_subquery() -> None:
    text = "resources | join (maintenanceresources | render table) on id"
    error = failure(text)
    assert (error.code, error.pos) == ("UnsupportedOperator", text.index("render"))


def test_where_without_a_predicate_at_the_end() -> None:
    text = "Resources | where"
    error = failure(text)
    assert error.code == "ParserFailure"
    assert error.message == "Unexpected end of query after 'where': expected an expression."
    assert error.pos == len(text)
    assert error.token is None


def test_where_without_a_predicate_before_a_pipe() -> None:
    text = "Resources | where | project name"
    error = failure(text)
    assert error.message == "Unexpected '|' after 'where': expected an expression."
    assert (error.pos, error.token) == (text.index("| project"), "|")


def test_unterminated_string() -> None:
    text = "Resources | where name == 'vm1 | take 5"
    error = failure(text)
    assert error.code == "ParserFailure"
    assert error.message.startswith("Unterminated string literal")
    assert error.pos == text.index("'")
    assert error.token == "'vm1 | take 5"


def test_a_string_cannot_run_past_the_end_of_its_line() -> None:
    text = 'Resources | where name == "vm1\n" | take 5'
    error = failure(text)
    assert error.message.startswith("Unterminated string literal")
    assert error.pos == text.index('"')


@pytest.mark.parametrize(
    "literal",
    [
        "datetime(2024-13-01)",
        "datetime(2024-02-30)",
        "datetime(yesterday)",
        "datetime(2024-01-01T25:00)",
    ],
)
def test_bad_datetime_points_at_the_literal(literal: str) -> None:
    text = f"Resources | where t > {literal} | take 1"
    error = failure(text)
    assert error.code == "ParserFailure"
    assert error.message.startswith(f"'{literal}' is not a valid datetime")
    assert error.pos == text.index("datetime")
    assert error.token == literal


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Resources | foo",
            "Unexpected 'foo' after '|': expected a tabular operator such as where, project, extend or summarize.",
        ),
        (
            "Resources | Where a",
            "Unexpected 'Where' after '|': expected a tabular operator such as where, project, extend or summarize. KQL is case-sensitive: write 'where'.",
        ),
        (
            "Resources | wherex a",
            "Unexpected 'wherex' after '|': expected a tabular operator such as where, project, extend or summarize.",
        ),
        (
            "Resources | where a = 1",
            "Unexpected '=' after 'a': expected an operator such as ==, and, or, contains or +, '(', '|' or the end of the query. Compare values with ==.",
        ),
        ("Resources | order name", "Unexpected 'name' after 'order': expected 'by'."),
        ("Resources | take 5x", "Unexpected '5x' after 'take': expected an expression."),
        ("Resources | where a in ()", "Unexpected ')' after '(': expected an expression."),
        (
            "Resources | where a == 1 €",
            "Unexpected '€' after '1': expected an operator such as ==, and, or, contains or +, '|' or the end of the query.",
        ),
        ("", "Unexpected end of query: expected a table name or 'union'."),
        (
            "Resources; Resources",
            "Unexpected 'Resources' after ';': expected the end of the query.",
        ),
        (
            "Resources | summarize",
            "Unexpected end of query after 'summarize': expected an expression or 'by'.",
        ),
        ("Resources | project a.", "Unexpected end of query after '.': expected a name."),
    ],
)
def test_syntax_errors_say_what_was_found_and_what_could_come(text: str, message: str) -> None:
    error = failure(text)
    assert (error.code, error.message) == ("ParserFailure", message)


def test_errors_at_the_end_point_past_the_last_character() -> None:
    for text in ("Resources |", "Resources | where a ==", "Resources | project a,", "union"):
        assert failure(text).pos == len(text), text


@pytest.mark.parametrize(
    ("text", "bad", "message_start"),
    [
        ("resources | join kind=sideways (x) on id", "sideways", "'sideways' is not a join kind"),
        ("resources | union kind=left x", "left", "'left' is not a union kind"),
        ("resources | parse kind=fuzzy a with b", "fuzzy", "'fuzzy' is not a parse kind"),
        ("resources | mv-expand a to typeof(text)", "text", "'text' is not a type"),
        ("resources | join (x) on $left.a == $left.b", "$left.b", "A join condition compares"),
        (
            "resources | take 99999999999999999999",
            "999",
            "The number '99999999999999999999' is too large",
        ),
        ("resources | extend x = long(1.5)", "long", "'long(1.5)' is not a valid long literal"),
        ("resources | where a == '\\d'", "\\d", "Unknown escape sequence '\\d'"),
    ],
)
def test_bad_values_are_reported_at_the_value(text: str, bad: str, message_start: str) -> None:
    error = failure(text)
    assert error.code == "ParserFailure"
    assert error.message.startswith(message_start)
    assert error.pos == text.index(bad)


def test_brackets_nested_too_deep_fail_at_the_first_bracket_too_many() -> None:
    ok = "resources | where " + "(" * MAX_BRACKET_DEPTH + "a" + ")" * MAX_BRACKET_DEPTH
    assert shape(parse(ok)).operators == (Where(col("a")),)
    text = (
        "resources | where " + "(" * (MAX_BRACKET_DEPTH + 1) + "a" + ")" * (MAX_BRACKET_DEPTH + 1)
    )
    error = failure(text)
    assert error.code == "ParserFailure"
    assert error.pos == len("resources | where ") + MAX_BRACKET_DEPTH
    assert error.token == "("


def test_dynamic_values_count_toward_bracket_depth() -> None:
    text = (
        "resources | extend d = dynamic(" + "[" * MAX_BRACKET_DEPTH + "]" * MAX_BRACKET_DEPTH + ")"
    )
    error = failure(text)
    assert error.pos == text.index("[") + MAX_BRACKET_DEPTH - 1


def test_long_chains_without_brackets_are_bounded() -> None:
    short = "resources | where " + " or ".join(f"a == {n}" for n in range(MAX_TREE_DEPTH // 2))
    assert isinstance(parse(short), Query)
    long = "resources | where " + " or ".join(f"a == {n}" for n in range(MAX_TREE_DEPTH + 1))
    error = failure(long)
    assert error.code == "ParserFailure"
    assert "more than" in error.message
    assert 0 <= error.pos <= len(long)


def test_long_member_chains_are_bounded() -> None:
    assert failure("resources | where a" + ".b" * 1000).code == "ParserFailure"
