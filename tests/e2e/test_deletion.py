"""Deleting a ProtectedVM mid-failover: the finalizer keeps it while the ASR job runs (status
and an Event say why), nothing is cancelled, then it goes; an annotation abandons the wait.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Cluster, Operator, action_calls, asr_jobs, wait_until


def submitted(status: dict[str, Any]) -> bool:
    return bool((status.get("operation") or {}).get("submitted"))


def deleting(cluster: Cluster, name: str) -> dict[str, Any]:
    """Wait until the object is held for deletion and says why; returns its status."""

    def held(s: dict[str, Any]) -> bool:
        ready: dict[str, Any] = next(
            (c for c in s.get("conditions", []) if c["type"] == "Ready"), {}
        )
        return s.get("phase") == "Deleting" and ready.get("reason") == "Deleting"

    return cluster.wait_for(name, held, what="the Deleting phase")


@pytest.mark.time_scale(1.5)
def test_deletion_waits_for_the_running_job_and_never_cancels(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    cluster.create_pvm("web01", activeSite="Azure")
    cluster.wait_for("web01", submitted, what="a submitted failover")
    cluster.delete("web01")

    status = deleting(cluster, "web01")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    job = status["operation"]["jobName"]
    assert job in ready["message"] and "never cancels" in ready["message"], ready
    assert "asr-operator.io/abandon-wait=true" in ready["message"]
    assert cluster.get("web01")["metadata"]["deletionTimestamp"]
    said = wait_until(
        lambda: [m for _, r, m in cluster.events("web01") if r == "DeletionWaits"],
        what="an Event saying why the deletion waits",
    )
    assert len(said) == 1 and job in said[0], said
    assert asr_jobs(dc, "web01") == [("plannedFailover", "InProgress")]

    wait_until(lambda: not cluster.exists("web01"), timeout=30, what="the object to go")
    assert asr_jobs(dc, "web01") == [("plannedFailover", "Succeeded")]
    assert action_calls(dc) == {"items.plannedFailover": 1}  # no cancel, nothing else


@pytest.mark.time_scale(20)
def test_abandon_annotation_lets_it_go_at_once(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    cluster.create_pvm("web01", activeSite="Azure")
    cluster.wait_for("web01", submitted, what="a submitted failover")
    cluster.delete("web01")
    deleting(cluster, "web01")

    cluster.annotate("web01", {"asr-operator.io/abandon-wait": "true"})
    wait_until(lambda: not cluster.exists("web01"), timeout=15, what="the object to go")
    assert asr_jobs(dc, "web01") == [("plannedFailover", "InProgress")]  # left running in ASR
    assert action_calls(dc) == {"items.plannedFailover": 1}
    warnings = {r for t, r, _ in cluster.events("web01") if t == "Warning"}
    assert "DeletionAbandonedWait" in warnings, warnings
