"""Recovery plans: groups, manual actions that suspend the job, both directions."""

from __future__ import annotations

import pytest

from asr_operator.azure import AsrGateway, NotAllowed
from asr_operator.lifecycle.observed import ActiveLocation, JobState
from asr_operator.sim.asr import AsrSimulatorThread
from tests.component.asr.conftest import VNET, item, run, wait_job
from tests.component.asr.test_items import answers, power


async def test_plan_shape(gateway: AsrGateway) -> None:
    plan = await gateway.get_plan("plan-web")
    assert [g.name for g in plan.groups] == ["Shutdown", "Failover", "Boot 1", "Boot 2"]
    db, web = await item(gateway, "db01"), await item(gateway, "web01")
    assert plan.groups[2].item_ids == (db.id,)
    assert plan.groups[3].item_ids == (web.id,)
    assert plan.groups[3].start_manual_actions == (("confirm-dns", "Confirm the DNS cut-over"),)
    assert plan.allowed_operations == {"PlannedFailover", "UnplannedFailover", "TestFailover"}
    assert plan.current_scenario is None
    assert [p.name for p in await gateway.list_plans()] == ["plan-web"]
    assert {i.friendly_name for i in await gateway.list_items(recovery_plan="plan-web")} == {
        "db01",
        "web01",
    }


async def test_plan_failover_stops_at_manual_action_then_full_cycle(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    name = await gateway.start_plan_planned_failover("plan-web")
    job = await wait_job(gateway, name, JobState.SUSPENDED)
    task = job.current_task
    assert task is not None and task.instructions == "Confirm the DNS cut-over"
    assert task.group == "Boot 2" and job.allowed_actions == {"Cancel", "Resume"}
    assert [t.group for t in job.tasks] == ["Shutdown", "Failover", "Boot 1", "Boot 2", "Boot 2"]
    assert power(sim, "db01") == power(sim, "web01") == "Off"
    db = await item(gateway, "db01")
    assert answers(sim.sim.recovery_vm_ip("db01") or "")  # group 1 booted already
    assert sim.sim.recovery_vm_ip("web01") is None  # group 2 waits for the action
    assert db.current_job_name == name
    plan = await gateway.get_plan("plan-web")
    assert plan.current_job_name == name and plan.allowed_operations == frozenset()
    await gateway.resume_job(name, "DNS switched")
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED
    for vm in ("db01", "web01"):
        it = await item(gateway, vm)
        assert it.active_location == ActiveLocation.RECOVERY
        assert it.protection_state == "PlannedFailoverCommitRequired"
    plan = await gateway.get_plan("plan-web")
    assert "Commit" in plan.allowed_operations and plan.current_scenario_status == "Succeeded"

    await run(gateway, gateway.start_plan_commit("plan-web"))
    assert (await item(gateway, "web01")).allowed_operations >= {"Failback"}
    name = await gateway.start_plan_failback("plan-web", "ForDownTime")
    job = await wait_job(gateway, name, JobState.SUSPENDED)
    assert job.current_task is not None and job.current_task.group == "Shutdown"
    await gateway.resume_job(name, "complete failover")
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED
    assert power(sim, "db01") == power(sim, "web01") == "Running"
    assert (await gateway.get_plan("plan-web")).allowed_operations == {"Commit"}
    await run(gateway, gateway.start_plan_commit("plan-web"))
    await run(gateway, gateway.start_plan_reprotect("plan-web"))
    for vm in ("db01", "web01"):
        assert (await item(gateway, vm)).protection_state == "Protected"
    assert sim.calls["plans.plannedFailover"] == 2 and sim.calls["jobs.resume"] == 2
    assert sim.calls["jobs.cancel"] == 0


async def test_plan_unplanned_failover_keeps_source_running_when_asked(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    name = await gateway.start_plan_unplanned_failover(
        "plan-web", "LatestProcessed", shutdown_source=False
    )
    job = await wait_job(gateway, name, JobState.SUSPENDED)
    assert job.current_task is not None and job.current_task.name == "confirm-dns"
    await gateway.resume_job(name)
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED
    assert power(sim, "db01") == "Running"
    it = await item(gateway, "db01")
    assert it.protection_state == "UnplannedFailoverCommitPendingStatesBegin"


async def test_plan_test_failover_and_cleanup(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    name = await gateway.start_plan_test_failover("plan-web", VNET)
    await wait_job(gateway, name, JobState.SUSPENDED)
    await gateway.resume_job(name, "drill gate")
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED
    plan = await gateway.get_plan("plan-web")
    assert plan.allowed_operations == {"TestFailoverCleanup"}
    web = await item(gateway, "web01")
    assert web.test_failover_state == "WaitingForCompletion" and answers(web.test_vm_ips[0])
    await run(gateway, gateway.start_plan_test_failover_cleanup("plan-web", "drill done"))
    assert (await item(gateway, "web01")).test_vm_ips == ()
    assert (await gateway.get_plan("plan-web")).allowed_operations == {
        "PlannedFailover",
        "UnplannedFailover",
        "TestFailover",
    }


async def test_plan_action_refused_when_an_item_is_not_ready(gateway: AsrGateway) -> None:
    await run(gateway, gateway.start_planned_failover(await item(gateway, "db01")))
    with pytest.raises(NotAllowed):
        await gateway.start_plan_test_failover("plan-web", VNET)
