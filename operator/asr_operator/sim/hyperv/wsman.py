"""WS-Management SOAP envelopes of the Windows Remote Shell, as a WinRM service sends them."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

SOAP = "http://www.w3.org/2003/05/soap-envelope"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSMAN_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

CREATE = f"{TRANSFER}/Create"
DELETE = f"{TRANSFER}/Delete"
COMMAND = f"{SHELL}/Command"
RECEIVE = f"{SHELL}/Receive"
SIGNAL = f"{SHELL}/Signal"
SEND = f"{SHELL}/Send"
CMD_RESOURCE = f"{SHELL}/cmd"
DONE = f"{SHELL}/CommandState/Done"

# WSManFault codes a Windows host returns.
FAULT_OPERATION_TIMEOUT = 2150858793
FAULT_SHELL_NOT_FOUND = 2150858843
FAULT_UNSUPPORTED_ACTION = 2150858760
FAULT_UNENCRYPTED = 2150858782

_Q = {"s": SOAP, "a": ADDRESSING, "w": WSMAN, "rsp": SHELL}


@dataclass(frozen=True)
class Request:
    action: str
    message_id: str
    shell_id: str | None
    operation_timeout: float
    body: ET.Element


def _seconds(duration: str) -> float:
    """`PT20S` / `PT20.000S` -> 20.0 (the only form pywinrm and winrs send)."""
    text = duration.strip().upper()
    if text.startswith("PT") and text.endswith("S"):
        try:
            return float(text[2:-1])
        except ValueError:
            pass
    return 60.0


def parse(data: bytes) -> Request:
    root = ET.fromstring(data)
    header = root.find("s:Header", _Q)
    body = root.find("s:Body", _Q)
    if header is None or body is None:
        raise ValueError("not a SOAP envelope")
    selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", _Q)
    return Request(
        action=(header.findtext("a:Action", "", _Q)).strip(),
        message_id=(header.findtext("a:MessageID", "", _Q)).strip(),
        shell_id=selector.text.strip() if selector is not None and selector.text else None,
        operation_timeout=_seconds(header.findtext("w:OperationTimeout", "PT60S", _Q)),
        body=body,
    )


def command_line(body: ET.Element) -> str:
    """The command and its arguments from a Command request, joined as cmd.exe sees them."""
    line = body.find("rsp:CommandLine", _Q)
    if line is None:
        return ""
    parts = [line.findtext("rsp:Command", "", _Q).strip()]
    parts += [(a.text or "").strip() for a in line.findall("rsp:Arguments", _Q)]
    return " ".join(p for p in parts if p)


def signal_command_id(body: ET.Element) -> str:
    node = body.find("rsp:Signal", _Q)
    return node.get("CommandId", "") if node is not None else ""


def receive_command_id(body: ET.Element) -> str:
    node = body.find("rsp:Receive/rsp:DesiredStream", _Q)
    return node.get("CommandId", "") if node is not None else ""


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{ADDRESSING}" xmlns:w="{WSMAN}" '
        f'xmlns:x="{TRANSFER}" xmlns:rsp="{SHELL}" xml:lang="en-US">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:To>{ADDRESSING}/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def created(relates_to: str, shell_id: str, address: str) -> bytes:
    return _envelope(
        f"{TRANSFER}/CreateResponse",
        relates_to,
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address>"
        f"<a:ReferenceParameters><w:ResourceURI>{CMD_RESOURCE}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"<rsp:ResourceUri>{CMD_RESOURCE}</rsp:ResourceUri>"
        "<rsp:State>Connected</rsp:State>"
        "<rsp:InputStreams>stdin</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>",
    )


def command_started(relates_to: str, command_id: str) -> bytes:
    return _envelope(
        f"{SHELL}/CommandResponse",
        relates_to,
        f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>",
    )


def received(relates_to: str, command_id: str, stdout: str, stderr: str, exit_code: int) -> bytes:
    """All output at once, then Done; `stdout`/`stderr` are already base64."""
    cid = quoteattr(command_id)
    streams = "".join(
        f"<rsp:Stream Name={quoteattr(name)} CommandId={cid}>{data}</rsp:Stream>"
        for name, data in (("stdout", stdout), ("stderr", stderr))
        if data
    )
    streams += (
        f'<rsp:Stream Name="stdout" CommandId={cid} End="true"></rsp:Stream>'
        f'<rsp:Stream Name="stderr" CommandId={cid} End="true"></rsp:Stream>'
    )
    return _envelope(
        f"{SHELL}/ReceiveResponse",
        relates_to,
        f"<rsp:ReceiveResponse>{streams}"
        f'<rsp:CommandState CommandId={cid} State="{DONE}">'
        f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>",
    )


def signalled(relates_to: str) -> bytes:
    return _envelope(f"{SHELL}/SignalResponse", relates_to, "<rsp:SignalResponse/>")


def deleted(relates_to: str) -> bytes:
    return _envelope(f"{TRANSFER}/DeleteResponse", relates_to, "")


def fault(relates_to: str, wsman_code: int, reason: str, subcode: str = "w:InternalError") -> bytes:
    """A SOAP fault with the WSManFault detail pywinrm parses (sent with HTTP 500)."""
    return _envelope(
        f"{ADDRESSING}/fault",
        relates_to,
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value>"
        f"<s:Subcode><s:Value>{escape(subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{WSMAN_FAULT}" Code="{wsman_code}" Machine="sim">'
        f"<f:Message>{escape(reason)}</f:Message></f:WSManFault></s:Detail></s:Fault>",
    )
