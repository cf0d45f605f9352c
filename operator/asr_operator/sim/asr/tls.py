"""A throw-away certificate authority so clients verify the simulator like real ARM."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class ServerTls:
    """The server's TLS context plus the CA bundle a client must trust."""

    context: ssl.SSLContext
    ca_path: Path


def make_server_tls(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> ServerTls:
    """Create a fresh CA and a server certificate for `hosts`; write the CA bundle to disk."""
    ca = trustme.CA()
    leaf = ca.issue_cert(*hosts)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    ca_path = directory / "asr-sim-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return ServerTls(context=context, ca_path=ca_path)
