"""Running a query: parse, plan, read the rows the caller may see, evaluate, page.

Every read is limited to the caller's rows (:class:`Scope`) in SQL, before anything else,
so no operator (a join, a union) can reach rows outside it. A query is bounded in time
(the SQL is interrupted at the deadline too) and in the rows it may hold in memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from upkeep.db.tables import graph_rows
from upkeep.graph import plan as planner
from upkeep.graph.errors import KqlError
from upkeep.graph.evaluate import Context, Frame, evaluate, output_name, run_operators
from upkeep.graph.memo import IdentityMemo
from upkeep.graph.parser import parse
from upkeep.graph.records import row_of
from upkeep.graph.syntax import (
    Call,
    Count,
    Expression,
    Extend,
    Literal,
    Project,
    ProjectAway,
    ProjectRename,
    Query,
    Summarize,
    Table,
    Take,
    Union,
)
from upkeep.graph.tables import COLUMNS, TABLES

#: Operators that keep every row and its place: paging can happen before them.
_ROW_WISE = (Project, ProjectAway, ProjectRename, Extend)
#: Plans by parsed query and dialect; SELECTs by plan and scope.
_PLANS: IdentityMemo[planner.Plan] = IdentityMemo(1024)
_SELECTS: IdentityMemo[sa.Select[Any]] = IdentityMemo(1024)


@dataclass(frozen=True)
class Scope:
    """The rows a caller may read: these subscriptions, and only this group if set."""

    subscriptions: tuple[str, ...]
    group: str | None = None

    def sql(self) -> sa.ColumnElement[bool]:
        # one parameter each, not an expanding list: a kept statement is then final SQL
        listed = [sa.literal(subscription) for subscription in self.subscriptions]
        condition = graph_rows.c.subscription_id.in_(listed)
        if self.group is not None:
            condition = sa.and_(condition, graph_rows.c.group_key == self.group.lower())
        return condition


@dataclass(frozen=True)
class Limits:
    """How much one query may take."""

    seconds: float = 30.0
    #: rows any step may hold in memory (rows read from the store included)
    rows: int = 200_000


@dataclass(frozen=True)
class Page:
    skip: int = 0
    top: int = 1000


@dataclass
class Result:
    columns: list[str]
    rows: list[dict[str, Any]]  # this page
    total: int
    #: every row of the result (facets need them); None when only the page was read
    everything: list[dict[str, Any]] | None = field(default=None, repr=False)


def run(
    connection: Connection,
    text: str,
    scope: Scope,
    now: datetime,
    page: Page,
    limits: Limits = Limits(),
    *,
    need_everything: bool = False,
) -> Result:
    """The page of ``text``'s result that ``page`` asks for."""
    query = _parsed(text)
    deadline = time.monotonic() + limits.seconds
    with _interrupted_at(connection, deadline):
        executor = _Executor(connection, scope, now, limits, deadline)
        return executor.page(query, page, need_everything)


@lru_cache(maxsize=512)
def _parsed(text: str) -> Query:
    """Dashboards and scripts send the same texts again and again; trees are immutable."""
    return parse(text)


class _Executor:
    def __init__(
        self, connection: Connection, scope: Scope, now: datetime, limits: Limits, deadline: float
    ) -> None:
        self.connection = connection
        self.scope = scope
        self.dialect = connection.dialect.name
        self.limits = limits
        self.context = Context(now=now, run=self.frame, max_rows=limits.rows, deadline=deadline)

    # -- the top-level query: paging in SQL where it can ---------------------------------

    def page(self, query: Query, page: Page, need_everything: bool) -> Result:
        if isinstance(query.source, Table) and not need_everything:
            done = self._paged_in_sql(query, page)
            if done is not None:
                return done
        frame = self.frame(query)
        rows = frame.rows[page.skip : page.skip + page.top]
        return Result(frame.columns, rows, len(frame.rows), frame.rows)

    def _paged_in_sql(self, query: Query, page: Page) -> Result | None:
        """Rows read a page at a time, when the rest of the query keeps rows as they are."""
        table = self._table(query.source)  # type: ignore[arg-type]
        found = self._plan(table, query)
        if not found.exact:
            return None
        rest, cap = found.rest, math.inf
        if rest and isinstance(rest[0], Take):
            cap = self._count_of(rest[0])
            rest = rest[1:]
        if not all(isinstance(operator, _ROW_WISE) for operator in rest):
            return None
        wanted = int(min(page.top, max(0, cap - page.skip)))
        rows = self._rows(found, limit=wanted + 1, offset=page.skip)
        if page.skip == 0 and len(rows) <= wanted:
            total = len(rows)  # the whole result fits the page: no count needed
        else:
            count = self.connection.execute(
                sa.select(sa.func.count()).select_from(graph_rows).where(self._where(found))
            ).scalar_one()
            total = int(min(count, cap))
        rows = rows[:wanted]
        frame = run_operators(Frame(list(COLUMNS), rows), rest, self.context)
        return Result(frame.columns, frame.rows, total)

    # -- any query, whole -----------------------------------------------------------------

    def frame(self, query: Query) -> Frame:
        """Every row of ``query``'s result."""
        if isinstance(query.source, Union):
            return run_operators(Frame([], []), (query.source, *query.operators), self.context)
        table = self._table(query.source)
        found = self._plan(table, query)
        rest = found.rest
        if found.exact and rest:
            aggregation = planner.aggregation(rest[0], self.dialect)
            frame = self._aggregate(found, aggregation) if aggregation else None
            if frame is not None:
                return run_operators(frame, rest[1:], self.context)
        rows = self._rows(found, limit=self.limits.rows + 1)
        if len(rows) > self.limits.rows:
            raise KqlError(
                "QueryLimit",
                f"The query reads more than {self.limits.rows:,} rows of '{table}' into memory;"
                " narrow it with 'where' conditions on the table's columns first.",
                query.source.pos,
            )
        return run_operators(Frame(list(COLUMNS), rows, table=table), rest, self.context)

    def _table(self, source: Table) -> str:
        if source.name not in TABLES:
            known = ", ".join(TABLES)
            raise KqlError(
                "UnknownTable",
                f"The table '{source.name}' does not exist. Tables: {known}.",
                source.pos,
                source.name,
            )
        return source.name

    def _plan(self, table: str, query: Query) -> planner.Plan:
        found = _PLANS.get(query, self.dialect)
        if found is None:
            found = planner.plan(table, query.operators, self.dialect, self._constant)
            if found.timeless:
                _PLANS.put(query, self.dialect, found)
        return found

    def _constant(self, expression: Expression) -> Any:
        if planner.references(expression) != set():
            raise LookupError("reads a column")
        return evaluate(expression, {}, self.context)

    def _where(self, found: planner.Plan) -> sa.ColumnElement[bool]:
        return (
            sa.and_(self.scope.sql(), found.where) if found.where is not None else self.scope.sql()
        )

    def _rows(self, found: planner.Plan, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Rows as Resource Graph shows them. Only the columns the plan's operators read are
        read (the others, which nothing reads or shows, are left empty)."""
        columns = _store_columns(found.reads)
        statement = _SELECTS.get(found, self.scope)
        if statement is None:
            statement = self._select(found, columns)
            if found.timeless:
                _SELECTS.put(found, self.scope, statement)
        records = self.connection.execute(statement, {"row_limit": limit, "row_offset": offset})
        names = [column.name for column in columns]
        return [row_of({**_UNREAD, **dict(zip(names, record, strict=True))}) for record in records]

    def _select(self, found: planner.Plan, columns: tuple[sa.Column[Any], ...]) -> sa.Select[Any]:
        """The rows of ``found`` in the caller's scope, a page at a time (the page's limit
        and offset are parameters, so one statement serves every page)."""
        # after an index lookup, sort what it found: walking the whole table in row order
        # until enough rows match (what SQLite would rather do for a LIMIT) reads it all
        order = graph_rows.c.row_id + 0 if found.selective else graph_rows.c.row_id
        return (
            sa.select(*columns)
            .where(self._where(found))
            .order_by(order)
            .limit(sa.bindparam("row_limit", type_=sa.Integer))
            .offset(sa.bindparam("row_offset", type_=sa.Integer))
        )

    def _aggregate(self, found: planner.Plan, aggregation: planner.Aggregation) -> Frame | None:
        keys = [key.sql for key in aggregation.keys]
        statement = (
            sa.select(*keys, *aggregation.aggregates)
            .select_from(graph_rows)
            .where(self._where(found))
        )
        if keys:
            statement = statement.group_by(*keys)
        operator = aggregation.operator
        if isinstance(operator, Count):
            names = ["Count"]
        else:
            assert isinstance(operator, Summarize)
            items = (*operator.by, *operator.aggregates)
            names = [output_name(item, index) for index, item in enumerate(items)]
        frame = Frame(names, [])
        for record in self.connection.execute(statement):
            values = [
                self._decoded(value, key.decode)
                for value, key in zip(record, aggregation.keys, strict=False)
            ]
            values.extend(record[len(keys) :])
            frame.rows.append(dict(zip(names, values, strict=True)))
        return _merge_groups(frame, len(keys), summable=aggregation.summable)

    def _decoded(self, value: Any, decode: str | None) -> Any:
        if decode is None or value is None:
            return value
        if self.dialect == "sqlite" and isinstance(value, str):
            value = json.loads(value)
        if decode == "tostring":
            return evaluate(Call("tostring", (Literal(value, "dynamic"),)), {}, self.context)
        return value

    def _count_of(self, take: Take) -> int:
        try:
            value = self._constant(take.count)
        except LookupError:
            value = None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise KqlError("InvalidArgument", "take needs a non-negative whole number.", take.pos)
        return value


#: Store columns behind each row column; ``extras`` holds kind, managedBy, sku and the rest.
_STORE_COLUMNS = {
    "id": "id",
    "name": "name",
    "type": "type",
    "tenantId": "tenant_id",
    "location": "location",
    "resourceGroup": "resource_group",
    "subscriptionId": "subscription_id",
    "properties": "properties",
    "tags": "tags",
}
_UNREAD = {column.name: None for column in graph_rows.columns}


@lru_cache(maxsize=256)
def _store_columns(needed: frozenset[str] | None) -> tuple[sa.Column[Any], ...]:
    """The store columns behind the row columns ``needed`` (None: every one)."""
    if needed is None:
        return tuple(graph_rows.columns)
    names = {_STORE_COLUMNS.get(column, "extras") for column in needed & set(COLUMNS)}
    return tuple(graph_rows.c[name] for name in sorted(names)) or (graph_rows.c.row_id,)


def _merge_groups(frame: Frame, key_count: int, *, summable: bool) -> Frame | None:
    """SQL groups by JSON text; groups whose decoded keys are equal (``tostring`` of 5 and
    of "5") become one, their counts added. None when that would add distinct counts,
    which cannot be added: the caller then summarizes in Python."""
    if key_count == 0:
        return frame
    merged: dict[str, dict[str, Any]] = {}
    names = frame.columns
    for row in frame.rows:
        marker = json.dumps([row[name] for name in names[:key_count]], sort_keys=True)
        found = merged.get(marker)
        if found is None:
            merged[marker] = row
            continue
        if not summable:
            return None
        for name in names[key_count:]:
            found[name] = (found[name] or 0) + (row[name] or 0)
    frame.rows = list(merged.values())
    return frame


@contextmanager
def _interrupted_at(connection: Connection, deadline: float) -> Iterator[None]:
    """Stop the store's own work at the deadline, not only Python's."""
    raw = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield
        except sa.exc.OperationalError as error:
            if "interrupted" in str(error):
                raise KqlError(
                    "QueryLimit", "The query took too long and was stopped.", 0
                ) from None
            raise
        finally:
            raw.set_progress_handler(None, 0)
        return
    milliseconds = max(1, int((deadline - time.monotonic()) * 1000))
    connection.exec_driver_sql(f"SET statement_timeout = {milliseconds}")
    try:
        yield
    except sa.exc.OperationalError as error:
        if "statement timeout" in str(error):
            raise KqlError("QueryLimit", "The query took too long and was stopped.", 0) from None
        raise
    finally:
        connection.exec_driver_sql("RESET statement_timeout")


# --- skip tokens -------------------------------------------------------------------------


def skip_token(skip: int, text: str, scope_marker: str) -> str:
    """An opaque continuation token, valid only for the same query over the same scopes."""
    state = {"skip": skip, "query": _fingerprint(text, scope_marker)}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def read_skip_token(token: str, text: str, scope_marker: str) -> int | None:
    """The offset a token stands for; None when it is not one of ours for this query."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        skip = state["skip"]
        matches = state["query"] == _fingerprint(text, scope_marker)
    except (ValueError, KeyError, TypeError):
        return None
    if not matches or not isinstance(skip, int) or skip < 0:
        return None
    return skip


def _fingerprint(text: str, scope_marker: str) -> str:
    return hashlib.sha256(f"{scope_marker}\n{text}".encode()).hexdigest()[:32]
