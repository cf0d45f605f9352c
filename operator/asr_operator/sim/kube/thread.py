"""Run the stand-in on its own event loop in a thread, for synchronous tests and tools."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Self, TypeVar

from .faults import FaultInjector
from .requestlog import LoggedRequest
from .resources import CrdSource
from .server import KubeStandIn

JSON = dict[str, Any]
T = TypeVar("T")


class KubeStandInThread:
    """`with KubeStandInThread(crds=[...], namespaces=["ns1"]) as kube: kube.url`.

    Direct object access runs on the server's loop, so it never races a request.
    """

    def __init__(
        self, crds: Iterable[CrdSource] = (), namespaces: Iterable[str] = (), **options: Any
    ) -> None:
        self._args = (list(crds), list(namespaces), options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._standin: KubeStandIn | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        started: Future[KubeStandIn] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="kube-standin", daemon=True
        )
        self._thread.start()
        self._standin = started.result(timeout=30)
        return self

    def _run(self, started: Future[KubeStandIn]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        crds, namespaces, options = self._args
        try:
            standin = KubeStandIn(crds, namespaces, **options)
            loop.run_until_complete(standin.start())
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(standin)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(standin.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access --------------------------------------------------------------------------

    @property
    def standin(self) -> KubeStandIn:
        assert self._standin is not None, "not started"
        return self._standin

    @property
    def url(self) -> str:
        return self.standin.url

    @property
    def faults(self) -> FaultInjector:
        return self.standin.faults

    @property
    def requests(self) -> list[LoggedRequest]:
        return self.standin.log.entries()

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        return self.standin.write_kubeconfig(path, namespace)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the server's loop and return its result (or raise its error)."""
        assert self._loop is not None, "not started"

        async def invoke() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=30)

    def get(self, resource: str, name: str, namespace: str | None = None) -> JSON | None:
        return self.call(self.standin.get, resource, name, namespace)

    def list_objects(self, resource: str, namespace: str | None = None) -> list[JSON]:
        return self.call(self.standin.list_objects, resource, namespace)

    def create(self, obj: JSON) -> JSON:
        return self.call(self.standin.create, obj)

    def patch(
        self,
        resource: str,
        name: str,
        patch: JSON,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> JSON:
        return self.call(self.standin.patch, resource, name, patch, namespace, subresource)

    def delete(self, resource: str, name: str, namespace: str | None = None) -> JSON:
        return self.call(self.standin.delete, resource, name, namespace)

    def add_crd(self, crd: JSON) -> JSON:
        return self.call(self.standin.add_crd, crd)

    def ensure_namespace(self, name: str) -> JSON:
        return self.call(self.standin.ensure_namespace, name)

    def compact(self) -> None:
        self.call(self.standin.compact)

    def wait_for_request(
        self, predicate: Callable[[LoggedRequest], bool], timeout: float = 10.0
    ) -> LoggedRequest:
        return self.standin.log.wait_for(predicate, timeout)

    def wait_for_watch(
        self, resource: str, namespace: str | None = None, timeout: float = 10.0
    ) -> LoggedRequest:
        """Readiness of a client (kopf): its watch on `resource` is established."""
        return self.wait_for_request(
            lambda r: (
                r.verb == "watch"
                and resource in (r.resource, f"{r.resource}.{r.group}")
                and (namespace is None or r.namespace == namespace)
                and r.status == 200
            ),
            timeout,
        )
