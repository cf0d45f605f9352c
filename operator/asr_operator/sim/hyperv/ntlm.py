"""NTLM acceptor and WinRM message encryption (MS-WSMV 2.2.9.1.1) for the simulator.

pyspnego's NTLM acceptor reads its user database from the file named by the
`NTLM_USER_FILE` environment variable. Each simulated host has its own users, so each
gets its own file, and the variable is set only while an acceptor steps, under one
process-wide lock.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import spnego
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1  # the hashes the user file holds
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_ENV = "NTLM_USER_FILE"
_ENV_LOCK = threading.Lock()
# NTLM message types, from the 4-byte little-endian field after the "NTLMSSP\0" signature.
NEGOTIATE, AUTHENTICATE = 1, 3


def write_user_file(path: Path, users: list[tuple[str, str]]) -> None:
    """smbpasswd-style lines (`DOMAIN\\user:uid:LM:NT:[U]:LCT-0`): any password character works."""
    lines = []
    for uid, (username, password) in enumerate(users, start=1000):
        lm, nt = lmowfv1(password).hex().upper(), ntowfv1(password).hex().upper()
        lines.append(f"{username}:{uid}:{lm}:{nt}:[U]:LCT-00000000")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def message_type(token: bytes) -> int:
    if len(token) < 12 or not token.startswith(b"NTLMSSP\x00"):
        return 0
    return int(struct.unpack("<I", token[8:12])[0])


@contextmanager
def _user_file(path: Path) -> Iterator[None]:
    with _ENV_LOCK:
        old = os.environ.get(_ENV)
        os.environ[_ENV] = str(path)
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(_ENV, None)
            else:
                os.environ[_ENV] = old


class Acceptor:
    """One NTLM handshake on one connection; after `complete`, seals and unseals bodies."""

    def __init__(self, user_file: Path, cbt_hash: bytes | None) -> None:
        self._user_file = user_file
        bindings = (
            GssChannelBindings(application_data=b"tls-server-end-point:" + cbt_hash)
            if cbt_hash
            else None
        )
        with _user_file(user_file):
            self._ctx = spnego.server(protocol="ntlm", channel_bindings=bindings)

    def step(self, token: bytes) -> bytes | None:
        """The challenge for a NEGOTIATE; None after a valid AUTHENTICATE. Raises on bad ones."""
        with _user_file(self._user_file):
            return self._ctx.step(token)

    @property
    def complete(self) -> bool:
        return bool(self._ctx.complete)

    @property
    def username(self) -> str:
        return str(self._ctx.client_principal or "")

    def unseal(self, body: bytes) -> bytes:
        """The SOAP message inside a multipart/encrypted request body."""
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        if len(parts) < 2:
            raise ValueError("not a multipart/encrypted WinRM body")
        header, payload = parts[0], parts[1]
        length = int(header.split(b"Length=")[1].split(b"\r\n")[0])
        payload = payload.removesuffix(BOUNDARY + b"--\r\n")
        payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        sig_len = struct.unpack("<i", payload[:4])[0]
        data = self._ctx.unwrap(payload[4 : 4 + sig_len] + payload[4 + sig_len :]).data
        if len(data) != length:
            raise ValueError("encrypted length does not match OriginalContent")
        return bytes(data)

    def seal(self, message: bytes) -> bytes:
        wrapped = self._ctx.wrap(message, encrypt=True).data
        signature, sealed = wrapped[:16], wrapped[16:]
        return (
            BOUNDARY + b"\r\n"
            b"\tContent-Type: " + PROTOCOL.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode()
            + b"\r\n"
            + BOUNDARY
            + b"\r\n"
            b"\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", len(signature))
            + signature
            + sealed
            + BOUNDARY
            + b"--\r\n"
        )


__all__ = ["AUTHENTICATE", "NEGOTIATE", "Acceptor", "SpnegoError", "message_type"]
