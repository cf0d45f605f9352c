"""The HTTP transport for a vault whose endpoint is verified with a custom CA bundle.

Given `connection_verify=<path>`, azure-core's aiohttp transport builds a new SSLContext
for every request. aiohttp keys pooled connections by that context, so no connection is
ever reused: each request pays a TLS handshake and leaves one more idle connection (and
its native buffers) in the pool. Measured on the simulated datacenter: operator memory
grew by about 0.5 MB per ProtectedVM. One context per vault keeps the pool working.

The context goes where aiohttp looks for it: the session's TCPConnector. azure-core takes
that session as it is (`session=`) and, as its owner, closes it with the client.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport


def pooled_tls_session(ca_bundle: str) -> aiohttp.ClientSession:
    """A session verifying every host with one SSLContext built once from `ca_bundle`.

    The rest is what azure-core gives a session it builds itself: proxies from the
    environment, no cookies, and bodies left compressed for its own decoding. aiohttp
    binds a session to the running event loop, so call this from a coroutine's thread.
    """
    context = ssl.create_default_context(cafile=ca_bundle)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=context),
        trust_env=True,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    )


def transport_kwargs(ca_bundle: str) -> dict[str, Any]:
    """Client or credential kwargs: a pooled transport for a custom CA, nothing otherwise.

    Requests then carry azure-core's default `connection_verify=True`, which aiohttp
    answers with the connector's context.
    """
    if not ca_bundle:
        return {}
    session = pooled_tls_session(ca_bundle)
    return {"transport": AioHttpTransport(session=session, session_owner=True)}
