"""Two operator replicas with leader election: only the Lease holder acts, and when it is
killed (SIGKILL) in the middle of a failover the standby takes the Lease after its
duration and finishes that failover with the one ASR call the first replica sent.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes.client

from asr_operator.sim.asr import FaultRule
from asr_operator.sim.asr.audit import resends
from asr_operator.sim.stack import SimulatedDatacenter
from tests.e2e.conftest import (
    NS,
    OPERATOR_ARGS,
    Cluster,
    Operator,
    asr_jobs,
    audit_findings,
    wait_until,
)

LEASE = "asr-operator"
# Short durations so the test does not wait 15 s; the order (retry < renew < duration)
# is what leader election's safety rests on, the values are the chart's scaled down.
ELECTION = ("--leader-election", "--lease-namespace", NS, "--lease-name", LEASE)
TIMING = ("--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "0.5")


def replica(dc: SimulatedDatacenter, workdir: Path, name: str) -> Operator:
    workdir.mkdir()
    args = (*OPERATOR_ARGS, *ELECTION, *TIMING, "--lease-identity", name)
    op = Operator(dc, workdir, args)
    op.start()  # a standby answers its liveness probe too
    return op


def holder(cluster: Cluster) -> str:
    leases = kubernetes.client.CoordinationV1Api(cluster.client)
    try:
        return str(leases.read_namespaced_lease(LEASE, NS).spec.holder_identity or "")
    except kubernetes.client.ApiException:
        return ""


def test_the_standby_finishes_the_failover_of_a_killed_leader_with_one_asr_call(
    dc: SimulatedDatacenter, cluster: Cluster, tmp_path: Path
) -> None:
    first = replica(dc, tmp_path / "a", "replica-a")
    wait_until(lambda: holder(cluster) == "replica-a", what="replica-a to take the Lease")
    second = replica(dc, tmp_path / "b", "replica-b")
    try:
        # ASR takes 3 s to answer the failover: the leader dies with the call in flight.
        dc.asr.inject(FaultRule(kind="slow", operation="items.plannedFailover", delay=3.0))
        cluster.create_pvm("web01", activeSite="Azure")
        wait_until(lambda: dc.asr.calls["items.plannedFailover"] == 1, what="the call")
        first.kill()
        assert "holding Lease" not in second.logs()  # the standby did nothing so far

        status = cluster.wait_phase("web01", "AwaitingCommit", timeout=120)
        assert holder(cluster) == "replica-b"
        assert "holding Lease" in second.logs()
        assert dc.asr.calls["items.plannedFailover"] == 1
        assert asr_jobs(dc, "web01") == [("plannedFailover", "Succeeded")]
        failovers = [w for w in dc.asr.writes if w.path.endswith("/plannedFailover")]
        assert len(failovers) == 1, failovers
        operations = [*reversed(status.get("history") or [])]
        assert resends("web01", operations, dc.asr.writes) == []
        assert audit_findings(dc, cluster, "web01", "web01") == []
    finally:
        second.stop()


def test_a_stopped_leader_hands_the_lease_over_at_once(
    dc: SimulatedDatacenter, cluster: Cluster, tmp_path: Path
) -> None:
    first = replica(dc, tmp_path / "a", "replica-a")
    wait_until(lambda: holder(cluster) == "replica-a", what="replica-a to take the Lease")
    second = replica(dc, tmp_path / "b", "replica-b")
    try:
        first.stop()  # SIGTERM: kopf stops, the Lease is released
        wait_until(lambda: holder(cluster) == "replica-b", timeout=10, what="the hand-over")
        cluster.create_pvm("web01", activeSite="Azure")
        cluster.wait_phase("web01", "AwaitingCommit", timeout=120)
        assert dc.asr.calls["items.plannedFailover"] == 1
    finally:
        second.stop()
