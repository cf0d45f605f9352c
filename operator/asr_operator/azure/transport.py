"""The HTTP transport for a vault whose endpoint is verified with a custom CA bundle.

Given `connection_verify=<path>`, azure-core's aiohttp transport builds a new SSLContext
for every request. aiohttp keys pooled connections by that context, so no connection is
ever reused: each request pays a TLS handshake and leaves one more idle connection (and
its native buffers) in the pool. Measured on the simulated datacenter: operator memory
grew by about 0.5 MB per ProtectedVM. One context per vault keeps the pool working.
"""

from __future__ import annotations

import ssl
from typing import Any

from azure.core.pipeline.transport import AioHttpTransport


class PooledTlsTransport(AioHttpTransport):  # type: ignore[misc]
    """AioHttpTransport that verifies with one SSLContext built once from a CA bundle."""

    def __init__(self, ca_bundle: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ssl_context = ssl.create_default_context(cafile=ca_bundle)

    def _build_ssl_config(self, cert: Any, verify: Any) -> ssl.SSLContext:
        # azure-core 1.41's hook for per-request TLS settings; pinned in pyproject.
        return self._ssl_context


def transport_kwargs(ca_bundle: str) -> dict[str, Any]:
    """Client or credential kwargs: a pooled transport for a custom CA, nothing otherwise."""
    if not ca_bundle:
        return {}
    return {"transport": PooledTlsTransport(ca_bundle)}
