"""What can go wrong talking to ASR, classified so callers know whether to retry.

Messages carry ASR's error code and text only: never request URLs (they may hold
signed query strings), headers, tokens or credential material.
"""

from __future__ import annotations

import json
import re
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineContext, PipelineResponse
from azure.core.pipeline.policies import RetryPolicy

from asr_operator.lifecycle.steps import Refusal

# ASR refusal codes for "operation not allowed in the current state". The real service's
# codes are not published [UNCONFIRMED]; 28127 is the simulator's; keep in sync with
# docs/simulator.md.
NOT_ALLOWED_CODES = frozenset({"28127"})
_NOT_ALLOWED_TEXT = re.compile(
    r"not allowed|isn't allowed|is not permitted|cannot be performed", re.I
)


class AsrError(Exception):
    """Base of all gateway errors; `kind` is the lifecycle's name for the class."""

    kind: Refusal = Refusal.PERMANENT

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        status: int | None = None,
        possible_causes: str = "",
        recommended_action: str = "",
    ) -> None:
        super().__init__(f"({code}) {message}" if code else message)
        self.code = code
        self.message = message
        self.status = status
        self.possible_causes = possible_causes
        self.recommended_action = recommended_action


class Throttled(AsrError):
    """429: wait `retry_after` seconds before the next call of that kind."""

    kind = Refusal.THROTTLED

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Transient(AsrError):
    """5xx, timeouts, connection errors: retry later (for actions, only after checking)."""

    kind = Refusal.TRANSIENT


class Conflict(AsrError):
    """Another operation runs on the item, plan or job."""

    kind = Refusal.CONFLICT


class NotAllowed(AsrError):
    """ASR refuses the operation in the current state (not in allowedOperations)."""

    kind = Refusal.NOT_ALLOWED


class Permanent(AsrError):
    """Bad input or another error that retrying will not fix."""

    kind = Refusal.PERMANENT


class AuthFailed(AsrError):
    """Azure AD or ARM refused our identity or its permissions."""

    kind = Refusal.AUTH_FAILED


class NotFound(AsrError):
    """The vault, item, plan, recovery point or job does not exist."""

    kind = Refusal.NOT_FOUND


class OutcomeUnknown(Transient):
    """An action got no answer and no job is visible yet: it may still appear.

    Look again (`find_jobs_since` with the time the action was sent) before re-sending.
    """

    kind = Refusal.UNANSWERED


def _error_body(exc: HttpResponseError) -> dict[str, Any]:
    response = exc.response
    if response is None:
        return {}
    try:
        body = json.loads(response.text() or "{}")
    except (ValueError, TypeError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


# azure-core's public reading of the retry headers: Retry-After in seconds or as an
# HTTP-date, else retry-after-ms / x-ms-retry-after-ms in milliseconds.
_RETRY_HEADERS = RetryPolicy()


def retry_after_seconds(response: Any, default: float) -> float:
    """Seconds a throttled (or otherwise refused) answer asks the caller to wait.

    `response` is azure-core's HTTP response; `default` when it names no usable wait.
    """
    if response is None:
        return default
    try:
        seconds = _RETRY_HEADERS.get_retry_after(
            PipelineResponse(response.request, response, PipelineContext(None))
        )
    except (ValueError, TypeError, OverflowError):
        return default  # a malformed header: neither a number nor an HTTP-date
    return default if seconds is None else max(0.0, float(seconds))


def classify(exc: BaseException) -> AsrError:
    """Map an azure-core / azure-identity exception to the gateway's hierarchy."""
    if isinstance(exc, AsrError):
        return exc
    if isinstance(exc, ClientAuthenticationError) and not _error_body(exc):
        # azure-identity failed to get a token (no ARM error body, perhaps Entra ID's 401):
        # its message names the tenant/client and the AADSTS reason, never the secret.
        message = _first_line(str(exc.message or "authentication failed"))
        return AuthFailed(message, status=exc.status_code)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return Transient(f"connection to ARM failed: {type(exc).__name__}")
    if isinstance(exc, TimeoutError):
        return Transient("request to ARM timed out")
    if not isinstance(exc, HttpResponseError):
        return Transient(f"unexpected error talking to ARM: {type(exc).__name__}")
    status = exc.status_code
    err = _error_body(exc)
    code = str(err.get("code") or (exc.error.code if exc.error else "") or "")
    message = str(
        err.get("message") or (exc.error.message if exc.error else "") or exc.reason or ""
    )
    kw: dict[str, Any] = {
        "code": code,
        "status": status,
        "possible_causes": str(err.get("possibleCauses") or ""),
        "recommended_action": str(err.get("recommendedAction") or ""),
    }
    if status == 429:
        return Throttled(
            message or "throttled", retry_after=retry_after_seconds(exc.response, 5.0), **kw
        )
    if status in (401, 403) or isinstance(exc, ClientAuthenticationError):
        return AuthFailed(message or "not authorized", **kw)
    if status == 404 or isinstance(exc, ResourceNotFoundError):
        return NotFound(message or "not found", **kw)
    if status == 409:
        return Conflict(message or "conflict", **kw)
    if status is not None and (status >= 500 or status == 408):
        return Transient(message or f"ARM answered {status}", **kw)
    if code in NOT_ALLOWED_CODES or _NOT_ALLOWED_TEXT.search(message):
        return NotAllowed(message, **kw)
    return Permanent(message or f"ARM answered {status}", **kw)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:500] if text.strip() else "authentication failed"
