"""The metrics endpoint scraped during a failover: every family an SRE alerts on has its
series, with the values the objects' status and ASR say, and a deleted object's go away.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from asr_operator.sim.asr import FaultRule
from asr_operator.sim.stack import SimulatedDatacenter
from tests.e2e.conftest import NS, OPERATOR_ARGS, Cluster, Operator, wait_until

Samples = dict[str, list[tuple[dict[str, str], float]]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def of(samples: Samples, metric: str, **labels: str) -> list[float]:
    return [v for got, v in samples.get(metric, []) if labels.items() <= got.items()]


def test_every_family_during_a_failover(dc: SimulatedDatacenter, tmp_path: Path) -> None:
    port = free_port()
    args = (*OPERATOR_ARGS, "--metrics-port", str(port), "--metrics-address", "127.0.0.1")
    operator = Operator(dc, tmp_path, args)
    # One throttled read: counted by code, and the wait for its Retry-After.
    dc.asr.inject(FaultRule(kind="status", status=429, method="GET", count=1))
    operator.start()
    cluster = Cluster(dc)
    try:
        cluster.create_pvm("app01")  # stays Protected: RPO and health
        cluster.create_pvm("ghost01")  # ASR has no such item: Stalled
        cluster.wait_phase("app01", "Protected")
        cluster.wait_stalled("ghost01", "ItemNotFound")
        cluster.create_pvm("web01", activeSite="Azure")
        cluster.wait_phase("web01", "FailingOver")
        pvm = {"kind": "ProtectedVM", "namespace": NS}
        during = scrape(port)
        assert of(during, "asr_operator_phase", name="web01", phase="FailingOver") == [1]
        assert len(of(during, "asr_operator_phase", name="web01")) == 1

        status = cluster.wait_for("web01", lambda s: s.get("awaitingApproval"), what="the gate")
        samples = wait_until(
            lambda: (
                (s := scrape(port))
                and of(s, "asr_operator_awaiting_approval", name="web01") == [1]
                and s
            ),
            what="the gate in the metrics",
        )
        web01, app01 = {**pvm, "name": "web01"}, {**pvm, "name": "app01"}
        assert of(samples, "asr_operator_phase", **web01, phase="AwaitingCommit") == [1]
        assert len(of(samples, "asr_operator_phase", **web01)) == 1
        assert of(samples, "asr_operator_phase", **app01, phase="Protected") == [1]
        since = of(samples, "asr_operator_awaiting_approval_since_timestamp_seconds", **web01)
        assert len(since) == 1 and abs(since[0] - time.time()) < 300
        assert of(samples, "asr_operator_awaiting_approval", **app01) == [0]
        assert of(samples, "asr_operator_rpo_seconds", **app01)[0] >= 0
        assert of(samples, "asr_operator_replication_health", **app01) == [0]
        assert of(samples, "asr_operator_last_successful_drill_timestamp_seconds", **web01) == [0]
        duration = of(
            samples,
            "asr_operator_last_operation_duration_seconds",
            **web01,
            type="Failover",
            result="Succeeded",
        )
        assert duration == [status["lastOperation"]["durationSeconds"]]
        assert of(samples, "asr_operator_last_operation_end_timestamp_seconds", **web01)
        assert not of(samples, "asr_operator_stalled", **web01)
        ghost = {**pvm, "name": "ghost01"}
        assert of(samples, "asr_operator_stalled", **ghost, reason="ItemNotFound") == [1]
        assert of(samples, "asr_operator_phase", **ghost, phase="Stalled") == [1]
        assert of(samples, "asr_operator_vault_ready", namespace=NS, name="vault-dr") == [1]
        assert of(samples, "asr_operator_leader") == [1]
        assert of(samples, "asr_operator_asr_calls_total", action="StartFailover") == [1]
        assert of(samples, "asr_operator_operations_total", type="Failover") == [1]
        assert of(samples, "asr_operator_operation_duration_seconds_count", type="Failover")
        assert of(samples, "asr_operator_reconcile_duration_seconds_count", kind="ProtectedVM")
        requests = "asr_operator_arm_requests_total"
        failover = of(samples, requests, method="POST", operation="plannedFailover")
        assert failover == [1]
        assert sum(of(samples, requests, method="GET", code="200")) > 0
        assert sum(of(samples, requests, code="429")) == 1
        assert sum(of(samples, "asr_operator_arm_throttle_wait_seconds_total")) > 0
        assert sum(of(samples, "asr_operator_job_polls_total")) > 0

        cluster.delete("app01")
        wait_until(lambda: not cluster.exists("app01"), what="app01 to go")
        gone = wait_until(
            lambda: (s := scrape(port)) and not of(s, "asr_operator_phase", name="app01") and s,
            what="app01's series to go",
        )
        for metric, values in gone.items():
            assert not [v for labels, v in values if labels.get("name") == "app01"], metric
    finally:
        cluster.client.close()
        operator.stop()
