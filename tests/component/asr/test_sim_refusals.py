"""The simulator refuses what ASR refuses and accepts what ASR allows (2025-08-01 definitions)."""

from __future__ import annotations

import pytest

from asr_operator.azure import AsrGateway
from asr_operator.lifecycle.observed import ActiveLocation, JobState
from asr_operator.sim.asr import AsrSimulatorThread
from tests.component.asr.conftest import VNET, item, run, wait_job
from tests.component.asr.test_examples import Wire, example


async def test_cleanup_comment_longer_than_1024_is_refused(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    wire = Wire(sim, gateway)
    await run(gateway, gateway.start_test_failover(await item(gateway, "app01"), VNET))
    url = f"{await wire.item_path('app01')}/testFailoverCleanup"
    r = await wire.send("POST", url, {"properties": {"comments": "x" * 1025}})
    assert r.status_code == 400 and "1024" in r.json()["error"]["message"]
    r = await wire.send("POST", url, {"properties": {"comments": "x" * 1024}})
    assert r.status_code == 202


async def test_plan_failover_without_direction_is_refused(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    wire = Wire(sim, gateway)
    for action in ("plannedFailover", "unplannedFailover", "testFailover"):
        url = f"{wire.vault}/replicationRecoveryPlans/plan-web/{action}"
        r = await wire.send("POST", url, {"properties": {"providerSpecificDetails": []}})
        assert r.status_code == 400, action
        assert r.json()["error"]["message"] == "failoverDirection is required."


async def test_apply_recovery_point_without_id_takes_the_latest(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    """recoveryPointId is optional in ApplyRecoveryPointInputProperties."""
    await run(gateway, gateway.start_planned_failover(await item(gateway, "web01")))
    it = await item(gateway, "web01")
    assert it.active_location == ActiveLocation.RECOVERY
    wire = Wire(sim, gateway)
    body = {"properties": {"providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"}}}
    r = await wire.send("POST", f"{await wire.item_path('web01')}/applyRecoveryPoint", body)
    assert r.status_code == 202, r.text()


async def plan_failed_over(gateway: AsrGateway) -> None:
    name = await gateway.start_plan_planned_failover("plan-web")
    await wait_job(gateway, name, JobState.SUSPENDED)  # Boot 2's manual action
    await gateway.resume_job(name)
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED


async def test_plan_failback_without_vm_creation_option_is_refused(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    """RecoveryPlanHyperVReplicaAzureFailbackInput requires recoveryVmCreationOption."""
    await plan_failed_over(gateway)
    await run(gateway, gateway.start_plan_commit("plan-web"))
    wire = Wire(sim, gateway)
    url = f"{wire.vault}/replicationRecoveryPlans/plan-web/plannedFailover"
    details = {"instanceType": "HyperVReplicaAzureFailback", "dataSyncOption": "ForSynchronization"}
    body = {
        "properties": {
            "failoverDirection": "RecoveryToPrimary",
            "providerSpecificDetails": [details],
        }
    }
    r = await wire.send("POST", url, body)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "recoveryVmCreationOption is required for failback."
    details["recoveryVmCreationOption"] = "NoAction"
    assert (await wire.send("POST", url, body)).status_code == 202


@pytest.mark.parametrize("other", ["InMageRcm", "A2A"])
async def test_another_scenarios_provider_input_is_refused(
    sim: AsrSimulatorThread, gateway: AsrGateway, other: str
) -> None:
    wire = Wire(sim, gateway)
    item_url = await wire.item_path("app01")
    plan_url = f"{wire.vault}/replicationRecoveryPlans/plan-web"
    direction = {"failoverDirection": "PrimaryToRecovery"}
    for url, props in (
        (
            f"{item_url}/plannedFailover",
            {**direction, "providerSpecificDetails": {"instanceType": other}},
        ),
        (
            f"{item_url}/unplannedFailover",
            {
                **direction,
                "sourceSiteOperations": "NotRequired",
                "providerSpecificDetails": {"instanceType": other},
            },
        ),
        (
            f"{item_url}/testFailover",
            {
                **direction,
                "networkType": "VmNetworkAsInput",
                "networkId": VNET,
                "providerSpecificDetails": {"instanceType": other},
            },
        ),
        (
            f"{plan_url}/plannedFailover",
            {**direction, "providerSpecificDetails": [{"instanceType": other}]},
        ),
        (
            f"{plan_url}/testFailover",
            {
                **direction,
                "networkType": "VmNetworkAsInput",
                "networkId": VNET,
                "providerSpecificDetails": [{"instanceType": other}],
            },
        ),
    ):
        r = await wire.send("POST", url, {"properties": props})
        assert r.status_code == 400, url
        error = r.json()["error"]
        assert error["code"] == "28004" and other in error["message"], url
        assert {"code", "message", "possibleCauses", "recommendedAction"} <= set(error)
    assert not sim.call(lambda: list(sim.sim.vault.jobs))  # nothing was started


async def test_failover_cancel_is_refused_unless_allowed(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    """allowedOperations never lists CancelFailover for a Hyper-V item in the examples."""
    await plan_failed_over(gateway)
    it = await item(gateway, "db01")
    assert "CancelFailover" not in it.allowed_operations
    wire = Wire(sim, gateway)
    for url in (
        f"{await wire.item_path('db01')}/failoverCancel",
        f"{wire.vault}/replicationRecoveryPlans/plan-web/failoverCancel",
    ):
        r = await wire.send("POST", url)
        assert r.status_code == 400, url
        assert r.json()["error"]["code"] == "28127"
        assert "CancelFailover" in r.json()["error"]["message"]
    assert (await item(gateway, "db01")).protection_state == "PlannedFailoverCommitRequired"


async def test_plain_job_tasks_are_shaped_as_in_the_example(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    """ReplicationJobs_Get: taskType TaskDetails, customDetails ManualActionTaskDetails."""
    want = example("ReplicationJobs_Get")["responses"]["200"]["body"]["properties"]["tasks"][0]
    job = await run(gateway, gateway.start_planned_failover(await item(gateway, "app01")))
    wire = Wire(sim, gateway)
    body = (await wire.send("GET", f"{wire.vault}/replicationJobs/{job.name}")).json()
    tasks = body["properties"]["tasks"]
    assert len(tasks) == 5
    for task in tasks:
        assert (task["taskType"], task["customDetails"]) == (
            want["taskType"],
            want["customDetails"],
        )
        assert set(want) <= set(task)
