"""KQL's aggregation functions: what ``summarize`` computes over each group of rows.

An aggregate compiles (from its call site) into a reduction over the group's rows. Nulls
are skipped by every aggregate except ``count()``, which counts rows. Aggregates that
return whole rows (``arg_max``, ``arg_min``, ``take_any`` of several columns) only choose
the row here; ``summarize`` decides which columns it yields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from upkeep.graph.functions import Fn, Row, Site
from upkeep.graph.scalars import RUNTIME_ERRORS, comparable, group_key, tolong, wrap_long

Reduce = Callable[[list[Row]], Any]

#: make_list/make_set keep at most this many values (Kusto's default and maximum).
MAX_LIST = 1_048_576


@dataclass(frozen=True)
class Aggregate:
    low: int
    high: int
    #: the output column is ``prefix_`` followed by the argument's name
    prefix: str
    #: None for the aggregates that choose a row (summarize yields its columns)
    build: Callable[[Site], Reduce] | None


AGGREGATES: dict[str, Aggregate] = {}

#: Aggregates that pick a row and can yield several columns.
ROW_PICKERS = frozenset(("arg_max", "arg_min", "any", "take_any"))


def _register(
    names: str, low: int, high: int, prefix: str, build: Callable[[Site], Reduce]
) -> None:
    for name in names.split():
        AGGREGATES[name] = Aggregate(low, high, prefix, build)


def _filtered(site: Site, predicate_at: int | None) -> Callable[[list[Row]], list[Any]]:
    """The non-null values of the first argument, over the rows the predicate keeps."""
    args = site.args()
    value = args[0]
    if predicate_at is None:
        return lambda rows: [v for v in map(value, rows) if v is not None]
    predicate = args[predicate_at]
    return lambda rows: [
        v for row in rows if predicate(row) is True and (v := value(row)) is not None
    ]


def _limit(site: Site, index: int) -> int:
    if len(site.call.args) <= index:
        return MAX_LIST
    limit = tolong(site.required_constant(index, "the maximum size"))
    if limit is None or limit < 1:
        raise site.invalid("the maximum size must be a positive whole number.", index)
    return min(limit, MAX_LIST)


# --- counting ------------------------------------------------------------------------------


def _count(site: Site) -> Reduce:
    return len


def _countif(site: Site) -> Reduce:
    (predicate,) = site.args()
    return lambda rows: sum(1 for row in rows if predicate(row) is True)


def _distinct_count(predicate_at: int | None) -> Callable[[Site], Reduce]:
    def build(site: Site) -> Reduce:
        values = _filtered(site, predicate_at)
        return lambda rows: len({group_key(value) for value in values(rows)})

    return build


_register("count", 0, 0, "count", _count)
_register("countif", 1, 1, "countif", _countif)
_register("dcount count_distinct", 1, 2, "dcount", _distinct_count(None))
_register("dcountif", 2, 3, "dcountif", _distinct_count(1))


# --- arithmetic ------------------------------------------------------------------------------


def _total(values: list[Any]) -> Any:
    """Sum of the numbers (long stays long) or of the timespans; null when there are none."""
    numbers = [v for v in values if type(v) is int or type(v) is float]
    if numbers:
        if all(type(v) is int for v in numbers):
            return wrap_long(sum(numbers))
        try:
            return float(sum(numbers))
        except RUNTIME_ERRORS:
            return None
    spans = [v for v in values if type(v) is timedelta]
    try:
        return sum(spans, timedelta(0)) if spans else None
    except RUNTIME_ERRORS:
        return None


def _mean(values: list[Any]) -> float | None:
    numbers = [v for v in values if type(v) is int or type(v) is float]
    try:
        return float(sum(numbers)) / len(numbers) if numbers else None
    except RUNTIME_ERRORS:
        return None


def _extreme(values: list[Any], largest: bool) -> Any:
    """The largest (or smallest) value; values that cannot be compared with the first
    are skipped."""
    best = None
    for value in values:
        if best is None:
            best = value
            continue
        pair = comparable(value, best)
        if pair is not None and ((pair[0] > pair[1]) if largest else (pair[0] < pair[1])):
            best = value
    return best


def _over_values(
    reduce: Callable[[list[Any]], Any], predicate_at: int | None
) -> Callable[[Site], Reduce]:
    def build(site: Site) -> Reduce:
        values = _filtered(site, predicate_at)
        return lambda rows: reduce(values(rows))

    return build


_register("sum", 1, 1, "sum", _over_values(_total, None))
_register("sumif", 2, 2, "sumif", _over_values(_total, 1))
_register("avg", 1, 1, "avg", _over_values(_mean, None))
_register("avgif", 2, 2, "avgif", _over_values(_mean, 1))
_register("max", 1, 1, "max", _over_values(lambda values: _extreme(values, True), None))
_register("min", 1, 1, "min", _over_values(lambda values: _extreme(values, False), None))
_register("maxif", 2, 2, "maxif", _over_values(lambda values: _extreme(values, True), 1))
_register("minif", 2, 2, "minif", _over_values(lambda values: _extreme(values, False), 1))


# --- collections -------------------------------------------------------------------------------


def _make_list(predicate_at: int | None) -> Callable[[Site], Reduce]:
    def build(site: Site) -> Reduce:
        values = _filtered(site, predicate_at)
        limit = _limit(site, 1 if predicate_at is None else 2)
        return lambda rows: values(rows)[:limit]

    return build


def _make_set(predicate_at: int | None) -> Callable[[Site], Reduce]:
    """Distinct values in order of first appearance; an array contributes its elements."""

    def build(site: Site) -> Reduce:
        values = _filtered(site, predicate_at)
        limit = _limit(site, 1 if predicate_at is None else 2)

        def distinct(rows: list[Row]) -> list[Any]:
            seen: dict[Any, Any] = {}
            for value in values(rows):
                for item in value if type(value) is list else (value,):
                    if item is not None and len(seen) < limit:
                        seen.setdefault(group_key(item), item)
            return list(seen.values())

        return distinct

    return build


_register("make_list makelist", 1, 2, "list", _make_list(None))
_register("make_list_if", 2, 3, "list", _make_list(1))
_register("make_set makeset", 1, 2, "set", _make_set(None))
_register("make_set_if", 2, 3, "set", _make_set(1))


# --- row pickers ----------------------------------------------------------------------------------

AGGREGATES["arg_max"] = Aggregate(2, 64, "max", None)
AGGREGATES["arg_min"] = Aggregate(2, 64, "min", None)
AGGREGATES["any"] = Aggregate(1, 64, "any", None)
AGGREGATES["take_any"] = Aggregate(1, 64, "any", None)


def best_row(rows: list[Row], value: Fn, largest: bool) -> tuple[Row | None, Any]:
    """The first row holding the largest (or smallest) non-null ``value``, and the value."""
    best_value, chosen = None, None
    for row in rows:
        candidate = value(row)
        if candidate is None:
            continue
        if best_value is None:
            best_value, chosen = candidate, row
            continue
        pair = comparable(candidate, best_value)
        if pair is not None and ((pair[0] > pair[1]) if largest else (pair[0] < pair[1])):
            best_value, chosen = candidate, row
    return chosen, best_value


def any_row(rows: list[Row], first: Fn) -> Row | None:
    """take_any's row: the first whose first argument is not null (else the first row)."""
    for row in rows:
        if first(row) is not None:
            return row
    return rows[0] if rows else None
