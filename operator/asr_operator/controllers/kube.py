"""The few Kubernetes API calls the controllers make beyond kopf's own: read an object,
read a Secret, patch status. The `kubernetes` client is synchronous, so calls run in
worker threads and never block kopf's event loop.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import kubernetes.client
from kubernetes.client.exceptions import ApiException

from asr_operator.api.common import GROUP, VERSION

T = TypeVar("T")

# The threads these calls run in, apart from asyncio's default pool: there, the WinRM
# sessions of a thousand pre-checks (one each before a mass failover) queued the status
# writes that must precede every failover behind them.
_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kube")


async def _in_thread(call: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_THREADS, call)


class KubeError(Exception):
    """A Kubernetes API call failed; `status` is the HTTP status (0 if none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


_CLIENT: kubernetes.client.ApiClient | None = None


def _client() -> kubernetes.client.ApiClient:
    """One client (and connection pool) for the process; urllib3's pool is thread-safe."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = kubernetes.client.ApiClient()
    return _CLIENT


def _api() -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(_client())


async def get_object(plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    def call() -> dict[str, Any] | None:
        try:
            return cast(
                dict[str, Any],
                _api().get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name),
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise KubeError(f"reading {plural}/{name}: {e.reason}", e.status or 0) from None

    return await _in_thread(call)


async def list_objects(plural: str, namespace: str) -> list[dict[str, Any]]:
    """Every object of a kind in one namespace (one list call)."""

    def call() -> list[dict[str, Any]]:
        try:
            listed = _api().list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
        except ApiException as e:
            raise KubeError(f"listing {plural}: {e.reason}", e.status or 0) from None
        return list(cast(dict[str, Any], listed).get("items") or [])

    return await _in_thread(call)


async def patch_status(
    plural: str, namespace: str, name: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """Merge-patch the status subresource; returns the object as stored."""

    def call() -> dict[str, Any]:
        try:
            return cast(
                dict[str, Any],
                _api().patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, plural, name, {"status": patch}
                ),
            )
        except ApiException as e:
            raise KubeError(
                f"writing status of {plural}/{name}: {e.reason}", e.status or 0
            ) from None

    return await _in_thread(call)


async def read_secret(namespace: str, name: str) -> tuple[dict[str, bytes], str]:
    """A Secret's data, decoded, and its resourceVersion (to notice rotation)."""

    def call() -> tuple[dict[str, bytes], str]:
        try:
            secret = kubernetes.client.CoreV1Api(_client()).read_namespaced_secret(name, namespace)
        except ApiException as e:
            raise KubeError(
                f"reading Secret {namespace}/{name}: {e.reason}", e.status or 0
            ) from None
        data = {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}
        meta = secret.metadata
        return data, str(meta.resource_version if meta is not None else "")

    return await _in_thread(call)
