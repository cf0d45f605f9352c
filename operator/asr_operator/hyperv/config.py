"""How to reach one Hyper-V host over WinRM: plain data built from the CR and its Secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from asr_operator.hyperv.errors import ConfigError

Transport = Literal["ntlm", "kerberos", "credssp", "basic"]
TRANSPORTS: tuple[str, ...] = get_args(Transport)


@dataclass(frozen=True)
class WinRMConfig:
    """Connection settings; the credentials never appear in repr.

    `timeout` bounds a whole call (open shell, run, read output, close); pywinrm's
    own `read_timeout` / `operation_timeout` bound each HTTP exchange.
    """

    address: str
    username: str = field(repr=False)
    password: str = field(repr=False)
    name: str = ""
    port: int | None = None
    transport: Transport = "ntlm"
    https: bool = True
    verify_tls: bool = True
    ca_path: str | None = None
    timeout: float = 60.0
    read_timeout: int = 30
    operation_timeout: int = 20
    max_concurrency: int = 4

    def __post_init__(self) -> None:
        host = self.host_label
        if self.transport not in TRANSPORTS:
            raise ConfigError(
                host, f"unknown WinRM transport {self.transport!r}; use one of {TRANSPORTS}"
            )
        if self.transport == "basic" and not self.https:
            raise ConfigError(
                host,
                "basic authentication sends the password in clear text and is allowed only "
                "over https; enable https or use ntlm, kerberos or credssp",
            )
        if self.transport == "basic" and not self.verify_tls:
            raise ConfigError(
                host, "basic authentication needs TLS certificate verification turned on"
            )
        if not 1 <= self.operation_timeout < self.read_timeout:
            raise ConfigError(
                host, "operation_timeout must be at least 1 s and shorter than read_timeout"
            )
        if self.timeout <= 0 or self.max_concurrency < 1:
            raise ConfigError(host, "timeout and max_concurrency must be positive")

    @property
    def host_label(self) -> str:
        return self.name or self.address

    @property
    def effective_port(self) -> int:
        return self.port or (5986 if self.https else 5985)

    @property
    def url(self) -> str:
        scheme = "https" if self.https else "http"
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{scheme}://{address}:{self.effective_port}/wsman"
