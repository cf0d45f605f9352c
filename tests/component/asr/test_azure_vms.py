"""The recovered VM through ARM's Compute and Network resources: azure/compute.py vs the sim."""

from __future__ import annotations

import socket

import pytest

from asr_operator.azure import AsrGateway, NotFound
from asr_operator.azure.compute import COMPUTE_API_VERSION, AzureVms, nic_path, vm_path
from asr_operator.azure.errors import AsrError
from asr_operator.sim.asr import AsrSimulatorThread
from tests.component.asr.conftest import VNET, item, run

SUB = "11111111-2222-3333-4444-555555555555"


def answers(ip: str, port: int = 3389) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


async def test_failed_over_vm_with_dynamic_ip_is_found_and_answers(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    web = await item(gateway, "web01")
    assert not web.target.nics or not web.target.nics[0].static_ip  # a dynamic recovery IP
    vms = AzureVms(gateway)
    assert not (await vms.recovery_vm(web)).found  # no VM before the failover
    await run(gateway, gateway.start_planned_failover(web))
    web = await item(gateway, "web01")
    assert web.recovery_nics  # ASR names the NIC it created (vmNics[].recoveryNicName)
    vm = await vms.recovery_vm(web)
    assert vm.found and vm.power_state == "running" and vm.os_type == "Windows"
    assert vm.id.lower().endswith("/providers/microsoft.compute/virtualmachines/web01")
    assert vm.private_ips and answers(vm.private_ips[0])
    assert sim.calls["virtualMachines.get"] >= 2 and sim.calls["networkInterfaces.get"] >= 1


async def test_drill_test_vm_is_a_vm_of_its_own(gateway: AsrGateway) -> None:
    web = await item(gateway, "web01")
    await run(gateway, gateway.start_test_failover(web, VNET))
    web = await item(gateway, "web01")
    assert web.test_nics and not web.recovery_nics
    test_vm = await AzureVms(gateway).test_vm(web)
    assert test_vm.found and test_vm.name == "web01-test" and answers(test_vm.private_ips[0])


async def test_compute_and_network_follow_arm_conventions(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    rg = sim.sim.scenario.resource_group
    with pytest.raises(NotFound) as missing:
        await gateway.get_resource(vm_path(SUB, rg, "nope"), COMPUTE_API_VERSION)
    assert missing.value.code == "ResourceNotFound" and missing.value.status == 404
    with pytest.raises(NotFound):
        await gateway.get_resource(nic_path(SUB, rg, "nope-nic"), "2024-05-01")
    with pytest.raises(AsrError) as no_version:
        await gateway.get_resource(vm_path(SUB, rg, "web01"), "")
    assert no_version.value.code == "MissingApiVersionParameter"
    assert sim.calls["virtualMachines.get"] == 2  # counted reads, like ASR's own GETs
