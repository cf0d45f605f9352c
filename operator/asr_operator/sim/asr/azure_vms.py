"""The Azure VMs a failover or a drill creates, as ARM's Compute and Network providers show them.

ASR itself never reports a recovered VM's address: a client finds the VM by the item's
recovery settings (`recoveryAzureVmName` in `recoveryAzureResourceGroupId`, the NIC names
in `vmNics`) and reads it from Microsoft.Compute and Microsoft.Network. The simulator
serves those two GETs for the VMs it booted: the recovery VM under the target name, and a
drill's test VM, a separate VM named `{name}-test` with its own NIC. Their private IPs are
the loopback addresses of vm_endpoints.py, so a probe of them reaches a listener.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asr_operator.sim.asr.states import Refusal
from asr_operator.sim.asr.vault import Item, Vault
from asr_operator.sim.scenario import stable_id

COMPUTE = "Microsoft.Compute/virtualMachines"
NETWORK = "Microsoft.Network/networkInterfaces"


@dataclass(frozen=True)
class AzureVm:
    """One VM of an item: its names, resource group, address and power."""

    item: Item
    name: str
    nic_name: str
    resource_group: str
    ip: str
    running: bool
    test: bool

    @property
    def static(self) -> bool:
        nics = self.item.target.nics
        return bool(nics and nics[0].get("ip")) and not self.test


def resource_group_of(item: Item, default: str) -> str:
    parts = item.target.resource_group_id.split("/")
    lowered = [p.lower() for p in parts]
    if "resourcegroups" in lowered[:-1]:
        return parts[lowered.index("resourcegroups") + 1]
    return default


def vm_name(item: Item) -> str:
    return item.target.vm_name or item.name


def recovery_vm(vault: Vault, item: Item) -> AzureVm | None:
    """The failed-over VM, from its creation until failback deletes it."""
    if not item.recovery_vm_ips:
        return None
    name = vm_name(item)
    rg = resource_group_of(item, vault.scenario.resource_group)
    return AzureVm(
        item, name, f"{name}-nic", rg, item.recovery_vm_ips[0], item.recovery_booted, False
    )


def test_vm(vault: Vault, item: Item) -> AzureVm | None:
    """A drill's test VM, from its creation until the drill's cleanup deletes it."""
    if not item.test_vm_ips:
        return None
    name = f"{vm_name(item)}-test"
    rg = resource_group_of(item, vault.scenario.resource_group)
    return AzureVm(item, name, f"{name}-nic", rg, item.test_vm_ips[0], item.test_booted, True)


def _all(vault: Vault) -> list[AzureVm]:
    found = []
    for item in vault.items.values():
        for vm in (recovery_vm(vault, item), test_vm(vault, item)):
            if vm is not None:
                found.append(vm)
    return found


def _not_found(kind: str, name: str, rg: str) -> Refusal:
    # ARM's own answer for a missing resource (no ASR fields in it).
    r = Refusal(
        404,
        "ResourceNotFound",
        f"The Resource '{kind}/{name}' under resource group '{rg}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )
    r.body = {"error": {"code": r.body["error"]["code"], "message": r.body["error"]["message"]}}
    return r


def _find(vault: Vault, sub: str, rg: str, match: Any, kind: str, name: str) -> AzureVm:
    if sub.lower() == vault.scenario.subscription_id.lower():
        for vm in _all(vault):
            if vm.resource_group.lower() == rg.lower() and match(vm):
                return vm
    raise _not_found(kind, name, rg)


def _rg_id(vault: Vault, vm: AzureVm) -> str:
    return f"/subscriptions/{vault.scenario.subscription_id}/resourceGroups/{vm.resource_group}"


def vm_id(vault: Vault, vm: AzureVm) -> str:
    return f"{_rg_id(vault, vm)}/providers/{COMPUTE}/{vm.name}"


def nic_id(vault: Vault, vm: AzureVm) -> str:
    return f"{_rg_id(vault, vm)}/providers/{NETWORK}/{vm.nic_name}"


def vm_json(vault: Vault, sub: str, rg: str, name: str, expand: str) -> dict[str, Any]:
    """GET virtualMachines/{name}; `$expand=instanceView` adds the power state."""
    vm = _find(vault, sub, rg, lambda v: v.name.lower() == name.lower(), COMPUTE, name)
    item = vm.item
    props: dict[str, Any] = {
        "vmId": stable_id("azure-vm", vm_id(vault, vm).lower()),
        "hardwareProfile": {"vmSize": item.target.size},
        "storageProfile": {
            "osDisk": {
                "osType": item.vm.os_type,
                "name": f"{vm.name}-osdisk",
                "createOption": "Attach",
                "managedDisk": {"storageAccountType": "Standard_LRS"},
            },
            "dataDisks": [],
        },
        "networkProfile": {
            "networkInterfaces": [{"id": nic_id(vault, vm), "properties": {"primary": True}}]
        },
        "provisioningState": "Succeeded",
    }
    if "instanceview" in expand.lower():
        power = (
            ("PowerState/running", "VM running")
            if vm.running
            else (
                "PowerState/deallocated",
                "VM deallocated",
            )
        )
        props["instanceView"] = {
            "computerName": item.name,
            "osName": "Windows Server 2022 Datacenter" if item.vm.os_type == "Windows" else "",
            "statuses": [
                {
                    "code": "ProvisioningState/succeeded",
                    "level": "Info",
                    "displayStatus": "Provisioning succeeded",
                },
                {"code": power[0], "level": "Info", "displayStatus": power[1]},
            ],
        }
    return {
        "id": vm_id(vault, vm),
        "name": vm.name,
        "type": COMPUTE,
        "location": vault.scenario.location,
        "tags": dict(item.target.tags) if not vm.test else {},
        "properties": props,
    }


def nic_json(vault: Vault, sub: str, rg: str, name: str) -> dict[str, Any]:
    """GET networkInterfaces/{name}: one primary IP configuration, no public IP."""
    vm = _find(vault, sub, rg, lambda v: v.nic_name.lower() == name.lower(), NETWORK, name)
    nid = nic_id(vault, vm)
    nics = vm.item.target.nics
    subnet = (nics[0].get("subnet") if nics else "") or "default"
    network = vm.item.target.network_id
    return {
        "id": nid,
        "name": vm.nic_name,
        "type": NETWORK,
        "location": vault.scenario.location,
        "properties": {
            "provisioningState": "Succeeded",
            "ipConfigurations": [
                {
                    "id": f"{nid}/ipConfigurations/ipconfig1",
                    "name": "ipconfig1",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAddress": vm.ip,
                        "privateIPAllocationMethod": "Static" if vm.static else "Dynamic",
                        "privateIPAddressVersion": "IPv4",
                        "subnet": {"id": f"{network}/subnets/{subnet}"},
                        "primary": True,
                    },
                }
            ],
            "primary": True,
            "enableAcceleratedNetworking": False,
            "enableIPForwarding": False,
            "virtualMachine": {"id": vm_id(vault, vm)},
        },
    }
