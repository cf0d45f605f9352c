"""Gateways per SiteRecoveryVault, built from its spec and Secrets and shared by every
ProtectedVM that points at it. One job poller per vault keeps ASR reads O(1) in the
number of running operations.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from asr_operator.api.common import AuthType as ApiAuthType
from asr_operator.api.common import WinRMScheme, refusal
from asr_operator.api.recoveryplan import PLURAL as RECOVERY_PLAN_PLURAL
from asr_operator.api.vault import KIND as VAULT_KIND
from asr_operator.api.vault import PLURAL as VAULT_PLURAL
from asr_operator.api.vault import SiteRecoveryVaultSpec
from asr_operator.azure.config import AsrConfig, AuthConfig, AuthType, CallLimits
from asr_operator.azure.gateway import AsrGateway
from asr_operator.controllers import kube
from asr_operator.controllers.resting import Resting
from asr_operator.hyperv.config import WinRMConfig
from asr_operator.hyperv.errors import HyperVError
from asr_operator.hyperv.gateway import HyperVGateway
from asr_operator.lifecycle.observed import AsrItem, AsrJob, AsrPlan

T = TypeVar("T")

# How long a vault's clients are reused before its Secrets are checked for rotation.
FINGERPRINT_TTL = 60.0
# How long an item read one by one counts as fresh (no action was sent on it since).
FRESH_FOR = 5.0
# Fresh item reads asked for within this window go out together (seconds).
BATCH_WINDOW = 0.1
# Items per page of ASR's protected-item list (the cost of a list, in requests).
LIST_PAGE_SIZE = 100
# A batch of fresh reads is one vault-wide list only when it holds more than 1/LIST_SHARE
# of the vault's items: a list parses every item (CPU a busy operator lacks), a GET each
# spends read tokens (which job ends and Azure VM reads share). Measured at 1000 VMs, a
# mass failover: 1/4 met read 429s and a job end to status p95 of 56 s; 1/10 none, 34 s.
LIST_SHARE = 10


class VaultUnavailable(Exception):
    """The vault cannot be used now; the message says what to fix."""


# A refresh's error with its traceback as first raised.
_Failure = tuple[Exception, TracebackType | None]


class _Refresher:
    """At most one refresh in flight at a time; every caller waits for that one.

    The task hands its error to the callers instead of ending with it: when every caller
    was cancelled (the operator stops), an error left in the task would be raised again
    by kopf at exit, a traceback and a failed exit for a plain SIGTERM.
    """

    def __init__(self, refresh: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._refresh = refresh
        self._task: asyncio.Task[_Failure | None] | None = None

    async def _attempt(self) -> _Failure | None:
        try:
            await self._refresh()
        except Exception as e:
            return e, e.__traceback__
        return None

    async def run(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._attempt())
        failure = await asyncio.shield(self._task)
        if failure is not None:  # each caller gets the original traceback, as from a Future
            error, tb = failure
            raise error.with_traceback(tb)


class ListCache(Generic[T]):
    """One paged list of the vault per interval, shared by every idle object."""

    def __init__(self, load: Callable[[], Awaitable[list[T]]], min_interval: float) -> None:
        self._load = load
        self._min_interval = min_interval
        self._items: list[T] = []
        self._at = float("-inf")
        self._refresher = _Refresher(self._list)

    async def _list(self) -> None:
        started = time.monotonic()
        self._items = await self._load()
        self._at = started

    async def items(self) -> list[T]:
        if time.monotonic() - self._at >= self._min_interval:
            await self._refresher.run()
        return self._items


class ItemCache(ListCache[AsrItem]):
    """The vault's protected items, found by friendly name or VM id, and read fresh.

    Indexed once per list read: every idle object looks its item up each cycle, and a
    scan per lookup made an interval cost quadratic in the number of objects.

    Fresh reads (after an action, after a job ended) are batched as job polls are: the
    reads asked for within BATCH_WINDOW go out together, as one vault-wide list when the
    batch is a large share of the vault (more than 1/LIST_SHARE of its items, and more
    reads than the list has pages), else as a GET each. Job ends arrive in batches (one
    job poll sees many): a list parses every item of the vault, and at 1000 items a batch
    of a dozen reads parsing all of them made a mass failover CPU-bound.
    """

    def __init__(self, gateway: AsrGateway, min_interval: float) -> None:
        super().__init__(gateway.list_items, min_interval)
        self._gateway = gateway
        self._indexed: list[AsrItem] | None = None
        self._by_friendly: dict[str, AsrItem] = {}
        self._by_name: dict[str, AsrItem] = {}
        # Items read fresh, by name: (monotonic time the read started, item).
        self._read: dict[str, tuple[float, AsrItem]] = {}
        # When we last learned an item changed (an action sent, its job seen ended): a read
        # that started before then is not fresh, whenever it answered.
        self._changed: dict[str, float] = {}
        self._waiting: dict[str, tuple[str, str, str, asyncio.Future[AsrItem]]] = {}
        self._batch: asyncio.Task[None] | None = None

    def changed(self, name: str) -> None:
        """The item changes now (an action was sent, its job ended): read it again."""
        now = time.monotonic()
        if len(self._changed) > 256:
            self._changed = {k: t for k, t in self._changed.items() if now - t < FRESH_FOR}
        self._changed[name.lower()] = now

    def remember(self, item: AsrItem, started: float) -> AsrItem:
        now = time.monotonic()
        if len(self._read) > 256:  # only the last seconds' reads matter
            self._read = {k: v for k, v in self._read.items() if now - v[0] < FRESH_FOR}
        key = item.name.lower()
        if started >= self._changed.get(key, float("-inf")):
            self._read[key] = (started, item)
        return item

    def lately(self, name: str) -> AsrItem | None:
        """The item as read fresh less than FRESH_FOR ago and since it last changed.

        After a job ends the item is read once, and the cycle that follows at once (to
        record, then to send the next step) needs no second read of its own.
        """
        key = name.lower()
        hit = self._read.get(key)
        if hit is None or time.monotonic() - hit[0] >= FRESH_FOR:
            return None
        if hit[0] < self._changed.get(key, float("-inf")):
            return None
        return hit[1]

    async def fresh(self, fabric: str, container: str, name: str) -> AsrItem:
        """The item as ASR shows it now, read with the others asked for meanwhile."""
        key = name.lower()
        waiting = self._waiting.get(key)
        if waiting is None:
            future: asyncio.Future[AsrItem] = asyncio.get_running_loop().create_future()
            waiting = (fabric, container, name, future)
            self._waiting[key] = waiting
        if self._batch is None or self._batch.done():
            self._batch = asyncio.create_task(self._read_batches())
        return await asyncio.shield(waiting[3])

    async def _read_batches(self) -> None:
        while self._waiting:
            await asyncio.sleep(BATCH_WINDOW)
            batch, self._waiting = self._waiting, {}
            await self._read_batch(batch)

    async def _read_batch(
        self, batch: dict[str, tuple[str, str, str, asyncio.Future[AsrItem]]]
    ) -> None:
        started = time.monotonic()
        pages = max(1, -(-len(self._items) // LIST_PAGE_SIZE))
        listed: dict[str, AsrItem] = {}
        if len(batch) > max(pages, len(self._items) // LIST_SHARE):
            try:
                items = await self._load()
            except Exception as e:  # every waiter gets the list's error
                for *_, future in batch.values():
                    if not future.done():
                        future.set_exception(e)
                return
            self._items, self._at = items, started  # idle objects use this list too
            listed = {i.name.lower(): i for i in items}

        async def one(key: str, fabric: str, container: str, name: str) -> AsrItem:
            found = listed.get(key)
            return found or await self._gateway.get_item(fabric, container, name)

        answers = await asyncio.gather(
            *(one(k, f, c, n) for k, (f, c, n, _) in batch.items()), return_exceptions=True
        )
        for (*_, future), answer in zip(batch.values(), answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(self.remember(answer, started))

    async def _index(self) -> None:
        items = await self.items()
        if items is self._indexed:
            return
        by_friendly: dict[str, AsrItem] = {}
        by_name: dict[str, AsrItem] = {}
        for i in items:  # the first of equal names wins, as a scan would find it
            by_friendly.setdefault(i.friendly_name.lower(), i)
            by_name.setdefault(i.name.lower(), i)
        self._indexed, self._by_friendly, self._by_name = items, by_friendly, by_name

    async def find(self, friendly_name: str) -> AsrItem | None:
        await self._index()
        return self._by_friendly.get(friendly_name.lower())

    async def get(self, name: str) -> AsrItem | None:
        await self._index()
        return self._by_name.get(name.lower())


class JobPoller:
    """Single-flight, batched reads of running jobs: one poll serves every waiter."""

    def __init__(self, gateway: AsrGateway, min_interval: float) -> None:
        self._gateway = gateway
        self._min_interval = min_interval
        self._cache: dict[str, tuple[float, AsrJob]] = {}
        self._wanted: dict[str, float] = {}
        self._refresher = _Refresher(self._poll)
        # Daemons to wake when a poll finds their job in another state (ended, suspended).
        self._watchers: dict[str, set[asyncio.Event]] = {}

    def wake_on_change(self, name: str, event: asyncio.Event) -> None:
        """Set `event` as soon as a poll sees job `name` change state: the object's next
        cycle then follows at once instead of at the end of its own sleep."""
        self._watchers.setdefault(name, set()).add(event)

    async def get(self, name: str) -> AsrJob:
        self._wanted[name] = time.monotonic()
        for _ in range(2):
            cached = self._cache.get(name)
            if cached is not None and time.monotonic() - cached[0] < self._min_interval:
                return cached[1]
            await self._refresher.run()
        cached = self._cache.get(name)
        if cached is None:
            raise LookupError(name)
        return cached[1]

    async def _poll(self) -> None:
        horizon = time.monotonic() - 10 * max(self._min_interval, 1.0)
        self._wanted = {n: t for n, t in self._wanted.items() if t >= horizon}
        names = list(self._wanted)
        jobs = await self._gateway.poll_jobs(names)
        now = time.monotonic()
        before = {n: c[1].state for n, c in self._cache.items()}
        for name, job in jobs.items():
            self._cache[name] = (now, job)
        for name in [n for n in self._cache if n not in self._wanted]:
            del self._cache[name]
        for name in list(self._watchers):
            seen = jobs.get(name)
            if name not in self._wanted or seen is None or seen.state != before.get(name):
                for event in self._watchers.pop(name):
                    event.set()


@dataclass
class VaultClients:
    fingerprint: str
    checked_at: float
    asr: AsrGateway
    hosts: dict[str, HyperVGateway]
    host_errors: dict[str, str]
    poll_interval: float
    # How long an unanswered request may still reach ASR (seconds); see CallLimits.
    request_lifetime: float
    jobs: JobPoller
    items: ItemCache
    plans: ListCache[AsrPlan]
    # The objects at rest on this vault, woken by one sweep of the shared lists.
    resting: Resting
    files: list[str] = field(default_factory=list)
    # The RecoveryPlan objects of each namespace, listed once per interval for everyone.
    plan_objects: dict[str, ListCache[dict[str, Any]]] = field(default_factory=dict)
    # (namespace, vault) -> (the two lists it was computed from, the managed plans).
    owners_memo: dict[tuple[str, str], tuple[object, object, Any]] = field(default_factory=dict)

    def plan_objects_in(self, namespace: str) -> ListCache[dict[str, Any]]:
        cache = self.plan_objects.get(namespace)
        if cache is None:

            async def load() -> list[dict[str, Any]]:
                return await kube.list_objects(RECOVERY_PLAN_PLURAL, namespace)

            cache = ListCache(load, min_interval=max(self.poll_interval / 2, 0.2))
            self.plan_objects[namespace] = cache
        return cache

    async def close(self) -> None:
        await self.resting.close()  # they cycle now, on the vault's new clients
        await self.asr.close()
        for path in self.files:
            with contextlib.suppress(OSError):
                os.unlink(path)


class Registry:
    """Builds and caches VaultClients; rebuilds them when the vault or a Secret changes."""

    def __init__(self, limits: CallLimits | None = None) -> None:
        self.limits = limits or CallLimits()
        self._vaults: dict[tuple[str, str], VaultClients] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(self, namespace: str, name: str) -> VaultClients:
        key = (namespace, name)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            current = self._vaults.get(key)
            if current is not None and time.monotonic() - current.checked_at < FINGERPRINT_TTL:
                return current
            body = await kube.get_object(VAULT_PLURAL, namespace, name)
            if body is None:
                raise VaultUnavailable(
                    f"{VAULT_KIND} {namespace}/{name} does not exist; create it or fix vaultRef"
                )
            try:
                spec = SiteRecoveryVaultSpec.model_validate(body.get("spec") or {})
            except ValidationError as e:  # admitted by an older CRD: say what to fix
                raise VaultUnavailable(
                    f"{VAULT_KIND} {namespace}/{name} is refused: {refusal(e)}"
                ) from e
            secrets = await self._secrets(namespace, spec)
            fingerprint = _fingerprint(spec, secrets)
            if current is not None and current.fingerprint == fingerprint:
                current.checked_at = time.monotonic()
                return current
            fresh = _build(spec, secrets, fingerprint, self.limits)
            self._vaults[key] = fresh
            if current is not None:
                await current.close()
            return fresh

    async def forget(self, namespace: str, name: str) -> None:
        current = self._vaults.pop((namespace, name), None)
        if current is not None:
            await current.close()

    async def close(self) -> None:
        for clients in self._vaults.values():
            await clients.close()
        self._vaults.clear()

    @staticmethod
    async def _secrets(
        namespace: str, spec: SiteRecoveryVaultSpec
    ) -> dict[str, tuple[dict[str, bytes], str]]:
        names: set[str] = set()
        if spec.authentication.secret_ref is not None:
            names.add(spec.authentication.secret_ref.name)
        if spec.ca_secret_ref is not None:
            names.add(spec.ca_secret_ref.name)
        for host in spec.hyper_v_hosts:
            names.add(host.credentials_secret_ref.name)
            if host.ca_secret_ref is not None:
                names.add(host.ca_secret_ref.name)
        out: dict[str, tuple[dict[str, bytes], str]] = {}
        for secret in sorted(names):
            try:
                out[secret] = await kube.read_secret(namespace, secret)
            except kube.KubeError as e:
                raise VaultUnavailable(
                    f"Secret {namespace}/{secret} cannot be read ({e}); create it or fix "
                    "the reference"
                ) from None
        return out


def _fingerprint(spec: SiteRecoveryVaultSpec, secrets: dict[str, tuple[Any, str]]) -> str:
    text = spec.model_dump_json() + "".join(f"{k}={rv}" for k, (_, rv) in sorted(secrets.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _key(secrets: dict[str, tuple[dict[str, bytes], str]], secret: str, key: str) -> bytes:
    data = secrets[secret][0]
    if key not in data:
        raise VaultUnavailable(f"Secret {secret} has no key {key!r}")
    return data[key]


def _write_pem(pem: bytes, files: list[str]) -> str:
    fd, path = tempfile.mkstemp(prefix="asr-operator-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    files.append(path)
    return path


def _build(
    spec: SiteRecoveryVaultSpec,
    secrets: dict[str, tuple[dict[str, bytes], str]],
    fingerprint: str,
    limits: CallLimits,
) -> VaultClients:
    files: list[str] = []
    auth = spec.authentication
    secret_name = auth.secret_ref.name if auth.secret_ref else ""
    material: dict[str, Any] = {}
    if auth.type == ApiAuthType.CLIENT_SECRET:
        material["client_secret"] = _key(secrets, secret_name, "clientSecret").decode()
    elif auth.type == ApiAuthType.CLIENT_CERTIFICATE:
        material["certificate_pem"] = _key(secrets, secret_name, "clientCertificate")
    ca_bundle = ""
    if spec.ca_secret_ref is not None:
        ca_bundle = _write_pem(_key(secrets, spec.ca_secret_ref.name, "ca.crt"), files)
    config = AsrConfig(
        subscription_id=spec.subscription_id,
        resource_group=spec.resource_group,
        vault_name=spec.vault_name,
        auth=AuthConfig(
            type=AuthType(auth.type.value),
            tenant_id=auth.tenant_id or "",
            client_id=auth.client_id or "",
            **material,
        ),
        cloud=spec.cloud.value,
        endpoint=spec.endpoint,
        authority_host=auth.authority_host or "",
        ca_bundle=ca_bundle,
        read_timeout=limits.read_timeout,
    )
    gateway = AsrGateway(config)
    hosts: dict[str, HyperVGateway] = {}
    host_errors: dict[str, str] = {}
    for host in spec.hyper_v_hosts:
        creds = host.credentials_secret_ref.name
        try:
            ca_path = None
            if host.ca_secret_ref is not None:
                ca_path = _write_pem(_key(secrets, host.ca_secret_ref.name, "ca.crt"), files)
            hosts[host.name] = HyperVGateway(
                WinRMConfig(
                    address=host.address,
                    username=_key(secrets, creds, "username").decode(),
                    password=_key(secrets, creds, "password").decode(),
                    name=host.name,
                    port=host.port,
                    transport=host.transport.value,
                    https=host.scheme == WinRMScheme.HTTPS,
                    verify_tls=not host.insecure_skip_tls_verify,
                    ca_path=ca_path,
                )
            )
        except (VaultUnavailable, HyperVError) as e:
            host_errors[host.name] = str(e)
    poll = float(spec.poll_interval_seconds)
    items = ItemCache(gateway, min_interval=max(poll / 2, 0.2))
    return VaultClients(
        fingerprint=fingerprint,
        checked_at=time.monotonic(),
        asr=gateway,
        hosts=hosts,
        host_errors=host_errors,
        poll_interval=poll,
        request_lifetime=limits.request_lifetime,
        jobs=JobPoller(gateway, min_interval=max(poll / 2, 0.2)),
        items=items,
        plans=ListCache(gateway.list_plans, min_interval=max(poll / 2, 0.2)),
        # Once per poll interval: the pace at which ASR's state is looked at, at rest.
        resting=Resting(items.items, interval=max(poll, 0.2)),
        files=files,
    )
