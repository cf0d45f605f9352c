"""ProtectedVM: kopf glue around the lifecycle.

A daemon per object runs reconcile cycles at the pace the lifecycle asks for (never
sleeping inside a handler, never blocking on an ASR job); a spec change wakes it at
once. Each cycle: read the object, observe, decide, write status (the intent, before
any call), act, write status again. Deletion waits for a running job and lets go.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, cast

import kopf
from pydantic import ValidationError

from asr_operator import metrics
from asr_operator.api.common import GROUP, VERSION
from asr_operator.api.conditions import ConditionType, get_condition
from asr_operator.api.protectedvm import (
    ABANDON_ANNOTATION,
    KIND,
    PLURAL,
    ProtectedVMSpec,
    ProtectedVMStatus,
)
from asr_operator.controllers import kube, perform
from asr_operator.controllers.clients import Registry, VaultClients, VaultUnavailable
from asr_operator.controllers.observe import observe
from asr_operator.controllers.status import merge_patch
from asr_operator.lifecycle import protectedvm as lifecycle
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

REGISTRY = Registry()
WRITE_RETRY = 5.0
_KNOWN_STATUS = set(ProtectedVMStatus.model_fields) | {
    f.alias for f in ProtectedVMStatus.model_fields.values() if f.alias
}


def _now() -> datetime:
    return datetime.now(UTC)


def _status_of(body: dict[str, Any]) -> tuple[dict[str, Any], ProtectedVMStatus]:
    raw = {k: v for k, v in (body.get("status") or {}).items() if k in _KNOWN_STATUS}
    try:
        return raw, ProtectedVMStatus.model_validate(raw)
    except ValidationError:
        return raw, ProtectedVMStatus()


class Cycle:
    """One reconcile of one object; holds what the cycle read and wrote."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self._ref = cast(Any, body)  # kopf.event takes any mapping with metadata
        self.namespace = body["metadata"]["namespace"]
        self.name = body["metadata"]["name"]
        self.raw, self.status = _status_of(body)

    def context(self, clients: VaultClients | None) -> Context:
        annotations = self.body["metadata"].get("annotations") or {}
        return Context(
            generation=int(self.body["metadata"].get("generation") or 1),
            now=_now(),
            poll_interval=clients.poll_interval if clients else 30.0,
            abandon_wait=annotations.get(ABANDON_ANNOTATION, "").lower() == "true",
        )

    async def write(self, status: ProtectedVMStatus) -> bool:
        """Persist status; False when it could not be written (then nothing else may happen)."""
        wire = status.to_wire()
        patch = merge_patch(self.raw, wire)
        if patch is None:
            return True
        try:
            stored = await kube.patch_status(PLURAL, self.namespace, self.name, patch)
        except kube.KubeError:
            return False
        self.raw, self.status = _status_of(stored)
        return True

    def post(self, events: tuple[Event, ...]) -> None:
        for e in events:
            kopf.event(self._ref, type=e.type.value, reason=e.reason, message=e.message)

    def post_transition(self, before: ProtectedVMStatus, after: ProtectedVMStatus) -> None:
        if before.phase == after.phase and _stall_reason(before) == _stall_reason(after):
            return
        stalled = get_condition(after.conditions, ConditionType.STALLED)
        if stalled is not None and stalled.status == "True":
            kopf.event(
                self._ref, type="Warning", reason=stalled.reason.value, message=stalled.message
            )
        else:
            ready = get_condition(after.conditions, ConditionType.READY)
            message = ready.message if ready else ""
            kopf.event(self._ref, type="Normal", reason=str(after.phase), message=message)
        reason = _stall_reason(after)
        if _stall_reason(before):
            metrics.STALLED.remove(KIND, self.namespace, self.name, _stall_reason(before))
        if reason:
            metrics.STALLED.labels(KIND, self.namespace, self.name, reason).set(1)


def _stall_reason(status: ProtectedVMStatus) -> str:
    stalled = get_condition(status.conditions, ConditionType.STALLED)
    return stalled.reason.value if stalled is not None and stalled.status == "True" else ""


def _delay(step: Step) -> float:
    if isinstance(step, Wait):
        return step.delay
    if isinstance(step, Stall | Done):
        return step.recheck
    return 1.0


async def reconcile(namespace: str, name: str) -> float:
    """One cycle; returns the seconds until the next one."""
    body = await kube.get_object(PLURAL, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return 30.0
    try:
        spec = ProtectedVMSpec.model_validate(body.get("spec") or {})
    except ValidationError as e:
        kopf.event(cast(Any, body), type="Warning", reason="InvalidSpec", message=str(e)[:1000])
        return 300.0
    cycle = Cycle(body)
    clients: VaultClients | None = None
    try:
        clients = await REGISTRY.get(namespace, spec.vault_ref.name)
    except VaultUnavailable as e:
        obs = Observation(vault_ready=False, vault_message=str(e))
    if clients is not None:
        obs = await observe(clients, spec, cycle.status, lifecycle.wants(spec, cycle.status))
    ctx = cycle.context(clients)
    before = cycle.status
    decision = lifecycle.decide(spec, cycle.status, obs, ctx)
    if not await cycle.write(decision.status):
        return WRITE_RETRY  # the intent is not persisted: act on nothing
    cycle.post(decision.events)
    cycle.post_transition(before, decision.status)
    _count_completions(before, decision.status)
    step = decision.step
    outcome: Outcome | None = None
    if isinstance(step, Submit) and clients is not None and obs.item is not None:
        outcome = await perform.submit(clients, obs.item, step.action)
        metrics.ASR_CALLS.labels(type(step.action).__name__, type(outcome).__name__).inc()
    elif isinstance(step, Probe):
        outcome = await perform.probe(step)
    elif isinstance(step, ShutdownSourceVM) and clients is not None:
        outcome = await perform.shutdown(clients, step)
    if outcome is None:
        return _delay(step)
    status, events, delay = lifecycle.record(spec, cycle.status, step, outcome, ctx)
    if not await cycle.write(status):
        return WRITE_RETRY
    cycle.post(events)
    return delay


def _count_completions(before: ProtectedVMStatus, after: ProtectedVMStatus) -> None:
    last = after.last_operation
    if last is None or (before.last_operation and before.last_operation.run_id == last.run_id):
        return
    metrics.OPERATIONS.labels(last.type.value, last.result.value).inc()
    metrics.OPERATION_SECONDS.labels(last.type.value).observe(last.duration_seconds)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_backoff=1.0, cancellation_timeout=30.0)
async def protectedvm_daemon(
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    logger: Any,
    **_: Any,
) -> None:
    assert namespace is not None  # the CRD is namespaced
    wake: asyncio.Event = memo.setdefault("wake", asyncio.Event())
    while not stopped:
        wake.clear()
        started = time.monotonic()
        try:
            delay = await reconcile(namespace, name)
        except Exception:  # a bug must not kill the object's daemon for good
            logger.exception("reconcile of %s/%s failed", namespace, name)
            delay = 30.0
        metrics.RECONCILE_SECONDS.labels(KIND).observe(time.monotonic() - started)
        if delay > 0:
            await _sleep_until(delay, wake, stopped)


async def _sleep_until(delay: float, wake: asyncio.Event, stopped: kopf.DaemonStopped) -> None:
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


@kopf.on.update(GROUP, VERSION, PLURAL)
async def protectedvm_changed(memo: kopf.Memo, **_: Any) -> None:
    """A spec or annotation change wakes the daemon now instead of at its next tick."""
    wake = memo.get("wake")
    if isinstance(wake, asyncio.Event):
        wake.set()


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def protectedvm_deleted(namespace: str | None, name: str, body: Any, **_: Any) -> None:
    """Keep the finalizer while an ASR job runs; never call ASR or Hyper-V."""
    raw = dict(body)
    spec_raw = raw.get("spec") or {}
    _, status = _status_of(raw)
    obs = Observation()
    op = status.operation
    clients: VaultClients | None = None
    if op is not None and op.job_name:
        try:
            vault = str(spec_raw.get("vaultRef", {}).get("name"))
            clients = await REGISTRY.get(str(namespace), vault)
            obs = Observation(job=await clients.jobs.get(op.job_name))
        except Exception:  # unknown job state keeps the wait; the annotation ends it
            obs = Observation()
    cycle = Cycle(raw)
    decision = lifecycle.decide_deletion(status, obs, cycle.context(clients))
    await cycle.write(decision.status)
    cycle.post(decision.events)
    if isinstance(decision.step, Release):
        return
    assert isinstance(decision.step, Wait)
    raise kopf.TemporaryError(decision.step.message, delay=decision.step.delay)
