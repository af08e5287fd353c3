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
from upkeep.graph.syntax import Column, Literal, Sort, SortKey, Summarize, Take, Where

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
    top = options.top if options and options.top else DEFAULT_TOP
    ordered = run_operators(frame, (_order(frame, options), Take(Literal(top, "long"))), context)
    columns = [name for name in frame.columns if name != "count"] + ["count"]
    return {
        "expression": request.expression,
        "resultType": "FacetResult",
        "totalRecords": len(frame.rows),
        "count": len(ordered.rows),
        "data": shaped(columns, ordered.rows, result_format),
    }


def _operator(text: str, kind: type) -> Any:
    """One operator of a facet's expression or filter, parsed as part of a query."""
    query = parse(f"resources | {text}")
    operator = query.operators[0]
    if len(query.operators) != 1 or not isinstance(operator, kind):
        raise KqlError("ParserFailure", f"'{text}' is not one {kind.__name__.lower()}.", 0)
    return operator


def _order(frame: Frame, options: Any) -> Sort:
    """By ``sortBy`` (a facet column; the count otherwise), ``desc`` unless asked ``asc``."""
    key = options.sort_by if options and options.sort_by in frame.columns else "count"
    descending = not (options and options.sort_order == "asc")
    return Sort((SortKey(Column(key), descending=descending),))


def _no_subqueries(query: Any) -> Frame:
    raise KqlError("UnsupportedOperator", "A facet cannot hold a subquery.", 0)
