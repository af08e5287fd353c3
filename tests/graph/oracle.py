"""A second KQL engine for the corpus's expectations: duckdb-kql (KQL → DuckDB SQL).

It knows nothing of Upkeep. It loads the corpus's rows into four DuckDB tables with
Resource Graph's columns (the dynamic ones as JSON) and answers a query with rows shaped
the way Resource Graph's JSON would carry them. It covers much of KQL but not all of it
(no ``bag_keys``, for one): cases it cannot answer compute their rows in Python instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import duckdb
import duckdb_kql

from tests.graph.corpus import NOW, ROWS, iso
from upkeep.graph.tables import COLUMNS

#: Resource Graph's dynamic columns: JSON in DuckDB, decoded on the way out
_DYNAMIC = {"sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"}


def answer(query: str, subscriptions: Iterable[str]) -> list[dict[str, Any]]:
    """The rows duckdb-kql gives for ``query`` over the rows of ``subscriptions``."""
    relation = duckdb_kql.kql(_database(tuple(sorted(subscriptions))), query, query_now=NOW)
    names = relation.columns
    dynamic = [str(kind) == "JSON" for kind in relation.types]
    return [
        {
            name: _value(value, is_json)
            for name, value, is_json in zip(names, row, dynamic, strict=True)
        }
        for row in relation.fetchall()
    ]


@cache
def _database(subscriptions: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    connection = duckdb_kql.connect()
    columns = ", ".join(f'"{name}" {"JSON" if name in _DYNAMIC else "VARCHAR"}' for name in COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    for table, rows in ROWS.items():
        connection.execute(f"CREATE TABLE {table} ({columns})")
        values = [
            [json.dumps(row[c]) if c in _DYNAMIC and row[c] is not None else row[c]
             for c in COLUMNS]
            for row in rows
            if row["subscriptionId"] in subscriptions
        ]  # fmt: skip
        if values:
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    return connection


def _value(value: Any, is_json: bool) -> Any:
    """A DuckDB value as Resource Graph's JSON carries it."""
    if is_json and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    return value
