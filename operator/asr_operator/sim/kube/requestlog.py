"""The request log: what clients asked for, for assertions and readiness waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    content_type: str = ""
    body: Any = None
    verb: str | None = None  # get, list, watch, create, update, patch, delete, deletecollection
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    status: int | None = None  # set when the response starts
    at: float = field(default_factory=time.monotonic)


class RequestLog:
    """Append-only and thread-safe; `wait_for` blocks on a condition, never sleeps blindly."""

    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._changed = threading.Condition()

    def append(self, entry: LoggedRequest) -> None:
        with self._changed:
            self._entries.append(entry)
            self._changed.notify_all()

    def updated(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def entries(self) -> list[LoggedRequest]:
        with self._changed:
            return list(self._entries)

    def clear(self) -> None:
        with self._changed:
            self._entries.clear()

    def wait_for(
        self, predicate: Callable[[LoggedRequest], bool], timeout: float = 10.0
    ) -> LoggedRequest:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for entry in self._entries:
                    if predicate(entry):
                        return entry
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no matching request within the deadline")
                self._changed.wait(remaining)

    async def wait_for_async(
        self, predicate: Callable[[LoggedRequest], bool], timeout: float = 10.0
    ) -> LoggedRequest:
        """For tests that share the server's event loop (e.g. `kopf.operator()` in-loop)."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout)
