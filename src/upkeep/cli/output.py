"""Printing results: JSON (the default, like az) or a table for people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

#: Keys az leaves out of tables.
_HIDDEN = {"id", "type", "etag"}


def emit(result: Any, output: str, columns: Sequence[str] | None = None) -> None:
    if result is None:
        return
    if output == "table":
        text = table(result, columns)
        if text:
            print(text)
        return
    print(json.dumps(result, indent=2, ensure_ascii=False))


def table(result: Any, columns: Sequence[str] | None = None) -> str:
    """az's generic table: scalar fields only, headers capitalised, columns sorted."""
    rows = result if isinstance(result, list) else [result]
    if not rows:
        return ""
    if columns is None:
        names = sorted(
            {
                key
                for row in rows
                for key, value in row.items()
                if key not in _HIDDEN and not isinstance(value, dict | list) and value is not None
            }
        )
    else:
        names = list(columns)
    headers = [name[:1].upper() + name[1:] for name in names]
    cells = [[_cell(row.get(name)) for name in names] for row in rows]
    widths = [
        max(len(header), *(len(line[i]) for line in cells)) for i, header in enumerate(headers)
    ]
    lines = [
        "  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True)),
        "  ".join("-" * width for width in widths),
    ]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in cells
    ]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def flatten(resource: dict[str, Any], *nested: str) -> dict[str, Any]:
    """az's client-side flattening: lift ``properties`` (and the named nested objects)."""
    flat = {key: value for key, value in resource.items() if key != "properties"}
    properties = dict(resource.get("properties") or {})
    for name in nested:
        inner = properties.pop(name, None)
        if isinstance(inner, dict):
            properties.update(inner)
    flat.update(properties)
    return flat
