"""Recovery plans: groups, manual actions that suspend the job, both directions."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from asr_operator.azure import AsrGateway, NotAllowed
from asr_operator.azure.compute import AzureVms
from asr_operator.azure.gateway import PlanRecoveryPoint
from asr_operator.lifecycle.observed import ActiveLocation, AsrJob, AsrTask, JobState, JobTarget
from asr_operator.sim.asr import AsrSimulatorThread, FaultRule, JobFailure
from asr_operator.sim.scenario import Plan, Scenario
from tests.component.asr.conftest import (
    VNET,
    eventually,
    item,
    make_scenario,
    run,
    wait_job,
    waits_for_cleanup,
)
from tests.component.asr.test_examples import Wire
from tests.component.asr.test_items import answers, power


def with_plan(groups: list[list[str]], vm_count: int = 0, task_seconds: float = 0.01) -> Scenario:
    """The usual scenario plus plan `plan-x` with these Boot groups."""
    sc = make_scenario(vm_count, task_seconds)
    sc.plans.append(Plan.model_validate({"name": "plan-x", "groups": [{"vms": g} for g in groups]}))
    return sc


def group_task(job: AsrJob, group: str) -> AsrTask:
    """The group's task (its child tasks: the VMs' steps and the group's actions)."""
    (task,) = [t for t in job.tasks if t.group == group]
    return task


def vm_steps(task: AsrTask) -> list[AsrTask]:
    return [c for c in task.children if c.target_name]


def outcome(task: AsrTask) -> dict[str, JobState]:
    return {c.target_name: c.state for c in vm_steps(task)}


def current(job: AsrJob) -> tuple[AsrTask, AsrTask]:
    assert job.current_step is not None, job
    return job.current_step


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
    group, task = current(job)
    assert task.instructions == "Confirm the DNS cut-over"
    assert group.group == "Boot 2" and job.allowed_actions == {"Cancel", "Resume"}
    assert [t.group for t in job.tasks] == ["Shutdown", "Failover", "Boot 1", "Boot 2"]
    assert [c.name for c in group.children] == ["confirm-dns", "VmFoStartVmOnSecondary"]
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
    assert current(job)[1].name == "confirm-dns"
    await gateway.resume_job(name)
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED
    assert power(sim, "db01") == "Running"
    it = await item(gateway, "db01")
    assert it.protection_state == "UnplannedFailoverCommitPendingStatesBegin"


async def test_plan_test_failover_and_cleanup(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    name = await gateway.start_plan_test_failover("plan-web", VNET)
    await wait_job(gateway, name, JobState.SUSPENDED)
    await gateway.resume_job(name, "drill gate")
    # The test VMs run; the job waits, Suspended, for the cleanup (the official example).
    job = await eventually(lambda: gateway.get_job(name), waits_for_cleanup)
    assert job.tasks[-1].name == "VmTfoWaitForCompletion" and job.tasks[-1].group == ""
    plan = await gateway.get_plan("plan-web")
    assert plan.allowed_operations == {"TestFailoverCleanup"}
    assert (plan.current_job_name, plan.current_scenario_status) == (name, "Suspended")
    assert {(await item(gateway, vm)).busy_job for vm in ("db01", "web01")} == {None}
    web = await item(gateway, "web01")
    assert web.test_failover_state == "WaitingForCompletion"
    assert answers((await AzureVms(gateway).test_vm(web)).private_ips[0])
    await run(gateway, gateway.start_plan_test_failover_cleanup("plan-web", "drill done"))
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED  # the cleanup ends it
    assert not (await AzureVms(gateway).test_vm(await item(gateway, "web01"))).found
    assert (await gateway.get_plan("plan-web")).allowed_operations == {
        "PlannedFailover",
        "UnplannedFailover",
        "TestFailover",
    }


async def test_plan_action_refused_when_an_item_is_not_ready(gateway: AsrGateway) -> None:
    await run(gateway, gateway.start_planned_failover(await item(gateway, "db01")))
    with pytest.raises(NotAllowed):
        await gateway.start_plan_test_failover("plan-web", VNET)


# --- per-VM outcome: child tasks of the group tasks ---------------------------------------


async def test_plan_job_has_a_child_task_per_vm_in_each_group(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    db, web = await item(gateway, "db01"), await item(gateway, "web01")
    name = await gateway.start_plan_planned_failover("plan-web")
    job = await wait_job(gateway, name, JobState.SUSPENDED)  # at Boot 2's manual action
    assert outcome(group_task(job, "Shutdown")) == {
        "db01": JobState.SUCCEEDED,
        "web01": JobState.SUCCEEDED,
    }
    assert outcome(group_task(job, "Boot 1")) == {"db01": JobState.SUCCEEDED}
    assert outcome(group_task(job, "Boot 2")) == {"web01": JobState.NOT_STARTED}
    assert current(job)[1].instructions  # at the manual action
    await gateway.resume_job(name, "DNS switched")
    job = await wait_job(gateway, name)
    assert job.state == JobState.SUCCEEDED
    for group, vms in (
        ("Shutdown", {"db01", "web01"}),
        ("Failover", {"db01", "web01"}),
        ("Boot 1", {"db01"}),
        ("Boot 2", {"web01"}),
    ):
        task = group_task(job, group)
        assert outcome(task) == dict.fromkeys(vms, JobState.SUCCEEDED), group
        assert {c.target_id for c in vm_steps(task)} == {
            i.name for i in (db, web) if i.friendly_name in vms
        }
        assert all(c.errors == () and c.children == () for c in task.children)
    shutdown = vm_steps(group_task(job, "Shutdown"))
    assert {c.name for c in shutdown} == {"VmShutdownVmOnPrimary"}

    # The wire shape, typed by the SDK: JobTaskDetails pointing at each VM's child job.
    sc = sim.sim.scenario
    model = await gateway._client.replication_jobs.get(sc.resource_group, sc.vault, name)
    shutdown_task = model.properties.tasks[0]
    assert shutdown_task.task_type == "RecoveryPlanShutdownGroupTaskDetails"
    assert shutdown_task.group_task_custom_details.instance_type == shutdown_task.task_type
    boot1 = next(t for t in model.properties.tasks if t.name == "Group1")
    assert boot1.task_type == "RecoveryPlanGroupTaskDetails"
    details = boot1.group_task_custom_details
    assert (details.name, details.group_id, details.rp_group_type) == ("Boot 1", "1", "Boot")
    (child,) = details.child_tasks
    assert child.task_type == "JobTaskDetails"
    ref = child.custom_details.job_task
    assert (ref.target_object_id, ref.target_object_name) == (db.name, "db01")
    assert (ref.target_instance_type, ref.job_scenario_name) == (
        "ProtectionEntity",
        "PlannedFailover",
    )
    assert ref.job_friendly_name == "Planned failover"
    vault_jobs = f"/providers/Microsoft.RecoveryServices/vaults/{sc.vault}/replicationJobs/"
    assert vault_jobs in ref.job_id and not ref.job_id.endswith(name)
    again = await gateway._client.replication_jobs.get(sc.resource_group, sc.vault, name)
    shutdown_refs = {
        c.custom_details.job_task.target_object_name: c.custom_details.job_task.job_id
        for c in again.properties.tasks[0].group_task_custom_details.child_tasks
    }
    assert shutdown_refs["db01"] == ref.job_id  # one child job per VM, stable


async def test_plan_unplanned_failover_without_shutdown_skips_each_vm(
    gateway: AsrGateway,
) -> None:
    name = await gateway.start_plan_unplanned_failover("plan-web", "Latest", shutdown_source=False)
    await wait_job(gateway, name, JobState.SUSPENDED)
    await gateway.resume_job(name)
    job = await wait_job(gateway, name)
    assert job.state == JobState.SUCCEEDED
    skipped = vm_steps(group_task(job, "Shutdown"))
    assert {(c.target_name, c.state) for c in skipped} == {
        ("db01", JobState.OTHER),
        ("web01", JobState.OTHER),
    }
    assert outcome(group_task(job, "Boot 2")) == {"web01": JobState.SUCCEEDED}


PLAN_X = with_plan([["db01"], ["web01", "app01"], ["file01"]])


@pytest.mark.parametrize("scenario", [PLAN_X])
async def test_a_member_failing_at_boot_fails_the_plan_job_with_a_per_vm_outcome(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    sim.fail_job(
        JobFailure(
            operation="plannedFailover", target="web01", code="70094", message="The VM hung."
        )
    )
    name = await gateway.start_plan_planned_failover("plan-x")
    job = await wait_job(gateway, name)
    assert job.state == JobState.FAILED and job.allowed_actions == {"Restart"}
    (err,) = job.errors
    assert err.code == "70094" and "web01" in err.message and "The VM hung." in err.message
    everyone = dict.fromkeys(("db01", "web01", "app01", "file01"), JobState.SUCCEEDED)
    assert outcome(group_task(job, "Shutdown")) == everyone
    assert outcome(group_task(job, "Failover")) == everyone
    assert outcome(group_task(job, "Boot 1")) == {"db01": JobState.SUCCEEDED}
    boot2 = group_task(job, "Boot 2")
    assert boot2.state == JobState.FAILED
    assert outcome(boot2) == {"web01": JobState.FAILED, "app01": JobState.SUCCEEDED}
    failing = next(c for c in vm_steps(boot2) if c.target_name == "web01")
    assert [(e.code, e.message) for e in failing.errors] == [("70094", "The VM hung.")]
    assert failing.errors[0].recommended_action
    boot3 = group_task(job, "Boot 3")
    assert boot3.state == JobState.NOT_STARTED
    assert outcome(boot3) == {"file01": JobState.NOT_STARTED}
    assert job.current_task == boot2

    # The VMs whose part succeeded are failed over; the others keep their state.
    for vm in ("db01", "app01"):
        it = await item(gateway, vm)
        assert it.active_location == ActiveLocation.RECOVERY, vm
        assert it.protection_state == "PlannedFailoverCommitRequired"
        assert "Commit" in it.allowed_operations
        assert answers(sim.sim.recovery_vm_ip(vm) or "")
    for vm in ("web01", "file01"):
        it = await item(gateway, vm)
        assert it.active_location == ActiveLocation.PRIMARY, vm
        assert it.protection_state == "Protected" and it.current_scenario is None
        assert sim.sim.recovery_vm_ip(vm) is None
        assert power(sim, vm) == "Off"  # the Shutdown group ran for every VM
    plan = await gateway.get_plan("plan-x")
    assert plan.allowed_operations == frozenset() and plan.current_scenario_status == "Failed"

    # Restart continues from the failed group, without redoing the VMs that succeeded.
    sc = sim.sim.scenario
    await gateway._client.replication_jobs.begin_restart(
        sc.resource_group, sc.vault, name, polling=False
    )
    job = await wait_job(gateway, name)
    assert job.state == JobState.SUCCEEDED and job.errors == ()
    assert outcome(group_task(job, "Boot 2")) == dict.fromkeys(
        ("web01", "app01"), JobState.SUCCEEDED
    )
    for vm in ("db01", "web01", "app01", "file01"):
        assert (await item(gateway, vm)).protection_state == "PlannedFailoverCommitRequired"
    assert "Commit" in (await gateway.get_plan("plan-x")).allowed_operations


@pytest.mark.parametrize("scenario", [PLAN_X])
async def test_a_plan_targeted_failure_still_fails_the_whole_group(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    sim.fail_job(JobFailure(operation="PlannedFailover", task="FailoverGroupTask", target="plan-x"))
    job = await wait_job(gateway, await gateway.start_plan_planned_failover("plan-x"))
    assert job.state == JobState.FAILED and job.errors[0].code == "70094"
    failover = group_task(job, "Failover")
    assert failover.state == JobState.FAILED and failover.errors == job.errors
    assert set(outcome(failover).values()) == {JobState.FAILED}
    for group in ("Boot 1", "Boot 2", "Boot 3"):
        assert group_task(job, group).state == JobState.NOT_STARTED
    for vm in ("db01", "web01", "app01", "file01"):
        assert (await item(gateway, vm)).protection_state == "Protected"
    plan = await gateway.get_plan("plan-x")
    assert plan.allowed_operations == {"PlannedFailover", "UnplannedFailover", "TestFailover"}


@pytest.mark.parametrize("scenario", [PLAN_X])
async def test_a_member_failing_in_a_test_failover(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    sim.fail_job(JobFailure(operation="TestFailover", target="db01", message="No test VM."))
    job = await wait_job(gateway, await gateway.start_plan_test_failover("plan-x", VNET))
    assert job.state == JobState.FAILED and "db01" in job.errors[0].message
    assert outcome(group_task(job, "Boot 1")) == {"db01": JobState.FAILED}
    assert group_task(job, "Boot 2").state == JobState.NOT_STARTED
    for vm in ("db01", "web01", "app01", "file01"):
        assert (await item(gateway, vm)).test_failover_state == "None", vm


# --- ASR's limit: 100 VMs per plan ---------------------------------------------------------

HUNDRED = [f"vm{n:04d}" for n in range(100)]


@pytest.mark.parametrize(
    "scenario", [with_plan([HUNDRED[:34], HUNDRED[34:67], HUNDRED[67:]], 100, 0.05)]
)
async def test_a_100_vm_plan_fails_over(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    began = time.monotonic()
    job = await run(gateway, gateway.start_plan_planned_failover("plan-x"))
    took = time.monotonic() - began
    print(f"100-VM plan failover in 3 groups at taskSeconds 0.05: {took:.2f}s")
    assert took < 10
    assert len(vm_steps(group_task(job, "Failover"))) == 100
    assert [len(vm_steps(group_task(job, f"Boot {n}"))) for n in (1, 2, 3)] == [34, 33, 33]
    items = await gateway.list_items(recovery_plan="plan-x")
    assert len(items) == 100
    assert {i.protection_state for i in items} == {"PlannedFailoverCommitRequired"}
    assert "Commit" in (await gateway.get_plan("plan-x")).allowed_operations


def test_a_plan_of_more_than_100_vms_is_refused() -> None:
    vms = [f"vm{n:04d}" for n in range(101)]
    with pytest.raises(ValidationError, match="'too-big' has 101 VMs; ASR allows at most 100"):
        Scenario.model_validate({"plans": [{"name": "too-big", "groups": [{"vms": vms}]}]})
    with pytest.raises(ValidationError, match="'plan-x' has 101 VMs"):
        with_plan([vms[:50], vms[50:]], 101)
    assert len(with_plan([vms[:50], vms[50:100]], 101).plans[-1].groups) == 2


# --- recoveryPointType: the point each VM of a plan fails over to --------------------------


def without_new_points() -> Scenario:
    """Only the points replication made before the test: what each type picks is certain."""
    sc = make_scenario()
    sc.recovery_point_seconds = 3600
    return sc


@pytest.mark.parametrize("scenario", [without_new_points()])
@pytest.mark.parametrize("point", ["Latest", "LatestProcessed", "LatestApplicationConsistent"])
@pytest.mark.parametrize("action", ["unplannedFailover", "testFailover"])
async def test_plan_failover_applies_the_recovery_point_type(
    gateway: AsrGateway, point: PlanRecoveryPoint, action: str
) -> None:
    """The gateway sends recoveryPointType; each VM fails over to the point it names."""
    sent = datetime.now(UTC)
    if action == "unplannedFailover":
        start = gateway.start_plan_unplanned_failover("plan-web", point, shutdown_source=False)
    else:
        start = gateway.start_plan_test_failover("plan-web", VNET, point)
    name = await start
    await wait_job(gateway, name, JobState.SUSPENDED)  # Boot 2's manual action
    await gateway.resume_job(name)
    job = await eventually(
        lambda: gateway.get_job(name), lambda j: j.state.terminal or waits_for_cleanup(j)
    )
    assert job.state != JobState.FAILED, job
    chosen_by = group_task(job, "Failover").end_time
    assert chosen_by is not None
    for vm in ("db01", "web01"):
        it = await item(gateway, vm)
        assert it.failover_recovery_point_id is not None
        applied = it.failover_recovery_point_id.rsplit("/", 1)[-1]
        # The points that existed when the VM's Failover step ran, newest first.
        points = [p for p in await gateway.list_recovery_points(it) if p.time <= chosen_by]
        if point == "LatestApplicationConsistent":
            newest = next(p for p in points if p.app_consistent)
            assert newest.name == applied and newest.time < sent, vm
        else:
            assert points[0].name == applied, vm
            # Latest: ASR first makes a point of what it received; LatestProcessed: the
            # newest point already there.
            assert (points[0].time >= sent) == (point == "Latest"), vm


async def test_a_plan_failover_to_an_unknown_point_type_is_refused(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    wire = Wire(sim, gateway)
    body = {
        "properties": {
            "failoverDirection": "PrimaryToRecovery",
            "sourceSiteOperations": "NotRequired",
            "providerSpecificDetails": [
                {"instanceType": "HyperVReplicaAzure", "recoveryPointType": "LatestCrashConsistent"}
            ],
        }
    }
    url = f"{wire.vault}/replicationRecoveryPlans/plan-web/unplannedFailover"
    r = await wire.send("POST", url, body)
    assert r.status_code == 400 and "recoveryPointType" in r.json()["error"]["message"]


# --- what a plan job names as its target --------------------------------------------------


async def test_a_plan_job_names_the_plan_by_its_internal_id_and_name(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    """As ReplicationJobs_Get shows a plan's job: a GUID, the plan's name, RecoveryPlan."""
    first = await wait_job(
        gateway, await gateway.start_plan_test_failover("plan-web", VNET), JobState.SUSPENDED
    )
    plan = await gateway.get_plan("plan-web")
    assert first.target_object_id != plan.id
    assert str(uuid.UUID(first.target_object_id)) == first.target_object_id
    assert (first.target_object_name, first.target_instance_type) == ("plan-web", "RecoveryPlan")
    await gateway.resume_job(first.name)
    await eventually(lambda: gateway.get_job(first.name), waits_for_cleanup)
    second = await run(gateway, gateway.start_plan_test_failover_cleanup("plan-web"))
    assert second.target_object_id == first.target_object_id  # stable for the plan
    assert JobTarget.plan("plan-web").matches(second)
    assert not JobTarget.item(first.target_object_id, "plan-web").matches(second)


async def test_a_lost_answer_to_a_plan_action_finds_its_job(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    """The job is found by the plan's name (its id in jobs is not the plan's ARM id)."""
    sim.inject(FaultRule(kind="lost202", operation="plans.testFailover"))
    name = await gateway.start_plan_test_failover("plan-web", VNET)
    job = await gateway.get_job(name)
    assert job.target_object_name == "plan-web" and sim.calls["plans.testFailover"] == 1
