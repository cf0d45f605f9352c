"""The LRO protocol as the SDK's own ARM poller sees it, and job cancel/restart.

The operator never waits on pollers and never cancels; these tests prove the
simulator still speaks the protocol a real client relies on.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.recoveryservicessiterecovery import models as m
from azure.mgmt.recoveryservicessiterecovery.aio import SiteRecoveryManagementClient

from asr_operator.azure import AsrGateway
from asr_operator.azure.job_ids import job_name_from_headers
from asr_operator.lifecycle.observed import JobState
from asr_operator.sim.asr import AsrSimulatorThread, JobFailure
from asr_operator.sim.scenario import Scenario
from tests.component.asr.conftest import item, make_config, wait_job

PFO = m.PlannedFailoverInput(
    properties=m.PlannedFailoverInputProperties(
        failover_direction="PrimaryToRecovery",
        provider_specific_details=m.HyperVReplicaAzurePlannedFailoverProviderInput(),
    )
)


@pytest.fixture
async def client(gateway: AsrGateway) -> AsyncIterator[SiteRecoveryManagementClient]:
    yield gateway._client


async def _args(gateway: AsrGateway, vm: str) -> tuple[str, ...]:
    it = await item(gateway, vm)
    c = gateway.config
    return (c.resource_group, c.vault_name, it.fabric, it.container, it.name)


async def test_202_headers(
    sim: AsrSimulatorThread, gateway: AsrGateway, client: SiteRecoveryManagementClient
) -> None:
    seen = []
    await client.replication_protected_items.begin_planned_failover(
        *await _args(gateway, "app01"),
        PFO,
        polling=False,
        raw_response_hook=lambda r: seen.append(r.http_response),
    )
    r = seen[0]
    assert r.status_code == 202 and r.headers["Content-Length"] == "0"
    job = job_name_from_headers(r.headers)
    assert (
        job
        and f"/replicationOperationStatus/{job}?api-version=" in r.headers["Azure-AsyncOperation"]
    )
    assert "/replicationProtectedItems/" in r.headers["Location"]
    assert r.headers["Location"].split("?")[0].endswith(f"/operationresults/{job}")
    assert r.headers["Retry-After"] == "0"
    assert r.headers["x-ms-request-id"].endswith(f"/replicationJobs/{job}")
    assert r.headers["Location"].startswith(f"{sim.url}/Subscriptions/")


async def test_sdk_poller_runs_to_the_final_resource(
    gateway: AsrGateway, client: SiteRecoveryManagementClient
) -> None:
    poller = await client.replication_protected_items.begin_planned_failover(
        *await _args(gateway, "app01"), PFO
    )
    result = await poller.result()
    assert isinstance(result, m.ReplicationProtectedItem)
    assert result.properties.active_location == "Recovery"


async def test_sdk_poller_raises_asr_error_of_a_failed_job(
    sim: AsrSimulatorThread, gateway: AsrGateway, client: SiteRecoveryManagementClient
) -> None:
    sim.fail_job(JobFailure(operation="PlannedFailover", task=1, code="70094"))
    poller = await client.replication_protected_items.begin_planned_failover(
        *await _args(gateway, "app01"), PFO
    )
    with pytest.raises(HttpResponseError) as err:
        await poller.result()
    assert "70094" in str(err.value)


async def test_final_result_can_be_204(scenario: Scenario) -> None:
    with AsrSimulatorThread(scenario, final_result_204=True) as sim:
        async with AsrGateway(make_config(sim)) as gw:
            poller = await gw._client.replication_protected_items.begin_planned_failover(
                *await _args(gw, "app01"), PFO
            )
            assert await poller.result() is None


async def test_cancel_and_restart_exist_in_the_simulator(
    sim: AsrSimulatorThread, gateway: AsrGateway, client: SiteRecoveryManagementClient
) -> None:
    c = gateway.config
    it = await item(gateway, "app01")
    await wait_job(gateway, await gateway.start_planned_failover(it))
    await wait_job(gateway, await gateway.start_commit(await item(gateway, "app01")))
    name = await gateway.start_failback(await item(gateway, "app01"), "ForDownTime")
    await wait_job(gateway, name, JobState.SUSPENDED)
    poller = await client.replication_jobs.begin_cancel(c.resource_group, c.vault_name, name)
    with pytest.raises(HttpResponseError):  # the status says Canceled: a failed LRO
        await poller.result()
    assert (await gateway.get_job(name)).state == JobState.CANCELLED
    assert (await item(gateway, "app01")).allowed_operations >= {"Failback"}

    sim.fail_job(JobFailure(operation="failoverCommit", task=0))
    name = await gateway.start_planned_failover(await item(gateway, "web01"))
    await wait_job(gateway, name)
    name = await gateway.start_commit(await item(gateway, "web01"))
    assert (await wait_job(gateway, name)).state == JobState.FAILED
    poller = await client.replication_jobs.begin_restart(c.resource_group, c.vault_name, name)
    await poller.result()
    assert (await wait_job(gateway, name)).state == JobState.SUCCEEDED
    assert sim.calls["jobs.cancel"] == 1 and sim.calls["jobs.restart"] == 1


async def test_cancelled_spelling_is_configurable(scenario: Scenario) -> None:
    with AsrSimulatorThread(scenario, cancelled_spelling="Cancelled") as sim:
        async with AsrGateway(make_config(sim)) as gw:
            name = await gw.start_plan_planned_failover("plan-web")
            await wait_job(gw, name, JobState.SUSPENDED)
            c = gw.config
            await gw._client.replication_jobs.begin_cancel(
                c.resource_group, c.vault_name, name, polling=False
            )
            await wait_job(gw, name)
            status = await gw._client.send_request(
                HttpRequest(
                    "GET",
                    f"{sim.url}/subscriptions/{c.subscription_id}/resourceGroups/"
                    f"{c.resource_group}/providers/Microsoft.RecoveryServices/vaults/"
                    f"{c.vault_name}/replicationOperationStatus/{name}?api-version=2025-08-01",
                )
            )
            assert status.json()["status"] == "Cancelled"


def test_gateway_offers_no_way_to_cancel() -> None:
    names = [n for n, _ in inspect.getmembers(AsrGateway) if not n.startswith("_")]
    assert not [n for n in names if "cancel" in n.lower()]
