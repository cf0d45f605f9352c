"""Scripts are fixed templates: no VM name can change the PowerShell that runs."""

from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asr_operator.hyperv.clixml import decode_stderr
from asr_operator.hyperv.scripts import MAX_COMMAND_LINE, Script, command_line, render
from asr_operator.lifecycle.observed import PowerState
from asr_operator.sim.hyperv import HyperVSimulator
from tests.component.hyperv.conftest import EVIL_NAME, make_gateway

PAYLOAD_LINE = re.compile(r"^\$payload = '([A-Za-z0-9+/=]*)'$", re.MULTILINE)

HOSTILE = [
    EVIL_NAME,
    "'; Remove-VM -Name * -Force; '",
    "$(Stop-Computer -Force)",
    "`$env:USERNAME`",
    '" + (Get-Process) + "',
    "a\r\nRemove-Item C:\\ -Recurse\r\n#",
    "\u2018smart\u2019 quotes \u2014 \u00fcn\u00efc\u00f6d\u00e9 \U0001f5a5",
    "'@\n\"@\n",
]


def _without_payload(text: str) -> str:
    return PAYLOAD_LINE.sub("$payload = ''", text)


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("script", [Script.GET_VM, Script.STOP_VM])
def test_template_text_does_not_depend_on_the_name(script: Script, name: str) -> None:
    text = render(script, {"name": name})
    assert _without_payload(text) == _without_payload(render(script, {"name": "benign"}))
    [literal] = PAYLOAD_LINE.findall(text)
    assert json.loads(base64.b64decode(literal))["name"] == name
    assert name not in text


@given(st.text())
def test_any_name_round_trips_through_the_payload(name: str) -> None:
    text = render(Script.GET_VM, {"name": name})
    assert _without_payload(text) == _without_payload(render(Script.GET_VM, {"name": ""}))
    [literal] = PAYLOAD_LINE.findall(text)
    assert json.loads(base64.b64decode(literal).decode("utf-8"))["name"] == name


@pytest.mark.parametrize("script", list(Script))
def test_command_line_fits_cmd_exe(script: Script) -> None:
    line = command_line(render(script, {"name": "x" * 300, "turnOff": True}))
    assert len(line) < MAX_COMMAND_LINE
    encoded = line.rsplit(" ", 1)[1]
    assert base64.b64decode(encoded).decode("utf-16-le").startswith("# asr-operator script: ")


async def test_hostile_name_end_to_end(http_sim: HyperVSimulator) -> None:
    """A VM really named like an injection is found, and stopped, as exactly that name."""
    gw = make_gateway(http_sim)
    vm = await gw.get_vm(EVIL_NAME)
    assert vm.name == EVIL_NAME
    assert await gw.stop_vm(EVIL_NAME) is PowerState.OFF
    for name in HOSTILE[1:]:
        with pytest.raises(Exception) as err:
            await gw.get_vm(name)
        assert type(err.value).__name__ == "VMNotFound"
    sent = http_sim.commands
    assert [c.payload["name"] for c in sent] == [EVIL_NAME, EVIL_NAME, *HOSTILE[1:]]
    # Every script that reached the host is one of the fixed templates.
    for c in sent:
        template = render(Script(c.script_name), c.payload)
        assert c.script == template
        assert _without_payload(c.script) == _without_payload(render(Script(c.script_name), {}))


def test_clixml_decoding() -> None:
    raw = (
        b"#< CLIXML\r\n"
        b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b'<Obj S="progress" RefId="0"><MS><PR N="Record"><AV>Preparing modules</AV></PR></MS>'
        b'</Obj><S S="Error">Get-VM : boom &amp; _x0027_quote_x0027__x000D__x000A_</S>'
        b'<S S="Error">At line:1 char:1_x000D__x000A_</S><S S="verbose">noise</S></Objs>'
    )
    assert decode_stderr(raw) == "Get-VM : boom & 'quote'\r\nAt line:1 char:1"
    assert decode_stderr(b"plain text error\r\n") == "plain text error"
    assert decode_stderr(b"#< CLIXML\r\n<Objs><S S='Error'>broken") == (
        "#< CLIXML\r\n<Objs><S S='Error'>broken"
    )
