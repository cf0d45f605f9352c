"""Exactly once on the wire: a request lost on the way, answered too late, or cut off by a
kill is never recorded as done with another operation's job, never sent twice after ASR
took it, and never followed by another operation while it may still land.

Each test ends with the audit: every history entry names a job ASR ran for that very
operation, and every job ASR ran is claimed by exactly one entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asr_operator.sim.asr import FaultRule
from asr_operator.sim.asr.throttle import BucketSpec, ThrottleLimits
from asr_operator.sim.stack import SimulatedDatacenter
from tests.e2e.conftest import (
    Cluster,
    Operator,
    asr_jobs,
    audit_findings,
    failover_point,
    recovery_points,
    wait_until,
)

NETWORK = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-dr-net"
    "/providers/Microsoft.Network/virtualNetworks/vnet-drill"
)
DRILL = {"networkId": NETWORK, "cleanupAfter": "10s"}


def history(status: dict[str, Any]) -> list[str]:
    """Operation types, oldest first."""
    return [h["type"] for h in reversed(status.get("history") or [])]


def reasons(cluster: Cluster, name: str) -> set[str]:
    return {r for _, r, _ in cluster.events(name)}


def one_drill_done(cluster: Cluster, name: str) -> None:
    cluster.create_pvm(name, testFailover={"requestId": "drill-1", **DRILL})
    cluster.wait_for(
        name,
        lambda s: history(s) == ["TestFailover", "TestFailoverCleanup"],
        what="the first drill and its cleanup",
    )


TWO_DRILLS = ["TestFailover", "TestFailoverCleanup"] * 2


def test_a_dropped_drill_request_is_sent_again_not_taken_for_the_last_drill(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    one_drill_done(cluster, "web01")
    # The connection drops before ASR takes the request: ASR creates no job. The earlier
    # drill's job, same item and action, minutes old, is not this request's.
    dc.asr.inject(FaultRule(kind="drop", operation="items.testFailover"))
    cluster.patch_spec("web01", {"testFailover": {"requestId": "drill-2"}})
    status = cluster.wait_for(
        "web01", lambda s: history(s) == TWO_DRILLS, timeout=120, what="the second drill"
    )
    assert status["testFailover"]["lastRequestId"] == "drill-2"
    assert asr_jobs(dc, "web01", "testFailover") == [("testFailover", "Succeeded")] * 2
    assert dc.asr.calls["items.testFailover"] == 3  # drill 1, the dropped one, its resend
    assert {"OutcomeUncertain", "Resubmitting"} <= reasons(cluster, "web01")
    assert audit_findings(dc, cluster, "web01", "web01") == []


def test_a_dropped_change_of_recovery_point_is_applied_in_asr_before_status_says_so(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    cluster.create_pvm("web01", activeSite="Azure")
    cluster.wait_phase("web01", "AwaitingCommit")
    older = [n for n, _ in recovery_points(dc, "web01")][-3]
    dc.asr.inject(FaultRule(kind="drop", operation="items.applyRecoveryPoint"))
    cluster.patch_spec("web01", {"failover": {"recoveryPoint": older}})
    status = cluster.wait_for(
        "web01",
        lambda s: s.get("appliedRecoveryPoint") == older and s.get("awaitingApproval"),
        timeout=120,
        what="the recovery point applied",
    )
    assert failover_point(dc, "web01") == older  # ASR's item agrees with status
    assert status["lastOperation"]["type"] == "ChangeRecoveryPoint"
    assert asr_jobs(dc, "web01", "applyRecoveryPoint") == [("applyRecoveryPoint", "Succeeded")]
    assert dc.asr.calls["items.applyRecoveryPoint"] == 2
    assert audit_findings(dc, cluster, "web01", "web01") == []


def test_killed_during_a_throttling_storm_submits_the_drill_not_the_previous_job(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    one_drill_done(cluster, "web01")
    # Every write is refused with 429 while the drill's intent is held; the operator dies.
    dc.asr.sim.set_throttle_limits(ThrottleLimits(writes=BucketSpec(0, 1)))
    cluster.patch_spec("web01", {"testFailover": {"requestId": "drill-2"}})
    wait_until(lambda: dc.asr.calls["throttled.writes"] >= 1, what="a refused write")
    assert (cluster.status("web01").get("operation") or {}).get("type") == "TestFailover"
    operator.kill()
    dc.asr.sim.set_throttle_limits(ThrottleLimits())
    operator.start()
    cluster.wait_for(
        "web01", lambda s: history(s) == TWO_DRILLS, timeout=120, what="the second drill"
    )
    assert asr_jobs(dc, "web01", "testFailover") == [("testFailover", "Succeeded")] * 2
    assert audit_findings(dc, cluster, "web01", "web01") == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_commit_that_reaches_asr_late_is_followed_not_sent_again(
    dc: SimulatedDatacenter, cluster: Cluster, tmp_path: Path
) -> None:
    # Production bounds, shortened: ARM answers within 5 s or the request is unanswered,
    # and an unanswered request may still act for 100 s after it was sent.
    operator = Operator(dc, tmp_path, ("--arm-timeout", "5", "--request-lifetime", "100"))
    operator.start()
    try:
        cluster.create_pvm("web01", activeSite="Azure")
        cluster.wait_phase("web01", "AwaitingCommit")
        # The commit reaches ASR 70 s after it was sent: long after the client gave up, and
        # after the 60 s in which a request refused without a job would be sent again.
        dc.asr.inject(FaultRule(kind="slow", operation="items.failoverCommit", delay=70.0))
        cluster.approve_pending("web01")
        wait_until(lambda: "OutcomeUncertain" in reasons(cluster, "web01"), 30, "the lost answer")
        status = cluster.status("web01")
        assert status["operation"]["answer"] == "Lost" and status["phase"] == "Committing"
        status = cluster.wait_phase("web01", "FailedOver", timeout=150)
        assert dc.asr.calls["items.failoverCommit"] == 1  # followed, never sent twice
        assert asr_jobs(dc, "web01", "failoverCommit") == [("failoverCommit", "Succeeded")]
        assert "Reattached" in reasons(cluster, "web01")
        assert audit_findings(dc, cluster, "web01", "web01") == []
    finally:
        operator.stop()
