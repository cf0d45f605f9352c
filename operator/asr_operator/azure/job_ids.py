"""The one place that reads an ASR job name out of ARM ids and LRO headers (reference 2.2)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlparse

_JOB_RE = re.compile(
    r"/(?:replicationOperationStatus|operationresults|replicationJobs)/([^/?#]+)", re.IGNORECASE
)
_HEADERS = ("Azure-AsyncOperation", "Location", "x-ms-request-id")


def job_name_from_url(value: str) -> str | None:
    """The job name in an operation-status, operation-result or job URL or ARM id."""
    first = value.split(",")[0].strip()
    path = urlparse(first).path or first
    m = _JOB_RE.search(path)
    if m is None or m.group(1).lower() == "none":
        return None
    return m.group(1)


def job_name_from_headers(headers: Mapping[str, str]) -> str | None:
    """From a 202: Azure-AsyncOperation, else Location, else x-ms-request-id."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in _HEADERS:
        value = lowered.get(name.lower())
        if value:
            job = job_name_from_url(value)
            if job:
                return job
    return None
