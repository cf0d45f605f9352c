"""Protected items through the real SDK and gateway: reads, every action, both directions."""

from __future__ import annotations

import asyncio
import socket

import pytest

from asr_operator.azure import AsrGateway, Conflict, NotAllowed, NotFound
from asr_operator.azure.compute import AzureVms
from asr_operator.lifecycle.observed import (
    ActiveLocation,
    JobState,
    NicSettings,
    TargetSettings,
)
from asr_operator.sim.asr import AsrSimulatorThread
from asr_operator.sim.scenario import Scenario
from tests.component.asr.conftest import VNET, eventually, item, make_config, run, wait_job
from tests.component.asr.test_examples import Wire

PROTECTED_OPS = {"PlannedFailover", "UnplannedFailover", "DisableProtection", "TestFailover"}


def answers(ip: str, port: int = 3389) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


def power(sim: AsrSimulatorThread, name: str) -> str:
    vm = sim.sim.datacenter.vm_on_host("hv-01", name)
    assert vm is not None
    return vm.state


async def test_reads_item_with_settings_health_and_replication(gateway: AsrGateway) -> None:
    it = await item(gateway, "APP01")
    assert it.friendly_name == "app01"
    assert it.fabric == "hv-site-1" and it.container.startswith("cloud_")
    assert it.active_location == ActiveLocation.PRIMARY
    assert it.allowed_operations == PROTECTED_OPS
    assert it.protection_state == "Protected" and it.current_scenario is None
    assert it.rpo_seconds is not None and it.rpo_seconds >= 30
    assert it.last_replicated_time is not None
    assert it.target.vm_name == "app01" and it.target.size == "Standard_D2s_v3"
    assert it.target.use_managed_disks is True
    assert it.target.nics[0].static_ip == "10.20.1.15"
    assert [e.code for e in it.health_errors] == ["161011"]
    again = await gateway.get_item(it.fabric, it.container, it.name)
    assert again.id == it.id
    assert await gateway.find_item("nope") is None
    with pytest.raises(NotFound):
        await gateway.get_item(it.fabric, it.container, "00000000-0000-0000-0000-000000000000")


async def test_recovery_points_appear_over_time_and_sizes_carry_errors(
    gateway: AsrGateway,
) -> None:
    it = await item(gateway, "app01")
    first = await gateway.list_recovery_points(it)
    assert first == sorted(first, key=lambda p: p.time, reverse=True)
    assert {p.type for p in first} == {"CrashConsistent", "ApplicationConsistent"}
    assert all(p.id.endswith(f"/recoveryPoints/{p.name}") for p in first)
    later = await eventually(
        lambda: gateway.list_recovery_points(it), lambda ps: ps[0].time > first[0].time
    )
    assert len(later) > len(first)
    sizes = {s.name: s for s in await gateway.list_compute_sizes(it)}
    assert sizes["Standard_D2s_v3"].errors == ()
    assert sizes["Standard_A1"].errors  # generation 2 VM
    db = await item(gateway, "db01")
    assert all(not s.errors for s in await gateway.list_compute_sizes(db))


async def test_failover_commit_failback_reprotect_cycle(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    it = await item(gateway, "app01")
    job = await run(gateway, gateway.start_planned_failover(it))
    assert job.scenario == "PlannedFailover" and job.target_object_id == it.name
    assert [t.state for t in job.tasks] == [JobState.SUCCEEDED] * 5
    assert power(sim, "app01") == "Off"
    it = await item(gateway, "app01")
    assert it.active_location == ActiveLocation.RECOVERY
    assert it.protection_state == "PlannedFailoverCommitRequired"
    assert {"Commit", "ChangePit"} <= it.allowed_operations
    assert it.failover_recovery_point_id
    vm = await AzureVms(gateway).recovery_vm(it)  # as ARM's Compute and Network show it
    assert vm.found and vm.power_state == "running" and answers(vm.private_ips[0])
    assert vm.id.endswith("/providers/Microsoft.Compute/virtualMachines/app01")

    older = (await gateway.list_recovery_points(it))[3]
    await run(gateway, gateway.start_apply_recovery_point(it, older.id))
    it = await item(gateway, "app01")
    assert it.failover_recovery_point_id is not None
    assert it.failover_recovery_point_id.lower() == older.id.lower()

    await run(gateway, gateway.start_commit(it))
    it = await item(gateway, "app01")
    assert it.protection_state == "PlannedFailoverStatesBegin"
    assert it.allowed_operations == {"DisableProtection", "Failback", "CompleteMigration"}
    assert len(await gateway.list_recovery_points(it)) == 1  # commit keeps only the used one

    await run(gateway, gateway.start_failback(it, "ForSynchronization"))
    assert power(sim, "app01") == "Running"
    it = await item(gateway, "app01")
    assert it.active_location == ActiveLocation.PRIMARY
    assert it.allowed_operations == {"Commit"}
    await run(gateway, gateway.start_commit(it))
    it = await item(gateway, "app01")
    assert it.allowed_operations == {"ReverseReplicate", "DisableProtection"}
    assert not (await AzureVms(gateway).recovery_vm(it)).found  # failback deleted it
    await run(gateway, gateway.start_reprotect(it))
    it = await item(gateway, "app01")
    assert it.protection_state == "Protected"
    assert it.allowed_operations == PROTECTED_OPS
    calls = sim.calls
    assert calls["items.plannedFailover"] == 2  # failover + failback
    assert calls["items.failoverCommit"] == 2 and calls["items.reProtect"] == 1
    assert calls["jobs.cancel"] == calls["items.failoverCancel"] == 0


async def test_failback_for_downtime_suspends_until_resumed(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    it = await item(gateway, "web01")
    await run(gateway, gateway.start_unplanned_failover(it))
    await run(gateway, gateway.start_commit(await item(gateway, "web01")))
    name = await gateway.start_failback(
        await item(gateway, "web01"), "ForDownTime", create_vm_if_not_found=True
    )
    job = await wait_job(gateway, name, JobState.SUSPENDED)
    assert job.allowed_actions == {"Cancel", "Resume"}
    assert job.current_task is not None and job.current_task.state == JobState.SUSPENDED
    assert any(t.name == "VmFbCreateVm" for t in job.tasks)
    it = await item(gateway, "web01")
    assert it.active_location == ActiveLocation.RECOVERY and it.current_job_name == name
    assert it.allowed_operations == frozenset()
    assert power(sim, "web01") == "Off"
    assert await gateway.resume_job(name, "approved by ops") == name
    job = await wait_job(gateway, name)
    assert job.state == JobState.SUCCEEDED
    assert power(sim, "web01") == "Running"
    assert (await item(gateway, "web01")).allowed_operations == {"Commit"}


async def test_unplanned_failover_shuts_down_source_only_when_asked(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    a, b = await item(gateway, "app01"), await item(gateway, "file01")
    ja = await gateway.start_unplanned_failover(a, shutdown_source=True)
    jb = await gateway.start_unplanned_failover(b, shutdown_source=False)
    assert (await wait_job(gateway, ja)).state == JobState.SUCCEEDED
    job_b = await wait_job(gateway, jb)
    assert job_b.state == JobState.SUCCEEDED
    assert "VmShutdownVmOnPrimary" not in {t.name for t in job_b.tasks}
    assert power(sim, "app01") == "Off" and power(sim, "file01") == "Running"
    it = await item(gateway, "file01")
    assert it.protection_state == "UnplannedFailoverCommitPendingStatesBegin"
    assert it.active_location == ActiveLocation.RECOVERY


async def test_failover_to_a_chosen_recovery_point(gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    app_consistent = next(p for p in await gateway.list_recovery_points(it) if p.app_consistent)
    await run(gateway, gateway.start_unplanned_failover(it, app_consistent.id))
    it = await item(gateway, "app01")
    assert it.failover_recovery_point_id is not None
    assert it.failover_recovery_point_id.lower() == app_consistent.id.lower()


async def test_test_failover_and_cleanup(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    job = await run(gateway, gateway.start_test_failover(it, VNET))
    assert job.scenario == "TestFailover"
    it = await item(gateway, "app01")
    assert it.test_failover_state == "WaitingForCompletion"
    assert it.protection_state_description == "Cleanup test failover pending"
    assert it.allowed_operations == {"TestFailoverCleanup"}
    assert it.active_location == ActiveLocation.PRIMARY
    test_vm = await AzureVms(gateway).test_vm(it)  # a VM of its own, found by its NIC
    assert test_vm.name == "app01-test" and test_vm.power_state == "running"
    assert answers(test_vm.private_ips[0])
    assert not (await AzureVms(gateway).recovery_vm(it)).found
    ip = test_vm.private_ips[0]
    await run(gateway, gateway.start_test_failover_cleanup(it, "drill OK"))
    it = await item(gateway, "app01")
    assert it.allowed_operations == PROTECTED_OPS
    assert it.test_failover_state == "MarkedForDeletion"  # as in the official examples
    assert not (await AzureVms(gateway).test_vm(it)).found and not answers(ip)
    assert not it.health_errors  # a successful drill clears the 161011 warning
    assert sim.calls["items.testFailover"] == 1


async def test_update_compute_and_network_settings(gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    rg = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-app"
    wanted = TargetSettings(
        vm_name="app01-dr",
        size="Standard_D4s_v3",
        resource_group_id=rg,
        availability_zone="2",
        use_managed_disks=True,
        network_id=VNET,
        nics=(NicSettings(nic_id=it.target.nics[0].nic_id, subnet="app", static_ip="10.1.0.10"),),
        tags=(("app", "web"), ("tier", "1")),
    )
    job = await run(gateway, gateway.start_update_target(it, wanted))
    assert job.scenario == "UpdateVmProperties"
    got = (await item(gateway, "app01")).target
    assert got.vm_name == "app01-dr" and got.size == "Standard_D4s_v3"
    assert got.resource_group_id == rg and got.availability_zone == "2"
    assert got.network_id == VNET
    assert got.nics == wanted.nics
    assert got.tags == wanted.tags


async def test_refusals_are_classified(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    with pytest.raises(NotAllowed) as refused:
        await gateway.start_commit(it)
    assert refused.value.code == "28127" and refused.value.status == 400
    assert "Commit" in refused.value.message
    sim.sim.time_scale = 1000  # keep the next job running
    name = await gateway.start_planned_failover(it)
    with pytest.raises(Conflict) as conflict:
        await gateway.start_test_failover(it, VNET)
    assert name in conflict.value.recommended_action
    it = await item(gateway, "app01")
    assert it.current_scenario == "PlannedFailover" and it.current_job_name == name
    sim.sim.time_scale = 1


async def test_vm_can_stop_answering(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    await run(gateway, gateway.start_planned_failover(await item(gateway, "web01")))
    ip = (await AzureVms(gateway).recovery_vm(await item(gateway, "web01"))).private_ips[0]
    assert answers(ip)
    sim.set_vm_answering("web01", False)
    assert not answers(ip)
    sim.set_vm_answering("web01", True)
    assert await asyncio.to_thread(answers, ip)


async def test_test_failover_job_stays_suspended_until_cleanup(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    """As the examples show (ReplicationJobs_Resume, ReplicationProtectedItems_TestFailover)."""
    gw = gateway
    it = await item(gw, "app01")
    name = await gw.start_test_failover(it, VNET)
    job = await wait_job(gw, name, JobState.SUSPENDED)
    assert job.state_description == "WaitingForStopTestFailover"
    assert job.allowed_actions == {"Cancel", "Resume"}
    it = await item(gw, "app01")
    assert it.allowed_operations == {"TestFailoverCleanup"}
    # currentScenario names the waiting job; it holds nothing up.
    assert (it.current_scenario, it.current_job_name) == ("TestFailover", name)
    assert it.busy_job is None
    assert answers((await AzureVms(gw).test_vm(it)).private_ips[0])
    await gw.resume_job(name, "looks good")  # accepted; the job waits on for the cleanup
    wire = Wire(sim, gw)
    body = (await wire.send("GET", f"{wire.vault}/replicationJobs/{name}")).json()
    assert body["properties"]["state"] == "Suspended"
    details = body["properties"]["customDetails"]
    assert (details["testFailoverStatus"], details["comments"]) == ("Completed", "looks good")
    await run(gw, gw.start_test_failover_cleanup(it, "done"))
    assert (await wait_job(gw, name)).state == JobState.SUCCEEDED
    it = await item(gw, "app01")
    assert it.allowed_operations == PROTECTED_OPS and it.current_job_name is None


async def test_test_failover_job_can_end_succeeded(scenario: Scenario) -> None:
    with AsrSimulatorThread(scenario, test_failover_suspends=False) as sim:
        async with AsrGateway(make_config(sim)) as gw:
            job = await wait_job(gw, await gw.start_test_failover(await item(gw, "app01"), VNET))
            assert job.state == JobState.SUCCEEDED
            assert (await item(gw, "app01")).allowed_operations == {"TestFailoverCleanup"}
