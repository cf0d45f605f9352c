"""Decode the CLIXML PowerShell writes to stderr over WinRM into the text a human reads."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_HEADER = "#< CLIXML"
_NS = "{http://schemas.microsoft.com/powershell/2004/04}"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def decode_stderr(raw: bytes) -> str:
    """Error records' text, or the raw text when it is not CLIXML."""
    text = raw.decode("utf-8", errors="replace")
    if not text.lstrip().startswith(_HEADER):
        return text.strip()
    body = "".join(line for line in text.splitlines() if not line.startswith(_HEADER))
    try:
        root = ET.fromstring(f"<root>{body}</root>")
    except ET.ParseError:
        return text.strip()
    lines: list[str] = []
    for node in root.iter():
        tag = node.tag.removeprefix(_NS)
        if tag == "S" and node.get("S") == "Error" and node.text:
            lines.append(_unescape(node.text))
    return "".join(lines).strip()
