"""The KQL syntax tree: what the parser produces and the planner and evaluator consume.

Every node carries ``pos``, the 0-based character offset of its first character in the
query text, so a failure anywhere (parsing, planning, evaluation) can name where it is.
Nodes are frozen dataclasses; equality ignores nothing, so tests compare whole trees.

A query is a source (a table, or ``union``) followed by tabular operators:

    patchassessmentresources | where type has "softwarepatches" | summarize count() by name
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# --- scalar expressions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant. ``kind`` is Kusto's type: string, long, real, bool, datetime, timespan,
    dynamic (``dynamic([...])``/``dynamic({...})``, value is the decoded JSON) or null
    (``dynamic(null)``; typed nulls like ``long(null)`` carry their type with value None)."""

    value: str | int | float | bool | datetime | timedelta | Any | None
    kind: str
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Column:
    """A column by name: ``name`` or ``['name']``."""

    name: str
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Member:
    """``target.name``: a property of a dynamic value (``properties.osType``)."""

    target: Expression
    name: str
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Index:
    """``target[key]``: ``a['b']`` (key is a string Literal) or ``a[0]`` / ``a[-1]``."""

    target: Expression
    key: Expression
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args…)``: a scalar function or, inside summarize, an aggregate.

    ``name`` is lowercase as written (Kusto function names are case-sensitive and
    lowercase). ``count()`` has no args; ``arg_max(t, *)`` has a Star among its args."""

    name: str
    args: tuple[Expression, ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Star:
    """``*`` as a function argument (``arg_max(x, *)``)."""

    pos: int = 0


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x`` or ``+x``. (``not(x)`` is a Call.)"""

    op: str
    operand: Expression
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Binary:
    """``left op right``.

    ``op`` is the operator exactly as Kusto spells it, lowercased: arithmetic
    ``+ - * / %``; comparison ``== != < > <= >= =~ !~``; logic ``and or``; string
    ``contains !contains contains_cs !contains_cs has !has has_cs !has_cs startswith
    !startswith startswith_cs endswith !endswith endswith_cs hasprefix hassuffix`` and
    ``matches regex``."""

    op: str
    left: Expression
    right: Expression
    pos: int = 0


@dataclass(frozen=True, slots=True)
class InList:
    """``operand in (a, b)`` and friends. ``op`` is one of ``in !in in~ !in~ has_any
    has_all``. ``values`` may hold one dynamic-array Literal (``in (dynamic([…]))``)."""

    op: str
    operand: Expression
    values: tuple[Expression, ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Between:
    """``operand between (low .. high)``; ``negated`` for ``!between``."""

    operand: Expression
    low: Expression
    high: Expression
    negated: bool = False
    pos: int = 0


Expression = Literal | Column | Member | Index | Call | Star | Unary | Binary | InList | Between


@dataclass(frozen=True, slots=True)
class Assignment:
    """One item of project/extend/summarize/by lists: ``name = expr`` or just ``expr``
    (``name`` None: the evaluator derives it the way Kusto does)."""

    expr: Expression
    name: str | None = None
    pos: int = 0


# --- tabular operators -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Where:
    predicate: Expression
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Project:
    columns: tuple[Assignment, ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class ProjectAway:
    """``project-away a, b*`` (names may hold ``*`` wildcards)."""

    names: tuple[str, ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class ProjectRename:
    """``project-rename new = old, …`` as (new, old) pairs."""

    renames: tuple[tuple[str, str], ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Extend:
    columns: tuple[Assignment, ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Summarize:
    """``summarize aggregates by keys``; either list may be empty (not both)."""

    aggregates: tuple[Assignment, ...]
    by: tuple[Assignment, ...] = ()
    pos: int = 0


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``order by`` key. ``descending`` defaults to True, as in Kusto.
    ``nulls_first`` None means Kusto's default: first when ascending, last when descending."""

    expr: Expression
    descending: bool = True
    nulls_first: bool | None = None
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Sort:
    """``order by`` / ``sort by``."""

    keys: tuple[SortKey, ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Take:
    """``take n`` / ``limit n``."""

    count: Expression
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Top:
    """``top n by key [asc|desc] [nulls first|last]``."""

    count: Expression
    key: SortKey
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Distinct:
    """``distinct a, b`` or ``distinct *`` (columns empty)."""

    columns: tuple[Expression, ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Count:
    """``count``: one row, one column ``Count``."""

    pos: int = 0


@dataclass(frozen=True, slots=True)
class MvExpand:
    """``mv-expand [name =] expr [to typeof(t)] [limit n]`` (one or more columns)."""

    columns: tuple[Assignment, ...]
    to_type: str | None = None
    limit: int | None = None
    pos: int = 0


@dataclass(frozen=True, slots=True)
class ParsePart:
    """One piece of a parse pattern: a literal text to match, or a column to capture
    (``column`` set, optional ``type`` such as ``long``; ``*`` skips: column ``None`` and
    ``text`` None)."""

    text: str | None = None
    column: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Parse:
    """``parse [kind=simple|regex] expr with pattern``."""

    source: Expression
    pattern: tuple[ParsePart, ...]
    kind: str = "simple"
    pos: int = 0


@dataclass(frozen=True, slots=True)
class JoinKey:
    """``on id`` (left and right equal) or ``on $left.a == $right.b``."""

    left: str
    right: str
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Join:
    """``join kind=… (right) on keys``. ``kind`` is lowercase; Kusto's default is
    ``innerunique``."""

    right: Query
    on: tuple[JoinKey, ...]
    kind: str = "innerunique"
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Union:
    """``union A, (B | …)`` as an operator (after a pipe) or as the source of a query.
    ``kind`` inner/outer; ``withsource`` names a column holding each row's table."""

    queries: tuple[Query, ...]
    kind: str = "outer"
    withsource: str | None = None
    pos: int = 0


Operator = (
    Where
    | Project
    | ProjectAway
    | ProjectRename
    | Extend
    | Summarize
    | Sort
    | Take
    | Top
    | Distinct
    | Count
    | MvExpand
    | Parse
    | Join
    | Union
)


# --- queries ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Table:
    """A table by name, lowercase (Resource Graph table names are case-insensitive)."""

    name: str
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Query:
    """``source | op | op …``. ``source`` is a Table or a Union."""

    source: Table | Union
    operators: tuple[Operator, ...] = field(default=())
    pos: int = 0
