"""Running KQL in Python: scalar expressions compiled to closures, and the tabular
operators over a :class:`Frame` of rows, with Kusto's semantics and Resource Graph's limits.

Each operator first compiles its expressions against the columns its input has, so an
unknown column fails the same way whether or not there are rows, then runs the closures
over the rows in chunks, watching the query's deadline and row limit between chunks.
"""

from __future__ import annotations

import math
import operator
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from upkeep.graph.aggregates import AGGREGATES, ROW_PICKERS, any_row, best_row
from upkeep.graph.errors import KqlError
from upkeep.graph.functions import CONVERSIONS, FUNCTIONS, Fn, Row, Site, reject_star
from upkeep.graph.scalars import (
    ARITHMETIC,
    DIRECT,
    MEMBERSHIPS,
    as_utc,
    between,
    column_type,
    comparable,
    compile_regex,
    equals,
    group_key,
    negate,
    regex_or_none,
    sort_key,
    text_of,
    text_test,
    to_json,
)
from upkeep.graph.syntax import (
    Assignment,
    Between,
    Binary,
    Call,
    Column,
    Count,
    Distinct,
    Expression,
    Extend,
    Index,
    InList,
    Join,
    Literal,
    Member,
    MvExpand,
    Operator,
    Parse,
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

__all__ = [
    "Context",
    "Frame",
    "column_type",
    "evaluate",
    "output_name",
    "run_operators",
    "to_json",
]

#: Resource Graph's limits (learn.microsoft.com, "Understanding the Azure Resource Graph
#: query language"): joins and mv-expands per query, and mv-expand's rows per input row.
MAX_JOINS = 3
MAX_MV_EXPANDS = 3
MV_EXPAND_DEFAULT_LIMIT = 128
MV_EXPAND_MAX_LIMIT = 400

#: Rows processed between two looks at the clock.
_CHUNK = 1024


@dataclass
class Frame:
    """A table in flight: column names in order, and rows holding every column."""

    columns: list[str]
    rows: list[dict[str, Any]]
    #: the table the rows came from, when one did (``union withsource`` names it)
    table: str | None = field(default=None, compare=False)
    #: columns holding typed bools rather than dynamic ones: tostring() spells those as
    #: .NET does (``True``), dynamic ones as JSON does (``true``)
    bools: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass
class Context:
    """What a query's evaluation shares: its clock, how to run a subquery, its limits."""

    now: datetime
    run: Callable[[Query], Frame]
    max_rows: int = 1_000_000
    deadline: float = math.inf


def run_operators(frame: Frame, operators: Sequence[Operator], context: Context) -> Frame:
    """``frame`` piped through ``operators``.

    A ``union`` that starts a query runs on a frame without columns, which takes no part
    in it. Raises :class:`KqlError` only.
    """
    _check_operator_counts(operators)
    for step in operators:
        run = _OPERATORS.get(type(step))
        if run is None:
            raise KqlError(
                "UnsupportedOperator", f"'{type(step).__name__}' is not supported.", step.pos
            )
        guard = _Guard(context, step.pos)
        guard.tick()
        frame = run(step, frame, context, guard)
        guard.hold(len(frame.rows))
    return frame


def evaluate(expression: Expression, row: dict[str, Any], context: Context) -> Any:
    """The value of a scalar expression over one row."""
    return _Compiler(row.keys(), context).compile(expression)(row)


# --- naming ---------------------------------------------------------------------------------

#: Conversions that keep the name of the column (or path) they wrap.
_NAME_KEEPING = frozenset(
    (
        *("tostring", "toint", "tolong", "todouble", "toreal", "tobool", "todatetime"),
        *("tolower", "toupper", "bin", "floor"),
    )
)
#: Aggregates whose output is named by the aggregate alone.
_UNNAMED_ARGUMENT = frozenset(("count", "countif"))


def output_name(assignment: Assignment, index: int) -> str:
    """Kusto's name for a project/extend/summarize item at 0-based ``index`` of its list:
    the name given; else the column's; a path's parts joined by ``_``; an aggregate's
    prefix and argument (``count_``, ``sum_x``); else ``Column{index + 1}``."""
    if assignment.name:
        return assignment.name
    return _derived_name(assignment.expr) or f"Column{index + 1}"


def _derived_name(expression: Expression) -> str | None:
    if isinstance(expression, Column | Member | Index):
        return _path_name(expression)
    if not isinstance(expression, Call) or not expression.args:
        if isinstance(expression, Call) and expression.name in _UNNAMED_ARGUMENT:
            return expression.name + "_"
        return None
    if expression.name in _NAME_KEEPING:
        return _derived_name(expression.args[0])
    aggregate = AGGREGATES.get(expression.name)
    if aggregate is None:
        return None
    if expression.name in _UNNAMED_ARGUMENT:
        return expression.name + "_"
    return f"{aggregate.prefix}_{_derived_name(expression.args[0]) or ''}"


def _path_name(expression: Expression) -> str | None:
    """``properties.a['b']`` → ``properties_a_b``."""
    if isinstance(expression, Column):
        return expression.name
    if isinstance(expression, Member):
        base = _path_name(expression.target)
        return None if base is None else f"{base}_{expression.name}"
    if isinstance(expression, Index) and isinstance(expression.key, Literal):
        base = _path_name(expression.target)
        key = expression.key.value
        if base is None or type(key) not in (str, int):
            return None
        return f"{base}_{key}"
    return None


def _unique(names: Iterable[str]) -> list[str]:
    """Names made distinct: a repeated name gets the smallest free numeric suffix."""
    taken: set[str] = set()
    result = []
    for name in names:
        candidate, number = name, 0
        while candidate in taken:
            number += 1
            candidate = f"{name}{number}"
        taken.add(candidate)
        result.append(candidate)
    return result


# --- limits --------------------------------------------------------------------------------


class _Guard:
    """The deadline and the row limit, as seen from one operator."""

    def __init__(self, context: Context, pos: int) -> None:
        self.deadline = context.deadline
        self.max_rows = context.max_rows
        self.pos = pos

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise KqlError(
                "QueryLimit",
                "The query took too long and was stopped; narrow it with 'where' first.",
                self.pos,
            )

    def hold(self, count: int) -> None:
        if count > self.max_rows:
            raise KqlError(
                "QueryLimit",
                f"The query would hold more than {self.max_rows:,} rows at this step.",
                self.pos,
            )

    def chunks(self, rows: list[Row]) -> Iterator[list[Row]]:
        for start in range(0, len(rows), _CHUNK):
            self.tick()
            yield rows[start : start + _CHUNK]


def _check_operator_counts(operators: Sequence[Operator]) -> None:
    """Resource Graph allows at most 3 joins and 3 mv-expands in a query, subqueries
    included; the first one too many is named."""
    joins: list[Operator] = []
    expands: list[Operator] = []

    def walk(steps: Iterable[Operator]) -> None:
        for step in steps:
            if isinstance(step, Join):
                joins.append(step)
                walk_query(step.right)
            elif isinstance(step, Union):
                for query in step.queries:
                    walk_query(query)
            elif isinstance(step, MvExpand):
                expands.append(step)

    def walk_query(query: Query) -> None:
        if isinstance(query.source, Union):
            walk([query.source])
        walk(query.operators)

    walk(operators)
    for found, limit, name in ((joins, MAX_JOINS, "join"), (expands, MAX_MV_EXPANDS, "mv-expand")):
        if len(found) > limit:
            extra = sorted(found, key=lambda step: step.pos)[limit]
            raise KqlError(
                "QueryLimit",
                f"A query may use at most {limit} '{name}' operators (Resource Graph's limit).",
                extra.pos,
            )


# --- compiling scalar expressions ------------------------------------------------------------


def _unknown_column(name: str, pos: int) -> KqlError:
    return KqlError(
        "UnknownColumn", f"Failed to resolve column or scalar expression named '{name}'", pos, name
    )


def _reads_row(expression: Expression) -> bool:
    """Whether the value depends on the row (a column, or an aggregate over rows)."""
    if isinstance(expression, Literal):
        return False
    if isinstance(expression, Column | Star):
        return True
    if isinstance(expression, Member):
        return _reads_row(expression.target)
    if isinstance(expression, Index):
        return _reads_row(expression.target) or _reads_row(expression.key)
    if isinstance(expression, Call):
        return expression.name in AGGREGATES or any(_reads_row(arg) for arg in expression.args)
    if isinstance(expression, Unary):
        return _reads_row(expression.operand)
    if isinstance(expression, Binary):
        return _reads_row(expression.left) or _reads_row(expression.right)
    if isinstance(expression, InList):
        return _reads_row(expression.operand) or any(_reads_row(v) for v in expression.values)
    if isinstance(expression, Between):
        parts = (expression.operand, expression.low, expression.high)
        return any(_reads_row(part) for part in parts)
    return True


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TEXT_TESTS = frozenset(("contains", "has", "startswith", "endswith", "hasprefix", "hassuffix"))
#: Types for which Python's ``==`` is Kusto's when both sides have the same one.
_PLAIN_EQUALITY = frozenset((str, int, float, bool))


class _Compiler:
    """Turns expressions into closures over a row, checking each column exists."""

    def __init__(
        self, columns: Collection[str], context: Context, bools: Collection[str] = ()
    ) -> None:
        self.columns = columns
        self.context = context
        self.bools = bools
        # Each node compiles once, though constant folding asks for some twice (the
        # node is kept alongside so that its id cannot be reused while this lives).
        self._compiled: dict[int, tuple[Expression, Fn]] = {}

    def compile(self, expression: Expression) -> Fn:
        found = self._compiled.get(id(expression))
        if found is not None:
            return found[1]
        handler = _HANDLERS.get(type(expression))
        if handler is None:
            raise KqlError("InvalidArgument", "This expression is not supported.", expression.pos)
        compiled = getattr(self, handler)(expression)
        self._compiled[id(expression)] = (expression, compiled)
        return compiled

    def text(self, expression: Expression) -> Fn:
        """An argument a function turns into text: a typed bool becomes ``True``/``False``."""
        value = self.compile(expression)
        if not self.typed_bool(expression):
            return value
        return lambda row: _spelled(value(row))

    def typed_bool(self, expression: Expression) -> bool:
        """Whether the expression is a bool by its type (not a dynamic value holding one)."""
        if isinstance(expression, Literal):
            return expression.kind == "bool"
        if isinstance(expression, Column):
            return expression.name in self.bools
        if isinstance(expression, Binary):
            return expression.op not in ARITHMETIC
        if isinstance(expression, InList | Between):
            return True
        if not isinstance(expression, Call):
            return False
        if expression.name in _BOOL_FUNCTIONS:
            return True
        args = expression.args
        if expression.name in ("iff", "iif", "case") and len(args) >= 3:
            values = [*args[1:-1:2], args[-1]] if expression.name == "case" else args[1:]
            return all(self.typed_bool(value) for value in values)
        return False

    def bool_columns(self, named: Iterable[tuple[str, Expression]]) -> frozenset[str]:
        return frozenset(name for name, expression in named if self.typed_bool(expression))

    def constant(self, expression: Expression) -> tuple[bool, Any]:
        """(True, value) for an expression that reads no row, else (False, None)."""
        if _reads_row(expression):
            return False, None
        return True, self.compile(expression)({})

    # -- leaves ------------------------------------------------------------------------------

    def literal(self, expression: Literal) -> Fn:
        value = expression.value
        if type(value) is datetime:
            value = as_utc(value)
        elif expression.kind == "real" and type(value) is int:
            value = float(value)
        return lambda row: value

    def column(self, expression: Column) -> Fn:
        if expression.name not in self.columns:
            raise _unknown_column(expression.name, expression.pos)
        return _reader(expression.name)

    def star(self, expression: Star) -> Fn:
        raise KqlError(
            "InvalidArgument",
            "'*' is only an argument of arg_max(), arg_min() and take_any().",
            expression.pos,
        )

    def member(self, expression: Member) -> Fn:
        target, name = self.compile(expression.target), expression.name

        def member(row: Row) -> Any:
            value = target(row)
            return value.get(name) if type(value) is dict else None

        return member

    def index(self, expression: Index) -> Fn:
        target = self.compile(expression.target)
        known, key = self.constant(expression.key)
        if known:
            return lambda row: _item(target(row), key)
        key_of = self.compile(expression.key)
        return lambda row: _item(target(row), key_of(row))

    # -- calls ---------------------------------------------------------------------------------

    def call(self, expression: Call) -> Fn:
        if expression.name in AGGREGATES:
            return self.aggregate(expression)
        function = FUNCTIONS.get(expression.name)
        if function is None:
            raise KqlError(
                "UnsupportedFunction",
                f"The function '{expression.name}' is not supported.",
                expression.pos,
                expression.name,
            )
        _check_arity(expression, function.low, function.high)
        reject_star(expression)
        site = Site(expression, self.compile, self.constant, self.context.now, self.text)
        return function.build(site)

    def aggregate(self, expression: Call) -> Fn:
        raise KqlError(
            "InvalidArgument",
            f"{expression.name}() is an aggregation function: use it in 'summarize'.",
            expression.pos,
        )

    # -- operators -----------------------------------------------------------------------------

    def unary(self, expression: Unary) -> Fn:
        operand = self.compile(expression.operand)
        if expression.op == "-":
            return lambda row: negate(operand(row))
        return lambda row: _plus(operand(row))

    def binary(self, expression: Binary) -> Fn:
        op = expression.op
        if op in ("and", "or"):
            return self._logic(expression)
        left, right = self.compile(expression.left), self.compile(expression.right)
        if op in ARITHMETIC:
            arithmetic = ARITHMETIC[op]
            return lambda row: arithmetic(left(row), right(row))
        if op in ("==", "!="):
            return _equality(left, right, op == "!=")
        if op in _ORDERINGS:
            return _ordering(left, right, _ORDERINGS[op])
        if op in ("=~", "!~"):
            return _negated(
                lambda row: text_of(left(row)).lower() == text_of(right(row)).lower(), op == "!~"
            )
        if op == "matches regex":
            return self._matches(expression, left)
        negated = op.startswith("!")
        base = op.removeprefix("!")
        case_sensitive = base.endswith("_cs")
        base = base.removesuffix("_cs")
        if base not in _TEXT_TESTS:
            raise KqlError(
                "UnsupportedOperator", f"The operator '{op}' is not supported.", expression.pos, op
            )
        known, needle = self.constant(expression.right)
        if known:
            test = text_test(base, case_sensitive, text_of(needle))
            return _negated(lambda row: test(text_of(left(row))), negated)
        return _negated(
            lambda row: text_test(base, case_sensitive, text_of(right(row)))(text_of(left(row))),
            negated,
        )

    def _logic(self, expression: Binary) -> Fn:
        left, right = self.compile(expression.left), self.compile(expression.right)
        if expression.op == "and":

            def conjunction(row: Row) -> bool | None:
                a = left(row)
                if a is False:
                    return False
                b = right(row)
                if b is False:
                    return False
                return True if a is True and b is True else None

            return conjunction

        def disjunction(row: Row) -> bool | None:
            a = left(row)
            if a is True:
                return True
            b = right(row)
            if b is True:
                return True
            return False if a is False and b is False else None

        return disjunction

    def _matches(self, expression: Binary, left: Fn) -> Fn:
        known, pattern = self.constant(expression.right)
        if known:
            search = compile_regex(pattern, expression.right.pos).search
            return lambda row: search(text_of(left(row))) is not None
        right = self.compile(expression.right)

        def matches(row: Row) -> bool | None:
            compiled = regex_or_none(right(row))
            return None if compiled is None else compiled.search(text_of(left(row))) is not None

        return matches

    def in_list(self, expression: InList) -> Fn:
        operand = self.compile(expression.operand)
        fixed: list[Any] = []
        varying: list[Fn] = []
        for item in expression.values:
            known, value = self.constant(item)
            if known:
                fixed.extend(value if type(value) is list else [value])
            else:
                varying.append(self.compile(item))
        op = expression.op
        negated = op.startswith("!")
        membership = MEMBERSHIPS.get(op.removeprefix("!"))
        if membership is None:
            raise KqlError(
                "UnsupportedOperator", f"The operator '{op}' is not supported.", expression.pos, op
            )
        if not varying:
            test = membership(fixed)
            return _negated(lambda row: test(operand(row)), negated)

        def varying_test(row: Row) -> bool:
            values = list(fixed)
            for value_of in varying:
                value = value_of(row)
                values.extend(value if type(value) is list else [value])
            return membership(values)(operand(row))

        return _negated(varying_test, negated)

    def between(self, expression: Between) -> Fn:
        value = self.compile(expression.operand)
        low, high = self.compile(expression.low), self.compile(expression.high)
        return _negated(lambda row: between(value(row), low(row), high(row)), expression.negated)


#: The compiler's method for each kind of expression (looked up by name, so that
#: :class:`_AggregateCompiler` can override how it compiles columns and aggregates).
_HANDLERS: dict[type, str] = {
    Literal: "literal",
    Column: "column",
    Star: "star",
    Member: "member",
    Index: "index",
    Call: "call",
    Unary: "unary",
    Binary: "binary",
    InList: "in_list",
    Between: "between",
}


def _check_arity(call: Call, low: int, high: int) -> None:
    count = len(call.args)
    if low <= count <= high:
        return
    wanted = str(low) if low == high else f"{low} to {high}"
    raise KqlError(
        "InvalidArgument",
        f"{call.name}() takes {wanted} arguments, not {count}.",
        call.pos,
        call.name,
    )


#: Functions whose result is a typed bool.
_BOOL_FUNCTIONS = frozenset(
    (
        *("tobool", "toboolean", "isnull", "isnotnull", "isempty", "isnotempty", "not"),
        *("set_has_element", "bag_has_key"),
    )
)


def _spelled(value: Any) -> Any:
    return ("True" if value else "False") if type(value) is bool else value


def _reader(name: str) -> Fn:
    return lambda row: row.get(name)


def _item(value: Any, key: Any) -> Any:
    """``value[key]``: a bag's property or an array's element (negative from the end)."""
    if type(value) is dict and type(key) is str:
        return value.get(key)
    if type(value) is list and type(key) is int and -len(value) <= key < len(value):
        return value[key]
    return None


def _plus(value: Any) -> Any:
    kind = type(value)
    return value if kind is int or kind is float or kind is timedelta else None


def _negated(test: Fn, negated: bool) -> Fn:
    if not negated:
        return test

    def opposite(row: Row) -> bool | None:
        result = test(row)
        return None if result is None else not result

    return opposite


def _equality(left: Fn, right: Fn, negated: bool) -> Fn:
    def equal(row: Row) -> bool | None:
        a, b = left(row), right(row)
        if type(a) is type(b) and type(a) in _PLAIN_EQUALITY:
            return a == b
        return equals(a, b)

    return _negated(equal, negated)


def _ordering(left: Fn, right: Fn, compare: Callable[[Any, Any], bool]) -> Fn:
    def ordered(row: Row) -> bool | None:
        a, b = left(row), right(row)
        try:
            if type(a) is type(b) and type(a) in DIRECT:
                return compare(a, b)
            pair = comparable(a, b)
            return None if pair is None else compare(pair[0], pair[1])
        except TypeError:
            return None

    return ordered


class _AggregateCompiler(_Compiler):
    """Compiles a summarize item: each aggregate call becomes a reduction over a group's
    rows, and the expression around them reads the reductions' results."""

    def __init__(self, columns: Collection[str], context: Context, bools: Collection[str]) -> None:
        super().__init__((), context)
        self.rows = _Compiler(columns, context, bools)
        self.reductions: list[Callable[[list[Row]], Any]] = []

    def column(self, expression: Column) -> Fn:
        if expression.name in self.rows.columns:
            raise KqlError(
                "InvalidArgument",
                f"'{expression.name}' must be inside an aggregation function or be a 'by' key.",
                expression.pos,
                expression.name,
            )
        raise _unknown_column(expression.name, expression.pos)

    def aggregate(self, expression: Call) -> Fn:
        aggregate = AGGREGATES[expression.name]
        _check_arity(expression, aggregate.low, aggregate.high)
        reject_star(expression)
        rows = self.rows
        site = Site(expression, rows.compile, rows.constant, self.context.now, rows.text)
        if aggregate.build is not None:
            reduction = aggregate.build(site)
        elif expression.name in ("any", "take_any") and len(expression.args) == 1:
            reduction = _single_any(site.args()[0])
        else:
            raise KqlError(
                "InvalidArgument",
                f"{expression.name}() returns columns; it must stand alone in 'summarize'.",
                expression.pos,
            )
        slot = len(self.reductions)
        self.reductions.append(reduction)
        return operator.itemgetter(slot)


def _single_any(value: Fn) -> Callable[[list[Row]], Any]:
    def pick(rows: list[Row]) -> Any:
        row = any_row(rows, value)
        return None if row is None else value(row)

    return pick


# --- tabular operators --------------------------------------------------------------------------

_Run = Callable[[Any, Frame, Context, _Guard], Frame]


def _compiler(frame: Frame, context: Context) -> _Compiler:
    return _Compiler(frame.columns, context, frame.bools)


def _same_columns(frame: Frame, rows: list[Row]) -> Frame:
    return Frame(frame.columns, rows, frame.table, frame.bools)


def _where(step: Where, frame: Frame, context: Context, guard: _Guard) -> Frame:
    predicate = _compiler(frame, context).compile(step.predicate)
    kept: list[Row] = []
    for chunk in guard.chunks(frame.rows):
        kept.extend([row for row in chunk if predicate(row) is True])
    return _same_columns(frame, kept)


def _project(step: Project, frame: Frame, context: Context, guard: _Guard) -> Frame:
    compiler = _compiler(frame, context)
    names = _unique(output_name(item, i) for i, item in enumerate(step.columns))
    named = [(name, item.expr) for name, item in zip(names, step.columns, strict=True)]
    pairs = [(name, compiler.compile(expression)) for name, expression in named]
    rows: list[Row] = []
    for chunk in guard.chunks(frame.rows):
        rows.extend([{name: value(row) for name, value in pairs} for row in chunk])
    return Frame(names, rows, frame.table, compiler.bool_columns(named))


def _project_away(step: ProjectAway, frame: Frame, context: Context, guard: _Guard) -> Frame:
    dropped: set[str] = set()
    for pattern in step.names:
        matching = _wildcard(pattern, frame.columns)
        if not matching and "*" not in pattern:
            raise _unknown_column(pattern, step.pos)
        dropped.update(matching)
    kept = [name for name in frame.columns if name not in dropped]
    return _reshape(frame, kept, {name: name for name in kept}, guard)


def _wildcard(pattern: str, columns: list[str]) -> list[str]:
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
    return [name for name in columns if regex.fullmatch(name)]


def _project_rename(step: ProjectRename, frame: Frame, context: Context, guard: _Guard) -> Frame:
    renamed: dict[str, str] = {}
    for new, old in step.renames:
        if old not in frame.columns:
            raise _unknown_column(old, step.pos)
        renamed[old] = new
    new_names = [renamed.get(name, name) for name in frame.columns]
    if len(set(new_names)) != len(new_names):
        raise KqlError("InvalidArgument", "project-rename would make two columns alike.", step.pos)
    return _reshape(frame, new_names, dict(zip(new_names, frame.columns, strict=True)), guard)


def _reshape(frame: Frame, names: list[str], source: dict[str, str], guard: _Guard) -> Frame:
    """Rows with ``names`` as columns, each read from its ``source`` column."""
    pairs = [(name, source[name]) for name in names]
    rows: list[Row] = []
    for chunk in guard.chunks(frame.rows):
        rows.extend([{name: row.get(old) for name, old in pairs} for row in chunk])
    bools = frozenset(name for name, old in pairs if old in frame.bools)
    return Frame(names, rows, frame.table, bools)


def _extend(step: Extend, frame: Frame, context: Context, guard: _Guard) -> Frame:
    columns = list(frame.columns)
    visible = set(columns)
    bools = set(frame.bools)
    compiler = _Compiler(visible, context, bools)
    steps: list[tuple[str, Fn]] = []
    for i, item in enumerate(step.columns):
        value = compiler.compile(item.expr)
        name = output_name(item, i)
        steps.append((name, value))
        if compiler.typed_bool(item.expr):
            bools.add(name)
        else:
            bools.discard(name)
        if name not in visible:
            visible.add(name)
            columns.append(name)
    rows: list[Row] = []
    for chunk in guard.chunks(frame.rows):
        for row in chunk:
            extended = dict(row)
            for name, value in steps:
                extended[name] = value(extended)
            rows.append(extended)
    return Frame(columns, rows, frame.table, frozenset(bools))


def _summarize(step: Summarize, frame: Frame, context: Context, guard: _Guard) -> Frame:
    compiler = _compiler(frame, context)
    key_names = [output_name(item, i) for i, item in enumerate(step.by)]
    keys = [compiler.compile(item.expr) for item in step.by]
    bools = compiler.bool_columns(zip(key_names, (item.expr for item in step.by), strict=True))
    outputs = [
        _summary_output(item, len(step.by) + i, frame, key_names, context)
        for i, item in enumerate(step.aggregates)
    ]
    groups = _groups(frame.rows, keys, guard)
    if not keys and not groups:
        groups = {(): ((), [])}
    names = _unique([*key_names, *(name for output in outputs for name in output.names)])
    rows: list[Row] = []
    for key_values, members in groups.values():
        guard.tick()
        values = [*key_values]
        for output in outputs:
            values.extend(output.compute(members))
        rows.append(dict(zip(names, values, strict=True)))
    bools |= {name for output in outputs for name in output.bools}
    return Frame(names, rows, bools=frozenset(name for name in bools if name in names))


#: Key types that need :func:`group_key`: unhashable, or (bool) equal to 0 and 1.
_UNHASHABLE = frozenset((dict, list, bool))


def _groups(
    rows: list[Row], keys: list[Fn], guard: _Guard
) -> dict[Any, tuple[tuple[Any, ...], list[Row]]]:
    """Rows by the values of ``keys``; each group keeps its first row's key values."""
    groups: dict[Any, tuple[tuple[Any, ...], list[Row]]] = {}
    if not keys:
        if rows:
            groups[()] = ((), rows)
        return groups
    if len(keys) == 1:
        (key,) = keys
        for chunk in guard.chunks(rows):
            for row in chunk:
                value = key(row)
                marker = group_key(value) if type(value) in _UNHASHABLE else value
                group = groups.get(marker)
                if group is None:
                    groups[marker] = group = ((value,), [])
                group[1].append(row)
        return groups
    for chunk in guard.chunks(rows):
        for row in chunk:
            values = tuple([key(row) for key in keys])
            marker = tuple([group_key(v) if type(v) in _UNHASHABLE else v for v in values])
            group = groups.get(marker)
            if group is None:
                groups[marker] = group = (values, [])
            group[1].append(row)
    return groups


@dataclass
class _Output:
    """The columns one summarize item yields, and how a group's rows give their values."""

    names: list[str]
    compute: Callable[[list[Row]], list[Any]]
    #: the names that hold typed bools
    bools: frozenset[str] = frozenset()


def _summary_output(
    item: Assignment, index: int, frame: Frame, key_names: list[str], context: Context
) -> _Output:
    call = item.expr
    if isinstance(call, Call) and call.name in ROW_PICKERS:
        picks_columns = any(isinstance(arg, Star) for arg in call.args)
        if call.name.startswith("arg_") or len(call.args) > 1 or picks_columns:
            return _row_picker(item, index, frame, key_names, context)
    compiler = _AggregateCompiler(frame.columns, context, frame.bools)
    result = compiler.compile(item.expr)
    reductions = compiler.reductions
    if not reductions:
        raise KqlError(
            "InvalidArgument",
            "Each 'summarize' item needs an aggregation function such as count().",
            item.expr.pos,
        )
    name = output_name(item, index)
    picked = isinstance(call, Call) and call.name in ROW_PICKERS | {"min", "max"}
    typed = picked and compiler.rows.typed_bool(call.args[0])  # type: ignore[union-attr]
    return _Output(
        [name],
        lambda rows: [result([reduce(rows) for reduce in reductions])],
        frozenset([name]) if typed else frozenset(),
    )


def _row_picker(
    item: Assignment, index: int, frame: Frame, key_names: list[str], context: Context
) -> _Output:
    """``arg_max(x, *)``, ``arg_min(x, a, b)``, ``take_any(a, b)``, ``take_any(*)``: the
    chosen row's columns (for arg_max/arg_min, the compared value first)."""
    call: Call = item.expr  # type: ignore[assignment]
    aggregate = AGGREGATES[call.name]
    _check_arity(call, aggregate.low, aggregate.high)
    compiler = _compiler(frame, context)
    compared = call.name.startswith("arg_")
    names: list[str] = []
    values: list[Fn] = []
    bools: set[str] = set()
    for position, arg in enumerate(call.args):
        if isinstance(arg, Star):
            if compared and position == 0:
                raise KqlError(
                    "InvalidArgument", f"{call.name}() compares a value, not '*'.", arg.pos
                )
            taken = set(key_names) | set(names)
            for column in frame.columns:
                if column not in taken:
                    names.append(column)
                    values.append(_reader(column))
                    if column in frame.bools:
                        bools.add(column)
            continue
        if position and compared and isinstance(arg, Column) and arg.name in names:
            continue
        given = item.name if position == 0 else None
        names.append(output_name(Assignment(arg, given), index + position))
        values.append(compiler.compile(arg))
        if compiler.typed_bool(arg):
            bools.add(names[-1])
    largest = call.name == "arg_max"
    first = values[0]

    def compute(rows: list[Row]) -> list[Any]:
        chosen = best_row(rows, first, largest)[0] if compared else any_row(rows, first)
        return [None if chosen is None else value(chosen) for value in values]

    return _Output(names, compute, frozenset(bools))


def _sort(step: Sort, frame: Frame, context: Context, guard: _Guard) -> Frame:
    return _same_columns(frame, _sorted(frame, step.keys, context, guard))


def _sorted(frame: Frame, keys: Sequence[SortKey], context: Context, guard: _Guard) -> list[Row]:
    """Stable, key by key from the last: strings ordinal, types never compared with each
    other, nulls first ascending and last descending unless the key says otherwise."""
    compiler = _compiler(frame, context)
    compiled = [(compiler.compile(key.expr), key) for key in keys]
    rows = list(frame.rows)
    for value_of, key in reversed(compiled):
        nulls_first = (not key.descending) if key.nulls_first is None else key.nulls_first
        null_key = (0 if nulls_first != key.descending else 2, 0, 0)
        ranks: list[tuple[Any, ...]] = []
        for chunk in guard.chunks(rows):
            for row in chunk:
                value = value_of(row)
                ranks.append(null_key if value is None else (1, *sort_key(value)))
        order = sorted(range(len(rows)), key=ranks.__getitem__, reverse=key.descending)
        rows = [rows[i] for i in order]
    return rows


def _count_argument(expression: Expression, pos: int, context: Context) -> int:
    known, value = _Compiler((), context).constant(expression)
    if not known or type(value) is not int or value < 0:
        raise KqlError("InvalidArgument", "The row count must be a non-negative whole number.", pos)
    return value


def _take(step: Take, frame: Frame, context: Context, guard: _Guard) -> Frame:
    count = _count_argument(step.count, step.count.pos, context)
    return _same_columns(frame, frame.rows[:count])


def _top(step: Top, frame: Frame, context: Context, guard: _Guard) -> Frame:
    count = _count_argument(step.count, step.count.pos, context)
    return _same_columns(frame, _sorted(frame, [step.key], context, guard)[:count])


def _distinct(step: Distinct, frame: Frame, context: Context, guard: _Guard) -> Frame:
    bools = frame.bools
    if step.columns:
        compiler = _compiler(frame, context)
        items = [Assignment(expression) for expression in step.columns]
        names = _unique(output_name(item, i) for i, item in enumerate(items))
        values = [compiler.compile(item.expr) for item in items]
        bools = compiler.bool_columns(zip(names, step.columns, strict=True))
    else:
        names = list(frame.columns)
        values = [_reader(name) for name in names]
    seen: dict[Any, Row] = {}
    for chunk in guard.chunks(frame.rows):
        for row in chunk:
            found = [value(row) for value in values]
            marker = tuple(group_key(value) for value in found)
            if marker not in seen:
                seen[marker] = dict(zip(names, found, strict=True))
    return Frame(names, list(seen.values()), frame.table, bools)


def _count(step: Count, frame: Frame, context: Context, guard: _Guard) -> Frame:
    return Frame(["Count"], [{"Count": len(frame.rows)}])


def _mv_expand(step: MvExpand, frame: Frame, context: Context, guard: _Guard) -> Frame:
    limit = MV_EXPAND_DEFAULT_LIMIT if step.limit is None else step.limit
    if limit > MV_EXPAND_MAX_LIMIT:
        raise KqlError(
            "QueryLimit",
            f"mv-expand's limit may be at most {MV_EXPAND_MAX_LIMIT} (Resource Graph's limit).",
            step.pos,
        )
    if limit < 0:
        raise KqlError("InvalidArgument", "mv-expand's limit must not be negative.", step.pos)
    convert = _conversion(step.to_type, step.pos)
    compiler = _compiler(frame, context)
    names = [output_name(item, i) for i, item in enumerate(step.columns)]
    expanded_bools = (step.to_type or "").lower() in ("bool", "boolean")
    bools = (frame.bools - set(names)) | (set(names) if expanded_bools else set())
    values = [compiler.compile(item.expr) for item in step.columns]
    columns = list(frame.columns) + [
        name for name in dict.fromkeys(names) if name not in frame.columns
    ]
    rows: list[Row] = []
    for chunk in guard.chunks(frame.rows):
        for row in chunk:
            expansions = [_elements(value(row)) for value in values]
            count = min(limit, max(len(elements) for elements in expansions))
            for i in range(count):
                expanded = dict(row)
                for name, elements in zip(names, expansions, strict=True):
                    element = elements[i] if i < len(elements) else None
                    expanded[name] = element if convert is None else convert(element)
                rows.append(expanded)
        guard.hold(len(rows))
    return Frame(columns, rows, frame.table, frozenset(bools))


def _elements(value: Any) -> list[Any]:
    """What mv-expand makes rows of: an array's elements, a bag's properties as one-key
    bags, a null as one null; an empty array or bag makes none."""
    if type(value) is list:
        return value
    if type(value) is dict:
        return [{key: item} for key, item in value.items()]
    return [value]


def _conversion(type_name: str | None, pos: int) -> Callable[[Any], Any] | None:
    if type_name is None:
        return None
    convert = CONVERSIONS.get(type_name.lower())
    if convert is None:
        raise KqlError("InvalidArgument", f"'{type_name}' is not a type.", pos, type_name)
    return convert


#: What each typed capture of ``parse kind=regex`` matches.
_CAPTURES = {
    "long": r"-?\d+",
    "int": r"-?\d+",
    "real": r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?",
    "double": r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "bool": r"(?i:true|false)",
    "boolean": r"(?i:true|false)",
}

#: A parse pattern as a matcher: the captured texts of a whole string, or None.
_Matcher = Callable[[str], list[str] | None]


def _parse(step: Parse, frame: Frame, context: Context, guard: _Guard) -> Frame:
    if step.kind not in ("simple", "regex", "relaxed"):
        raise KqlError("InvalidArgument", f"parse kind '{step.kind}' is not supported.", step.pos)
    source = _compiler(frame, context).compile(step.source)
    captures = [
        (part.column, _conversion((part.type or "string").lower(), step.pos))
        for part in step.pattern
        if part.column is not None
    ]
    match = _regex_matcher(step) if step.kind == "regex" else _simple_matcher(step)
    strict = step.kind != "relaxed"
    names = [name for name, _ in captures]
    columns = list(frame.columns) + [name for name in names if name not in frame.columns]
    rows: list[Row] = []
    for chunk in guard.chunks(frame.rows):
        for row in chunk:
            parsed = dict(row)
            parsed.update(_captured(match(text_of(source(row))), captures, strict))
            rows.append(parsed)
    typed = {part.column for part in step.pattern if part.type in ("bool", "boolean")}
    bools = (frame.bools - set(names)) | typed
    return Frame(columns, rows, frame.table, frozenset(bools))


def _simple_matcher(step: Parse) -> _Matcher:
    """Literal delimiters found left to right, each capture (or ``*``) taking the text up
    to the next delimiter and the last one the rest; the whole text must be consumed.
    String search, not a regex, so that no text makes it backtrack."""
    parts = [part for part in step.pattern if part.text != ""]

    def match(text: str) -> list[str] | None:
        found: list[str] = []
        position = 0
        open_part: Any = None  # a capture or ``*`` waiting for its end
        for index, part in enumerate(parts):
            if part.text is None:
                if open_part is not None and open_part.column is not None:
                    found.append("")
                open_part = part
                continue
            if open_part is None:
                if not text.startswith(part.text, position):
                    return None
                position += len(part.text)
                continue
            if index == len(parts) - 1:
                end = len(text) - len(part.text)
                if end < position or not text.endswith(part.text):
                    return None
            else:
                end = text.find(part.text, position)
                if end < 0:
                    return None
            if open_part.column is not None:
                found.append(text[position:end])
            position, open_part = end + len(part.text), None
        if open_part is not None:
            if open_part.column is not None:
                found.append(text[position:])
        elif position != len(text):
            return None
        return found

    return match


def _regex_matcher(step: Parse) -> _Matcher:
    """``kind=regex``: the text parts are regular expressions, each vetted on its own."""
    pieces: list[str] = []
    names: list[str] = []
    for part in step.pattern:
        if part.column is not None:
            names.append(f"kqlparse{len(names)}")
            kind = (part.type or "string").lower()
            pieces.append(f"(?P<{names[-1]}>{_CAPTURES.get(kind, '.*?')})")
        elif part.text is not None:
            compile_regex(part.text, step.pos)
            pieces.append(f"(?:{part.text})")
        else:
            pieces.append(".*?")
    # Captures and skips are '.*?' of our own: the whole may hold more than a user's may.
    pattern = compile_regex("(?s:" + "".join(pieces) + ")", step.pos, limit_wildcards=False)

    def match(text: str) -> list[str] | None:
        found = pattern.fullmatch(text)
        return None if found is None else [found.group(name) for name in names]

    return match


def _captured(
    texts: list[str] | None,
    captures: list[tuple[str, Callable[[Any], Any] | None]],
    strict: bool,
) -> dict[str, Any]:
    """The captures' values; all null when the text did not match, or (unless relaxed)
    when a capture is not of its type."""
    values: dict[str, Any] = dict.fromkeys(name for name, _ in captures)
    if texts is None:
        return values
    for text, (name, convert) in zip(texts, captures, strict=True):
        value = text if convert is None else convert(text)
        if value is None and strict:
            return dict.fromkeys(name for name, _ in captures)
        values[name] = value
    return values


_JOIN_KINDS = frozenset(
    (
        *("innerunique", "inner", "leftouter", "rightouter", "fullouter"),
        *("leftsemi", "leftanti", "rightsemi", "rightanti"),
    )
)


def _join(step: Join, frame: Frame, context: Context, guard: _Guard) -> Frame:
    kind = step.kind.lower()
    if kind not in _JOIN_KINDS:
        raise KqlError("InvalidArgument", f"join kind '{step.kind}' is not supported.", step.pos)
    for key in step.on:
        if key.left not in frame.columns:
            raise _unknown_column(key.left, key.pos)
    right = context.run(step.right)
    for key in step.on:
        if key.right not in right.columns:
            raise _unknown_column(key.right, key.pos)
    left_key = _join_key([key.left for key in step.on])
    right_key = _join_key([key.right for key in step.on])
    index: dict[Any, list[Row]] = {}
    for chunk in guard.chunks(right.rows):
        for row in chunk:
            marker = right_key(row)
            if marker is not None:
                index.setdefault(marker, []).append(row)
    left_rows = frame.rows
    if kind == "innerunique":
        left_rows = _first_per_key(frame.rows, left_key)
        kind = "inner"
    if kind in ("leftsemi", "leftanti"):
        wanted = kind == "leftsemi"
        kept = [row for row in left_rows if (left_key(row) in index) == wanted]
        return _same_columns(frame, kept)
    if kind in ("rightsemi", "rightanti"):
        matched = {left_key(row) for row in left_rows} - {None}
        wanted = kind == "rightsemi"
        kept = [row for row in right.rows if (right_key(row) in matched) == wanted]
        return _same_columns(right, kept)
    return _outer_join(kind, frame, right, left_rows, left_key, index, guard)


def _join_key(names: list[str]) -> Callable[[Row], Any]:
    """A row's join key; None (never matching) when a key column is null."""

    def key(row: Row) -> Any:
        values = [row.get(name) for name in names]
        if any(value is None for value in values):
            return None
        return tuple(group_key(value) for value in values)

    return key


def _first_per_key(rows: list[Row], key: Callable[[Row], Any]) -> list[Row]:
    seen: set[Any] = set()
    kept = []
    for row in rows:
        marker = key(row)
        if marker is not None and marker not in seen:
            seen.add(marker)
            kept.append(row)
    return kept


def _outer_join(
    kind: str,
    frame: Frame,
    right: Frame,
    left_rows: list[Row],
    left_key: Callable[[Row], Any],
    index: dict[Any, list[Row]],
    guard: _Guard,
) -> Frame:
    """inner, leftouter, rightouter, fullouter: left columns, then the right's, those
    whose names clash renamed with a numeric suffix (``id1``, ``name1``)."""
    renamed = _unique([*frame.columns, *right.columns])[len(frame.columns) :]
    pairs = list(zip(renamed, right.columns, strict=True))
    columns = [*frame.columns, *renamed]
    rows: list[Row] = []
    matched: set[int] = set()
    keep_left = kind in ("leftouter", "fullouter")
    for chunk in guard.chunks(left_rows):
        for row in chunk:
            partners = index.get(left_key(row), ())
            for partner in partners:
                joined = {name: row.get(name) for name in frame.columns}
                joined.update({new: partner.get(old) for new, old in pairs})
                rows.append(joined)
                matched.add(id(partner))
            if not partners and keep_left:
                joined = {name: row.get(name) for name in frame.columns}
                joined.update(dict.fromkeys(renamed))
                rows.append(joined)
            guard.hold(len(rows))
    if kind in ("rightouter", "fullouter"):
        for partner in right.rows:
            if id(partner) not in matched:
                joined = dict.fromkeys(frame.columns)
                joined.update({new: partner.get(old) for new, old in pairs})
                rows.append(joined)
        guard.hold(len(rows))
    bools = frame.bools | {new for new, old in pairs if old in right.bools}
    return Frame(columns, rows, frame.table, bools)


def _union(step: Union, frame: Frame, context: Context, guard: _Guard) -> Frame:
    legs: list[tuple[Frame, str | None]] = []
    if frame.columns:
        legs.append((frame, frame.table))
    for query in step.queries:
        result = context.run(query)
        legs.append((result, query.source.name if isinstance(query.source, Table) else None))
        guard.hold(sum(len(leg.rows) for leg, _ in legs))
    if step.kind == "inner":
        common = set.intersection(*(set(leg.columns) for leg, _ in legs)) if legs else set()
        columns = [name for name in (legs[0][0].columns if legs else []) if name in common]
    else:
        columns = list(dict.fromkeys(name for leg, _ in legs for name in leg.columns))
    if step.withsource:
        columns = [step.withsource, *(name for name in columns if name != step.withsource)]
    rows: list[Row] = []
    for leg, source in legs:
        for chunk in guard.chunks(leg.rows):
            for row in chunk:
                combined = {name: row.get(name) for name in columns}
                if step.withsource:
                    combined[step.withsource] = source
                rows.append(combined)
    # a column holds typed bools when every leg that has it does
    bools = frozenset(
        name
        for name in columns
        if all(name in leg.bools for leg, _ in legs if name in leg.columns)
        and any(name in leg.columns for leg, _ in legs)
    )
    return Frame(columns, rows, bools=bools)


_OPERATORS: dict[type, _Run] = {
    Where: _where,
    Project: _project,
    ProjectAway: _project_away,
    ProjectRename: _project_rename,
    Extend: _extend,
    Summarize: _summarize,
    Sort: _sort,
    Take: _take,
    Top: _top,
    Distinct: _distinct,
    Count: _count,
    MvExpand: _mv_expand,
    Parse: _parse,
    Join: _join,
    Union: _union,
}
