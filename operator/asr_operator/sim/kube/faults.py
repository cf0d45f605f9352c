"""Fault injection that fires before the store changes, so a failed write changed nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import ApiError, conflict
from .requestlog import LoggedRequest

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
ANY = "*"

_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

Hook = Callable[[LoggedRequest], ApiError | None]


@dataclass
class Fault:
    """`times` more matching requests fail with `code` (None: every one, until cleared)."""

    code: int = 500
    resource: str | None = None
    verbs: frozenset[str] = WRITE_VERBS
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = ANY
    times: int | None = 1
    message: str | None = None
    retry_after: int | None = None
    hits: int = 0

    def matches(self, request: LoggedRequest) -> bool:
        if request.verb not in self.verbs:
            return False
        if self.resource is not None and self.resource not in (
            request.resource,
            f"{request.resource}.{request.group}",
            request.kind,
        ):
            return False
        if self.subresource != ANY and request.subresource != self.subresource:
            return False
        return (self.namespace is None or request.namespace == self.namespace) and (
            self.name is None or request.name == self.name
        )

    def error(self, request: LoggedRequest) -> ApiError:
        if self.code == 409 and self.message is None:
            err = conflict((request.group or "", request.resource or ""), request.name or "")
        else:
            reason = _REASONS.get(self.code, "InternalError")
            err = ApiError(self.code, reason, self.message or f"injected fault: {reason}")
        if self.retry_after is not None:
            err.headers["Retry-After"] = str(self.retry_after)
        return err


class FaultInjector:
    """Thread-safe: tests arm faults from their own thread while the server runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._hooks: list[Hook] = []

    def fail(
        self,
        resource: str | None = None,
        *,
        code: int = 500,
        times: int | None = 1,
        verbs: Iterable[str] = WRITE_VERBS,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = ANY,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> Fault:
        fault = Fault(
            code=code,
            resource=resource,
            verbs=frozenset(verbs),
            namespace=namespace,
            name=name,
            subresource=subresource,
            times=times,
            message=message,
            retry_after=retry_after,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_hook(self, hook: Hook) -> None:
        """`hook(request)` returns an ApiError to fail the request, or None to let it pass."""
        with self._lock:
            self._hooks.append(hook)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._hooks.clear()

    def check(self, request: LoggedRequest) -> ApiError | None:
        with self._lock:
            hooks = list(self._hooks)
            for fault in self._faults:
                if fault.times != 0 and fault.matches(request):
                    fault.hits += 1
                    if fault.times is not None:
                        fault.times -= 1
                    return fault.error(request)
        for hook in hooks:
            error = hook(request)
            if error is not None:
                return error
        return None
