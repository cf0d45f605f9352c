"""Server-side printing: `meta.k8s.io/v1` Tables built from printer columns.

`kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells
it gets back, so a CRD's additionalPrinterColumns appear exactly as on a real cluster.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from .resources import Column, ResourceType

JSON = dict[str, Any]

TABLE_MEDIA = "as=Table"

_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_$-]+)"""
    r"""|\[(?P<index>-?\d+)\]"""
    r"""|\[(?P<star>\*)\]|\.\*"""
    r"""|\[['"](?P<quoted>[^'"]+)['"]\]"""
    r"""|\[\?\(@(?P<fpath>(?:\.[A-Za-z0-9_-]+)*)\s*(?:(?P<op>==|!=)\s*(?P<literal>"[^"]*"|'[^']*'|[^)\s]+))?\s*\)\]"""
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """The simple JSONPath subset CRD printer columns use (`.a.b[0]`, `[*]`, `[?(@.x=="y")]`)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    path = path.removeprefix("$")
    current: list[Any] = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for value in current:
            if m["name"] is not None or m["quoted"] is not None:
                key = m["name"] if m["name"] is not None else m["quoted"]
                if isinstance(value, dict) and key in value:
                    nxt.append(value[key])
            elif m["index"] is not None:
                if isinstance(value, list) and -len(value) <= int(m["index"]) < len(value):
                    nxt.append(value[int(m["index"])])
            elif m["fpath"] is not None or m["op"] is not None:
                if isinstance(value, list):
                    nxt.extend(item for item in value if _filter(item, m))
            else:  # wildcard
                if isinstance(value, list):
                    nxt.extend(value)
                elif isinstance(value, dict):
                    nxt.extend(value.values())
        current = nxt
    return current


def _filter(item: Any, m: re.Match[str]) -> bool:
    found = jsonpath(item, m["fpath"] or "")
    if m["op"] is None:
        return bool(found) and found[0] not in (None, False, "")
    literal = m["literal"]
    expected: Any
    if literal[:1] in "\"'":
        expected = literal[1:-1]
    else:
        try:
            expected = json.loads(literal)
        except ValueError:
            expected = literal
    matched = bool(found) and (found[0] == expected or str(found[0]) == str(expected))
    return matched if m["op"] == "==" else not matched


def human_duration(seconds: float) -> str:
    """kubectl's `duration.HumanDuration`: 45s, 3m12s, 5h, 12d, 2y30d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _since(timestamp: Any) -> str | None:
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return human_duration((datetime.now(UTC) - then).total_seconds())


def cell(column: Column, obj: JSON) -> Any:
    if column.compute is not None:
        return column.compute(obj)
    found = jsonpath(obj, column.json_path)
    if not found:
        return None
    value = found[0]
    if column.type == "date":
        return _since(value)
    if column.type == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if column.type == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if column.type == "boolean":
        return value if isinstance(value, bool) else None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def wants_table(accept: str) -> bool:
    return TABLE_MEDIA in accept.replace(" ", "")


def row(rt: ResourceType, obj: JSON, include: str) -> JSON:
    result: JSON = {"cells": [cell(c, obj) for c in rt.columns]}
    if include == "Object":
        result["object"] = obj
    elif include != "None":
        result["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {},
        }
    return result


def table(rt: ResourceType, objects: list[JSON], resource_version: str, include: str) -> JSON:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            }
            for c in rt.columns
        ],
        "rows": [row(rt, obj, include) for obj in objects],
    }
