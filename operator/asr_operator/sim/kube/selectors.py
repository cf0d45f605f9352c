"""Label and field selectors, as `?labelSelector=` and `?fieldSelector=` carry them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

JSON = dict[str, Any]
Predicate = Callable[[JSON], bool]

_SET_EXPR = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_EXPR = re.compile(r"^\s*([\w./-]+)\s*(==|!=|=)\s*([\w./-]*)\s*$")


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b`)."""
    parts: list[str] = []
    depth, current = 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def _label_check(term: str) -> Callable[[dict[str, str]], bool]:
    if m := _EQ_EXPR.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _SET_EXPR.match(term):
        negate, key, op, values = m.groups()
        if op:
            allowed = {v.strip() for v in values.split(",")}
            if op == "in":
                return lambda labels: labels.get(key) in allowed
            return lambda labels: labels.get(key) not in allowed
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: {term!r}")


def label_selector(text: str | None) -> Predicate:
    checks = [_label_check(term) for term in _split(text or "")]
    return lambda obj: all(
        check((obj.get("metadata") or {}).get("labels") or {}) for check in checks
    )


def _field(obj: JSON, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _field_check(term: str, text: str) -> Predicate:
    m = _EQ_EXPR.match(term)
    if not m:
        raise bad_request(f"invalid selector: {text!r}; can't understand {term!r}")
    path, op, value = m.groups()
    if op == "!=":
        return lambda obj: _field(obj, path) != value
    return lambda obj: _field(obj, path) == value


def field_selector(text: str | None) -> Predicate:
    """Any dotted field path (`metadata.name`, `involvedObject.uid`) with =, == or !=."""
    checks = [_field_check(term, text or "") for term in _split(text or "")]
    return lambda obj: all(check(obj) for check in checks)
