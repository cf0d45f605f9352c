"""Faults on the way: ARM throttling, 5xx, a lost 202, a job failing at a task, Hyper-V down.
Whatever happens on the wire, ASR runs the failover exactly once.
"""

from __future__ import annotations

from typing import Any

import pytest

from asr_operator.sim.asr import FaultRule, JobFailure
from asr_operator.sim.asr.throttle import BucketSpec, ThrottleLimits
from tests.e2e.conftest import (
    Cluster,
    Operator,
    asr_jobs,
    only_allowing,
    set_item_phase,
    stalled,
    wait_until,
)

ONE_FAILOVER = [("plannedFailover", "Succeeded")]


def reasons(cluster: Cluster, name: str) -> set[str]:
    return {r for _, r, _ in cluster.events(name)}


def ready_message(status: dict[str, Any]) -> str:
    return next((c["message"] for c in status.get("conditions", []) if c["type"] == "Ready"), "")


def test_throttling_storm_defers_the_failover_which_happens_once(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    # Every write is refused with 429 and Retry-After: 1 while the storm lasts.
    dc.asr.sim.set_throttle_limits(ThrottleLimits(writes=BucketSpec(0, 1)))
    cluster.create_pvm("web01", activeSite="Azure")
    # The gateway re-sends a 429 after Retry-After a few times; a longer storm reaches the
    # lifecycle, which drops the intent (ASR created no job) and tries again later.
    wait_until(lambda: "Deferred" in reasons(cluster, "web01"), what="the deferred failover")
    assert dc.asr.calls["throttled.writes"] >= 4
    assert asr_jobs(dc, "web01") == []
    dc.asr.sim.set_throttle_limits(ThrottleLimits())  # the storm passes

    cluster.wait_phase("web01", "AwaitingCommit")
    assert asr_jobs(dc, "web01") == ONE_FAILOVER
    assert [h["type"] for h in cluster.status("web01")["history"]] == ["Failover"]


def test_lost_202_is_reattached_not_resent(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    # ASR creates the job, then the connection drops before the 202 reaches the operator.
    dc.asr.inject(FaultRule(kind="lost202", operation="items.plannedFailover"))
    cluster.create_pvm("web01", activeSite="Azure")
    cluster.wait_phase("web01", "AwaitingCommit")
    assert dc.asr.calls["items.plannedFailover"] == 1
    assert asr_jobs(dc, "web01") == ONE_FAILOVER
    # The gateway found the job the lost call created; the user sees an ordinary failover.
    assert {"FailoverStarted", "FailoverSucceeded"} <= reasons(cluster, "web01")
    job = dc.asr.call(lambda: next(iter(dc.asr.sim.vault.jobs.values())).name)
    assert cluster.status("web01")["history"][0]["jobName"] == job


@pytest.mark.slow
def test_5xx_on_the_action_is_resent_only_after_checking(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    dc.asr.inject(FaultRule(kind="status", operation="items.plannedFailover", status=503))
    cluster.create_pvm("web01", activeSite="Azure")
    wait_until(
        lambda: "CallFailed" in reasons(cluster, "web01"),
        30,
        "the uncertain outcome",
    )
    status = cluster.status("web01")
    op = status["operation"]
    assert op["submitted"] is False, op  # the intent stays until a job is found or ruled out
    assert status["phase"] == "FailingOver"
    # No job appears in ASR: after the lookup grace (60 s) the call is sent once more.
    cluster.wait_phase("web01", "AwaitingCommit", timeout=100)
    assert dc.asr.calls["items.plannedFailover"] == 2
    assert asr_jobs(dc, "web01") == ONE_FAILOVER
    assert "Resubmitting" in reasons(cluster, "web01")


ASR_ERROR = "The replica disk could not be created in storage account drstore01."


@pytest.mark.slow
def test_failed_job_is_retried_when_asr_allows_it_again(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    dc.asr.fail_job(
        JobFailure(operation="plannedFailover", task=3, target="web01", message=ASR_ERROR)
    )
    cluster.create_pvm("web01", activeSite="Azure")
    status = cluster.wait_for(
        "web01", lambda s: s.get("lastOperation", {}).get("result") == "Failed", what="a failure"
    )
    assert ASR_ERROR in status["lastOperation"]["error"]
    assert any(ASR_ERROR in m for t, _, m in cluster.events("web01") if t == "Warning")
    # ASR rolled the item back and allows the failover again: the operator retries (30 s).
    retrying = cluster.wait_for(
        "web01", lambda s: "try 2 of 3" in ready_message(s), what="the retry notice"
    )
    assert ASR_ERROR in ready_message(retrying)
    assert dc.asr.calls["items.plannedFailover"] == 1
    cluster.wait_phase("web01", "AwaitingCommit", timeout=60)
    assert asr_jobs(dc, "web01") == [
        ("plannedFailover", "Failed"),
        ("plannedFailover", "Succeeded"),
    ]
    results = [h["result"] for h in reversed(cluster.status("web01")["history"])]
    assert results == ["Failed", "Succeeded"]


@pytest.mark.time_scale(0.5)
def test_failed_job_stalls_with_asr_message_when_not_allowed_again(
    cluster: Cluster, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dc = operator.dc
    blocked = only_allowing(monkeypatch, "UnplannedFailover")
    dc.asr.fail_job(
        JobFailure(operation="plannedFailover", task=2, target="web01", message=ASR_ERROR)
    )
    cluster.create_pvm("web01", activeSite="Azure")
    wait_until(lambda: asr_jobs(dc, "web01"), what="the failover job")

    def block_after_failure() -> None:
        # When this job fails, ASR leaves the item in a state that allows no failover.
        job = next(j for j in dc.asr.sim.vault.jobs.values() if j.target_object_name == "web01")
        rollback = job.on_failed
        assert rollback is not None

        async def failed() -> None:
            await rollback()
            dc.asr.sim.item("web01").phase = blocked

        job.on_failed = failed

    dc.asr.call(block_after_failure)
    status = cluster.wait_stalled("web01", "AsrJobFailed")
    message = stalled(status)["message"]
    assert ASR_ERROR in message and "PlannedFailover" in message, message
    assert dc.asr.calls["items.plannedFailover"] == 1
    assert asr_jobs(dc, "web01") == [("plannedFailover", "Failed")]

    # The cause is fixed in ASR; as the message says, any spec edit lets the operator retry.
    set_item_phase(dc, "web01", "Protected")
    cluster.patch_spec("web01", {"reverseReplication": "Manual"})  # an edit that moves nothing
    cluster.wait_phase("web01", "AwaitingCommit")
    assert asr_jobs(dc, "web01") == [
        ("plannedFailover", "Failed"),
        ("plannedFailover", "Succeeded"),
    ]


@pytest.mark.time_scale(0.6)
def test_hyperv_host_down_during_failover_goes_on_with_a_warning(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    cluster.create_pvm("web01", activeSite="Azure")
    cluster.wait_for(
        "web01", lambda s: (s.get("operation") or {}).get("submitted"), what="a running failover"
    )
    dc.hyperv.set_host_down("hv-01")
    cluster.wait_phase("web01", "AwaitingCommit")
    events = cluster.events("web01")
    warnings = [m for t, r, m in events if (t, r) == ("Warning", "HyperVUnreachable")]
    assert warnings and "ASR goes on" in warnings[0], warnings
    assert asr_jobs(dc, "web01") == ONE_FAILOVER
