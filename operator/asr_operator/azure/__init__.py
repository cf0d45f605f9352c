"""ASR gateway over the real async SDK: observe, start actions, poll jobs, classify errors."""

from asr_operator.azure.config import AsrConfig, AuthConfig, AuthType
from asr_operator.azure.credentials import build_credential
from asr_operator.azure.errors import (
    AsrError,
    AuthFailed,
    Conflict,
    NotAllowed,
    NotFound,
    OutcomeUnknown,
    Permanent,
    Throttled,
    Transient,
)
from asr_operator.azure.gateway import AsrGateway

__all__ = [
    "AsrConfig",
    "AsrError",
    "AsrGateway",
    "AuthConfig",
    "AuthFailed",
    "AuthType",
    "Conflict",
    "NotAllowed",
    "NotFound",
    "OutcomeUnknown",
    "Permanent",
    "Throttled",
    "Transient",
    "build_credential",
]
