"""The Hyper-V gateway: async calls that run one fixed script over pywinrm and parse JSON.

pywinrm is synchronous, so each call runs in a worker thread with its own
`winrm.Session` (an NTLM-sealed connection is not safe to share across threads); a
semaphore bounds how many run against one host at a time, and a host that stopped
answering is paused (`backoff.py`). The threads are WinRM's own: in asyncio's default
pool (a handful of threads on a small node), the sessions of a mass failover's pre-checks,
or the timed-out ones of a silent site, would hold up everything else that uses it,
aiohttp's DNS lookups for ARM among them.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
import winrm
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMTransportError,
    WSManFaultError,
)

from asr_operator.hyperv.backoff import HostBackoff
from asr_operator.hyperv.clixml import decode_stderr
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
from asr_operator.hyperv.scripts import Script, command_line, render
from asr_operator.lifecycle.observed import HyperVDisk, HyperVVM, PowerState

_GIB = 1024**3
# Started as needed; each host's semaphore bounds its own share.
_THREADS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="winrm")
# WS-Management fault code for "access denied" (the account may not use WinRM).
_WSMAN_ACCESS_DENIED = 5


class HyperVGateway:
    """One Hyper-V host. Every method raises a subclass of `HyperVError` on failure."""

    def __init__(self, config: WinRMConfig, backoff: HostBackoff | None = None) -> None:
        self._config = config
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._backoff = backoff or HostBackoff()

    @property
    def host(self) -> str:
        return self._config.host_label

    async def ping(self) -> str:
        """Check that WinRM, the credentials and the Hyper-V module work; the computer name."""
        out = await self._run(Script.PING, {})
        if not out.get("hyperV"):
            raise ScriptError(self.host, Script.PING, "the Hyper-V PowerShell module is missing")
        return str(out.get("computerName", ""))

    async def get_vm(self, name: str) -> HyperVVM:
        """State, generation, checkpoints, disks, NICs and guest OS of the VM named `name`."""
        out = await self._run(Script.GET_VM, {"name": name})
        if not out.get("found"):
            raise VMNotFound(self.host, name)
        return self._parse_vm(out)

    async def stop_vm(self, name: str, *, turn_off: bool = False) -> PowerState:
        """Stop the VM and return its new state.

        Default: a guest shutdown (`Stop-VM -Force`: through the shutdown integration
        service, without waiting for applications). `turn_off=True` cuts the power
        (`Stop-VM -TurnOff`), which also works on a hung, paused or saved VM.
        A VM that is already off is left alone.
        """
        out = await self._run(Script.STOP_VM, {"name": name, "turnOff": turn_off})
        if not out.get("found"):
            raise VMNotFound(self.host, name)
        return _power_state(out.get("state"))

    def _parse_vm(self, out: Mapping[str, Any]) -> HyperVVM:
        try:
            disks = tuple(
                HyperVDisk(
                    path=str(d.get("path") or ""),
                    format=str(d.get("format") or "").upper(),
                    size_gb=round(int(d.get("sizeBytes") or 0) / _GIB, 3),
                    is_os=bool(d.get("os")),
                    shared=bool(d.get("shared")),
                )
                for d in _as_list(out.get("disks"))
            )
            return HyperVVM(
                name=str(out["name"]),
                vm_id=str(out["id"]).lower(),
                state=_power_state(out.get("state")),
                generation=int(out["generation"]),
                checkpoints=tuple(str(c) for c in _as_list(out.get("checkpoints"))),
                disks=disks,
                nic_count=int(out.get("nicCount") or 0),
                host=self.host,
                guest_os=str(out.get("guestOs") or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ScriptError(
                self.host, Script.GET_VM, f"unexpected output shape ({exc!r})"
            ) from None

    async def _run(self, script: Script, payload: Mapping[str, Any]) -> dict[str, Any]:
        async with self._slots:
            paused = self._backoff.paused()  # checked in the slot: queued calls fail at once
            if paused is not None:
                raise paused
            try:
                call = functools.partial(self._run_sync, script, payload)
                out = await asyncio.wait_for(
                    asyncio.get_running_loop().run_in_executor(_THREADS, call),
                    self._config.timeout,
                )
            except TimeoutError:
                error: HyperVError = Timeout(
                    self.host, f"{script} did not finish within {self._config.timeout:g} s"
                )
                raise self._backoff.failed(error) from None
            except HyperVError as e:
                raise self._backoff.failed(e) from None
            self._backoff.succeeded()
            return out

    def _run_sync(self, script: Script, payload: Mapping[str, Any]) -> dict[str, Any]:
        cfg = self._config
        try:
            session = winrm.Session(
                cfg.url,
                auth=(cfg.username, cfg.password),
                transport=cfg.transport,
                server_cert_validation="validate" if cfg.verify_tls else "ignore",
                ca_trust_path=cfg.ca_path,  # None: the system trust store, never the env
                read_timeout_sec=cfg.read_timeout,
                operation_timeout_sec=cfg.operation_timeout,
                message_encryption="auto",  # sealed over http, TLS over https
                proxy=None,
            )
            response = session.run_cmd(command_line(render(script, payload)))
        except Exception as exc:
            raise self._classify(exc) from None
        if response.status_code != 0:
            raise ScriptError(
                self.host,
                script,
                self._scrub(decode_stderr(response.std_err)) or "no error text",
                response.status_code,
            )
        return self._parse_json(script, response.std_out)

    def _parse_json(self, script: Script, stdout: bytes) -> dict[str, Any]:
        text = stdout.decode("utf-8", errors="replace")
        for line in reversed(text.splitlines()):
            if line.strip().startswith("{"):
                try:
                    out = json.loads(line)
                except json.JSONDecodeError:
                    break
                if isinstance(out, dict):
                    return out
        raise ScriptError(self.host, script, f"no JSON object in output {text[-200:]!r}")

    def _classify(self, exc: BaseException) -> HyperVError:
        """Map pywinrm/requests exceptions to ours, keeping only credential-free text."""
        host, url = self.host, self._config.url
        detail = self._scrub(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, HyperVError):
            return exc
        if isinstance(exc, InvalidCredentialsError | PermissionError):
            return AuthFailed(host, f"WinRM at {url} rejected the credentials")
        if isinstance(exc, requests.exceptions.SSLError):
            return TLSError(host, f"TLS to {url} failed ({detail}); check the CA bundle")
        if isinstance(exc, requests.exceptions.Timeout):
            return Timeout(host, f"no answer from {url} in time ({detail})")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return Unreachable(host, f"cannot connect to {url} ({detail})")
        if isinstance(exc, WSManFaultError):
            if exc.wsman_fault_code == _WSMAN_ACCESS_DENIED:
                return AuthFailed(host, f"WinRM at {url} denied access ({exc.reason})")
            return ScriptError(host, "winrm", self._scrub(exc.reason))
        if isinstance(exc, WinRMTransportError):
            return Unreachable(host, f"WinRM at {url} answered HTTP {exc.code}")
        if isinstance(exc, WinRMError):
            return ConfigError(host, detail)
        return Unreachable(host, f"WinRM call to {url} failed ({detail})")

    def _scrub(self, text: str) -> str:
        for secret in (self._config.password, self._config.username):
            if len(secret) >= 3:
                text = text.replace(secret, "***")
        return text


def _as_list(value: Any) -> list[Any]:
    """ConvertTo-Json writes a one-element array as the element; normalise."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _power_state(value: Any) -> PowerState:
    try:
        return PowerState(str(value))
    except ValueError:
        return PowerState.OTHER
