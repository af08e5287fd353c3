"""The parser's contract holds for any text: it returns a Query or raises KqlError with a
position inside the text, quickly, and never anything else (no RecursionError, no lark
exception). Checked on random text and on mutations of real queries."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.graph.test_parser import shape
from upkeep.graph.errors import KqlError
from upkeep.graph.parser import parse
from upkeep.graph.syntax import Query

CODES = {"ParserFailure", "UnsupportedOperator"}

# Valid queries with every token separated by one space (and no space inside a token), so
# they can be cut into tokens with split() and joined back with any whitespace.
SEEDS = [
    "resources | where type =~ 'microsoft.compute/virtualmachines' | project name , id",
    "resources | where properties.osType == 'Linux' and location in ( 'westeurope' , 'eastus' )",
    "maintenanceresources | where type has 'configurationassignments' | project-away tags , prop*",
    "patchassessmentresources | extend prop = parse_json(properties) | summarize count() by tostring(prop.classifications)",
    "patchinstallationresources | summarize n = countif(properties.status == 'Failed') , arg_max(t , *) by bin(t , 1d)",
    "resources | order by name asc nulls last , id desc | take 10",
    "resources | top 5 by todatetime(properties.timeCreated) desc nulls first",
    "resources | distinct type , location | count",
    "resources | mv-expand z = zones to typeof(string) limit 3 | project-rename zone = z",
    "resources | parse id with '/subscriptions/' sub '/' * | extend s = toupper(sub)",
    "resources | parse kind=regex name with @'vm-' n:long",
    "resources | join kind=leftouter ( maintenanceresources | where x > 1 ) on $left.id == $right.rid , name",
    "union withsource=T resources , ( patchassessmentresources | take 1 ) | where T != ''",
    "resources | where t between ( ago(7d) .. now() ) or t !between ( datetime(2024-01-01) .. datetime(2024-02-01T10:00:00Z) )",
    "resources | where tags['env'] == \"prod\" and properties.list[0].name !startswith_cs 'x'",
    "resources | extend d = dynamic({'a':[1,-2.5,true,null]}) , s = dynamic(null) , l = long(null)",
    "resources | where a has_any ( dynamic(['x','y']) ) and b !in~ ( 'q' ) and c matches regex @'\\d+'",
    "resources | where -a * ( b + 1 ) % 3 >= real(2.5) or not(isempty(kind))",
    "resources | where name contains 'vm' | project n = name , by = kind , count = 1 ; ",
    "resources | where properties.type == 'x' | summarize by kind , location",
]
SEPARATORS = [" ", "  ", "\n", "\t", "\n  ", " // note\n"]
# Characters KQL gives meaning to, and a few it does not.
KQL_ALPHABET = "()[]{}|'\"@.,;:=!<>~+-*/%$ \n\tabcdhkmnorstwxyz019_-€"
TOKENS = [
    "|", "(", ")", "[", "]", ",", "=", "==", "'", '"', "@'", "where", "project", "by", "kind",
    "on", "and", "in", "between", "..", "dynamic(", "datetime(", "1d", "*", "$left", "//",
    "render", "mv-expand", "summarize", "count", ";", "true", "-",
]  # fmt: skip


def assert_contract(text: str) -> None:
    started = time.perf_counter()
    outcome = parse_or_error(text)
    assert time.perf_counter() - started < 1.0, "parse took a second or more"
    if isinstance(outcome, KqlError):
        assert outcome.code in CODES, outcome
        assert outcome.message
        assert 0 <= outcome.pos <= len(text), outcome
    else:
        assert isinstance(outcome, Query)


def parse_or_error(text: str) -> Query | KqlError:
    """What parse gives back or raises; any other exception escapes and fails the test."""
    try:
        return parse(text)
    except KqlError as error:
        return error


@pytest.fixture(scope="module", autouse=True)
def _built_parser() -> None:
    """Build the grammar before any timed parse."""
    parse("resources")


@pytest.mark.parametrize("seed", SEEDS)
def test_every_seed_is_a_valid_query(seed: str) -> None:
    assert isinstance(parse(seed), Query)


@settings(max_examples=300, deadline=1000)
@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    assert_contract(text)


@settings(max_examples=300, deadline=1000)
@given(st.text(alphabet=KQL_ALPHABET, max_size=300))
def test_any_text_of_kql_characters(text: str) -> None:
    assert_contract(text)


@settings(max_examples=300, deadline=1000)
@given(st.lists(st.sampled_from(TOKENS), max_size=60), st.sampled_from(SEPARATORS))
def test_any_sequence_of_kql_tokens(tokens: list[str], separator: str) -> None:
    assert_contract("resources | " + separator.join(tokens))


@st.composite
def mutated_queries(draw: st.DrawFn) -> str:
    """A seed with one to five random edits: characters or whole tokens deleted, inserted,
    swapped or duplicated."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 5))):
        edit = draw(st.sampled_from(["delete", "insert", "swap", "drop", "repeat", "exchange"]))
        if edit in ("delete", "insert", "swap"):
            at = draw(st.integers(0, max(0, len(text) - 1)))
            if edit == "delete":
                text = text[:at] + text[at + 1 :]
            elif edit == "insert":
                text = text[:at] + draw(st.sampled_from(KQL_ALPHABET)) + text[at:]
            else:
                text = text[:at] + text[at + 1 : at + 2] + text[at : at + 1] + text[at + 2 :]
            continue
        tokens = text.split(" ")
        at = draw(st.integers(0, len(tokens) - 1))
        if edit == "drop":
            del tokens[at]
        elif edit == "repeat":
            tokens.insert(at, tokens[at])
        else:
            other = draw(st.integers(0, len(tokens) - 1))
            tokens[at], tokens[other] = tokens[other], tokens[at]
        text = " ".join(tokens)
    return text


@settings(max_examples=300, deadline=1000)
@given(mutated_queries())
def test_mutated_queries(text: str) -> None:
    assert_contract(text)


@settings(max_examples=100, deadline=1000)
@given(st.sampled_from(SEEDS), st.data())
def test_whitespace_and_comments_between_tokens_do_not_matter(
    seed: str, data: st.DataObject
) -> None:
    tokens = seed.split(" ")
    spaced = tokens[0]
    for token in tokens[1:]:
        spaced += data.draw(st.sampled_from(SEPARATORS)) + token
    assert shape(parse(spaced)) == shape(parse(seed))


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000,
        "resources | where " + "(" * 10_000,
        "resources | where " + "(" * 10_000 + "a" + ")" * 10_000,
        "resources | where " + "[" * 10_000,
        "resources | where f(" * 10_000,
        "resources | extend d = dynamic(" + "[" * 10_000 + "]" * 10_000 + ")",
        "resources | where " + "- " * 10_000 + "a",
        "resources | where a" + ".b" * 10_000,
        "resources | where a" + "[0]" * 5_000,
        "resources | where " + " or ".join(["a"] * 5_000),
        "resources | take " + "9" * 10_000,
        "resources | take " + "9" * 10_000 + ".5",
        "resources | where a == '" + "x" * 50_000,
        "resources | where t > datetime(" + "1" * 10_000 + ")",
    ],
    ids=lambda text: f"{text[:24]}…{len(text)}",
)
def test_degenerate_input_fails_cleanly_and_fast(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(KqlError) as raised:
        parse(text)
    assert 0 <= raised.value.pos <= len(text)
    assert time.perf_counter() - started < 1.0
