"""The PowerShell the operator runs on a Hyper-V host: fixed templates, values as data.

Every script is one of the templates below. The only part that varies is the
`$payload` line: the arguments as UTF-8 JSON, base64-encoded, so the literal holds
only `[A-Za-z0-9+/=]` and no VM name can ever be parsed as PowerShell. The first line
names the template (`# asr-operator script: <name>`), which is how a host-side audit
log or the simulator tells them apart. docs/hyperv.md lists what each one does.

Output is one line of JSON on stdout, escaped to ASCII because WinRM decodes stdout
with the console code page.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

MARKER = "# asr-operator script: "
# cmd.exe (WINRS_SKIP_CMD_SHELL=FALSE) refuses command lines longer than this.
MAX_COMMAND_LINE = 8191


class Script(StrEnum):
    PING = "ping"
    GET_VM = "get-vm"
    STOP_VM = "stop-vm"


_PRELUDE = r"""$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$in = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($payload)) | ConvertFrom-Json
function Out-Json($value) {
    $json = ConvertTo-Json -InputObject $value -Depth 6 -Compress
    [regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
}
function Find-VM($name) {
    $found = @(Get-VM | Where-Object { $_.Name -eq $name })
    if ($found.Count -gt 1) {
        throw "More than one virtual machine is named '$name'; give each a unique name."
    }
    $found
}
"""

_BODIES: dict[Script, str] = {
    Script.PING: r"""Out-Json ([ordered]@{
    computerName = $env:COMPUTERNAME
    hyperV = [bool](Get-Command Get-VM -ErrorAction SilentlyContinue)
    psVersion = [string]$PSVersionTable.PSVersion
})
""",
    Script.GET_VM: r"""$vm = Find-VM $in.name
if (-not $vm) { Out-Json ([ordered]@{ found = $false }); exit 0 }
if ($vm.Generation -eq 2) {
    $boot = (Get-VMFirmware -VM $vm).BootOrder |
        Where-Object { $_.Device -and $_.Device.GetType().Name -eq 'HardDiskDrive' } |
        Select-Object -First 1 -ExpandProperty Device
} else {
    $boot = Get-VMHardDiskDrive -VM $vm -ControllerType IDE |
        Sort-Object ControllerNumber, ControllerLocation | Select-Object -First 1
}
$disks = @(foreach ($d in @(Get-VMHardDiskDrive -VM $vm)) {
    $vhd = $null
    if ($d.Path -and $null -eq $d.DiskNumber) { $vhd = Get-VHD -Path $d.Path }
    [ordered]@{
        path = [string]$d.Path
        controller = "$($d.ControllerType) $($d.ControllerNumber):$($d.ControllerLocation)"
        format = $(if ($vhd) { [string]$vhd.VhdFormat } else { '' })
        sizeBytes = $(if ($vhd) { [int64]$vhd.Size } else { [int64]0 })
        os = [bool]($boot -and $d.ControllerType -eq $boot.ControllerType -and
            $d.ControllerNumber -eq $boot.ControllerNumber -and
            $d.ControllerLocation -eq $boot.ControllerLocation)
        shared = [bool]$d.SupportPersistentReservations
    }
})
$guestOs = ''
try {
    $kvp = Get-CimInstance -Namespace root\virtualization\v2 -ClassName Msvm_KvpExchangeComponent `
        -Filter ("SystemName='{0}'" -f $vm.Id)
    foreach ($item in @($kvp.GuestIntrinsicExchangeItems)) {
        $props = ([xml]$item).INSTANCE.PROPERTY
        if (($props | Where-Object { $_.NAME -eq 'Name' }).VALUE -eq 'OSName') {
            $guestOs = [string]($props | Where-Object { $_.NAME -eq 'Data' }).VALUE
        }
    }
} catch { $guestOs = '' }
Out-Json ([ordered]@{
    found = $true
    name = $vm.Name
    id = [string]$vm.Id
    state = [string]$vm.State
    generation = [int]$vm.Generation
    checkpoints = @(Get-VMSnapshot -VM $vm | ForEach-Object { $_.Name })
    disks = $disks
    nicCount = @(Get-VMNetworkAdapter -VM $vm).Count
    guestOs = $guestOs
})
""",
    Script.STOP_VM: r"""$vm = Find-VM $in.name
if (-not $vm) { Out-Json ([ordered]@{ found = $false }); exit 0 }
if ([string]$vm.State -ne 'Off') {
    if ($in.turnOff) {
        Stop-VM -VM $vm -TurnOff -Confirm:$false
    } else {
        Stop-VM -VM $vm -Force -Confirm:$false
    }
}
$vm = Get-VM -Id $vm.Id
Out-Json ([ordered]@{ found = $true; state = [string]$vm.State })
""",
}


def encode_payload(payload: Mapping[str, Any]) -> str:
    """The one way a value enters a script: base64 of UTF-8 JSON."""
    raw = json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def render(script: Script, payload: Mapping[str, Any] | None = None) -> str:
    """The full text of `script` with `payload` as its only variable part."""
    return (
        f"{MARKER}{script.value}\n"
        f"$payload = '{encode_payload(payload or {})}'\n"
        f"{_PRELUDE}{_BODIES[script]}"
    )


def command_line(script_text: str) -> str:
    """The command WinRM runs: powershell with the script as -EncodedCommand (UTF-16LE)."""
    encoded = base64.b64encode(script_text.encode("utf-16-le")).decode("ascii")
    return f"powershell.exe -NoLogo -NoProfile -NonInteractive -EncodedCommand {encoded}"
