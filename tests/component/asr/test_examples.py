"""Replay the official ASR REST examples that apply to Hyper-V, plus bodies from the reference.

For every example: the simulator accepts the example's request (its body, its
api-version) and its answer deserializes through the SDK into the same typed fields
the example's response has (non-null where the example is non-null, same Python
type). For the state-changing actions, the state after the job equals the example's
final state. Examples: tests/data/asr-examples (MIT, see LICENSE and README there).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from azure.core.rest import HttpRequest
from azure.mgmt.recoveryservicessiterecovery import models as m
from azure.mgmt.recoveryservicessiterecovery._utils.model_base import Model, _deserialize

from asr_operator.azure import AsrGateway
from asr_operator.azure.job_ids import job_name_from_headers
from asr_operator.lifecycle.observed import JobState
from asr_operator.sim.asr import AsrSimulatorThread, JobFailure
from tests.component.asr.conftest import VNET, item, run, wait_job, waits_for_cleanup

EXAMPLES = Path(__file__).parents[2] / "data" / "asr-examples"
API = "2026-05-01"

# Fields that legitimately depend on history or on [UNCONFIRMED] choices (docs/simulator.md).
HISTORY = {
    "failover_recovery_point_id",
    "last_successful_failover_time",
    "last_successful_test_failover_time",
    "last_planned_failover_time",
    "last_unplanned_failover_time",
    "last_test_failover_time",
    "end_time",
    "provider_specific_details",  # A2A-only list on plans; Hyper-V details are checked below
}


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def typed(model: Any) -> dict[str, Any]:
    """Non-null typed attributes of an SDK model (through the SDK's own field table)."""
    return {
        attr: getattr(model, attr)
        for attr in getattr(model, "_attr_to_rest_field", {})
        if getattr(model, attr) is not None
    }


def assert_same_fields(cls: type, example_body: dict[str, Any], sim_body: dict[str, Any]) -> None:
    want, got = _deserialize(cls, example_body), _deserialize(cls, sim_body)
    for level in ("", "properties"):
        w = getattr(want, level) if level else want
        g = getattr(got, level) if level else got
        if w is None:
            continue
        assert g is not None, f"{cls.__name__}.{level} missing"
        tw, tg = typed(w), typed(g)
        for attr, value in tw.items():
            if attr in HISTORY or attr == "properties":
                continue
            assert attr in tg, f"{cls.__name__}.{level}.{attr} missing in the simulator's body"
            if isinstance(value, Model):
                continue  # polymorphic details (job kinds differ between examples)
            assert type(tg[attr]) is type(value), f"{cls.__name__}.{level}.{attr}: type differs"


def first(body: dict[str, Any]) -> dict[str, Any]:
    return body["value"][0] if "value" in body else body


class Wire:
    """Raw requests through the gateway's SDK pipeline (auth, TLS) at our vault's paths."""

    def __init__(self, sim: AsrSimulatorThread, gw: AsrGateway) -> None:
        sc = sim.sim.scenario
        self.gw = gw
        self.vault = (
            f"{sim.url}/subscriptions/{sc.subscription_id}/resourceGroups/{sc.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{sc.vault}"
        )

    async def item_path(self, vm: str) -> str:
        it = await item(self.gw, vm)
        return (
            f"{self.vault}/replicationFabrics/{it.fabric}/replicationProtectionContainers/"
            f"{it.container}/replicationProtectedItems/{it.name}"
        )

    async def send(self, method: str, url: str, body: Any = None) -> Any:
        request = HttpRequest(method, url, params={"api-version": API}, json=body)
        return await self.gw._client.send_request(request)

    async def act(self, url: str, body: Any = None, method: str = "POST") -> Any:
        """Send an action, wait for its job, and return the final result body."""
        r = await self.send(method, url, body)
        assert r.status_code == 202, (r.status_code, r.text())
        job = job_name_from_headers(r.headers)
        assert job is not None
        done = await wait_job(self.gw, job, JobState.SUCCEEDED, JobState.FAILED, JobState.SUSPENDED)
        while done.state == JobState.SUSPENDED and not waits_for_cleanup(done):
            await self.gw.resume_job(job, "example replay")  # a manual action
            done = await wait_job(
                self.gw, job, JobState.SUCCEEDED, JobState.FAILED, JobState.SUSPENDED
            )
        assert done.state == JobState.SUCCEEDED or waits_for_cleanup(done), done
        final = await self.send("GET", r.headers["Location"].split("?")[0])
        assert final.status_code == 200
        return final.json()


@pytest.fixture
async def wire(sim: AsrSimulatorThread, gateway: AsrGateway) -> Wire:
    return Wire(sim, gateway)


STATE = ("activeLocation", "protectionState", "protectionStateDescription")


def assert_state(example_name: str, body: dict[str, Any]) -> None:
    want = example(example_name)["responses"]["200"]["body"]["properties"]
    got = body["properties"]
    for key in STATE:
        if key in want:
            assert got[key] == want[key], (example_name, key)
    assert set(got["allowedOperations"]) == set(want["allowedOperations"]), example_name


# --- reads ---

READS = [
    ("ReplicationFabrics_Get", m.Fabric, "{vault}/replicationFabrics/hv-site-1"),
    ("ReplicationProtectionContainers_Get", m.ProtectionContainer, "{container}"),
    ("ReplicationProtectedItems_Get", m.ReplicationProtectedItem, "{item}"),
    (
        "ReplicationProtectedItems_List",
        m.ReplicationProtectedItem,
        "{vault}/replicationProtectedItems",
    ),
    (
        "ReplicationProtectedItems_ListByReplicationProtectionContainers",
        m.ReplicationProtectedItem,
        "{container}/replicationProtectedItems",
    ),
    ("RecoveryPoints_ListByReplicationProtectedItems", m.RecoveryPoint, "{item}/recoveryPoints"),
    ("ReplicationJobs_List", m.Job, "{vault}/replicationJobs"),
    ("ReplicationRecoveryPlans_List", m.RecoveryPlan, "{vault}/replicationRecoveryPlans"),
    ("ReplicationRecoveryPlans_Get", m.RecoveryPlan, "{vault}/replicationRecoveryPlans/plan-web"),
]


@pytest.mark.parametrize(("name", "cls", "path"), READS, ids=[r[0] for r in READS])
async def test_read_examples(
    wire: Wire, gateway: AsrGateway, name: str, cls: type, path: str
) -> None:
    await run(gateway, gateway.start_test_failover(await item(gateway, "spare01"), ""))  # a job
    item_url = await wire.item_path("app01")
    container = item_url.rsplit("/replicationProtectedItems/", 1)[0]
    url = path.format(vault=wire.vault, item=item_url, container=container)
    r = await wire.send("GET", url)
    assert r.status_code == 200, r.text()
    body = r.json()
    want = example(name)["responses"]["200"]["body"]
    assert ("value" in body) == ("value" in want)
    assert_same_fields(cls, first(want), first(body))


async def test_recovery_point_get_and_job_get(wire: Wire, gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    rp = (await gateway.list_recovery_points(it))[0]
    r = await wire.send("GET", f"{await wire.item_path('app01')}/recoveryPoints/{rp.name}")
    assert_same_fields(
        m.RecoveryPoint, example("RecoveryPoints_Get")["responses"]["200"]["body"], r.json()
    )
    job = await gateway.start_test_failover(it, "")
    r = await wire.send("GET", f"{wire.vault}/replicationJobs/{job}")
    want = example("ReplicationJobs_Get")["responses"]["200"]["body"]
    assert_same_fields(m.Job, want, r.json())


# --- item actions ---


def body_of(name: str) -> Any:
    params = example(name)["parameters"]
    bodies = [v for v in params.values() if isinstance(v, dict)]
    return copy.deepcopy(bodies[0]) if bodies else None


async def test_item_failover_examples_walk_the_documented_states(
    wire: Wire, gateway: AsrGateway
) -> None:
    url = await wire.item_path("app01")
    body = await wire.act(f"{url}/testFailover", body_of("ReplicationProtectedItems_TestFailover"))
    assert_state("ReplicationProtectedItems_TestFailover", body)
    assert_same_fields(
        m.ReplicationProtectedItem,
        example("ReplicationProtectedItems_TestFailover")["responses"]["200"]["body"],
        body,
    )
    body = await wire.act(
        f"{url}/testFailoverCleanup", body_of("ReplicationProtectedItems_TestFailoverCleanup")
    )
    assert_state("ReplicationProtectedItems_TestFailoverCleanup", body)
    assert body["properties"]["testFailoverState"] == "MarkedForDeletion"

    body = await wire.act(
        f"{url}/plannedFailover", body_of("ReplicationProtectedItems_PlannedFailover")
    )
    assert_state("ReplicationProtectedItems_PlannedFailover", body)
    rp = (await gateway.list_recovery_points(await item(gateway, "app01")))[2]
    apply = body_of("ReplicationProtectedItems_ApplyRecoveryPoint")
    apply["properties"]["recoveryPointId"] = rp.id
    body = await wire.act(f"{url}/applyRecoveryPoint", apply)
    assert body["properties"]["failoverRecoveryPointId"].lower() == rp.id.lower()
    body = await wire.act(f"{url}/failoverCommit")
    assert_state("ReplicationProtectedItems_FailoverCommit", body)

    other = await wire.item_path("web01")
    body = await wire.act(
        f"{other}/unplannedFailover", body_of("ReplicationProtectedItems_UnplannedFailover")
    )
    assert_state("ReplicationProtectedItems_UnplannedFailover", body)
    # ApplyRecoveryPoint's example response shows the unplanned commit-pending state.
    assert_state("ReplicationProtectedItems_ApplyRecoveryPoint", body)


async def test_reprotect_example_after_failback(wire: Wire, gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    await run(gateway, gateway.start_planned_failover(it))
    await run(gateway, gateway.start_commit(it))
    await run(gateway, gateway.start_failback(it, "ForSynchronization"))
    await run(gateway, gateway.start_commit(it))
    url = await wire.item_path("app01")
    body = await wire.act(f"{url}/reProtect", body_of("ReplicationProtectedItems_Reprotect"))
    assert_state("ReplicationProtectedItems_Reprotect", body)


async def test_update_example(wire: Wire, gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    update = body_of("ReplicationProtectedItems_Update")
    update["properties"]["vmNics"][0]["nicId"] = it.target.nics[0].nic_id
    body = await wire.act(await wire.item_path("app01"), update, method="PATCH")
    assert_state("ReplicationProtectedItems_Update", body)
    details = body["properties"]["providerSpecificDetails"]
    assert details["recoveryAzureVMSize"] == "Basic_A0"
    assert details["vmNics"][0]["ipConfigs"][0]["recoveryStaticIPAddress"] == "10.0.2.46"


# --- jobs ---


async def test_job_action_examples(
    sim: AsrSimulatorThread, wire: Wire, gateway: AsrGateway
) -> None:
    name = await gateway.start_plan_planned_failover("plan-web")
    await wait_job(gateway, name, JobState.SUSPENDED)
    r = await wire.send(
        "POST", f"{wire.vault}/replicationJobs/{name}/resume", body_of("ReplicationJobs_Resume")
    )
    assert r.status_code == 202
    final = await wait_job(gateway, name)
    assert final.state == JobState.SUCCEEDED
    job_body = (await wire.send("GET", f"{wire.vault}/replicationJobs/{name}")).json()
    for ex in ("ReplicationJobs_Resume", "ReplicationJobs_Restart", "ReplicationJobs_Cancel"):
        assert_same_fields(m.Job, example(ex)["responses"]["200"]["body"], job_body)

    sim.fail_job(JobFailure(operation="TestFailover", task=0))
    name = await gateway.start_test_failover(await item(gateway, "app01"), "")
    assert (await wait_job(gateway, name)).state == JobState.FAILED
    r = await wire.send("POST", f"{wire.vault}/replicationJobs/{name}/restart")
    assert r.status_code == 202
    assert waits_for_cleanup(await wait_job(gateway, name, JobState.SUSPENDED))

    sim.sim.time_scale = 1000  # the job stays running until cancelled
    name = await gateway.start_planned_failover(await item(gateway, "file01"))
    r = await wire.send("POST", f"{wire.vault}/replicationJobs/{name}/cancel")
    sim.sim.time_scale = 1
    assert r.status_code == 202
    assert (await wait_job(gateway, name)).state == JobState.CANCELLED


# --- plans ---


def assert_plan(example_name: str, body: dict[str, Any]) -> None:
    want = example(example_name)["responses"]["200"]["body"]
    assert_same_fields(m.RecoveryPlan, want, body)
    assert set(body["properties"]["allowedOperations"]) == set(
        want["properties"]["allowedOperations"]
    ), example_name


async def test_plan_action_examples(wire: Wire) -> None:
    plan = f"{wire.vault}/replicationRecoveryPlans/plan-web"
    tfo = body_of("ReplicationRecoveryPlans_TestFailover")
    tfo["properties"]["networkId"] = VNET
    # As in the example, the plan's test failover job waits, Suspended, for the cleanup.
    body = await wire.act(f"{plan}/testFailover", tfo)
    assert_plan("ReplicationRecoveryPlans_TestFailover", body)
    want = example("ReplicationRecoveryPlans_TestFailover")["responses"]["200"]["body"]
    for key in ("currentScenarioStatus", "currentScenarioStatusDescription"):
        assert body["properties"][key] == want["properties"][key], key
    assert body["properties"]["currentScenario"]["scenarioName"] == "TestFailover"
    cleanup = body_of("ReplicationRecoveryPlans_TestFailoverCleanup")
    assert_plan(
        "ReplicationRecoveryPlans_TestFailoverCleanup",
        await wire.act(f"{plan}/testFailoverCleanup", cleanup),
    )
    pfo = body_of("ReplicationRecoveryPlans_PlannedFailover")
    assert_plan(
        "ReplicationRecoveryPlans_PlannedFailover", await wire.act(f"{plan}/plannedFailover", pfo)
    )
    assert_plan("ReplicationRecoveryPlans_FailoverCommit", await wire.act(f"{plan}/failoverCommit"))


async def test_plan_unplanned_example(wire: Wire) -> None:
    plan = f"{wire.vault}/replicationRecoveryPlans/plan-web"
    ufo = body_of("ReplicationRecoveryPlans_UnplannedFailover")
    assert_plan(
        "ReplicationRecoveryPlans_UnplannedFailover",
        await wire.act(f"{plan}/unplannedFailover", ufo),
    )


async def test_plan_reprotect_example_after_failback(wire: Wire, gateway: AsrGateway) -> None:
    plan = f"{wire.vault}/replicationRecoveryPlans/plan-web"
    for step in ("plannedFailover", "failoverCommit"):
        await wire.act(f"{plan}/{step}", body_of("ReplicationRecoveryPlans_PlannedFailover"))
    failback = {
        "properties": {
            "failoverDirection": "RecoveryToPrimary",
            "providerSpecificDetails": [
                {
                    "instanceType": "HyperVReplicaAzureFailback",
                    "dataSyncOption": "ForSynchronization",
                    "recoveryVmCreationOption": "NoAction",
                }
            ],
        }
    }
    await wire.act(f"{plan}/plannedFailover", failback)
    await wire.act(f"{plan}/failoverCommit")
    assert_plan("ReplicationRecoveryPlans_Reprotect", await wire.act(f"{plan}/reProtect"))


# --- bodies composed from reference sections 1.3 and 3.6 ---

REFERENCE_BODIES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "app01",
        "plannedFailover",
        {
            "properties": {
                "failoverDirection": "PrimaryToRecovery",
                "providerSpecificDetails": {
                    "instanceType": "HyperVReplicaAzure",
                    "vaultLocation": "dummy",  # older clients sent it; must be tolerated
                    "osUpgradeVersion": "",
                },
            }
        },
    ),
    (
        "web01",
        "unplannedFailover",
        {
            "properties": {
                "failoverDirection": "PrimaryToRecovery",
                "sourceSiteOperations": "NotRequired",
                "providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"},
            }
        },
    ),
    (
        "file01",
        "testFailover",
        {
            "properties": {
                "failoverDirection": "PrimaryToRecovery",
                "networkType": "NoNetworkAttachAsInput",
                "networkId": None,
                "providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"},
            }
        },
    ),
]


@pytest.mark.parametrize(("vm", "action", "body"), REFERENCE_BODIES, ids=lambda v: str(v)[:20])
async def test_reference_request_bodies_are_accepted(
    wire: Wire, vm: str, action: str, body: dict[str, Any]
) -> None:
    await wire.act(f"{await wire.item_path(vm)}/{action}", body)


async def test_reference_failback_and_reprotect_bodies(wire: Wire, gateway: AsrGateway) -> None:
    it = await item(gateway, "app01")
    await run(gateway, gateway.start_planned_failover(it))
    await run(gateway, gateway.start_commit(it))
    url = await wire.item_path("app01")
    for sync in ("ForDownTime",):  # suspends; Wire.act resumes it
        await wire.act(
            f"{url}/plannedFailover",
            {
                "properties": {
                    "failoverDirection": "RecoveryToPrimary",
                    "providerSpecificDetails": {
                        "instanceType": "HyperVReplicaAzureFailback",
                        "dataSyncOption": sync,
                        "recoveryVmCreationOption": "NoAction",
                    },
                }
            },
        )
    await wire.act(f"{url}/failoverCommit")
    body = await wire.act(
        f"{url}/reProtect",
        {
            "properties": {
                "failoverDirection": "PrimaryToRecovery",
                "providerSpecificDetails": {
                    "instanceType": "HyperVReplicaAzure",
                    "hvHostVmId": it.name,
                    "vmName": "app01",
                    "osType": "Windows",
                    "vHDId": "925bb732-fa80-4584-8d5d-df411d93ae31",
                    "storageAccountId": "/subscriptions/x/resourceGroups/y/providers/"
                    "Microsoft.Storage/storageAccounts/z",
                },
            }
        },
    )
    assert body["properties"]["protectionState"] == "Protected"


REFERENCE_36 = Path(__file__).with_name("reference_item_3_6.json")


async def test_item_body_has_the_fields_of_reference_3_6(wire: Wire) -> None:
    want = json.loads(REFERENCE_36.read_text())
    got = (await wire.send("GET", await wire.item_path("app01"))).json()
    assert_same_fields(m.ReplicationProtectedItem, want, got)
    w = _deserialize(m.ReplicationProtectedItem, want).properties.provider_specific_details
    g = _deserialize(m.ReplicationProtectedItem, got).properties.provider_specific_details
    assert isinstance(g, m.HyperVReplicaAzureReplicationDetails)
    skip = {
        "recovery_azure_log_storage_account_id",
        "protected_managed_disks",
        "enable_rdp_on_target_option",
    }
    for attr, value in typed(w).items():
        if attr in skip:
            continue
        assert attr in typed(g), f"providerSpecificDetails.{attr} missing"
        assert type(getattr(g, attr)) is type(value), attr
    wn, gn = w.vm_nics[0], g.vm_nics[0]
    assert set(typed(wn)) <= set(typed(gn)) | {"replica_nic_id", "source_nic_arm_id"}
    assert set(typed(wn.ip_configs[0])) <= set(typed(gn.ip_configs[0]))
