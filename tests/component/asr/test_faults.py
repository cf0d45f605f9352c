"""Injected faults, throttling and the lost-202 re-attachment, through the gateway."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from asr_operator.azure import (
    AsrGateway,
    OutcomeUnknown,
    Permanent,
    Throttled,
    Transient,
)
from asr_operator.azure.compute import AzureVms
from asr_operator.lifecycle.observed import JobState, JobTarget
from asr_operator.sim.asr import (
    AsrSimulatorThread,
    BucketSpec,
    FaultRule,
    JobFailure,
    ThrottleLimits,
)
from tests.component.asr.conftest import (
    eventually,
    item,
    make_config,
    run,
    wait_job,
    waits_for_cleanup,
)
from tests.component.asr.test_items import answers


def jobs_for(sim: AsrSimulatorThread, vm: str) -> list[str]:
    return sim.call(
        lambda: [j.name for j in sim.sim.vault.jobs.values() if j.target_object_name == vm]
    )


async def test_5xx_on_an_action_is_transient_and_creates_no_job(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    sim.inject(FaultRule(kind="status", operation="items.plannedFailover", status=503))
    it = await item(gateway, "app01")
    with pytest.raises(Transient) as err:
        await gateway.start_planned_failover(it)
    assert not isinstance(err.value, OutcomeUnknown) and err.value.status == 503
    assert "no job was created" in str(err.value)
    assert jobs_for(sim, "app01") == []
    await run(gateway, gateway.start_planned_failover(it))  # the retry goes through
    assert sim.calls["items.plannedFailover"] == 2 and len(jobs_for(sim, "app01")) == 1


async def test_5xx_on_reads_is_transient(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    sim.inject(FaultRule(kind="status", operation="items.list", status=500, count=1))
    with pytest.raises(Transient):
        await gateway.find_item("app01")
    assert await gateway.find_item("app01") is not None


async def test_reads_retry_inside_the_sdk_when_configured(sim: AsrSimulatorThread) -> None:
    sim.inject(FaultRule(kind="status", operation="jobs.list", status=503, count=2))
    async with AsrGateway(make_config(sim, read_retries=3)) as gw:
        assert await gw.list_jobs_since(datetime.now(UTC) - timedelta(hours=1)) == []
    assert sim.calls["jobs.list"] == 3


async def test_lost_202_reattaches_to_the_created_job(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    it = await item(gateway, "app01")
    sim.inject(FaultRule(kind="lost202", operation="items.plannedFailover"))
    name = await gateway.start_planned_failover(it)
    assert jobs_for(sim, "app01") == [name]
    assert sim.calls["items.plannedFailover"] == 1  # never re-sent
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED


async def test_lost_202_on_a_plan_action_reattaches(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    sim.inject(FaultRule(kind="lost202", operation="plans.testFailover"))
    name = await gateway.start_plan_test_failover("plan-web", "")
    assert sim.calls["plans.testFailover"] == 1
    job = await gateway.get_job(name)
    assert job.target_object_name == "plan-web"


async def test_dropped_connection_before_processing_is_outcome_unknown(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    sim.inject(FaultRule(kind="drop", operation="items.failoverCommit"))
    it = await item(gateway, "app01")
    await run(gateway, gateway.start_planned_failover(it))
    before = len(jobs_for(sim, "app01"))
    with pytest.raises(OutcomeUnknown):
        await gateway.start_commit(it)
    assert len(jobs_for(sim, "app01")) == before
    await run(gateway, gateway.start_commit(it))


async def test_slow_answer_times_out_then_the_job_is_found_before_resending(
    sim: AsrSimulatorThread,
) -> None:
    sim.inject(FaultRule(kind="slow", operation="items.testFailover", delay=1.0))
    async with AsrGateway(make_config(sim, read_timeout=0.3)) as gw:
        it = await item(gw, "app01")
        sent = datetime.now(UTC)
        with pytest.raises(OutcomeUnknown):
            await gw.start_test_failover(it, "")
        # The caller persisted `sent`; before re-sending it looks again and finds the job.
        jobs = await eventually(
            lambda: gw.find_jobs_since(JobTarget.item(it.name), sent - timedelta(seconds=1)), bool
        )
        assert [j.scenario for j in jobs] == ["TestFailover"]
        assert sim.calls["items.testFailover"] == 1


async def test_slow_reads_succeed_within_the_timeout(sim: AsrSimulatorThread) -> None:
    sim.inject(FaultRule(kind="slow", operation="items.list", delay=0.2))
    async with AsrGateway(make_config(sim, read_timeout=2)) as gw:
        assert await gw.find_item("app01") is not None


async def test_job_failing_at_a_chosen_task(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    sim.fail_job(
        JobFailure(operation="plannedFailover", task="FailoverTask", code="70094", target="app01")
    )
    it = await item(gateway, "app01")
    job = await wait_job(gateway, await gateway.start_planned_failover(it))
    assert job.state == JobState.FAILED
    assert [t.state for t in job.tasks] == [JobState.SUCCEEDED] * 3 + [
        JobState.FAILED,
        JobState.NOT_STARTED,
    ]
    assert job.errors[0].code == "70094" and job.errors[0].recommended_action
    assert job.allowed_actions == {"Restart"}
    it = await item(gateway, "app01")  # rolled back
    assert it.protection_state == "Protected" and it.current_scenario is None
    await run(gateway, gateway.start_planned_failover(it))


async def test_write_throttling_is_not_retried_and_reports_retry_after(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    items = [await item(gateway, n) for n in ("app01", "web01", "file01")]
    sim.sim.set_throttle_limits(ThrottleLimits(writes=BucketSpec(2, 0.05)))
    await gateway.start_test_failover(items[0], "")
    await gateway.start_test_failover(items[1], "")
    with pytest.raises(Throttled) as throttled:
        await gateway.start_test_failover(items[2], "")
    assert throttled.value.retry_after >= 1 and throttled.value.status == 429
    assert sim.calls["items.testFailover"] == 3 and len(jobs_for(sim, "file01")) == 0


async def test_read_throttling(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    sim.sim.set_throttle_limits(ThrottleLimits(reads=BucketSpec(3, 0.1)))
    for _ in range(3):
        await gateway.list_plans()
    with pytest.raises(Throttled):
        await gateway.list_plans()


async def test_ratelimit_headers_are_sent(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    seen: list[dict[str, str]] = []
    pager = gateway._client.replication_recovery_plans.list(
        gateway.config.resource_group,
        gateway.config.vault_name,
        raw_response_hook=lambda r: seen.append(dict(r.http_response.headers)),
    )
    [p async for p in pager]
    assert int(seen[0]["x-ms-ratelimit-remaining-subscription-reads"]) > 200


async def test_bad_input_is_permanent(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    with pytest.raises(Permanent) as err:  # over the definitions' maxLength of 1024
        await gateway.start_test_failover_cleanup(it, "x" * 1025)
    assert err.value.code == "28004"


async def test_parallel_actions_on_many_items(gateway: AsrGateway) -> None:
    names = ["app01", "web01", "db01", "file01", "spare01"]
    items = [await item(gateway, n) for n in names]
    jobs = await asyncio.gather(*(gateway.start_test_failover(i, "") for i in items))
    states = await gateway.poll_jobs(jobs)
    assert set(states) == set(jobs)
    done = await eventually(
        lambda: gateway.poll_jobs(jobs), lambda s: all(waits_for_cleanup(j) for j in s.values())
    )
    assert len(done) == len(names)


async def test_http_control_api(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    ctx = ssl.create_default_context(cafile=str(sim.ca_path))
    async with aiohttp.ClientSession(base_url=sim.url) as s:

        async def post(path: str, body: dict[str, object]) -> None:
            async with s.post(path, json=body, ssl=ctx) as r:
                assert r.status == 200

        await post("/_sim/faults", {"kind": "status", "operation": "plans.get", "status": 502})
        with pytest.raises(Transient):
            await gateway.get_plan("plan-web")
        await post("/_sim/job-failures", {"operation": "TestFailover", "task": "VmTfoBootTestVm"})
        it = await item(gateway, "app01")
        job = await wait_job(gateway, await gateway.start_test_failover(it, ""))
        assert job.state == JobState.FAILED and job.current_task is not None
        assert job.current_task.name == "VmTfoBootTestVm"
        await post("/_sim/faults", {"kind": "status", "operation": "plans.get", "count": -1})
        async with s.delete("/_sim/faults", ssl=ctx) as r:
            assert r.status == 200
        assert (await gateway.get_plan("plan-web")).name == "plan-web"
        await post("/_sim/throttling", {"enabled": False})
        sim.sim.set_throttle_limits(ThrottleLimits(reads=BucketSpec(1, 0.01)))
        for _ in range(3):
            await gateway.list_plans()
        await run(gateway, gateway.start_planned_failover(await item(gateway, "web01")))
        web = await item(gateway, "web01")
        ip = (await AzureVms(gateway).recovery_vm(web)).private_ips[0]
        await post("/_sim/vms/web01/answering", {"answering": False})
        assert not answers(ip)
        async with s.get("/_sim/calls", ssl=ctx) as r:
            calls = await r.json()
        assert calls["plans.get"] == 2 and calls["items.testFailover"] == 1


async def test_client_pacing_keeps_a_burst_under_the_write_limit(sim: AsrSimulatorThread) -> None:
    # Spacing (200 ms) much larger than connection jitter, as with ARM's 10/s.
    sim.sim.set_throttle_limits(ThrottleLimits(writes=BucketSpec(3, 5)))
    async with AsrGateway(make_config(sim, write_pace=(2, 4.75))) as gw:
        items = [i for i in await gw.list_items()]
        jobs = await asyncio.gather(*(gw.start_test_failover(i, "") for i in items))
        assert len(set(jobs)) == len(items) == 5
        assert gw.pacing.writes is not None and gw.pacing.writes.waited > 0
    assert sim.calls["throttled.writes"] == 0 and sim.calls["items.testFailover"] == 5


async def test_a_429_holds_back_further_writes(sim: AsrSimulatorThread) -> None:
    sim.sim.set_throttle_limits(ThrottleLimits(writes=BucketSpec(1, 0.01)))
    async with AsrGateway(make_config(sim, write_pace=(100, 100))) as gw:
        a, b = await item(gw, "app01"), await item(gw, "web01")
        await gw.start_test_failover(a, "")
        with pytest.raises(Throttled) as err:
            await gw.start_test_failover(b, "")
        bucket = gw.pacing.writes
        assert bucket is not None and bucket._not_before > 0
        assert err.value.retry_after >= 1
    assert sim.calls["throttled.writes"] == 1


async def test_a_429_is_resent_after_retry_after_when_configured(sim: AsrSimulatorThread) -> None:
    sim.sim.set_throttle_limits(ThrottleLimits(writes=BucketSpec(1, 2)))
    async with AsrGateway(make_config(sim, write_pace=None, throttle_retries=2)) as gw:
        a, b = await item(gw, "app01"), await item(gw, "web01")
        first = await gw.start_test_failover(a, "")
        second = await gw.start_test_failover(b, "")  # 429, waits Retry-After, re-sent
        assert first != second and gw.pacing.throttled_responses == 1
    assert sim.calls["throttled.writes"] == 1 and sim.calls["items.testFailover"] == 3
    assert len(jobs_for(sim, "web01")) == 1


async def test_lost_answer_is_not_pinned_on_a_plan_job_of_the_item(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    plan_job = await gateway.start_plan_planned_failover("plan-web")
    await wait_job(gateway, plan_job, JobState.SUSPENDED)
    sim.inject(FaultRule(kind="lost202", operation="items.testFailover"))
    with pytest.raises(OutcomeUnknown):  # ASR refused it (409), but the answer was lost
        await gateway.start_test_failover(await item(gateway, "web01"), "")
    assert jobs_for(sim, "web01") == []


async def test_poll_leaves_out_jobs_asr_does_not_know(gateway: AsrGateway) -> None:
    name = await gateway.start_test_failover(await item(gateway, "app01"), "")
    polled = await gateway.poll_jobs([name, "00000000-0000-0000-0000-00000000dead"])
    assert list(polled) == [name]


# --- Which job is the request's: ASR names the caller's x-ms-client-request-id -------------

RID = "0f5c1c9e-3a55-4d55-9a57-3c1e2d7b9a10"


async def test_the_job_names_the_request_id_it_was_created_by(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    it = await item(gateway, "app01")
    job = await run(gateway, gateway.start_test_failover(it, "", request_id=RID))
    assert job.client_request_id == RID
    # Without one, azure-core still sends its own: a job always names some request.
    other = await run(gateway, gateway.start_test_failover_cleanup(await item(gateway, "app01")))
    assert other.client_request_id not in (None, RID)


async def test_a_lost_answer_reattaches_only_to_the_job_naming_the_request(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    # An earlier drill's job started moments before: same item, same action, in the window.
    it = await item(gateway, "app01")
    await run(gateway, gateway.start_test_failover(it, "", request_id="an-earlier-drill"))
    await run(gateway, gateway.start_test_failover_cleanup(await item(gateway, "app01")))
    sim.inject(FaultRule(kind="drop", operation="items.testFailover"))
    with pytest.raises(OutcomeUnknown):  # ASR took nothing; the earlier job is not this one
        await gateway.start_test_failover(await item(gateway, "app01"), "", request_id=RID)
    sim.inject(FaultRule(kind="lost202", operation="items.testFailover"))
    name = await gateway.start_test_failover(await item(gateway, "app01"), "", request_id=RID)
    assert (await gateway.get_job(name)).client_request_id == RID


async def test_a_gateway_timeout_answer_is_outcome_unknown_not_a_refusal(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    # ARM's proxy answers 504 after 60 s; the resource provider may still act on it.
    sim.inject(FaultRule(kind="status", operation="items.plannedFailover", status=504))
    with pytest.raises(OutcomeUnknown):
        await gateway.start_planned_failover(await item(gateway, "app01"), request_id=RID)
