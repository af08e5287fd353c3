"""Facets: a count of the result's rows per value of an expression, beside the result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from upkeep.graph import service
from upkeep.graph.errors import KqlError
from upkeep.graph.evaluate import Context, Frame, run_operators
from upkeep.graph.formats import shaped
from upkeep.graph.models import FacetIn
from upkeep.graph.parser import parse
from upkeep.graph.syntax import Summarize, Where

#: Values a facet lists when its request says no ``$top``.
DEFAULT_TOP = 10


def facet(result: service.Result, request: FacetIn, now: datetime, result_format: str) -> dict:
    """One facet over every row of ``result``: a FacetResult, or a FacetError."""
    options = request.options
    try:
        operators = []
        if options is not None and options.filter:
            operators.append(_operator(f"where {options.filter}", Where))
        operators.append(_operator(f"summarize count = count() by {request.expression}", Summarize))
        context = Context(now=now, run=_no_subqueries)
        frame = run_operators(
            Frame(result.columns, list(result.everything or [])), operators, context
        )
    except KqlError as error:
        return {
            "expression": request.expression,
            "resultType": "FacetError",
            "errors": [
                {"code": "NoValidColumns", "message": "No valid columns in facet expression."},
                {"code": "InvalidColumnNames", "message": error.message},
            ],
        }
    rows = _sorted(frame, options)
    top = options.top if options and options.top else DEFAULT_TOP
    columns = [name for name in frame.columns if name != "count"] + ["count"]
    return {
        "expression": request.expression,
        "resultType": "FacetResult",
        "totalRecords": len(frame.rows),
        "count": min(top, len(rows)),
        "data": shaped(columns, rows[:top], result_format),
    }


def _operator(text: str, kind: type) -> Any:
    """One operator of a facet's expression or filter, parsed as part of a query."""
    query = parse(f"resources | {text}")
    operator = query.operators[0]
    if len(query.operators) != 1 or not isinstance(operator, kind):
        raise KqlError("ParserFailure", f"'{text}' is not one {kind.__name__.lower()}.", 0)
    return operator


def _sorted(frame: Frame, options: Any) -> list[dict[str, Any]]:
    key = options.sort_by if options and options.sort_by else "count"
    if key not in frame.columns:
        key = "count"
    descending = not (options and options.sort_order == "asc")
    present = [row for row in frame.rows if row.get(key) is not None]
    missing = [row for row in frame.rows if row.get(key) is None]
    try:
        present.sort(key=lambda row: row[key], reverse=descending)
    except TypeError:
        present.sort(key=lambda row: str(row[key]), reverse=descending)
    return present + missing


def _no_subqueries(query: Any) -> Frame:
    raise KqlError("UnsupportedOperator", "A facet cannot hold a subquery.", 0)
