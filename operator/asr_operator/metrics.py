"""Prometheus metrics of the operator (served by `asr-operator run --metrics-port`)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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
STALLED = Gauge(
    "asr_operator_stalled",
    "1 while a resource is Stalled and needs a human.",
    ["kind", "namespace", "name", "reason"],
)
RPO_SECONDS = Gauge(
    "asr_operator_rpo_seconds",
    "Recovery point objective as ASR last reported it (a RecoveryPlan: its worst member); "
    "live, unlike status.asr.rpoSeconds, which is refreshed only every 10 minutes or when "
    "the RPO enters another band.",
    ["kind", "namespace", "name"],
)
RECONCILE_SECONDS = Histogram(
    "asr_operator_reconcile_duration_seconds",
    "Wall time of one reconcile cycle (observe, decide, act, write status).",
    ["kind"],
)


def forget(kind: str, namespace: str, name: str) -> None:
    """Drop an object's per-object series when it goes away."""
    with contextlib.suppress(KeyError):
        RPO_SECONDS.remove(kind, namespace, name)


def serve(port: int, address: str = "0.0.0.0") -> None:
    start_http_server(port, addr=address)
