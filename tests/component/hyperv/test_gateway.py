"""The Hyper-V gateway through real pywinrm against the simulator, over every transport."""

from __future__ import annotations

import asyncio

import pytest

from asr_operator.hyperv import ScriptError, VMNotFound
from asr_operator.lifecycle.observed import HyperVDisk, PowerState
from asr_operator.lifecycle.prechecks import check_vm
from asr_operator.sim.datacenter import Datacenter
from asr_operator.sim.hyperv import HyperVSimulator
from tests.component.hyperv.conftest import (
    OTHER_PASSWORD,
    OTHER_USER,
    USER,
    Conn,
    make_gateway,
)


async def test_ping_and_wire_security(connection: Conn) -> None:
    sim, gw, t = connection
    assert await gw.ping() == "HV-01"
    [cmd] = sim.commands
    assert cmd.script_name == "ping"
    assert cmd.user.lower() == USER.lower()
    assert cmd.auth == t.transport
    # Over http NTLM must seal every message; over https TLS protects it.
    assert cmd.sealed is (not t.tls)
    assert cmd.tls is t.tls
    assert cmd.command_line.startswith("powershell.exe -NoLogo -NoProfile -NonInteractive ")


async def test_get_vm_facts(connection: Conn) -> None:
    sim, gw, _ = connection
    vm = await gw.get_vm("WEB01")
    assert vm.name == "WEB01"
    assert vm.vm_id == "b07c9911-5777-474f-a6db-ab0cfa841dd3"
    assert vm.state is PowerState.RUNNING
    assert vm.generation == 2
    assert vm.checkpoints == ("before-patch", "weekly")
    assert vm.nic_count == 2
    assert vm.host == "hv-01"
    assert vm.guest_os == "Windows Server 2022 Datacenter"
    assert vm.disks == (
        HyperVDisk("D:\\VMs\\WEB01\\os.vhdx", "VHDX", 120.0, is_os=True),
        HyperVDisk("D:\\VMs\\WEB01\\data.vhd", "VHD", 10.0, is_os=False),
    )
    assert sim.commands[-1].script_name == "get-vm"
    assert sim.commands[-1].payload == {"name": "WEB01"}
    assert [f.requirement for f in check_vm(vm)] == ["NoCheckpoints"]


async def test_gen1_vm_with_shared_and_large_disks(connection: Conn) -> None:
    _, gw, _ = connection
    vm = await gw.get_vm("DB01")
    assert (vm.generation, vm.state, vm.checkpoints) == (1, PowerState.OFF, ())
    assert vm.guest_os == ""  # an Off VM reports no KVP data
    assert [(d.format, d.size_gb, d.is_os, d.shared) for d in vm.disks] == [
        ("VHD", 2100.0, True, False),
        ("VHDX", 500.5, False, False),
        ("VHDX", 64.0, False, True),
    ]
    failures = check_vm(vm)
    assert [f.requirement for f in failures] == ["OsDiskSize", "SharedDisk"]
    assert "2,100 GB" in failures[0].message and "2,048 GB" in failures[0].message


async def test_vm_without_disks_gets_default_os_disk(http_sim: HyperVSimulator) -> None:
    vm = await make_gateway(http_sim).get_vm("LNX01")
    assert vm.disks == (
        HyperVDisk(
            "C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks\\LNX01.vhdx",
            "VHDX",
            127.0,
            is_os=True,
        ),
    )
    assert vm.guest_os == "Ubuntu 22.04.4 LTS"
    assert [f.requirement for f in check_vm(vm)] == ["Generation"]


async def test_names_match_exactly_case_insensitively(http_sim: HyperVSimulator) -> None:
    gw = make_gateway(http_sim)
    assert (await gw.get_vm("web01")).name == "WEB01"
    with pytest.raises(VMNotFound) as err:
        await gw.get_vm("WEB*")  # no wildcard expansion
    assert err.value.vm_name == "WEB*"
    assert "no virtual machine named 'WEB*'" in str(err.value)
    assert "hv-01" in str(err.value)


async def test_duplicate_names_are_an_error(http_sim: HyperVSimulator) -> None:
    with pytest.raises(ScriptError) as err:
        await make_gateway(http_sim).get_vm("dup")
    assert "More than one virtual machine is named 'dup'" in err.value.error
    assert err.value.exit_code == 1


async def test_second_host_has_its_own_port_and_users(http_sim: HyperVSimulator) -> None:
    assert http_sim.endpoint("hv-01") != http_sim.endpoint("hv-02")
    gw = make_gateway(http_sim, "hv-02", username=OTHER_USER, password=OTHER_PASSWORD)
    vm = await gw.get_vm("APP02")
    assert (vm.host, vm.generation) == ("hv-02", 1)
    with pytest.raises(VMNotFound):
        await gw.get_vm("WEB01")  # lives on hv-01


async def test_stop_vm_shutdown(connection: Conn, datacenter: Datacenter) -> None:
    sim, gw, _ = connection
    assert await gw.stop_vm("WEB01") is PowerState.OFF
    assert (await gw.get_vm("WEB01")).state is PowerState.OFF
    vm_id = "B07C9911-5777-474F-A6DB-AB0CFA841DD3"
    assert datacenter.vms[vm_id].state == "Off"  # the ASR simulator sees it too
    stops = [c for c in sim.commands if c.script_name == "stop-vm"]
    assert [c.payload for c in stops] == [{"name": "WEB01", "turnOff": False}]
    # Already off: nothing to do, still Off.
    assert await gw.stop_vm("WEB01") is PowerState.OFF


@pytest.mark.parametrize("name", ["SAVED01", "PAUSED01"])
async def test_stop_vm_needs_turn_off_for_saved_or_paused(
    http_sim: HyperVSimulator, name: str
) -> None:
    gw = make_gateway(http_sim)
    with pytest.raises(ScriptError) as err:
        await gw.stop_vm(name)
    assert "cannot be performed while the object is in its current state" in err.value.error
    assert "_x000D_" not in err.value.error and "CLIXML" not in err.value.error
    assert await gw.stop_vm(name, turn_off=True) is PowerState.OFF
    assert http_sim.commands[-1].payload == {"name": name, "turnOff": True}


async def test_stop_unknown_vm(http_sim: HyperVSimulator) -> None:
    with pytest.raises(VMNotFound):
        await make_gateway(http_sim).stop_vm("NOPE")


async def test_reads_state_the_asr_simulator_changed(
    http_sim: HyperVSimulator, datacenter: Datacenter
) -> None:
    gw = make_gateway(http_sim)
    vm = await gw.get_vm("WEB01")
    datacenter.set_power(vm.vm_id.upper(), "Off")  # e.g. a failover with source shutdown
    assert (await gw.get_vm("WEB01")).state is PowerState.OFF
    datacenter.set_power(vm.vm_id.upper(), "Running")  # failback started it again
    assert (await gw.get_vm("WEB01")).state is PowerState.RUNNING


async def test_concurrent_calls(connection: Conn) -> None:
    sim, gw, _ = connection
    names = ["WEB01", "DB01", "LNX01", "SAVED01"] * 4
    vms = await asyncio.gather(*(gw.get_vm(n) for n in names))
    assert [v.name for v in vms] == names
    assert len(sim.commands) == len(names)
