"""What can go wrong talking to a Hyper-V host, as classes the lifecycle can act on.

Messages name the host and what failed, never a username or password: they end up in
status conditions, Events and logs.
"""

from __future__ import annotations


class HyperVError(Exception):
    """Base class; `host` is the host's configured name (or address)."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"Hyper-V host {host}: {message}")
        self.host = host
        self.detail = message


class ConfigError(HyperVError, ValueError):
    """The connection settings are unsafe or unusable (e.g. basic auth over http)."""


class Unreachable(HyperVError):
    """No WinRM conversation was possible: refused, reset, DNS, TLS, HTTP error."""


class TLSError(Unreachable):
    """The host's certificate did not verify against the configured CA."""


class AuthFailed(HyperVError):
    """The host rejected the WinRM credentials (or the account may not use WinRM)."""


class VMNotFound(HyperVError):
    """No VM of that name on the host."""

    def __init__(self, host: str, vm_name: str) -> None:
        super().__init__(host, f"no virtual machine named {vm_name!r}")
        self.vm_name = vm_name


class ScriptError(HyperVError):
    """The PowerShell script failed; `error` is PowerShell's own text (CLIXML decoded)."""

    def __init__(self, host: str, script: str, error: str, exit_code: int | None = None) -> None:
        code = "" if exit_code is None else f" (exit code {exit_code})"
        super().__init__(host, f"script {script!r} failed{code}: {error}")
        self.script = script
        self.error = error
        self.exit_code = exit_code


class Timeout(HyperVError):
    """The host did not answer within the configured time."""
