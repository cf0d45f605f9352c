"""Hyper-V gateway over pywinrm: fixed PowerShell templates that print JSON."""

from asr_operator.hyperv.config import WinRMConfig
from asr_operator.hyperv.errors import (
    AuthFailed,
    ConfigError,
    HyperVError,
    ScriptError,
    Timeout,
    TLSError,
    Unreachable,
    VMNotFound,
)
from asr_operator.hyperv.gateway import HyperVGateway

__all__ = [
    "AuthFailed",
    "ConfigError",
    "HyperVError",
    "HyperVGateway",
    "ScriptError",
    "TLSError",
    "Timeout",
    "Unreachable",
    "VMNotFound",
    "WinRMConfig",
]
