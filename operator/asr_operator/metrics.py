"""Prometheus metrics of the operator (served by `asr-operator run --metrics-port`).

Per-object series (labels kind, namespace, name) are set from what a reconcile cycle
already holds, its observation and the status it decided: exporting them costs no
Kubernetes write and no ASR call. They go away with the object (`forget`). Every metric
and the alerts built on them are described in docs/metrics.md.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from asr_operator.api.conditions import ConditionType, get_condition
from asr_operator.api.operation import (
    HistoryEntry,
    OperationalStatus,
    OperationResult,
    OperationType,
)

if TYPE_CHECKING:
    from asr_operator.lifecycle.observation import Observation

PER_OBJECT = ("kind", "namespace", "name")

ASR_CALLS = Counter(
    "asr_operator_asr_calls_total",
    "ASR actions the operator sent, by action and outcome.",
    ["action", "outcome"],
)
OPERATIONS = Counter(
    "asr_operator_operations_total",
    "Operations that ended, by type and result.",
    ["type", "result"],
)
OPERATION_SECONDS = Histogram(
    "asr_operator_operation_duration_seconds",
    "Measured duration of operations (failover duration is the RTO).",
    ["type"],
    buckets=(30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400),
)
RECONCILE_SECONDS = Histogram(
    "asr_operator_reconcile_duration_seconds",
    "Wall time of one reconcile cycle (observe, decide, act, write status).",
    ["kind"],
)

LEADER = Gauge(
    "asr_operator_leader",
    "1 while this replica acts (holds the leader Lease, or runs without leader election); "
    "0 while it waits as a standby.",
)

# -- per object -------------------------------------------------------------------------

STALLED = Gauge(
    "asr_operator_stalled",
    "1 while a resource is Stalled and needs a human (reason: the Stalled condition's).",
    [*PER_OBJECT, "reason"],
)
RPO_SECONDS = Gauge(
    "asr_operator_rpo_seconds",
    "Recovery point objective as ASR last reported it (a RecoveryPlan: its worst member); "
    "live, unlike status.asr.rpoSeconds, which is refreshed only every 10 minutes or when "
    "the RPO enters another band.",
    PER_OBJECT,
)
REPLICATION_HEALTH = Gauge(
    "asr_operator_replication_health",
    "ASR's replicationHealth: 0 Normal, 1 Warning, 2 Critical (a RecoveryPlan: its worst "
    "member); absent while ASR reports none.",
    PER_OBJECT,
)
PHASE = Gauge(
    "asr_operator_phase",
    "1 for the object's current phase (status.phase); one series per object.",
    [*PER_OBJECT, "phase"],
)
AWAITING_APPROVAL = Gauge(
    "asr_operator_awaiting_approval",
    "1 while an approval gate is open (status.awaitingApproval), else 0.",
    PER_OBJECT,
)
AWAITING_APPROVAL_SINCE = Gauge(
    "asr_operator_awaiting_approval_since_timestamp_seconds",
    "Unix time the open approval gate opened, by the action it gates; absent when none.",
    [*PER_OBJECT, "action"],
)
LAST_DRILL = Gauge(
    "asr_operator_last_successful_drill_timestamp_seconds",
    "Unix time the last successful test failover (drill) in status.history ended; "
    "0 when the history holds none.",
    PER_OBJECT,
)
LAST_OPERATION_SECONDS = Gauge(
    "asr_operator_last_operation_duration_seconds",
    "Duration of the object's last ended operation, by its type and result.",
    [*PER_OBJECT, "type", "result"],
)
LAST_OPERATION_END = Gauge(
    "asr_operator_last_operation_end_timestamp_seconds",
    "Unix time the object's last ended operation ended, by its type and result.",
    [*PER_OBJECT, "type", "result"],
)

# -- per vault --------------------------------------------------------------------------

VAULT_READY = Gauge(
    "asr_operator_vault_ready",
    "1 while the SiteRecoveryVault's ARM check passes (its Ready condition), else 0.",
    ["namespace", "name"],
)
ARM_REQUESTS = Counter(
    "asr_operator_arm_requests_total",
    "HTTP requests (each attempt, retries included) sent to ARM, by ASR vault, method, "
    "operation (the resource type or action the path ends in) and status code (429: "
    "throttled; 0: no answer).",
    ["vault", "method", "operation", "code"],
)
THROTTLE_WAIT_SECONDS = Counter(
    "asr_operator_arm_throttle_wait_seconds_total",
    "Seconds requests waited before going out, on the client-side pace or a 429's "
    "Retry-After, by ASR vault.",
    ["vault"],
)
JOB_POLLS = Counter(
    "asr_operator_job_polls_total",
    "Polls of running ASR jobs (each one list or get call serves every waiter), by vault.",
    ["vault"],
)

HEALTH = {"normal": 0, "warning": 1, "critical": 2}


class _OneOf:
    """Series whose extra labels change over an object's life (phase, reason, result).

    Keeps exactly one series per object: setting another label value removes the old one.
    """

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge
        self._current: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._lock = threading.Lock()  # the metrics endpoint reads from its own thread

    def set(self, obj: tuple[str, ...], extra: tuple[str, ...] | None, value: float) -> None:
        with self._lock:
            old = self._current.get(obj)
            if old is not None and old != extra:
                with contextlib.suppress(KeyError):
                    self.gauge.remove(*obj, *old)
            if extra is None:
                self._current.pop(obj, None)
                return
            self._current[obj] = extra
        self.gauge.labels(*obj, *extra).set(value)

    def forget(self, obj: tuple[str, ...]) -> None:
        self.set(obj, None, 0)


_PHASE = _OneOf(PHASE)
_STALLED = _OneOf(STALLED)
_APPROVAL_SINCE = _OneOf(AWAITING_APPROVAL_SINCE)
_LAST_SECONDS = _OneOf(LAST_OPERATION_SECONDS)
_LAST_END = _OneOf(LAST_OPERATION_END)
_VARIANTS = (_PHASE, _STALLED, _APPROVAL_SINCE, _LAST_SECONDS, _LAST_END)
_PLAIN = (RPO_SECONDS, REPLICATION_HEALTH, AWAITING_APPROVAL, LAST_DRILL)
# Per object: what its status series were last set from (see export_status).
_exported: dict[tuple[str, ...], tuple[Any, ...]] = {}


def export_observation(kind: str, namespace: str, name: str, obs: Observation) -> None:
    """What ASR reported this cycle: the live RPO and replication health."""
    obj = (kind, namespace, name)
    if obs.item is not None:
        items = [obs.item]
    elif obs.plan is not None:
        items = list(obs.members)
    else:
        return  # nothing read this cycle: keep what was last seen
    rpo = max((i.rpo_seconds for i in items if i.rpo_seconds is not None), default=None)
    _set_or_remove(RPO_SECONDS, obj, rpo)
    health = [HEALTH[h] for h in (i.replication_health.lower() for i in items) if h in HEALTH]
    _set_or_remove(REPLICATION_HEALTH, obj, max(health, default=None))


def export_status(kind: str, namespace: str, name: str, status: OperationalStatus) -> None:
    """What the object's status says: phase, Stalled, approval gate, drill, last operation.

    An idle object's status does not change between cycles: a fingerprint of what the
    series depend on skips the work then.
    """
    obj = (kind, namespace, name)
    last = status.last_operation
    gate = status.awaiting_approval
    stalled = get_condition(status.conditions, ConditionType.STALLED)
    stall = stalled.reason.value if stalled is not None and stalled.status == "True" else ""
    mark = (
        status.phase,
        stall,
        (gate.action, gate.since) if gate is not None else None,
        last.run_id if last is not None else "",
        tuple(h.run_id for h in status.history),
    )
    if _exported.get(obj) == mark:
        return
    _exported[obj] = mark
    _PHASE.set(obj, (str(status.phase),) if status.phase else None, 1)
    _STALLED.set(obj, (stall,) if stall else None, 1)
    AWAITING_APPROVAL.labels(*obj).set(1 if gate is not None else 0)
    if gate is not None:
        _APPROVAL_SINCE.set(obj, (gate.action.value,), gate.since.timestamp())
    else:
        _APPROVAL_SINCE.forget(obj)
    drills = [
        h.ended_at.timestamp()
        for h in _history(status)
        if h.type == OperationType.TEST_FAILOVER and h.result == OperationResult.SUCCEEDED
    ]
    LAST_DRILL.labels(*obj).set(max(drills, default=0.0))
    if last is not None:
        labels = (last.type.value, last.result.value)
        _LAST_SECONDS.set(obj, labels, last.duration_seconds)
        _LAST_END.set(obj, labels, last.ended_at.timestamp())


def _history(status: OperationalStatus) -> Iterable[HistoryEntry]:
    yield from status.history
    if status.last_operation is not None:
        yield status.last_operation


def _set_or_remove(gauge: Gauge, obj: tuple[str, ...], value: float | None) -> None:
    if value is None:
        with contextlib.suppress(KeyError):
            gauge.remove(*obj)
    else:
        gauge.labels(*obj).set(value)


def forget(kind: str, namespace: str, name: str) -> None:
    """Drop an object's per-object series when it goes away."""
    obj = (kind, namespace, name)
    _exported.pop(obj, None)
    for gauge in _PLAIN:
        with contextlib.suppress(KeyError):
            gauge.remove(*obj)
    for variant in _VARIANTS:
        variant.forget(obj)


def vault_checked(namespace: str, name: str, ready: bool) -> None:
    VAULT_READY.labels(namespace, name).set(1 if ready else 0)


def forget_vault(namespace: str, name: str) -> None:
    with contextlib.suppress(KeyError):
        VAULT_READY.remove(namespace, name)


def serve(port: int, address: str = "0.0.0.0") -> None:
    start_http_server(port, addr=address)
