"""The operator killed (SIGKILL) at chosen points of a failover and started again: status is
its only memory, it re-attaches to the job, and ASR sees exactly one failover call.
"""

from __future__ import annotations

from typing import Any

import pytest

from asr_operator.sim.asr import FaultRule
from tests.e2e.conftest import Cluster, Operator, asr_jobs, wait_until

ONE_FAILOVER = [("plannedFailover", "Succeeded")]


def operation(status: dict[str, Any]) -> dict[str, Any]:
    return dict(status.get("operation") or {})


def test_killed_right_after_the_intent_is_written(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    # ASR takes 3 s to answer the action: the operator dies while the call is in flight.
    dc.asr.inject(FaultRule(kind="slow", operation="items.plannedFailover", delay=3.0))
    cluster.create_pvm("web01", activeSite="Azure")
    status = cluster.wait_for(
        "web01",
        lambda s: operation(s) and not operation(s)["submitted"],
        what="the intent (operation, submitted false)",
    )
    assert not operation(status).get("jobName"), status
    wait_until(lambda: dc.asr.calls["items.plannedFailover"] == 1, what="the call to reach ASR")
    operator.kill()
    assert not operation(cluster.status("web01")).get("submitted")
    wait_until(lambda: asr_jobs(dc, "web01"), what="ASR to create the job")

    operator.start()
    cluster.wait_phase("web01", "AwaitingCommit")
    assert dc.asr.calls["items.plannedFailover"] == 1
    assert asr_jobs(dc, "web01") == ONE_FAILOVER
    reasons = {r for _, r, _ in cluster.events("web01")}
    assert "Reattached" in reasons, reasons


@pytest.mark.time_scale(0.6)
def test_killed_while_the_job_runs(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    cluster.create_pvm("web01", activeSite="Azure", failover={"commit": "Automatic"})
    cluster.wait_for(
        "web01",
        lambda s: operation(s).get("submitted") and operation(s).get("type") == "Failover",
        what="a submitted failover",
    )
    operator.kill()
    assert asr_jobs(dc, "web01") == [("plannedFailover", "InProgress")]

    operator.start()
    cluster.wait_phase("web01", "FailedOver")
    cluster.wait_ready("web01")
    assert dc.asr.calls["items.plannedFailover"] == 1
    assert dc.asr.calls["items.failoverCommit"] == 1
    history = [(h["type"], h["result"]) for h in reversed(cluster.status("web01")["history"])]
    assert history == [("Failover", "Succeeded"), ("Commit", "Succeeded")]


@pytest.mark.time_scale(0.3)
def test_killed_after_the_job_ended_before_status_recorded_it(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    cluster.create_pvm("web01", activeSite="Azure")
    cluster.wait_for("web01", lambda s: operation(s).get("submitted"), what="a submitted failover")
    operator.kill()
    wait_until(lambda: asr_jobs(dc, "web01") == ONE_FAILOVER, what="the job to end in ASR")
    recorded = cluster.status("web01")
    assert operation(recorded)["jobState"] != "Succeeded", recorded  # status does not know yet
    assert not recorded.get("history")

    operator.start()
    status = cluster.wait_phase("web01", "AwaitingCommit")
    assert [(h["type"], h["result"]) for h in status["history"]] == [("Failover", "Succeeded")]
    assert dc.asr.calls["items.plannedFailover"] == 1
    assert asr_jobs(dc, "web01") == ONE_FAILOVER


def test_stopped_with_a_vault_list_in_flight_it_exits_cleanly(
    cluster: Cluster, operator: Operator
) -> None:
    """SIGTERM (a rollout, a drain) while the shared item list is on its way: the list's
    error must not outlive its callers and end the operator with a traceback and exit 1."""
    dc = operator.dc
    cluster.create_pvm("web01")
    cluster.wait_ready("web01")
    lists = dc.asr.calls["items.list"]
    dc.asr.inject(FaultRule(kind="slow", operation="items.list", delay=5.0))
    wait_until(lambda: dc.asr.calls["items.list"] > lists, what="a list in flight")
    operator.stop()
    assert operator.proc is not None and operator.proc.returncode == 0, operator.logs()[-3000:]
    assert "Traceback" not in operator.logs()
