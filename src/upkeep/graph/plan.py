"""Which part of a query the store answers, and which part Python does.

A query's leading ``where`` operators become SQL over ``graph_rows``. Each condition is
either *exact* (SQL keeps precisely the rows Kusto would) or a *prefilter* (SQL keeps a
superset, and Python evaluates the condition again). When every leading condition is
exact, more moves into SQL: a following ``count`` or ``summarize`` of counts, and paging.

Exact forms are comparisons of the plain string columns and of the indexed lowercase
copies (``type``, ``id``, ``properties.maintenanceConfigurationId``,
``properties.resourceId``) with string constants. Prefilters cover string operators on
``properties``/``tags`` paths (a case-insensitive substring test of the value's JSON text,
which every matching value passes) and time comparisons on the records' ``…DateTime``
properties (ISO text compared with a bound widened by a second).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement

from upkeep.db.tables import graph_rows
from upkeep.graph.syntax import (
    Assignment,
    Binary,
    Call,
    Column,
    Count,
    Distinct,
    Expression,
    Index,
    InList,
    Join,
    Literal,
    Member,
    Operator,
    Project,
    ProjectAway,
    ProjectRename,
    Star,
    Summarize,
    Union,
    Where,
)

#: Row columns that are plain strings in the store, and never null.
_STRING_COLUMNS = {
    "name": graph_rows.c.name,
    "subscriptionId": graph_rows.c.subscription_id,
    "tenantId": graph_rows.c.tenant_id,
}
#: Columns whose stored form is already lowercase: ``=~`` on them is an index lookup.
_LOWERCASE = {"type": graph_rows.c.type}
#: Property paths with an indexed lowercase copy.
_KEYED_PATHS = {
    ("properties", "maintenanceconfigurationid"): graph_rows.c.configuration_key,
    ("properties", "resourceid"): graph_rows.c.resource_key,
}
_JSON_COLUMNS = {"properties": graph_rows.c.properties, "tags": graph_rows.c.tags}
_POSITIVE_STRING_OPS = {
    "==",
    "=~",
    "contains",
    "contains_cs",
    "has",
    "has_cs",
    "startswith",
    "startswith_cs",
    "endswith",
    "endswith_cs",
    "hasprefix",
    "hassuffix",
}
_TIME_OPS = {">", ">=", "<", "<="}

Constant = Callable[[Expression], Any]


@dataclass(frozen=True)
class Condition:
    """SQL for a condition, and whether it is the condition itself or a superset of it."""

    sql: ColumnElement[bool] | None  # None: no restriction
    exact: bool
    #: an index finds the rows (an id, a configuration or a machine): few of them
    selective: bool = False


UNKNOWN = Condition(None, False)


@dataclass(frozen=True)
class Plan:
    """What the store does for one query over one table."""

    table: str
    where: ColumnElement[bool] | None
    #: the SQL where is precisely the query's leading conditions
    exact: bool
    #: the operators Python runs on the rows the store returns
    rest: tuple[Operator, ...]
    #: an index lookup narrows the rows (so sort what it finds rather than walk in order)
    selective: bool = False
    #: the SQL holds no value of the query's clock (``ago(7d)``): later runs may reuse it
    timeless: bool = True
    #: the row columns ``rest`` reads or shows (see :func:`needed_columns`); None: any
    reads: frozenset[str] | None = None


def plan(table: str, operators: tuple[Operator, ...], dialect: str, constant: Constant) -> Plan:
    """Split ``operators`` (after the table) into SQL and the rest.

    ``constant`` evaluates an expression that reads no column (``ago(7d)``) or raises
    ``LookupError`` when it does read one.
    """
    leading: list[Where] = []
    for operator in operators:
        if not isinstance(operator, Where):
            break
        leading.append(operator)
    compiler = _Compiler(dialect, constant)
    conditions = [compiler.condition(where.predicate) for where in leading]
    exact = all(condition.exact for condition in conditions)
    parts = [condition.sql for condition in conditions if condition.sql is not None]
    where = sa.and_(graph_rows.c.table_name == table, *parts)
    rest = tuple(operators[len(leading) :] if exact else operators)
    selective = any(condition.selective for condition in conditions)
    timeless = not any(reads_clock(where.predicate) for where in leading)
    needed = needed_columns(rest)
    reads = None if needed is None else frozenset(needed)
    return Plan(table, where, exact, rest, selective, timeless, reads)


# --- the columns a query reads ------------------------------------------------------------


def needed_columns(operators: tuple[Operator, ...]) -> set[str] | None:
    """The row columns ``operators`` can read or show; None when that may be all of them.

    Walks up to the first operator that replaces the columns (``project``, ``summarize``,
    ``count``, ``distinct a, b``); a ``join``, ``union`` or reaching the end keeps every one.
    """
    needed: set[str] = set()
    for operator in operators:
        if isinstance(operator, Join | Union | ProjectAway | ProjectRename):
            return None
        found = references(operator)
        if found is None:
            return None
        needed |= found
        if isinstance(operator, Project | Summarize | Count):
            return needed
        if isinstance(operator, Distinct) and operator.columns:
            return needed
    return None


def references(node: Any) -> set[str] | None:
    """Column names a node (an operator or an expression) reads; None if it reads every
    column (``*``). An empty set: a constant."""
    if isinstance(node, Star) or (isinstance(node, Distinct) and not node.columns):
        return None
    if isinstance(node, Column):
        return {node.name}
    found: set[str] = set()
    for child in _children(node):
        inner = references(child)
        if inner is None:
            return None
        found |= inner
    return found


def reads_clock(node: Any) -> bool:
    """Whether a node calls ``now()`` or ``ago()``: its value depends on when it runs."""
    if isinstance(node, Call) and node.name in ("now", "ago"):
        return True
    return any(reads_clock(child) for child in _children(node))


def _children(node: Any) -> Iterator[Any]:
    """The syntax nodes directly inside ``node`` (expressions, operators, subqueries)."""
    if not is_dataclass(node):
        return
    for item in fields(node):
        value = getattr(node, item.name)
        for child in value if isinstance(value, tuple) else (value,):
            if is_dataclass(child):
                yield child


# --- aggregation in SQL ------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A ``by`` key SQL can group on: a plain column, or a JSON path (decoded in Python)."""

    sql: ColumnElement[Any]
    #: None for a plain column; else "dynamic" (the value as is) or "tostring"
    decode: str | None


@dataclass(frozen=True)
class Aggregation:
    """``count`` or ``summarize count()/dcount(x) … by keys`` as SQL."""

    operator: Count | Summarize
    keys: tuple[Key, ...]
    aggregates: tuple[ColumnElement[Any], ...]
    #: every aggregate is a count, so two groups' values can be added
    summable: bool = True


def aggregation(operator: Operator, dialect: str) -> Aggregation | None:
    """The SQL form of ``operator`` when it is a count the store can do, else None."""
    if isinstance(operator, Count):
        return Aggregation(operator, (), (sa.func.count(),))
    if not isinstance(operator, Summarize):
        return None
    keys = [_key(item, dialect) for item in operator.by]
    aggregates = [_aggregate(item, dialect) for item in operator.aggregates]
    if any(key is None for key in keys) or any(agg is None for agg in aggregates):
        return None
    summable = all(
        isinstance(item.expr, Call) and item.expr.name == "count" for item in operator.aggregates
    )
    return Aggregation(operator, tuple(keys), tuple(aggregates), summable)  # type: ignore[arg-type]


def _key(item: Assignment, dialect: str) -> Key | None:
    expression, decode = item.expr, "dynamic"
    if isinstance(expression, Call) and expression.name == "tostring":
        if len(expression.args) != 1:
            return None
        expression, decode = expression.args[0], "tostring"
    if isinstance(expression, Column) and expression.name in _PLAIN_COLUMNS:
        return Key(_PLAIN_COLUMNS[expression.name], None) if decode == "dynamic" else None
    path = json_path(expression)
    if path is None:
        return None
    return Key(_json_value(path, dialect), decode)


def _aggregate(item: Assignment, dialect: str) -> ColumnElement[Any] | None:
    call = item.expr
    if not isinstance(call, Call):
        return None
    if call.name == "count" and not call.args:
        return sa.func.count()
    if call.name == "dcount" and len(call.args) == 1:
        argument = _unwrap_tostring(call.args[0])
        if isinstance(argument, Column) and argument.name in _PLAIN_COLUMNS:
            return sa.func.count(sa.distinct(_PLAIN_COLUMNS[argument.name]))
        path = json_path(argument)
        if path is not None:
            return sa.func.count(sa.distinct(_json_value(path, dialect)))
    return None


_PLAIN_COLUMNS = {
    "id": graph_rows.c.id,
    "name": graph_rows.c.name,
    "type": graph_rows.c.type,
    "subscriptionId": graph_rows.c.subscription_id,
    "tenantId": graph_rows.c.tenant_id,
    "location": graph_rows.c.location,
    "resourceGroup": graph_rows.c.resource_group,
}


# --- paths --------------------------------------------------------------------------------


def json_path(expression: Expression) -> tuple[str, tuple[str, ...]] | None:
    """``properties.a['b']`` → ("properties", ("a", "b")); None if not such a path."""
    names: list[str] = []
    while True:
        if isinstance(expression, Member):
            names.append(expression.name)
            expression = expression.target
        elif (
            isinstance(expression, Index)
            and isinstance(expression.key, Literal)
            and expression.key.kind == "string"
        ):
            names.append(str(expression.key.value))
            expression = expression.target
        elif isinstance(expression, Column) and expression.name in _JSON_COLUMNS and names:
            return expression.name, tuple(reversed(names))
        else:
            return None


def _json_value(path: tuple[str, tuple[str, ...]], dialect: str) -> ColumnElement[Any]:
    """The value at a path in its JSON form (text on SQLite, jsonb on PostgreSQL)."""
    column = _JSON_COLUMNS[path[0]]
    if dialect == "postgresql":
        return column.op("#>", return_type=JSONB)(_pg_pointer(path[1]))
    quoted = "".join('."' + key.replace('"', '""') + '"' for key in path[1])
    # JSON text, decoded by the caller: typed as text so nothing decodes it before
    return column.op("->", return_type=sa.Text)(sa.literal("$" + quoted))


def _json_text(path: tuple[str, tuple[str, ...]], dialect: str) -> ColumnElement[str]:
    value = _json_value(path, dialect)
    return sa.cast(value, sa.Text) if dialect == "postgresql" else value


def _json_scalar(path: tuple[str, tuple[str, ...]], dialect: str) -> ColumnElement[Any]:
    """The value at a path as SQL text when it is a JSON string."""
    column = _JSON_COLUMNS[path[0]]
    if dialect == "postgresql":
        return column.op("#>>", return_type=sa.Text)(_pg_pointer(path[1]))
    quoted = "".join('."' + key.replace('"', '""') + '"' for key in path[1])
    return sa.func.json_extract(column, "$" + quoted)


def _pg_pointer(keys: tuple[str, ...]) -> ColumnElement[Any]:
    """A jsonb path (``text[]``) holding ``keys``."""
    return sa.cast(sa.literal(list(keys), ARRAY(sa.Text)), ARRAY(sa.Text))


# --- conditions -----------------------------------------------------------------------------


class _Compiler:
    def __init__(self, dialect: str, constant: Constant) -> None:
        self.dialect = dialect
        self.constant = constant

    def condition(self, expression: Expression) -> Condition:
        if isinstance(expression, Binary) and expression.op in ("and", "or"):
            return self._logic(expression)
        if isinstance(expression, Call) and expression.name == "not" and len(expression.args) == 1:
            inner = self.condition(expression.args[0])
            if inner.exact and inner.sql is not None:
                return Condition(sa.not_(inner.sql), True)
            return UNKNOWN
        if isinstance(expression, Binary):
            return self._comparison(expression)
        if isinstance(expression, InList):
            return self._membership(expression)
        return UNKNOWN

    def _logic(self, expression: Binary) -> Condition:
        left, right = self.condition(expression.left), self.condition(expression.right)
        exact = left.exact and right.exact
        if expression.op == "and":
            parts = [part.sql for part in (left, right) if part.sql is not None]
            selective = left.selective or right.selective
            return Condition(sa.and_(*parts) if parts else None, exact, selective)
        if left.sql is None or right.sql is None:
            return UNKNOWN
        return Condition(sa.or_(left.sql, right.sql), exact)

    def _value(self, expression: Expression) -> tuple[bool, Any]:
        try:
            return True, self.constant(expression)
        except LookupError:
            return False, None

    def _comparison(self, expression: Binary) -> Condition:
        known, value = self._value(expression.right)
        if not known:
            return UNKNOWN
        subject = _unwrap_tostring(expression.left)
        if isinstance(value, str):
            return self._string_test(expression.op, subject, value)
        if isinstance(value, datetime) and expression.op in _TIME_OPS:
            return self._time_test(expression.op, subject, value)
        if isinstance(value, bool) and expression.op == "==":
            return self._flag_test(subject, value)
        return UNKNOWN

    def _membership(self, expression: InList) -> Condition:
        values: list[Any] = []
        for item in expression.values:
            known, value = self._value(item)
            if not known:
                return UNKNOWN
            values.extend(value if isinstance(value, list) else [value])
        if not values or not all(isinstance(value, str) for value in values):
            return UNKNOWN
        op = {"in": "==", "in~": "=~", "!in": "!=", "!in~": "!~", "has_any": "has"}.get(
            expression.op
        )
        if op is None:
            return UNKNOWN
        subject = _unwrap_tostring(expression.operand)
        tests = [self._string_test(op, subject, value) for value in values]
        if op in ("!=", "!~"):
            if not all(test.exact and test.sql is not None for test in tests):
                return UNKNOWN
            return Condition(sa.and_(*(test.sql for test in tests)), True)
        if any(test.sql is None for test in tests):
            return UNKNOWN
        return Condition(sa.or_(*(test.sql for test in tests)), all(t.exact for t in tests))

    def _string_test(self, op: str, subject: Expression, value: str) -> Condition:
        if isinstance(subject, Column):
            return _column_test(op, subject.name, value, self.dialect)
        path = json_path(subject)
        if path is None:
            return UNKNOWN
        keyed = _KEYED_PATHS.get((path[0], *(key.lower() for key in path[1])))
        if keyed is not None and op == "=~" and value.isascii():
            return Condition(keyed == value.lower(), True, selective=True)
        if keyed is not None and op == "==" and path[1] == _canonical(path[1]):
            found = sa.and_(keyed == value.lower(), _json_scalar(path, self.dialect) == value)
            return Condition(found, True, selective=True)
        if op not in _POSITIVE_STRING_OPS or not _plain_ascii(value):
            return UNKNOWN
        text = sa.func.lower(_json_text(path, self.dialect))
        return Condition(text.contains(value.lower(), autoescape=True), False)

    def _flag_test(self, subject: Expression, value: bool) -> Condition:
        """``properties.rebootRequired == true``: the JSON value is that boolean (SQLite reads
        JSON true as 1, so a number 1 passes too: a prefilter)."""
        path = json_path(subject)
        if path is None:
            return UNKNOWN
        if self.dialect == "postgresql":
            flag = sa.cast(sa.literal("true" if value else "false"), JSONB)
            return Condition(_json_value(path, self.dialect) == flag, False)
        return Condition(_json_scalar(path, self.dialect) == int(value), False)

    def _time_test(self, op: str, subject: Expression, value: datetime) -> Condition:
        if isinstance(subject, Call) and subject.name == "todatetime" and len(subject.args) == 1:
            subject = subject.args[0]
        path = json_path(subject)
        if path is None or path[0] != "properties" or not path[1][-1].endswith("DateTime"):
            return UNKNOWN
        text = _json_scalar(path, self.dialect)
        slack = timedelta(seconds=1)
        if op in (">", ">="):
            return Condition(text >= _iso(value - slack), False)
        return Condition(text <= _iso(value + slack), False)


def _column_test(op: str, name: str, value: str, dialect: str) -> Condition:
    if name == "id":
        return _id_test(op, value, dialect)
    if name in _LOWERCASE:
        column = _LOWERCASE[name]
        tests = {
            "==": column == value,
            "!=": column != value,
            "=~": column == value.lower(),
            "!~": column != value.lower(),
        }
        if op in tests and (op in ("==", "!=") or value.isascii()):
            return Condition(tests[op], True)
        if op in ("has", "!has") and value.isascii() and value.isalnum():
            found = _has_term(column, value.lower())
            return Condition(found if op == "has" else sa.not_(found), True)
        return _like_test(op, column, value)
    if name in _STRING_COLUMNS:
        column = _STRING_COLUMNS[name]
        if op == "==":
            return Condition(column == value, True)
        if op == "!=":
            return Condition(column != value, True)
        return _like_test(op, column, value)
    return UNKNOWN


def _has_term(column: ColumnElement[str], term: str) -> ColumnElement[bool]:
    """``has`` on a type: the term between the ends and the type's separators (``.``, ``/``),
    the only characters besides lowercase letters and digits that types hold."""
    patterns = [
        f"{before}{term}{after}" for before in ("", "%/", "%.") for after in ("", "/%", ".%")
    ]
    return sa.or_(*(column.like(pattern) for pattern in patterns))


def _id_test(op: str, value: str, dialect: str) -> Condition:
    key, written = graph_rows.c.key, graph_rows.c.id
    if op == "=~" and value.isascii():
        return Condition(key == value.lower(), True, selective=True)
    if op == "==":
        return Condition(sa.and_(key == value.lower(), written == value), True, selective=True)
    if op == "!=":
        return Condition(written != value, True)
    if op == "startswith" and dialect == "sqlite" and _plain_ascii(value):
        return Condition(_prefix_range(key, value.lower()), True, selective=True)
    return _like_test(op, key, value, lowercase=True)


def _prefix_range(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix`` (ASCII), as a range an index can seek: what lies
    under a machine (``id startswith '<machine id>/'``) is then read, not the whole table.
    SQLite's LIKE is case-insensitive and so never uses the index; its BINARY order is the
    code points' (PostgreSQL's order follows the locale, where a range is no prefix test)."""
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return sa.and_(column >= prefix, column < after)


def _like_test(
    op: str, column: ColumnElement[str], value: str, *, lowercase: bool = False
) -> Condition:
    """Case-insensitive substring tests: exact for contains/startswith/endswith, a
    prefilter for ``has`` (whose term rules SQL cannot check)."""
    if not _plain_ascii(value):
        return UNKNOWN
    text = column if lowercase else sa.func.lower(column)
    needle = value.lower()
    if op == "contains":
        return Condition(text.contains(needle, autoescape=True), True)
    if op == "startswith":
        return Condition(text.startswith(needle, autoescape=True), True)
    if op == "endswith":
        return Condition(text.endswith(needle, autoescape=True), True)
    if op in _POSITIVE_STRING_OPS:
        return Condition(text.contains(needle, autoescape=True), False)
    return UNKNOWN


def _unwrap_tostring(expression: Expression) -> Expression:
    if isinstance(expression, Call) and expression.name == "tostring" and len(expression.args) == 1:
        argument = expression.args[0]
        if json_path(argument) is not None:
            return argument
    return expression


def _canonical(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The record's own spelling of a keyed path (``==`` is case-sensitive on names too)."""
    spelled = {
        "maintenanceconfigurationid": "maintenanceConfigurationId",
        "resourceid": "resourceId",
    }
    return tuple(spelled.get(key.lower(), key) for key in keys)


def _plain_ascii(value: str) -> bool:
    """Text SQL's ASCII-only lower() and JSON escaping cannot get wrong."""
    return value.isascii() and '"' not in value and "\\" not in value and value != ""


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S")
