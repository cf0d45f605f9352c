"""Leader election on a coordination.k8s.io/v1 Lease, as controller-runtime does it.

Two replicas must never both act on ASR. A replica runs no handler before it holds the
Lease; it renews it every `retry_period`; if it cannot renew for `renew_deadline` it
stops acting at once by exiting non-zero (the kubelet restarts it as a standby). A
standby polls every `retry_period` and takes the Lease once its record has not changed
for `lease_duration`, as seen by its own clock (so clock skew between nodes does not
matter). Every write is a replace carrying the resourceVersion read: of two replicas
that race for the Lease the API server lets one win and answers the other 409.

Safety rests on renew_deadline < lease_duration: the leader gives up before any standby
may take over. Decision and defaults: docs/install.md.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import kubernetes.client
from kubernetes.client.exceptions import ApiException

from asr_operator import metrics

log = logging.getLogger(__name__)

EXIT_LOST_LEASE = 3  # the exit code when renewal fails past the deadline


@dataclass(frozen=True)
class LeaseConfig:
    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("leader election needs retry period < renew deadline < lease duration")


def _now() -> datetime:
    return datetime.now(UTC)


class Elector:
    """Acquire, renew and release one Lease with the Kubernetes client."""

    def __init__(self, config: LeaseConfig, api: kubernetes.client.CoordinationV1Api) -> None:
        self.config = config
        self.api = api
        # The last record seen (holder, renewTime, transitions) and when it last changed.
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        # Another replica's identity, when the last attempt found the Lease held by it.
        self.held_by: str = ""

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this replica holds the Lease afterwards."""
        c = self.config
        now = _now()
        try:
            lease = self.api.read_namespaced_lease(c.name, c.namespace)
        except ApiException as e:
            if e.status != 404:
                log.warning("reading Lease %s/%s failed: %s", c.namespace, c.name, e.reason)
                return False
            body = kubernetes.client.V1Lease(
                metadata=kubernetes.client.V1ObjectMeta(name=c.name, namespace=c.namespace),
                spec=self._spec(now, now, 0),
            )
            try:
                self.api.create_namespaced_lease(c.namespace, body)
            except ApiException as e2:
                log.info("creating Lease %s/%s lost: %s", c.namespace, c.name, e2.reason)
                return False
            return True
        spec = lease.spec or kubernetes.client.V1LeaseSpec()
        record = (spec.holder_identity, spec.renew_time, spec.lease_transitions)
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        holder = spec.holder_identity or ""
        mine = holder == c.identity
        duration = float(spec.lease_duration_seconds or c.lease_duration)
        self.held_by = holder if holder and not mine else ""
        if self.held_by and time.monotonic() - self._observed_at < duration:
            return False  # held by another replica that renewed within its duration
        transitions = int(spec.lease_transitions or 0) + (0 if mine else 1)
        acquired = spec.acquire_time if mine and spec.acquire_time else now
        lease.spec = self._spec(acquired, now, transitions)
        try:
            self.api.replace_namespaced_lease(c.name, c.namespace, lease)
        except ApiException as e:
            log.info("updating Lease %s/%s failed: %s", c.namespace, c.name, e.reason)
            return False
        if not mine:
            log.info("took Lease %s/%s from %r", c.namespace, c.name, holder)
        self.held_by = ""
        return True

    def _spec(
        self, acquired: datetime, renewed: datetime, transitions: int
    ) -> kubernetes.client.V1LeaseSpec:
        return kubernetes.client.V1LeaseSpec(
            holder_identity=self.config.identity,
            lease_duration_seconds=round(self.config.lease_duration),
            acquire_time=acquired,
            renew_time=renewed,
            lease_transitions=transitions,
        )

    def acquire(self) -> None:
        """Block until this replica holds the Lease."""
        c = self.config
        log.info("waiting for Lease %s/%s as %s", c.namespace, c.name, c.identity)
        while not self.try_acquire_or_renew():
            time.sleep(c.retry_period)
        log.info("holding Lease %s/%s as %s: acting", c.namespace, c.name, c.identity)

    def release(self) -> None:
        """On a clean stop: hand the Lease over at once instead of after its duration."""
        c = self.config
        try:
            lease = self.api.read_namespaced_lease(c.name, c.namespace)
            if lease.spec is None or lease.spec.holder_identity != c.identity:
                return
            lease.spec.holder_identity = None
            lease.spec.acquire_time = None
            lease.spec.renew_time = None
            lease.spec.lease_duration_seconds = 1
            self.api.replace_namespaced_lease(c.name, c.namespace, lease)
            log.info("released Lease %s/%s", c.namespace, c.name)
        except ApiException as e:
            log.warning("releasing Lease %s/%s failed: %s", c.namespace, c.name, e.reason)


class Renewer(threading.Thread):
    """Renews the Lease every retry period; past the renew deadline, ends the process.

    A thread, not a task of kopf's event loop: a busy loop must not cost the Lease, and
    ending the process must not wait on that loop. `os._exit` stops every handler at
    once, so no ASR call starts after the deadline.
    """

    def __init__(
        self, elector: Elector, lost: Callable[[], None] = lambda: os._exit(EXIT_LOST_LEASE)
    ) -> None:
        super().__init__(name="lease-renewer", daemon=True)
        self.elector = elector
        self.lost = lost
        self.stopping = threading.Event()

    def run(self) -> None:
        c = self.elector.config
        renewed = time.monotonic()
        while not self.stopping.wait(c.retry_period):
            try:
                ok = self.elector.try_acquire_or_renew()
            except Exception:  # any failure to renew counts against the deadline
                log.exception("renewing Lease %s/%s failed", c.namespace, c.name)
                ok = False
            if ok:
                renewed = time.monotonic()
                continue
            if self.stopping.is_set():
                return
            if self.elector.held_by:  # another replica holds it: stop now, not later
                why = f"Lease {c.namespace}/{c.name} is held by {self.elector.held_by}"
            elif time.monotonic() - renewed >= c.renew_deadline:
                why = f"could not renew Lease {c.namespace}/{c.name} for {c.renew_deadline:g} s"
            else:
                continue
            log.critical("%s: stopping so that only one replica acts", why)
            metrics.LEADER.set(0)
            logging.shutdown()
            self.lost()
            return

    def stop(self) -> None:
        self.stopping.set()


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"standby": true}')

    def log_message(self, format: str, *args: Any) -> None:
        return


class StandbyHealth:
    """The liveness endpoint while a standby waits (kopf serves it once acting)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.server = ThreadingHTTPServer((parts.hostname or "", parts.port or 80), _Healthy)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandbyHealth:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
