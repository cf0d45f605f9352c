"""One mapping from gateway errors to the lifecycle's `Refusal` kinds."""

from __future__ import annotations

from asr_operator.azure import errors as asr_errors
from asr_operator.hyperv import errors as hv_errors
from asr_operator.lifecycle.steps import Refusal

_ASR: tuple[tuple[type[asr_errors.AsrError], Refusal], ...] = (
    (asr_errors.Throttled, Refusal.THROTTLED),
    (asr_errors.Conflict, Refusal.CONFLICT),
    (asr_errors.NotAllowed, Refusal.NOT_ALLOWED),
    (asr_errors.AuthFailed, Refusal.AUTH_FAILED),
    (asr_errors.NotFound, Refusal.NOT_FOUND),
    (asr_errors.Permanent, Refusal.PERMANENT),
    (asr_errors.OutcomeUnknown, Refusal.UNANSWERED),
    (asr_errors.Transient, Refusal.TRANSIENT),
)


def asr_refusal(exc: BaseException) -> tuple[Refusal, str, float]:
    """(kind, message, retry_after) of any exception raised by the ASR gateway."""
    err = asr_errors.classify(exc)
    for cls, kind in _ASR:
        if isinstance(err, cls):
            return kind, str(err), getattr(err, "retry_after", 0.0)
    return Refusal.TRANSIENT, str(err), 0.0


def hyperv_refusal(exc: hv_errors.HyperVError) -> Refusal:
    if isinstance(exc, hv_errors.AuthFailed):
        return Refusal.AUTH_FAILED
    if isinstance(exc, hv_errors.VMNotFound):
        return Refusal.NOT_FOUND
    if isinstance(exc, hv_errors.ConfigError | hv_errors.ScriptError):
        return Refusal.PERMANENT
    return Refusal.TRANSIENT
