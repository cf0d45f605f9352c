"""Fixtures: a fresh ASR simulator per test (own thread and loop) and a gateway against it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from asr_operator.azure import AsrConfig, AsrGateway, AuthConfig, AuthType
from asr_operator.lifecycle.observed import AsrItem, AsrJob, JobState
from asr_operator.sim.asr import AsrSimulatorThread
from asr_operator.sim.scenario import Scenario

T = TypeVar("T")

CLIENT_ID = "operator-app"
CLIENT_SECRET = "not-a-real-secret-4711"
FEDERATED_CLIENT_ID = "workload-app"
VNET = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-net"
    "/providers/Microsoft.Network/virtualNetworks/vnet-drill"
)


def make_scenario(vm_count: int = 0, task_seconds: float = 0.01) -> Scenario:
    """Five named VMs (two in a plan with a manual action), plus `vm_count` extra ones."""
    extra = [{"name": f"vm{n:04d}"} for n in range(vm_count)]
    return Scenario.model_validate(
        {
            "credentials": [
                {"clientId": CLIENT_ID, "secret": CLIENT_SECRET},
                {"clientId": FEDERATED_CLIENT_ID, "federated": True},
            ],
            "taskSeconds": task_seconds,
            "recoveryPointSeconds": 0.2,
            "appConsistentEvery": 3,
            "sites": [
                {
                    "name": "hv-site-1",
                    "hosts": [
                        {
                            "name": "hv-01",
                            "vms": [
                                {
                                    "name": "app01",
                                    "disks": [
                                        {"path": "C:\\vms\\app01.vhdx", "os": True, "sizeGB": 127},
                                        {"path": "C:\\vms\\app01-data.vhdx", "sizeGB": 512},
                                    ],
                                    "recoveryIP": "10.20.1.15",
                                },
                                {"name": "web01"},
                                {"name": "db01", "generation": 1},
                                {"name": "file01"},
                                {"name": "spare01"},
                                *extra,
                            ],
                        }
                    ],
                }
            ],
            "plans": [
                {
                    "name": "plan-web",
                    "groups": [
                        {"vms": ["db01"]},
                        {
                            "vms": ["web01"],
                            "actions": [
                                {"name": "confirm-dns", "manual": "Confirm the DNS cut-over"}
                            ],
                        },
                    ],
                }
            ],
        }
    )


@pytest.fixture
def scenario() -> Scenario:
    return make_scenario()


@pytest.fixture
def sim(scenario: Scenario) -> Iterator[AsrSimulatorThread]:
    with AsrSimulatorThread(scenario, retry_after=0) as s:
        yield s


def make_config(sim: AsrSimulatorThread, **overrides: Any) -> AsrConfig:
    sc = sim.sim.scenario
    auth = overrides.pop(
        "auth",
        AuthConfig(
            type=AuthType.CLIENT_SECRET,
            tenant_id=sc.tenant_id,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        ),
    )
    values: dict[str, Any] = {
        "subscription_id": sc.subscription_id,
        "resource_group": sc.resource_group,
        "vault_name": sc.vault,
        "auth": auth,
        "endpoint": sim.url,
        "authority_host": sim.url,
        "ca_bundle": str(sim.ca_path),
        "read_timeout": 5.0,
        "read_retries": 0,
        "throttle_retries": 0,
    }
    values.update(overrides)
    return AsrConfig(**values)


@pytest.fixture
async def gateway(sim: AsrSimulatorThread) -> AsyncIterator[AsrGateway]:
    async with AsrGateway(make_config(sim)) as gw:
        yield gw


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 10.0
) -> T:
    """Poll `probe` until `check` holds; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.05)  # 20 reads/s stays under ARM's 25/s refill


async def wait_job(gw: AsrGateway, name: str, *states: JobState) -> AsrJob:
    wanted = states or (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
    return await eventually(lambda: gw.get_job(name), lambda j: j.state in wanted)


async def item(gw: AsrGateway, name: str) -> AsrItem:
    found = await gw.find_item(name)
    assert found is not None, name
    return found


def waits_for_cleanup(job: AsrJob) -> bool:
    """A test failover's job waits, Suspended, for the cleanup once its VMs are up."""
    return job.state == JobState.SUSPENDED and job.state_description == "WaitingForStopTestFailover"


async def run(gw: AsrGateway, start: Awaitable[str]) -> AsrJob:
    """Start an action and wait until its job succeeded (a test failover: its VMs are up)."""
    name = await start
    job = await eventually(
        lambda: gw.get_job(name), lambda j: j.state.terminal or waits_for_cleanup(j)
    )
    assert job.state == JobState.SUCCEEDED or waits_for_cleanup(job), job
    return job
