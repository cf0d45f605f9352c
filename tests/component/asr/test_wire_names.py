"""Nothing the simulator answers on ASR paths has a field name ASR's definitions lack.

A field that only the simulator sends (such as the former `simRecoveryVmIPs`) lets the
operator and the simulator agree on a shortcut real Azure does not take. The names are
those of the official 2025-08-01 definitions (tests/data, with their MIT notice).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asr_operator.azure import AsrGateway
from asr_operator.lifecycle.observed import JobState
from asr_operator.sim.asr import AsrSimulatorThread
from tests.component.asr.conftest import VNET, item, run, wait_job

NAMES = frozenset(
    line.strip()
    for line in (Path(__file__).parents[2] / "data/asr-2025-08-01-property-names.txt")
    .read_text()
    .splitlines()
    if line.strip() and not line.startswith("#")
)
# Maps whose keys are the user's data, not field names (definitions: additionalProperties).
FREE_FORM = frozenset(
    {
        "targetVmTags",
        "seedManagedDiskTags",
        "targetManagedDiskTags",
        "targetNicTags",
        "tags",
        "affectedObjectDetails",  # JobDetails: a string map
    }
)
PAGE = frozenset({"value", "nextLink"})  # ARM's paging envelope
# The Azure-AsyncOperation answer is ARM's own (common-types OperationStatusResult).
ARM_ASYNC = frozenset({"id", "name", "status", "startTime", "endTime", "percentComplete", "error"})
API = "2025-08-01"


def unknown_names(body: Any, path: str = "", known: frozenset[str] = NAMES | PAGE) -> list[str]:
    """Paths of the keys in `body` that are no property name of the definitions."""
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            where = f"{path}.{key}"
            if key not in known:
                found.append(where)
            if key not in FREE_FORM:
                found += unknown_names(value, where, known)
    elif isinstance(body, list):
        for i, value in enumerate(body):
            found += unknown_names(value, f"{path}[{i}]", known)
    return found


def test_the_check_sees_a_shortcut() -> None:
    details = {"vmNics": [{"recoveryNicName": "n"}], "simRecoveryVmIPs": ["127.0.0.2"]}
    assert unknown_names({"properties": {"providerSpecificDetails": details}}) == [
        ".properties.providerSpecificDetails.simRecoveryVmIPs"
    ]
    assert unknown_names({"properties": {"targetVmTags": {"any-tag": "x"}}}) == []


async def test_asr_answers_use_only_defined_names(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    # Bring out every shape: a failed-over VM, a drill's test VM, a suspended plan job.
    await run(gateway, gateway.start_planned_failover(await item(gateway, "file01")))
    await run(gateway, gateway.start_test_failover(await item(gateway, "app01"), VNET))
    plan_job = await gateway.start_plan_test_failover("plan-web", VNET)
    await wait_job(gateway, plan_job, JobState.SUSPENDED)
    cfg = gateway.config
    vault = (
        f"/subscriptions/{cfg.subscription_id}/resourceGroups/{cfg.resource_group}"
        f"/providers/Microsoft.RecoveryServices/vaults/{cfg.vault_name}"
    )
    items = await gateway.get_resource(f"{vault}/replicationProtectedItems", API)
    app = next(i for i in items["value"] if i["properties"]["friendlyName"] == "app01")
    fabrics = await gateway.get_resource(f"{vault}/replicationFabrics", API)
    fabric = fabrics["value"][0]["id"]
    bodies = {
        "items": items,
        "item": await gateway.get_resource(app["id"], API),
        "recoveryPoints": await gateway.get_resource(f"{app['id']}/recoveryPoints", API),
        "computeSizes": await gateway.get_resource(f"{app['id']}/targetComputeSizes", API),
        "jobs": await gateway.get_resource(f"{vault}/replicationJobs", API),
        "job": await gateway.get_resource(f"{vault}/replicationJobs/{plan_job}", API),
        "plans": await gateway.get_resource(f"{vault}/replicationRecoveryPlans", API),
        "fabrics": fabrics,
        "fabric": await gateway.get_resource(fabric, API),
        "containers": await gateway.get_resource(f"{fabric}/replicationProtectionContainers", API),
    }
    assert {k: unknown_names(v) for k, v in bodies.items()} == {k: [] for k in bodies}
    status = await gateway.get_resource(f"{vault}/replicationOperationStatus/{plan_job}", API)
    assert unknown_names(status, known=ARM_ASYNC | NAMES) == []
