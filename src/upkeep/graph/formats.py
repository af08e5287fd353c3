"""A result's rows in the two formats Resource Graph answers with."""

from __future__ import annotations

from typing import Any

from upkeep.graph.evaluate import column_type, to_json


def shaped(columns: list[str], rows: list[dict[str, Any]], result_format: str) -> Any:
    """Rows as ``objectArray`` (a list of objects) or ``table`` (columns and rows)."""
    if result_format == "table":
        return {
            "columns": [
                {"name": name, "type": column_type(row[name] for row in rows)} for name in columns
            ],
            "rows": [[to_json(row[name]) for name in columns] for row in rows],
        }
    return [{name: to_json(row[name]) for name in columns} for row in rows]
