"""Test-wide guard: any connection that is not to loopback goes to a dead proxy and fails."""

from __future__ import annotations

import os

# Set before any client library is imported by a test module.
_DEAD_PROXY = "http://127.0.0.1:9"
for _var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
    os.environ[_var] = _DEAD_PROXY
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
# Never let azure-identity fall through to IMDS or a developer's CLI login.
os.environ.setdefault("AZURE_TOKEN_CREDENTIALS", "WorkloadIdentityCredential")
