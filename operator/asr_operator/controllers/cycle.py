"""The one controller cycle for every kind that runs ASR operations.

A daemon per object runs reconcile cycles at the pace the lifecycle asks for (never
sleeping inside a handler, never blocking on an ASR job); a spec change wakes it at
once. An object with nothing to do rests: it sleeps until the vault's sweep finds what
it decided on changed (`resting.py`), so idle objects cost one shared read, not a cycle
each. Each cycle: read the object, observe, decide, write status (the intent, before
any call), act, write status again. Deletion waits behind the finalizer for a running
job and lets go. What differs by kind is a `Kind`: its models, how it observes, its
lifecycle. Shared objects (the vault clients) live in kopf's memo.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import kopf
from pydantic import BaseModel, ValidationError

from asr_operator import metrics
from asr_operator.api.common import GROUP, VERSION, refusal
from asr_operator.api.conditions import ConditionType, Reason, get_condition
from asr_operator.api.operation import (
    ABANDON_ANNOTATION,
    REFRESH_ANNOTATION,
    OperationalStatus,
    Phase,
)
from asr_operator.azure.config import CallLimits
from asr_operator.controllers import journal, kube, perform
from asr_operator.controllers.clients import Registry, VaultClients, VaultUnavailable
from asr_operator.controllers.observe import RestCheck
from asr_operator.controllers.resting import REST_MAX, Resting
from asr_operator.controllers.status import merge_patch
from asr_operator.lifecycle.engine import Decision, readiness
from asr_operator.lifecycle.observation import Context, Observation
from asr_operator.lifecycle.steps import (
    Done,
    Event,
    Outcome,
    Probe,
    Release,
    ShutdownSourceVM,
    Stall,
    Step,
    Submit,
    Wait,
)

WRITE_RETRY = 5.0
REGISTRY_KEY = "registry"

SpecT = TypeVar("SpecT", bound=BaseModel)
StatusT = TypeVar("StatusT", bound=OperationalStatus)


@dataclass(frozen=True)
class Kind(Generic[SpecT, StatusT]):
    """What the cycle needs to know of one kind."""

    kind: str
    plural: str
    spec: type[SpecT]
    status: type[StatusT]
    vault_of: Callable[[SpecT], str]
    # (clients, spec, status, namespace, name, refresh annotation) -> what was observed
    observe: Callable[[VaultClients, SpecT, StatusT, str, str, str], Awaitable[Observation]]
    decide: Callable[[SpecT, StatusT, Observation, Context], Decision[StatusT]]
    record: Callable[
        [SpecT, StatusT, Step, Outcome, Context], tuple[StatusT, tuple[Event, ...], float]
    ]
    deletion: Callable[[StatusT, Observation, Context], Decision[StatusT]]
    # (clients, spec, decided status, observation, namespace, refresh annotation) -> how the
    # vault's sweep tells the object must cycle again, or None when it cannot rest.
    rest: Callable[[VaultClients, SpecT, StatusT, Observation, str, str], RestCheck | None]

    @functools.cached_property
    def known_status(self) -> frozenset[str]:
        """The status keys this version writes (once per kind, not per cycle)."""
        fields = self.status.model_fields
        return frozenset(fields) | {f.alias for f in fields.values() if f.alias}

    def status_of(self, body: dict[str, Any]) -> tuple[dict[str, Any], StatusT]:
        known = self.known_status
        raw = {k: v for k, v in (body.get("status") or {}).items() if k in known}
        try:
            return raw, self.status.model_validate(raw)
        except ValidationError:
            return raw, self.status()


def registry(memo: kopf.Memo) -> Registry:
    """The vault clients every controller shares, made once at startup (see `run.py`)."""
    found = memo.get(REGISTRY_KEY)
    assert isinstance(found, Registry), "the startup handler puts the registry in the memo"
    return found


def _now() -> datetime:
    return datetime.now(UTC)


def approver(body: dict[str, Any]) -> str:
    """The field manager that last set spec.approve (who approved), when the API says."""
    latest: tuple[str, str] = ("", "")
    for entry in body["metadata"].get("managedFields") or []:
        spec = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        if "f:approve" in spec and str(entry.get("time") or "") >= latest[0]:
            latest = (str(entry.get("time") or ""), str(entry.get("manager") or ""))
    return latest[1]


@dataclass
class Seen:
    """The version of the object one daemon last wrote or read, to trust kopf's live body.

    kopf keeps the daemon's body up to date from the watch, so an idle cycle reads no
    object from the API. After a write of ours the watch may lag behind it: until the live
    body shows the version we know of, the cycle reads the object from the API instead,
    so it never decides on a status older than its own intent.
    """

    expect: str | None = None  # resourceVersion the live body must reach
    # (resourceVersion, spec, raw status, status) as parsed from that version: an idle
    # object's body does not change between cycles, so it is validated once, not per cycle.
    parsed: tuple[str, Any, dict[str, Any], Any] | None = None
    # The daemon's wake-up: set when the vault's job poll sees the followed job change,
    # or when the vault's sweep finds that what a resting object decided on changed.
    wake: asyncio.Event | None = None
    # Where the object rests, while it does.
    resting: Resting | None = None
    # metadata.generation of the body the last cycle decided on: a watch event with a
    # newer one wakes the object, even when kopf saw no update (a spec changed while the
    # object was being created counts as part of its creation).
    generation: int = 0

    def rest(self, resting: Resting, check: Callable[[], Awaitable[bool]]) -> None:
        assert self.wake is not None
        self.leave()
        resting.rest(self.wake, check)
        self.resting = resting
        self.parsed = None  # a resting object keeps no parsed model: it parses on waking

    def leave(self) -> None:
        if self.resting is not None and self.wake is not None:
            self.resting.leave(self.wake)
        self.resting = None

    def parse(self, kind: Kind[SpecT, StatusT], body: dict[str, Any]) -> tuple[SpecT, Any, Any]:
        """(spec, raw status, status) of this version of the body; raises ValidationError
        for a spec admitted by an older CRD."""
        version = _version(body)
        if self.parsed is not None and version and self.parsed[0] == version:
            return self.parsed[1], self.parsed[2], self.parsed[3]
        self.parsed = None
        spec = kind.spec.model_validate(body.get("spec") or {})
        raw, status = kind.status_of(body)
        if version:
            self.parsed = (version, spec, raw, status)
        return spec, raw, status


class Cycle(Generic[SpecT, StatusT]):
    """One reconcile of one object; holds what the cycle read and wrote."""

    def __init__(
        self,
        kind: Kind[SpecT, StatusT],
        body: dict[str, Any],
        seen: Seen | None = None,
        status: tuple[dict[str, Any], StatusT] | None = None,
    ) -> None:
        self.kind = kind
        self.body = body
        self.seen = seen
        self._ref = cast(Any, body)  # kopf.event takes any mapping with metadata
        self.namespace = body["metadata"]["namespace"]
        self.name = body["metadata"]["name"]
        self.raw, self.status = status if status is not None else kind.status_of(body)
        self.refresh = refresh_of(body)  # what observe and the decision both answer

    def context(self, clients: VaultClients | None) -> Context:
        annotations = self.body["metadata"].get("annotations") or {}
        return Context(
            generation=int(self.body["metadata"].get("generation") or 1),
            now=_now(),
            poll_interval=clients.poll_interval if clients else 30.0,
            abandon_wait=annotations.get(ABANDON_ANNOTATION, "").lower() == "true",
            approved_by=approver(self.body),
            request_lifetime=clients.request_lifetime if clients else CallLimits().request_lifetime,
            refresh=self.refresh,
        )

    async def write(self, status: StatusT) -> bool:
        """Persist status; False when it could not be written (then nothing else may happen)."""
        patch = merge_patch(self.raw, status.to_wire())
        if patch is None:
            return True
        try:
            stored = await kube.patch_status(self.kind.plural, self.namespace, self.name, patch)
        except kube.KubeError:
            return False
        if self.seen is not None:
            self.seen.expect = _version(stored)
            self.seen.parsed = None
        self.raw, self.status = self.kind.status_of(stored)
        return True

    def post(self, events: tuple[Event, ...]) -> None:
        for e in events:
            self._event(e.type.value, e.reason, e.message)

    def _event(self, type_: str, reason: str, message: str) -> None:
        kopf.event(self._ref, type=type_, reason=reason, message=message)
        journal.event(
            self.kind.kind, self.namespace, self.name, self.status, type_, reason, message
        )

    def post_transition(self, before: StatusT, after: StatusT) -> None:
        if before.phase == after.phase and _stall_reason(before) == _stall_reason(after):
            return
        stalled = get_condition(after.conditions, ConditionType.STALLED)
        if stalled is not None and stalled.status == "True":
            self._event("Warning", stalled.reason.value, stalled.message)
        else:
            ready = get_condition(after.conditions, ConditionType.READY)
            self._event("Normal", str(after.phase), ready.message if ready else "")


def _stall_reason(status: OperationalStatus) -> str:
    stalled = get_condition(status.conditions, ConditionType.STALLED)
    return stalled.reason.value if stalled is not None and stalled.status == "True" else ""


def _delay(step: Step) -> float:
    if isinstance(step, Wait):
        return step.delay
    if isinstance(step, Stall | Done):
        return step.recheck
    return 1.0


def _version(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("resourceVersion") or "")


async def _current(
    kind: Kind[SpecT, StatusT],
    namespace: str,
    name: str,
    live: Mapping[str, Any] | None,
    seen: Seen,
) -> dict[str, Any] | None:
    """The object: kopf's live body once it caught up with us, else read from the API."""
    if live is not None:
        body = dict(live)  # kopf swaps in each new body whole: this is one version
        if seen.expect is None or _version(body) == seen.expect:
            seen.expect = None
            return body
    read = await kube.get_object(kind.plural, namespace, name)
    seen.expect = _version(read) if read is not None and live is not None else None
    return read


async def reconcile(
    kind: Kind[SpecT, StatusT],
    vaults: Registry,
    namespace: str,
    name: str,
    live: Mapping[str, Any] | None = None,
    seen: Seen | None = None,
) -> float:
    """One cycle; returns the seconds until the next one."""
    seen = seen if seen is not None else Seen()
    seen.leave()
    body = await _current(kind, namespace, name, live, seen)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return 30.0
    seen.generation = int(body["metadata"].get("generation") or 0)
    try:
        spec, raw, status = seen.parse(kind, body)
    except ValidationError as e:  # admitted by an older CRD: stall before acting, say why
        await _refuse_spec(kind, body, refusal(e), seen)
        return 300.0
    cycle = Cycle(kind, body, seen, (raw, status))
    clients: VaultClients | None = None
    try:
        clients = await vaults.get(namespace, kind.vault_of(spec))
    except VaultUnavailable as e:
        obs = Observation(vault_ready=False, vault_message=str(e))
    if clients is not None:
        obs = await kind.observe(clients, spec, cycle.status, namespace, name, cycle.refresh)
        metrics.export_observation(kind.kind, namespace, name, obs)
        if obs.job is not None and not obs.job.state.terminal and seen.wake is not None:
            clients.jobs.wake_on_change(obs.job.name, seen.wake)
    ctx = cycle.context(clients)
    before = cycle.status
    decision = kind.decide(spec, cycle.status, obs, ctx)
    if not await cycle.write(decision.status):
        return WRITE_RETRY  # the intent is not persisted: act on nothing
    journal.decision(kind.kind, namespace, name, before, decision.status, decision.step)
    cycle.post(decision.events)
    cycle.post_transition(before, decision.status)
    metrics.export_status(kind.kind, namespace, name, decision.status)
    _count_completions(before, decision.status)
    step = decision.step
    outcome: Outcome | None = None
    target = obs.plan or obs.item
    if isinstance(step, Submit) and clients is not None and target is not None:
        op = decision.status.operation
        intended = op.action.target if op is not None and op.action is not None else target.id
        outcome = await perform.submit(clients, target, intended, step.action, step.request_id)
        metrics.ASR_CALLS.labels(type(step.action).__name__, type(outcome).__name__).inc()
    elif isinstance(step, Probe):
        outcome = await perform.probe(step)
    elif isinstance(step, ShutdownSourceVM) and clients is not None:
        outcome = await perform.shutdown(clients, step)
    if outcome is None:
        if isinstance(step, Done) and clients is not None and seen.wake is not None:
            check = kind.rest(clients, spec, decision.status, obs, namespace, ctx.refresh)
            if check is not None:
                seen.rest(clients.resting, _exporting(kind.kind, namespace, name, check))
                return REST_MAX
        return _delay(step)
    journal.outcome(kind.kind, namespace, name, cycle.status, step, outcome)
    status, events, delay = kind.record(spec, cycle.status, step, outcome, ctx)
    if not await cycle.write(status):
        return WRITE_RETRY
    cycle.post(events)
    metrics.export_status(kind.kind, namespace, name, status)
    return delay


def _exporting(
    kind: str, namespace: str, name: str, check: RestCheck
) -> Callable[[], Awaitable[bool]]:
    """The rest check, keeping the live metrics (RPO, health) current while nothing changed."""

    async def unchanged() -> bool:
        obs = await check()
        if obs is None:
            return False
        metrics.export_observation(kind, namespace, name, obs)
        return True

    return unchanged


async def _refuse_spec(
    kind: Kind[SpecT, StatusT], body: dict[str, Any], message: str, seen: Seen
) -> None:
    cycle = Cycle(kind, body, seen)
    ctx = cycle.context(None)
    before = cycle.status
    text = f"The operator refuses this spec and does nothing until it is fixed: {message}"
    status = readiness(before, ctx, Reason.INVALID_SPEC, text[:2000], False, True)
    status = status.model_copy(
        update={"phase": Phase.STALLED, "observed_generation": ctx.generation}
    )
    if await cycle.write(status):
        cycle.post_transition(before, status)
        metrics.export_status(kind.kind, cycle.namespace, cycle.name, status)


def _count_completions(before: OperationalStatus, after: OperationalStatus) -> None:
    last = after.last_operation
    if last is None or (before.last_operation and before.last_operation.run_id == last.run_id):
        return
    metrics.OPERATIONS.labels(last.type.value, last.result.value).inc()
    metrics.OPERATION_SECONDS.labels(last.type.value).observe(last.duration_seconds)


async def run_daemon(
    kind: Kind[SpecT, StatusT],
    namespace: str,
    name: str,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    logger: Any,
    body: Mapping[str, Any] | None = None,
) -> None:
    """Reconcile until the object goes away; a spec change (`wake`) cuts a sleep short.

    `body` is kopf's live view of the object, kept current from the watch.
    """
    wake: asyncio.Event = memo.setdefault("wake", asyncio.Event())
    vaults = registry(memo)
    seen = Seen(wake=wake)
    memo["seen"] = seen
    try:
        while not stopped:
            wake.clear()
            started = time.monotonic()
            try:
                delay = await reconcile(kind, vaults, namespace, name, body, seen)
            except Exception:  # a bug must not kill the object's daemon for good
                logger.exception("reconcile of %s %s/%s failed", kind.kind, namespace, name)
                delay = 30.0
            metrics.RECONCILE_SECONDS.labels(kind.kind).observe(time.monotonic() - started)
            if delay > 0:
                await _sleep_until(delay, wake, stopped)
    finally:
        seen.leave()  # the object is gone or the operator stops: no sweep checks it now


async def _sleep_until(delay: float, wake: asyncio.Event, stopped: kopf.DaemonStopped) -> None:
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def wakes(memo: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """A watch event the object's daemon must see now, even if it rests: a spec newer
    than the one its last cycle decided on, or a refresh asked.

    This is the only wake on change: kopf's update handler would miss a change that
    lands before kopf handled the creation (the demo met it), and costs a PATCH of
    kopf's diff base per change (`run.VaultsOnlyDiffBase`).
    """
    seen = memo.get("seen")
    generation = int((body.get("metadata") or {}).get("generation") or 0)
    newer = isinstance(seen, Seen) and generation > seen.generation
    return newer or refresh_asked(body)


def refresh_of(body: Mapping[str, Any]) -> str:
    """The value of the object's `asr-operator.io/refresh` annotation ("" when none)."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(REFRESH_ANNOTATION, ""))


def refresh_asked(body: Mapping[str, Any]) -> bool:
    """The refresh annotation holds a value status has not answered yet.

    Annotations are not part of the generation, so a new value of
    `asr-operator.io/refresh` wakes a resting object through the watch event itself.
    """
    asked = refresh_of(body)
    return bool(asked) and asked != (body.get("status") or {}).get("lastHandledRefresh")


def wake(memo: kopf.Memo) -> None:
    """A spec change or a refresh wakes the object's daemon now instead of at its next tick."""
    event = memo.get("wake")
    if isinstance(event, asyncio.Event):
        event.set()


async def deleted(kind: Kind[SpecT, StatusT], memo: kopf.Memo, body: Any) -> None:
    """Keep the finalizer while an ASR job runs; never call ASR or Hyper-V."""
    raw = dict(body)
    _, status = kind.status_of(raw)
    obs = Observation()
    op = status.operation
    clients: VaultClients | None = None
    if op is not None and op.job_name:
        try:
            spec = kind.spec.model_validate(raw.get("spec") or {})
            clients = await registry(memo).get(raw["metadata"]["namespace"], kind.vault_of(spec))
            obs = Observation(job=await clients.jobs.get(op.job_name))
        except Exception:  # unknown job state keeps the wait; the annotation ends it
            obs = Observation()
    cycle = Cycle(kind, raw)
    decision = kind.deletion(status, obs, cycle.context(clients))
    await cycle.write(decision.status)
    cycle.post(decision.events)
    if isinstance(decision.step, Release):
        metrics.forget(kind.kind, raw["metadata"]["namespace"], raw["metadata"]["name"])
        return
    assert isinstance(decision.step, Wait)
    raise kopf.TemporaryError(decision.step.message, delay=decision.step.delay)


def register(kind: Kind[SpecT, StatusT], prefix: str) -> None:
    """kopf's handlers for one kind: a daemon per object, a wake on change, deletion.

    Handler ids are `<prefix>_daemon` and `<prefix>_deleted`: kopf keeps per-object
    progress under them, so they stay stable across versions.
    """

    @kopf.daemon(
        GROUP,
        VERSION,
        kind.plural,
        id=f"{prefix}_daemon",
        cancellation_backoff=1.0,
        cancellation_timeout=30.0,
    )
    async def daemon(
        namespace: str | None,
        name: str,
        memo: kopf.Memo,
        stopped: kopf.DaemonStopped,
        logger: Any,
        body: kopf.Body,
        **_: Any,
    ) -> None:
        assert namespace is not None  # the CRDs are namespaced
        await run_daemon(kind, namespace, name, memo, stopped, logger, body)

    @kopf.on.event(GROUP, VERSION, kind.plural)
    async def noticed(memo: kopf.Memo, body: kopf.Body, **_: Any) -> None:
        if wakes(memo, body):
            wake(memo)

    @kopf.on.delete(GROUP, VERSION, kind.plural, id=f"{prefix}_deleted")
    async def removed(memo: kopf.Memo, body: Any, **_: Any) -> None:
        await deleted(kind, memo, body)
