"""The failed-over (and a drill's test) Azure VM, as Azure Resource Manager shows it.

ASR reports where it put the VM, not its address: the item's recovery settings name the
VM (`recoveryAzureVmName` in `recoveryAzureResourceGroupId`) and its NICs (`vmNics`:
`recoveryNicName` / `recoveryNicResourceGroupName`, and `tfoRecoveryNic*` for the test
VM). The power state comes from Microsoft.Compute (the VM's instance view) and the IPs
from Microsoft.Network (its NICs' IP configurations).

Plain GETs through the ASR gateway's own ARM pipeline (azure-mgmt-core: same credential,
pacing, throttling and retries), not azure-mgmt-compute / azure-mgmt-network: importing
those costs memory the idle goal cannot afford for two reads (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from asr_operator.azure.errors import AsrError, NotFound
from asr_operator.azure.gateway import AsrGateway
from asr_operator.azure.observe import arm_segment, field_of
from asr_operator.lifecycle.observed import AsrItem, AzureVmObserved

COMPUTE_API_VERSION = "2024-07-01"
NETWORK_API_VERSION = "2024-05-01"


def _rg_path(subscription: str, group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def vm_path(subscription: str, group: str, name: str) -> str:
    return f"{_rg_path(subscription, group)}/providers/Microsoft.Compute/virtualMachines/{name}"


def nic_path(subscription: str, group: str, name: str) -> str:
    return f"{_rg_path(subscription, group)}/providers/Microsoft.Network/networkInterfaces/{name}"


def _power_state(vm: Any) -> str:
    view = field_of(field_of(vm, "properties"), "instanceView")
    for status in field_of(view, "statuses") or []:
        code = str(field_of(status, "code") or "")
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1]
    return ""


def _nic_ids(vm: Any) -> list[str]:
    """The VM's NICs, primary first (networkProfile)."""
    nics = field_of(field_of(field_of(vm, "properties"), "networkProfile"), "networkInterfaces")
    refs = [n for n in nics or [] if field_of(n, "id")]
    refs.sort(key=lambda n: not field_of(field_of(n, "properties"), "primary"))
    return [str(field_of(n, "id")) for n in refs]


def _addresses(nic: Any) -> tuple[list[str], list[str]]:
    """(private IPs, public IP resource ids) of a NIC, primary configuration first."""
    configs = list(field_of(field_of(nic, "properties"), "ipConfigurations") or [])
    configs.sort(key=lambda c: not field_of(field_of(c, "properties"), "primary"))
    private, public = [], []
    for c in configs:
        props = field_of(c, "properties")
        ip = field_of(props, "privateIPAddress")
        if ip:
            private.append(str(ip))
        ref = field_of(field_of(props, "publicIPAddress"), "id")
        if ref:
            public.append(str(ref))
    return private, public


class AzureVms:
    """Reads recovered VMs through one vault's gateway; only when the lifecycle asks."""

    def __init__(self, gateway: AsrGateway) -> None:
        self._gateway = gateway
        self._sub = gateway.config.subscription_id

    async def recovery_vm(self, item: AsrItem) -> AzureVmObserved:
        """The failed-over VM: by the name and resource group ASR holds for it."""
        group = arm_segment(item.target.resource_group_id, "resourceGroups")
        name = item.target.vm_name or item.friendly_name
        return await self._read(group, name, item.recovery_nics)

    async def test_vm(self, item: AsrItem) -> AzureVmObserved:
        """A drill's test VM: the VM its test NIC belongs to, else `{name}-test`."""
        group = arm_segment(item.target.resource_group_id, "resourceGroups")
        name = f"{item.target.vm_name or item.friendly_name}-test"
        for nic_group, nic_name in item.test_nics:
            try:
                nic = await self._get(nic_path(self._sub, nic_group or group, nic_name), False)
            except AsrError:
                continue  # the name convention below still finds it
            owner = str(field_of(field_of(field_of(nic, "properties"), "virtualMachine"), "id"))
            if owner and owner != "None":
                group, name = (
                    arm_segment(owner, "resourceGroups"),
                    arm_segment(owner, "virtualMachines"),
                )
                break
        return await self._read(group, name, item.test_nics)

    async def _get(self, path: str, compute: bool, **params: str) -> Any:
        version = COMPUTE_API_VERSION if compute else NETWORK_API_VERSION
        return await self._gateway.get_resource(path, version, **params)

    async def _read(
        self, group: str, name: str, named_nics: tuple[tuple[str, str], ...]
    ) -> AzureVmObserved:
        path = vm_path(self._sub, group, name)
        try:
            vm = await self._get(path, True, **{"$expand": "instanceView"})
        except NotFound:
            return AzureVmObserved(id=path, name=name, found=False, error="not found in Azure")
        except AsrError as e:
            return AzureVmObserved(id=path, name=name, found=False, error=e.message)
        nic_ids = _nic_ids(vm) or [nic_path(self._sub, g or group, n) for g, n in named_nics]
        private: list[str] = []
        public: list[str] = []
        errors: list[str] = []
        found = await asyncio.gather(
            *(self._get(i, False) for i in nic_ids), return_exceptions=True
        )
        for nic in found:
            if isinstance(nic, AsrError):
                errors.append(nic.message)
            elif isinstance(nic, BaseException):
                raise nic
            else:
                ips, refs = _addresses(nic)
                private += ips
                public += refs
        props = field_of(vm, "properties")
        return AzureVmObserved(
            id=str(field_of(vm, "id") or path),
            name=str(field_of(vm, "name") or name),
            size=str(field_of(field_of(props, "hardwareProfile"), "vmSize") or ""),
            power_state=_power_state(vm),
            os_type=str(
                field_of(field_of(field_of(props, "storageProfile"), "osDisk"), "osType") or ""
            ),
            private_ips=tuple(private),
            public_ip_ids=tuple(public),
            error="; ".join(errors),
        )
