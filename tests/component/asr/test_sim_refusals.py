"""The simulator refuses what ASR refuses and accepts what ASR allows (2025-08-01 definitions)."""

from __future__ import annotations

from asr_operator.azure import AsrGateway
from asr_operator.lifecycle.observed import ActiveLocation
from asr_operator.sim.asr import AsrSimulatorThread
from tests.component.asr.conftest import VNET, item, run
from tests.component.asr.test_examples import Wire


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
