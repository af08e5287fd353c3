"""Scalar KQL as a user sees it in ``where`` and ``extend``: dynamic access, null
propagation, Kusto's case rules, ``has`` terms, time arithmetic, the functions, regex
safety, and that no value, however odd, makes an expression raise anything but KqlError."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upkeep.graph import syntax as s
from upkeep.graph.errors import KqlError
from upkeep.graph.evaluate import Context, Frame, column_type, evaluate, to_json
from upkeep.graph.functions import FUNCTIONS
from upkeep.graph.parser import parse

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _no_subqueries(query: s.Query) -> Frame:
    raise AssertionError("scalar expressions run no subqueries")


CONTEXT = Context(now=NOW, run=_no_subqueries)

#: A resource's dynamic properties, as the store hands them over.
PROPERTIES = {
    "osType": "Linux",
    "count": 3,
    "ratio": 1.5,
    "lastModifiedDateTime": "2024-04-30T10:00:00Z",
    "disks": [{"name": "os"}, {"name": "data"}],
    "numbers": [1, 2, 3],
    "nested": {"a": {"b": 2}},
}


#: What :func:`value` puts before an expression; error positions count from its start.
PREFIX = "T | extend result = "


def value(text: str, **row: Any) -> Any:
    """The value of the KQL expression ``text`` over ``row``."""
    query = parse(PREFIX + text)
    expression = query.operators[0].columns[0].expr  # type: ignore[union-attr]
    return evaluate(expression, row, CONTEXT)


def resource(text: str) -> Any:
    return value(text, name="vm1", properties=PROPERTIES)


def failure(text: str, **row: Any) -> KqlError:
    with pytest.raises(KqlError) as caught:
        value(text, **row)
    return caught.value


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- dynamic values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("properties.osType", "Linux"),
        ("properties.nested.a.b", 2),
        ("properties['nested']['a'].b", 2),
        ("properties.disks[0].name", "os"),
        ("properties.disks[-1].name", "data"),
        ("properties.numbers[5]", None),
        ("properties.missing", None),
        ("properties.missing.deeper", None),
        ("properties.osType.inner", None),
        ("name.inner", None),
    ],
)
def test_dynamic_access_reads_paths_and_gives_null_for_what_is_not_there(
    text: str, expected: Any
) -> None:
    assert resource(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a JSON string holding a datetime compares as one, no todatetime() needed
        ("properties.lastModifiedDateTime > ago(7d)", True),
        ("properties.lastModifiedDateTime < datetime(2024-01-01)", False),
        ("properties.lastModifiedDateTime == datetime(2024-04-30 10:00)", True),
        # numbers compare across long and real
        ("properties.count == 3.0", True),
        ("properties.ratio > 1", True),
        ("properties.count between (1 .. 3)", True),
        # a dynamic string against a string compares as strings
        ("properties.osType == 'Linux'", True),
        ("properties.osType == 'linux'", False),
        ("properties.osType =~ 'linux'", True),
        ("properties.osType < 'M'", True),
    ],
)
def test_dynamic_values_compare_with_typed_values(text: str, expected: bool) -> None:
    assert resource(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "properties.missing == 'x'",
        "properties.missing != 'x'",
        "properties.missing > 1",
        "properties.osType > 1",
        "name > now()",
        "1 + properties.missing",
        "properties.missing * 2",
        "-properties.missing",
        "datetime_add('day', 1, properties.missing)",
        "toint(properties.missing)",
    ],
)
def test_null_and_values_of_the_wrong_type_propagate_as_null(text: str) -> None:
    assert resource(text) is None


@pytest.mark.parametrize(
    ("a", "b", "conjunction", "disjunction"),
    [
        (True, True, True, True),
        (True, False, False, True),
        (True, None, None, True),
        (False, None, False, None),
        (None, None, None, None),
        (None, False, False, None),
    ],
)
def test_and_or_are_three_valued(a: Any, b: Any, conjunction: Any, disjunction: Any) -> None:
    assert value("a and b", a=a, b=b) is conjunction
    assert value("a or b", a=a, b=b) is disjunction


def test_not_of_null_is_null() -> None:
    assert value("not(a)", a=None) is None
    assert value("not(a)", a=False) is True


# --- strings: case rules and terms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'Hello World' == 'hello world'", False),
        ("'Hello World' != 'hello world'", True),
        ("'Hello World' =~ 'hello world'", True),
        ("'Hello World' !~ 'hello world'", False),
        ("'Hello World' contains 'WORLD'", True),
        ("'Hello World' contains_cs 'WORLD'", False),
        ("'Hello World' !contains 'WORLD'", False),
        ("'Hello World' !contains_cs 'WORLD'", True),
        ("'Hello World' startswith 'hello'", True),
        ("'Hello World' startswith_cs 'hello'", False),
        ("'Hello World' !startswith 'world'", True),
        ("'Hello World' endswith 'WORLD'", True),
        ("'Hello World' endswith_cs 'WORLD'", False),
        ("'Hello World' !endswith 'world'", False),
    ],
)
def test_equality_is_case_sensitive_and_the_string_operators_are_not_unless_cs(
    text: str, expected: bool
) -> None:
    assert value(text) is expected


@pytest.mark.parametrize(
    ("haystack", "needle", "expected"),
    [
        ("microsoft.compute/virtualmachines", "virtualmachines", True),
        ("microsoft.compute/virtualmachines", "VirtualMachines", True),
        ("microsoft.compute/virtualmachines", "virtual", False),
        ("microsoft.compute/virtualmachines", "machines", False),
        ("microsoft.compute/virtualmachines", "compute", True),
        ("microsoft.compute/virtualmachines", "microsoft.compute", True),
        ("Security Update KB5034441 (x64)", "kb5034441", True),
        ("Security Update KB5034441 (x64)", "KB503", False),
        ("abc", "b", False),
        ("a-b c", "b", True),
        ("", "a", False),
    ],
)
def test_has_matches_whole_terms_only(haystack: str, needle: str, expected: bool) -> None:
    assert value("h has n", h=haystack, n=needle) is expected
    assert value(f"h has '{needle}'", h=haystack) is expected
    assert value(f"h !has '{needle}'", h=haystack) is (not expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'Linux Server' has_cs 'Linux'", True),
        ("'Linux Server' has_cs 'linux'", False),
        ("'Linux Server' !has_cs 'linux'", True),
        ("'virtualmachines/extensions' hasprefix 'virtual'", True),
        ("'xvirtualmachines' hasprefix 'virtual'", False),
        ("'virtualmachines' hassuffix 'machines'", True),
        ("'virtualmachinesx' hassuffix 'machines'", False),
        ("'Ubuntu Server 22.04' has_any ('windows', 'ubuntu')", True),
        ("'Ubuntu Server 22.04' has_any ('windows', 'ubunt')", False),
        ("'Ubuntu Server 22.04' has_all ('ubuntu', 'server')", True),
        ("'Ubuntu Server 22.04' has_all ('ubuntu', 'desktop')", False),
        ("'Ubuntu Server' has_any (dynamic(['x', 'SERVER']))", True),
    ],
)
def test_term_operators(text: str, expected: bool) -> None:
    assert value(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'a' in ('a', 'b')", True),
        ("'A' in ('a', 'b')", False),
        ("'A' in~ ('a', 'b')", True),
        ("'c' !in ('a', 'b')", True),
        ("'A' !in~ ('a')", False),
        ("'b' in (dynamic(['a', 'b']))", True),
        ("'b' in ('x', dynamic(['a', 'b']))", True),
        ("2 in (1, 2.0)", True),
        ("true in (1)", False),
        ("x in ('a')", False),
        ("x !in ('a')", True),
    ],
)
def test_in_compares_like_equality_and_flattens_arrays(text: str, expected: bool) -> None:
    assert value(text, x=None) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 between (1 .. 5)", True),
        ("0 between (1 .. 5)", False),
        ("5.5 !between (1 .. 5)", True),
        ("datetime(2024-05-01) between (datetime(2024-04-01) .. datetime(2024-05-01))", True),
        ("datetime(2024-05-02) between (datetime(2024-05-01) .. 1d)", True),
        ("datetime(2024-05-03) between (datetime(2024-05-01) .. 1d)", False),
        ("90m between (1h .. 2h)", True),
        ("x between (1 .. 2)", None),
    ],
)
def test_between_is_inclusive_for_numbers_datetimes_and_timespans(text: str, expected: Any) -> None:
    assert value(text, x=None) is expected


# --- arithmetic ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7 / 2", 3),
        ("-7 / 2", -3),
        ("7 / -2", -3),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("7.0 / 2", 3.5),
        ("1 / 0", None),
        ("1.0 / 0", None),
        ("5 % 0", None),
        ("2 + 0.5", 2.5),
        ("9223372036854775807 + 1", -9223372036854775808),
        ("datetime(2024-05-01) - datetime(2024-04-30 12:00)", timedelta(hours=12)),
        ("datetime(2024-05-01) + 1d", utc(2024, 5, 2)),
        ("datetime(2024-05-01) - 90m", utc(2024, 4, 30, 22, 30)),
        ("1d + 2h", timedelta(days=1, hours=2)),
        ("2h * 3", timedelta(hours=6)),
        ("3 * 2h", timedelta(hours=6)),
        ("1d / 2h", 12.0),
        ("1d / 4", timedelta(hours=6)),
        ("-1d", timedelta(days=-1)),
        ("'2024-05-01T00:00:00Z' + 1d", utc(2024, 5, 2)),
        ("now() - '2024-04-30T12:00:00Z'", timedelta(days=1)),
        ("'a' + 'b'", None),
        ("datetime(9999-12-31) + 1d", None),
    ],
)
def test_arithmetic(text: str, expected: Any) -> None:
    assert value(text) == expected
    assert type(value(text)) is type(expected)


# --- functions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tostring(dynamic(null))", ""),
        ("tostring(12)", "12"),
        ("tostring(1.0)", "1"),
        ("tostring(0.25)", "0.25"),
        # a typed bool is spelled as .NET does, a dynamic one as JSON does
        ("tostring(true)", "True"),
        ("tostring(1 > 2)", "False"),
        ("tostring(tobool('true'))", "True"),
        ("tostring(iff(true, false, true))", "False"),
        ("tostring(dynamic(true))", "true"),
        ("tostring(parse_json('[true]')[0])", "true"),
        ("tostring(dynamic({'a': [1, 'x']}))", '{"a":[1,"x"]}'),
        ("tostring(datetime(2024-05-01 10:00))", "2024-05-01T10:00:00Z"),
        ("tostring(datetime(2024-05-01 10:00:00.5))", "2024-05-01T10:00:00.5000000Z"),
        ("tostring(1d + 2h + 3m + 4s)", "1.02:03:04"),
        ("tostring(-90m)", "-01:30:00"),
        ("toint('12')", 12),
        ("toint(' 12 ')", 12),
        ("toint('x')", None),
        ("toint('1_000')", None),
        ("toint(2.9)", 2),
        ("toint(3000000000)", None),
        ("tolong(3000000000)", 3000000000),
        ("tolong(true)", 1),
        ("todouble('1.5e3')", 1500.0),
        ("toreal('abc')", None),
        ("todouble(2)", 2.0),
        ("tobool('TRUE')", True),
        ("tobool('false')", False),
        ("tobool('yes')", None),
        ("tobool(0)", False),
        ("todatetime('2024-05-01T10:00:00.1234567Z')", utc(2024, 5, 1, 10, 0, 0, 123456)),
        ("todatetime('2024-05-01 10:00')", utc(2024, 5, 1, 10)),
        ("todatetime('2024-05-01T12:00:00+02:00')", utc(2024, 5, 1, 10)),
        ("todatetime('Wed, 01 May 2024 10:00:00 GMT')", utc(2024, 5, 1, 10)),
        ("todatetime('yesterday')", None),
        ("totimespan('1.02:03:04.5')", timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
        ("totimespan('00:30:00')", timedelta(minutes=30)),
        ("totimespan('7d')", timedelta(days=7)),
        ("totimespan('soon')", None),
        ("tolower('AbC')", "abc"),
        ("toupper('AbC')", "ABC"),
        ("tolower(dynamic(null))", ""),
        ("strcat('a', 1, true, dynamic(null), dynamic(false))", "a1Truefalse"),
        ("strcat_delim('-', 1 == 1, 'x')", "True-x"),
        ("strcat_array(dynamic(['a', 1]), ', ')", "a, 1"),
        ("split('a,b,c', ',')", ["a", "b", "c"]),
        ("split('a,b,c', ',', 1)", ["b"]),
        ("split('a,b,c', ',', 7)", []),
        ("substring('123456', 1)", "23456"),
        ("substring('123456', 2, 2)", "34"),
        ("substring('123456', -2, 2)", "56"),
        ("substring('abc', 10)", ""),
        ("strlen('héllo')", 5),
        ("trim(@'\\s+', '  padded  ')", "padded"),
        ("trim_start('x', 'xxaxx')", "axx"),
        ("trim_end(@'[ ,]', 'a,, ')", "a"),
        ("replace_string('a.b.c', '.', '/')", "a/b/c"),
        ("replace_regex('KB123 and KB45', @'KB(\\d+)', @'<\\1>')", "<123> and <45>"),
        ("extract(@'KB(\\d+)', 1, 'Update KB5034441')", "5034441"),
        ("extract(@'KB(\\d+)', 1, 'Update KB5034441', typeof(long))", 5034441),
        ("extract(@'KB(\\d+)', 0, 'Update KB5034441')", "KB5034441"),
        ("extract(@'KB(\\d+)', 1, 'no update')", None),
        ("extract(@'KB(\\d+)', 2, 'KB1')", None),
        ("indexof('abcabc', 'c')", 2),
        ("indexof('abcabc', 'c', 3)", 5),
        ("indexof('abc', 'z')", -1),
        ("parse_json('{\"a\": [1, 2]}')", {"a": [1, 2]}),
        ("todynamic('[1]')", [1]),
        ("parse_json('not json')", "not json"),
        ("isnull(dynamic(null))", True),
        ("isnull('')", False),
        ("isnotnull(1)", True),
        ("isempty('')", True),
        ("isempty(dynamic(null))", True),
        ("isempty(' ')", False),
        ("isnotempty('x')", True),
        ("iff(1 > 2, 'yes', 'no')", "no"),
        ("iif(dynamic(null), 'yes', 'no')", "no"),
        ("case(1 > 2, 'a', 2 > 1, 'b', 'c')", "b"),
        ("case(false, 'a', 'c')", "c"),
        ("coalesce(dynamic(null), '', 'x')", "x"),
        ("coalesce(dynamic(null), 5)", 5),
        ("array_length(dynamic([1, 2, 3]))", 3),
        ("array_length('abc')", None),
        ("array_concat(dynamic([1]), dynamic(['a']))", [1, "a"]),
        ("set_has_element(dynamic(['a', 2]), 2.0)", True),
        ("set_has_element(dynamic(['a']), 'A')", False),
        ("bag_keys(dynamic({'a': 1, 'b': 2}))", ["a", "b"]),
        ("pack('os', 'Linux', 'n', 2)", {"os": "Linux", "n": 2}),
        ("bag_pack('k', dynamic(null))", {"k": None}),
        ("pack_array(1, 'a', dynamic(null))", [1, "a", None]),
        ("max_of(1, 5.5, 3)", 5.5),
        ("min_of(3, dynamic(null), 2)", 2),
        ("abs(-3)", 3),
        ("abs(-1h)", timedelta(hours=1)),
        ("round(2.5)", 3.0),
        ("round(-2.5)", -3.0),
        ("round(1.2345, 2)", 1.23),
        ("round(15, -1)", 20),
        ("bin(7, 5)", 5),
        ("bin(-7, 5)", -10),
        ("bin(7.5, 2)", 6.0),
        ("floor(7, 5)", 5),
        ("bin(90m, 1h)", timedelta(hours=1)),
        ("bin(7, 0)", None),
        ("gettype(dynamic([]))", "array"),
        ("gettype(1.5)", "real"),
        ("not(true)", False),
    ],
)
def test_functions(text: str, expected: Any) -> None:
    result = value(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now()", NOW),
        ("now(-1d)", NOW - timedelta(days=1)),
        ("ago(1h)", NOW - timedelta(hours=1)),
        ("bin(datetime(2024-05-01 13:45), 1h)", utc(2024, 5, 1, 13)),
        ("bin(datetime(2024-05-01 13:45), 1d)", utc(2024, 5, 1)),
        ("bin('2024-05-01T13:45:00Z', 1d)", utc(2024, 5, 1)),
        ("startofday(datetime(2024-05-01 13:45))", utc(2024, 5, 1)),
        ("startofday(datetime(2024-05-01 13:45), -1)", utc(2024, 4, 30)),
        ("startofweek(datetime(2024-05-01))", utc(2024, 4, 28)),  # weeks start on Sunday
        ("startofmonth(datetime(2024-05-21))", utc(2024, 5, 1)),
        ("startofmonth(datetime(2024-12-21), 1)", utc(2025, 1, 1)),
        ("startofyear(datetime(2024-05-21))", utc(2024, 1, 1)),
        ("endofday(datetime(2024-05-01 10:00))", utc(2024, 5, 1, 23, 59, 59, 999999)),
        ("endofmonth(datetime(2024-02-10))", utc(2024, 2, 29, 23, 59, 59, 999999)),
        ("dayofweek(datetime(2024-05-05))", timedelta(0)),
        ("dayofweek(datetime(2024-05-01))", timedelta(days=3)),
        ("getyear(datetime(2024-05-01))", 2024),
        ("getmonth(datetime(2024-05-01))", 5),
        ("dayofmonth(datetime(2024-05-21))", 21),
        ("hourofday(datetime(2024-05-21 17:05))", 17),
        ("datetime_diff('year', datetime(2024-01-01), datetime(2023-12-31))", 1),
        ("datetime_diff('quarter', datetime(2024-04-01), datetime(2024-03-31))", 1),
        ("datetime_diff('month', datetime(2024-01-01), datetime(2024-03-31))", -2),
        ("datetime_diff('week', datetime(2024-05-05), datetime(2024-05-04))", 1),
        ("datetime_diff('week', datetime(2024-05-04), datetime(2024-04-28))", 0),
        ("datetime_diff('day', datetime(2024-05-02 00:01), datetime(2024-05-01 23:59))", 1),
        ("datetime_diff('hour', datetime(2024-01-01 10:59), datetime(2024-01-01 11:00))", -1),
        ("datetime_diff('Minute', datetime(2024-01-01 10:01), datetime(2024-01-01 10:00:59))", 1),
        ("datetime_diff('second', datetime(2024-01-01 10:00:01), datetime(2024-01-01 10:00))", 1),
        ("datetime_add('month', 1, datetime(2024-01-31))", utc(2024, 2, 29)),
        ("datetime_add('year', -1, datetime(2024-02-29))", utc(2023, 2, 28)),
        ("datetime_add('week', 2, datetime(2024-05-01))", utc(2024, 5, 15)),
        ("datetime_add('hour', -3, datetime(2024-05-01))", utc(2024, 4, 30, 21)),
        (
            "format_datetime(datetime(2024-03-05 14:07:09), 'yyyy-MM-dd HH:mm:ss')",
            "2024-03-05 14:07:09",
        ),
        ("format_datetime(datetime(2024-03-05 14:07:09), 'yy-M-d h:m:s tt')", "24-3-5 2:7:9 PM"),
        (
            "format_datetime(datetime(2024-03-05 04:07:09.25), 'dd/MM/yyyy hh:mm:ss.fff')",
            "05/03/2024 04:07:09.250",
        ),
        ("format_datetime(datetime(2024-03-05 04:07:09.25), 'HH:mm:ss.FFF')", "04:07:09.25"),
        ("format_datetime(datetime(2024-03-05 04:07:09), '[yyyy]_MM')", "[2024]_03"),
    ],
)
def test_time_functions(text: str, expected: Any) -> None:
    assert value(text) == expected


def test_json_deeper_than_64_levels_stays_text() -> None:
    deep = "[" * 65 + "]" * 65
    assert value("parse_json(x)", x=deep) == deep
    assert value("array_length(parse_json(x))", x="[" * 64 + "]" * 64) == 1


def test_deeply_nested_constant_expressions_compile_quickly() -> None:
    text = "'a'"
    for _ in range(40):
        text = f"('a' has {text})"
    started = time.perf_counter()
    assert value(text) is False
    assert time.perf_counter() - started < 1


def test_now_is_the_query_clock_not_the_wall_clock() -> None:
    assert value("now() - ago(7d)") == timedelta(days=7)
    assert value("now()") == NOW


# --- regular expressions -------------------------------------------------------------------------


def test_matches_regex_searches_the_text() -> None:
    assert value("'Ubuntu 22.04' matches regex @'\\d+\\.\\d+'") is True
    assert value("'Ubuntu' matches regex @'^\\d'") is False
    assert value("x matches regex p", x="abc", p="b+") is True


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+b",
        "(a*)*b",
        "(a|a)*b",
        "(\\w+\\s?)*$",
        "(?:x+y*)+",
        "(a)\\1",
        "(?P<x>a)(?P=x)",
        "a(?=b)",
        "a(?!b)",
        "(?<=a)b",
        "(?<!a)b",
        ".*a.*b.*c",
        "[",
    ],
)
def test_patterns_that_could_backtrack_or_that_re2_lacks_are_rejected_at_their_position(
    pattern: str,
) -> None:
    for text in (
        f"'aaaa' matches regex @'{pattern}'",
        f"extract(@'{pattern}', 0, 'aaaa')",
        f"replace_regex('aaaa', @'{pattern}', 'x')",
        f"trim(@'{pattern}', 'aaaa')",
    ):
        error = failure(text)
        assert error.code == "InvalidArgument"
        assert (PREFIX + text)[error.pos :].startswith(f"@'{pattern}'")


@pytest.mark.parametrize(
    "pattern", ["(foo|bar)+", "\\d+\\.\\d+", "[a-z]+", "(ab){2}", "KB(\\d+)", "(?i)linux"]
)
def test_linear_patterns_are_accepted(pattern: str) -> None:
    assert value(f"'x' matches regex @'{pattern}'") in (True, False)


def test_two_wildcards_are_accepted_and_a_third_is_not() -> None:
    started = time.perf_counter()
    assert value("x matches regex @'a.*b.*c'", x="ab" * 200) is False
    assert time.perf_counter() - started < 1
    assert failure("x matches regex @'.*a.*b.*c'", x="").code == "InvalidArgument"


def test_a_bad_pattern_from_the_data_gives_null_not_an_error() -> None:
    assert value("x matches regex p", x="aaaa", p="(a+)+") is None
    assert value("extract(p, 0, x)", x="aaaa", p="(") is None


# --- what a query gets wrong ----------------------------------------------------------------------


def test_an_unknown_function_is_unsupported_at_its_position() -> None:
    error = failure("1 + frobnicate(2)")
    assert error.code == "UnsupportedFunction"
    assert "'frobnicate'" in error.message
    assert error.pos == len(PREFIX + "1 + ")


@pytest.mark.parametrize("text", ["strlen()", "strlen('a', 'b')", "iff(true, 1)", "now(1d, 2d)"])
def test_wrong_argument_counts_are_invalid(text: str) -> None:
    assert failure(text).code == "InvalidArgument"


@pytest.mark.parametrize(
    "text",
    [
        "count()",
        "sum(1) + 1",
        "datetime_diff('fortnight', now(), now())",
        "datetime_diff(x, now(), now())",
        "extract('a', 0, 'a', typeof(nothing))",
        "strlen(*)",
        "pack('key')",
        "case(true, 1)",
        "make_list(x)",
    ],
)
def test_arguments_kusto_rejects_when_compiling_are_invalid(text: str) -> None:
    assert failure(text, x="day").code == "InvalidArgument"


def test_an_unknown_column_is_named_with_its_position() -> None:
    error = failure("strlen(nmae)", name="vm1")
    assert error.code == "UnknownColumn"
    assert error.message == "Failed to resolve column or scalar expression named 'nmae'"
    assert error.pos == len(PREFIX + "strlen(")


# --- output forms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "written"),
    [
        (utc(2024, 5, 1, 10), "2024-05-01T10:00:00Z"),
        (utc(2024, 5, 1, 10, 0, 0, 120000), "2024-05-01T10:00:00.12Z"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "1.02:03:04"),
        (timedelta(minutes=-90), "-01:30:00"),
        (timedelta(seconds=1, microseconds=5), "00:00:01.0000050"),
        (1.5, 1.5),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (
            {"when": utc(2024, 5, 1), "list": [timedelta(hours=1)]},
            {"when": "2024-05-01T00:00:00Z", "list": ["01:00:00"]},
        ),
    ],
)
def test_values_are_written_as_resource_graph_writes_them(given: Any, written: Any) -> None:
    assert to_json(given) == written
    json.dumps(to_json(given), allow_nan=False)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["a", None], "string"),
        ([1, 2], "integer"),
        ([1, 2.5], "number"),
        ([True], "boolean"),
        ([utc(2024, 5, 1)], "datetime"),
        ([{"a": 1}, [1]], "object"),
        (["a", 1], "object"),
        ([None, None], "object"),
        ([timedelta(hours=1)], "string"),
    ],
)
def test_column_types_in_the_table_format(values: list[Any], kind: str) -> None:
    assert column_type(values) == kind


# --- no value breaks an expression ------------------------------------------------------------------

_COLUMNS = ("a", "b", "c")
_BINARY_OPERATORS = (
    *("+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "and", "or"),
    *("contains", "!contains", "contains_cs", "has", "!has", "has_cs", "startswith"),
    *("endswith_cs", "hasprefix", "hassuffix", "matches regex"),
)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["2024-05-01T10:00:00Z", "1.02:03:04", "(a+)+", "[", "true", "7d", "{}"]),
    st.datetimes(timezones=st.just(UTC)),
    st.timedeltas(),
)
_dynamic = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abx"), inner, max_size=3)
    ),
    max_leaves=6,
)


def _literal(value: Any) -> s.Literal:
    kinds = {bool: "bool", int: "long", float: "real", str: "string", datetime: "datetime"}
    kind = kinds.get(type(value), "timespan" if isinstance(value, timedelta) else "dynamic")
    return s.Literal(value, "null" if value is None else kind, 3)


_leaves = st.one_of(
    _dynamic.map(_literal),
    st.sampled_from(_COLUMNS).map(lambda name: s.Column(name, 1)),
)


def _branches(inner: st.SearchStrategy[s.Expression]) -> st.SearchStrategy[s.Expression]:
    arguments = st.lists(inner, max_size=4).map(tuple)
    return st.one_of(
        st.builds(s.Member, inner, st.sampled_from("abx")),
        st.builds(s.Index, inner, inner),
        st.builds(s.Call, st.sampled_from(sorted(FUNCTIONS)), arguments),
        st.builds(s.Unary, st.sampled_from("-+"), inner),
        st.builds(s.Binary, st.sampled_from(_BINARY_OPERATORS), inner, inner),
        st.builds(
            s.InList, st.sampled_from(["in", "!in", "in~", "has_any", "has_all"]), inner, arguments
        ),
        st.builds(s.Between, inner, inner, inner, st.booleans()),
    )


any_expression = st.recursive(_leaves, _branches, max_leaves=8)
any_row = st.fixed_dictionaries(dict.fromkeys(_COLUMNS, _dynamic))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=any_expression, row=any_row)
def test_random_expressions_over_random_rows_raise_nothing_but_kql_errors(
    expression: s.Expression, row: dict[str, Any]
) -> None:
    try:
        result = evaluate(expression, row, CONTEXT)
    except KqlError:
        return
    json.dumps(to_json(result), allow_nan=False)
