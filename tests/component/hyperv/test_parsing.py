"""Output shapes a real host produces that the simulator does not: parsed the same way."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asr_operator.hyperv import HyperVGateway, ScriptError, WinRMConfig
from asr_operator.hyperv.scripts import Script
from asr_operator.lifecycle.observed import PowerState

GW = HyperVGateway(WinRMConfig(address="hv-01.corp", name="hv-01", username="u", password="p"))


def _vm(**overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "found": True,
        "name": "WEB01",
        "id": "B07C9911-5777-474F-A6DB-AB0CFA841DD3",
        "state": "Running",
        "generation": 2,
        "checkpoints": [],
        "disks": [],
        "nicCount": 1,
        "guestOs": "",
    }
    out.update(overrides)
    return out


def test_powershell_unrolls_single_element_arrays() -> None:
    disk = {"path": "C:\\a.vhdx", "format": "Vhdx", "sizeBytes": 2 * 1024**3, "os": True}
    vm = GW._parse_vm(_vm(checkpoints="only-one", disks=disk, guestOs=None))
    assert vm.checkpoints == ("only-one",)
    assert [(d.format, d.size_gb, d.is_os, d.shared) for d in vm.disks] == [
        ("VHDX", 2.0, True, False)
    ]
    assert vm.guest_os == ""
    assert GW._parse_vm(_vm(checkpoints=None)).checkpoints == ()


@pytest.mark.parametrize(
    ("raw", "state"),
    [("Off", PowerState.OFF), ("Saved", PowerState.SAVED), ("Paused", PowerState.PAUSED),
     ("Starting", PowerState.STARTING), ("RunningCritical", PowerState.OTHER),
     ("FastSaved", PowerState.OTHER), (None, PowerState.OTHER)],
)  # fmt: skip
def test_states(raw: str | None, state: PowerState) -> None:
    assert GW._parse_vm(_vm(state=raw)).state is state


def test_missing_fields_are_a_script_error() -> None:
    with pytest.raises(ScriptError) as err:
        GW._parse_vm({"found": True})
    assert "unexpected output shape" in str(err.value)


def test_json_is_the_last_object_line() -> None:
    stdout = b"WARNING: something\r\n" + json.dumps(_vm()).encode() + b"\r\n\r\n"
    assert GW._parse_json(Script.GET_VM, stdout)["name"] == "WEB01"
    with pytest.raises(ScriptError) as err:
        GW._parse_json(Script.GET_VM, b"no json here\r\n")
    assert "no JSON object" in str(err.value)
