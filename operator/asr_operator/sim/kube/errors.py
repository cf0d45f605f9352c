"""API errors as the Kubernetes apiserver reports them: a `Status` body and an HTTP code.

Clients branch on `reason` and `code` (kopf treats 422 on a JSON patch as "retry", the
kubernetes client raises `ApiException(status=409)`), so the shape matters more than the text.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """Raised anywhere in request handling; the server turns it into a Status response."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JSON | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> JSON:
        body: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(group_resource: tuple[str, str], name: str) -> JSON:
    group, plural = group_resource
    return (
        {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural}
    )


def _qualified(group_resource: tuple[str, str]) -> str:
    group, plural = group_resource
    return f"{plural}.{group}" if group else plural


def not_found(group_resource: tuple[str, str], name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(group_resource)} "{name}" not found',
        _details(group_resource, name),
    )


def already_exists(group_resource: tuple[str, str], name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(group_resource)} "{name}" already exists',
        _details(group_resource, name),
    )


def conflict(group_resource: tuple[str, str], name: str, why: str | None = None) -> ApiError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group_resource)} "{name}": {why}',
        _details(group_resource, name),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        f'application/json-patch+json, application/merge-patch+json (got "{content_type}")',
    )


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def invalid(kind: str, group: str, name: str, causes: list[JSON]) -> ApiError:
    """A 422 whose message reads like the apiserver's `Kind.group "name" is invalid: ...`."""
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    details: JSON = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {joined}', details)


def cause(reason: str, field: str, message: str) -> JSON:
    return {"reason": reason, "message": message, "field": field}
