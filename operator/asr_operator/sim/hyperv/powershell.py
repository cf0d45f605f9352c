"""A fake `powershell.exe` for the simulated hosts: runs asr-operator's scripts on the Datacenter.

It does not interpret PowerShell. It recognises a script by its first line
(`# asr-operator script: <name>`) and reads its arguments from the `$payload = '<base64
JSON>'` line, which is the wire contract docs/hyperv.md describes; then it does to the
shared `Datacenter` what the real cmdlets would do and prints what they would print
(ASCII JSON on stdout, CLIXML error records on stderr, exit code 1 on a terminating
error). Anything else gets the error a host without that script would give.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from asr_operator.sim.datacenter import Datacenter, VMState
from asr_operator.sim.scenario import Disk

_MARKER = re.compile(r"^# asr-operator script: ([A-Za-z0-9-]+)[ \t]*\r?$", re.MULTILINE)
_PAYLOAD = re.compile(r"^\$payload = '([A-Za-z0-9+/=]*)'[ \t]*\r?$", re.MULTILINE)
_ENCODED_FLAGS = {"-encodedcommand", "-enc", "-ec", "-e"}
_POWERSHELL = {"powershell", "powershell.exe", "pwsh", "pwsh.exe"}
_GIB = 1024**3
_STOP_VM_INVALID_STATE = (
    "Stop-VM : The operation cannot be performed while the object is in its current state.\n"
    "At line:1 char:1\n"
    "+ Stop-VM -VM $vm -Force -Confirm:$false\n"
    "    + CategoryInfo          : InvalidOperation: ({name}:VirtualMachine) [Stop-VM], "
    "VirtualizationException\n"
    "    + FullyQualifiedErrorId : InvalidState,Microsoft.HyperV.PowerShell.Commands.StopVM"
)
_CLIXML_ESCAPE = re.compile(r"[\x00-\x1f\x7f]|_(?=x[0-9A-Fa-f]{4}_)")


@dataclass(frozen=True)
class Result:
    stdout: bytes
    stderr: bytes
    exit_code: int


@dataclass(frozen=True)
class Invocation:
    """What a command line asked for: the decoded script and, if ours, its name and payload."""

    script: str
    script_name: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class ScriptFailure(Exception):
    """A terminating PowerShell error: becomes CLIXML on stderr and exit code 1."""


def clixml(message: str) -> bytes:
    """`message` as the CLIXML error stream powershell.exe writes when stderr is redirected."""

    def esc(match: re.Match[str]) -> str:
        return f"_x{ord(match.group(0)):04X}_"

    records = "".join(
        f'<S S="Error">{escape(_CLIXML_ESCAPE.sub(esc, line + chr(13) + chr(10)))}</S>'
        for line in message.splitlines()
    )
    return (
        "#< CLIXML\r\n"
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject'
        '</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record">'
        "<AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC>"
        "<T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>"
        f"{records}</Objs>"
    ).encode()


def _json_line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=True, separators=(",", ":")) + "\r\n").encode("ascii")


def parse_command_line(line: str) -> Invocation | None:
    """The script inside `powershell ... -EncodedCommand <b64>`, or None for anything else."""
    tokens = line.split()
    if not tokens or tokens[0].lower().rsplit("\\", 1)[-1] not in _POWERSHELL:
        return None
    for i, token in enumerate(tokens[1:-1], start=1):
        if token.lower() in _ENCODED_FLAGS:
            try:
                script = base64.b64decode(tokens[i + 1], validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return None
            break
    else:
        return None
    marker, payload = _MARKER.search(script), _PAYLOAD.search(script)
    if not marker or not payload:
        return Invocation(script=script)
    try:
        args = json.loads(base64.b64decode(payload.group(1)).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        return Invocation(script=script)
    return Invocation(script, marker.group(1), args if isinstance(args, dict) else {})


class FakePowerShell:
    """Runs recognised scripts for one simulated host against the shared Datacenter."""

    def __init__(self, datacenter: Datacenter) -> None:
        self._dc = datacenter
        self._scripts: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            "ping": self._ping,
            "get-vm": self._get_vm,
            "stop-vm": self._stop_vm,
        }

    def run(self, host: str, invocation: Invocation | None, command: str) -> Result:
        if invocation is None:
            name = command.split()[0] if command.split() else command
            return Result(
                b"",
                f"'{name}' is not recognized as an internal or external command,\r\n"
                "operable program or batch file.\r\n".encode(),
                1,
            )
        handler = self._scripts.get(invocation.script_name)
        if handler is None:
            return Result(
                b"",
                clixml(
                    "The simulated Hyper-V host runs only asr-operator's scripts; this one "
                    "has no '# asr-operator script:' line it knows."
                ),
                1,
            )
        try:
            return Result(_json_line(handler(host, invocation.payload)), b"", 0)
        except ScriptFailure as exc:
            return Result(b"", clixml(str(exc)), 1)

    def _ping(self, host: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"computerName": host.upper(), "hyperV": True, "psVersion": "5.1.20348.2849"}

    def _find(self, host: str, name: Any) -> VMState | None:
        matches = [
            v
            for v in self._dc.vms.values()
            if v.host.lower() == host.lower() and v.name.lower() == str(name).lower()
        ]
        if len(matches) > 1:
            raise ScriptFailure(
                f"More than one virtual machine is named '{name}'; give each a unique name."
            )
        return matches[0] if matches else None

    def _get_vm(self, host: str, args: dict[str, Any]) -> dict[str, Any]:
        with self._dc.lock:
            vm = self._find(host, args.get("name"))
            if vm is None:
                return {"found": False}
            return {
                "found": True,
                "name": vm.name,
                "id": vm.vm_id,
                "state": vm.state,
                "generation": vm.generation,
                "checkpoints": list(vm.checkpoints),
                "disks": _disks(vm),
                "nicCount": vm.nics,
                "guestOs": _guest_os(vm),
            }

    def _stop_vm(self, host: str, args: dict[str, Any]) -> dict[str, Any]:
        with self._dc.lock:
            vm = self._find(host, args.get("name"))
            if vm is None:
                return {"found": False}
            if vm.state != "Off":
                if vm.state != "Running" and not args.get("turnOff"):
                    raise ScriptFailure(_STOP_VM_INVALID_STATE.format(name=vm.name))
                self._dc.set_power(vm.vm_id, "Off")
            return {"found": True, "state": vm.state}


def _default_os_disk(vm: VMState) -> list[Disk]:
    path = f"C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks\\{vm.name}.vhdx"
    return [Disk.model_validate({"path": path, "format": "VHDX", "sizeGB": 127, "os": True})]


def _disks(vm: VMState) -> list[dict[str, Any]]:
    """Get-VMHardDiskDrive + Get-VHD; a scenario VM without disks gets Hyper-V's default."""
    out: list[dict[str, Any]] = []
    data_slot = 1
    for disk in vm.disks or _default_os_disk(vm):
        if disk.os:
            controller = "IDE 0:0" if vm.generation == 1 else "SCSI 0:0"
        else:
            controller, data_slot = f"SCSI 0:{data_slot}", data_slot + 1
        out.append(
            {
                "path": disk.path,
                "controller": controller,
                "format": disk.format,
                "sizeBytes": int(disk.size_gb * _GIB),
                "os": disk.os,
                "shared": disk.shared,
            }
        )
    return out


def _guest_os(vm: VMState) -> str:
    """What KVP reports; nothing while the VM is not running (no integration services)."""
    if vm.state != "Running":
        return ""
    return "Windows Server 2022 Datacenter" if vm.os_type == "Windows" else "Ubuntu 22.04.4 LTS"
