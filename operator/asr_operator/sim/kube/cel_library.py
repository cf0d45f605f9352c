"""Kubernetes' CEL library functions that the `cel` module lacks, as Python functions.

The `cel` module binds context functions in both call styles (`f(x)` and `x.f()`), so
these cover the strings, lists, regex, URL and IP extensions CRD rules commonly use.
Anything else (quantity, format, cidr...) is still skipped by admission, with a log line.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


def _index_of(value: Any, item: Any, start: int = 0) -> int:
    if isinstance(value, str):
        return value.find(item, start)
    return next((i for i, x in enumerate(value) if x == item), -1)


def _last_index_of(value: Any, item: Any) -> int:
    if isinstance(value, str):
        return value.rfind(item)
    return next((i for i in range(len(value) - 1, -1, -1) if value[i] == item), -1)


def _split(text: str, separator: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    return text.split(separator, limit - 1) if limit > 0 else text.split(separator)


def _replace(text: str, old: str, new: str, limit: int = -1) -> str:
    return text.replace(old, new, limit)


def _substring(text: str, start: int, end: int | None = None) -> str:
    if start < 0 or start > len(text) or (end is not None and not start <= end <= len(text)):
        raise ValueError(
            f"substring({start}, {end}) out of range for a string of length {len(text)}"
        )
    return text[start:end]


def _url(text: str) -> dict[str, Any]:
    if not _is_url(text):
        raise ValueError(f"URL parse error during conversion from string: {text}")
    parts = urlsplit(text)
    return {
        "scheme": parts.scheme,
        "host": parts.netloc.rsplit("@", 1)[-1],
        "hostname": parts.hostname or "",
        "port": str(parts.port) if parts.port else "",
        "path": parts.path,
        "query": {k: [v] for k, _, v in (p.partition("=") for p in parts.query.split("&") if p)},
    }


def _is_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return bool(parts.scheme and (parts.netloc or parts.path.startswith("/"))) or text.startswith(
        "/"
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


def _ip(text: str) -> dict[str, Any]:
    if not _is_ip(text):
        raise ValueError(f"IP Address {text!r} parse error during conversion from string")
    address = ipaddress.ip_address(text)
    return {"family": address.version, "loopback": address.is_loopback, "text": str(address)}


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # strings
    "lowerAscii": lambda s: s.lower(),
    "upperAscii": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "split": _split,
    "replace": _replace,
    "substring": _substring,
    "charAt": lambda s, i: s[i] if i < len(s) else "",
    "join": lambda items, sep="": sep.join(items),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    # lists
    "isSorted": lambda items: list(items) == sorted(items),
    "sum": lambda items: sum(items),
    "min": lambda items: min(items),
    "max": lambda items: max(items),
    # regex
    "find": lambda s, pattern: m.group(0) if (m := re.search(pattern, s)) else "",
    "findAll": lambda s, pattern, n=-1: re.findall(pattern, s)[: n if n >= 0 else None],
    # URLs
    "isURL": _is_url,
    "url": _url,
    "getScheme": lambda u: u["scheme"],
    "getHost": lambda u: u["host"],
    "getHostname": lambda u: u["hostname"],
    "getPort": lambda u: u["port"],
    "getEscapedPath": lambda u: u["path"],
    "getQuery": lambda u: u["query"],
    # IP addresses
    "isIP": _is_ip,
    "ip": _ip,
    "family": lambda a: a["family"],
    "isLoopback": lambda a: a["loopback"],
}
