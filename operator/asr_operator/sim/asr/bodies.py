"""Wire bodies of the simulated vault: items, plans, recovery points, sizes, fabrics.

Field names and shapes follow reference sections 3-6 and the SDK's models; values
come from the `Vault` state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from asr_operator.sim.asr.azure_vms import recovery_vm, test_vm
from asr_operator.sim.asr.jobs import SimJob, utcnow, wire_time
from asr_operator.sim.asr.states import (
    AZURE_CONTAINER_NAME,
    AZURE_FABRIC_ID,
    AZURE_FABRIC_NAME,
    CONTAINER_TYPE,
    IDLE_START,
    ITEM_TYPE,
    NEVER,
    PHASES,
)
from asr_operator.sim.asr.vault import Item, PlanState, RecoveryPointState, Vault
from asr_operator.sim.scenario import ComputeSizeSpec, stable_id


def current_scenario(vault: Vault, job: SimJob | None) -> dict[str, str]:
    if job is None or job.terminal:
        return {
            "scenarioName": "None",
            "jobId": f"{vault.vault_id}/replicationJobs/None",
            "startTime": IDLE_START,
        }
    return {
        "scenarioName": job.scenario,
        "jobId": f"{vault.vault_id}/replicationJobs/{job.name}",
        "startTime": wire_time(job.start),
    }


def _disk_id(vm_id: str, path: str, n: int) -> str:
    """ASR's id of a replicated disk: VM id, disk id, then the disk's position."""
    return f"{vm_id.upper()}_{stable_id('disk', vm_id, path).upper()}_0_{n}"


def item_json(vault: Vault, item: Item) -> dict[str, Any]:
    vault.advance(item)
    phase = PHASES[item.phase]
    running = item.job is not None and not item.job.terminal
    pstate, pdesc = (
        item.busy if running and item.busy else (phase.protection_state, phase.description)
    )
    tstate, tdesc = phase.tfo_state, phase.tfo_description
    if running and item.tfo_busy:
        tstate, tdesc = item.tfo_busy
    elif item.tfo_after and item.phase != "TestFailoverPending":
        tstate, tdesc = item.tfo_after
    sc = vault.scenario
    last_rp = item.rps[-1].time if item.rps else utcnow()
    # RPO grows between recovery points and drops back when one arrives.
    since_rp = max(0.0, (datetime.now(UTC) - last_rp).total_seconds())
    rpo = item.vm.rpo_seconds + int(since_rp / max(vault.time_scale, 1e-9))
    replicated = datetime.now(UTC) - timedelta(seconds=rpo) if item.replicating else last_rp
    vid = item.vm_id
    t = item.target
    recovery, test = recovery_vm(vault, item), test_vm(vault, item)
    storage = (
        f"/subscriptions/{sc.subscription_id}/resourceGroups/{sc.resource_group}"
        "/providers/Microsoft.Storage/storageAccounts/asrcache01"
    )
    details: dict[str, Any] = {
        "instanceType": "HyperVReplicaAzure",
        "azureVmDiskDetails": [
            {
                "vhdType": "OperatingSystem" if d.os else "DataDisk",
                "vhdId": stable_id("vhd", vid, d.path),
                "diskId": _disk_id(vid, d.path, n),
                "vhdName": d.path.replace("\\", "/").rsplit("/", 1)[-1],
                "maxSizeMB": str(int(d.size_gb * 1024)),
                "targetDiskLocation": None,
                "targetDiskName": None,
                "lunId": str(n),
                "diskEncryptionSetId": None,
            }
            for n, d in enumerate(item.vm.disks)
        ],
        "recoveryAzureVmName": t.vm_name,
        "recoveryAzureVMSize": t.size,
        "recoveryAzureStorageAccount": None,
        "recoveryAzureLogStorageAccountId": storage,
        "lastReplicatedTime": wire_time(replicated),
        "rpoInSeconds": rpo if item.replicating else None,
        "lastRpoCalculatedTime": wire_time(datetime.now(UTC)),
        "vmId": vid,
        "vmProtectionState": pstate,
        "vmProtectionStateDescription": pdesc,
        "initialReplicationDetails": {
            "initialReplicationType": "InitialReplication",
            "initialReplicationProgressPercentage": "100",
        },
        "vmNics": [
            {
                "nicId": nic["nicId"],
                "replicaNicId": None,
                "sourceNicArmId": None,
                "vMNetworkName": "External-vSwitch",
                "recoveryVMNetworkId": t.network_id,
                "ipConfigs": [
                    {
                        "name": None,
                        "isPrimary": True,
                        "subnetName": "External-vSwitch",
                        "staticIPAddress": None,
                        "ipAddressType": "Static",
                        "isSeletedForFailover": True,
                        "recoverySubnetName": nic["subnet"],
                        "recoveryStaticIPAddress": nic["ip"],
                        "recoveryIPAddressType": "Static" if nic["ip"] else "Dynamic",
                        "recoveryPublicIPAddressId": "",
                        "recoveryLBBackendAddressPoolIds": [],
                        "tfoSubnetName": "",
                        "tfoStaticIPAddress": "",
                        "tfoPublicIPAddressId": "",
                        "tfoLBBackendAddressPoolIds": [],
                    }
                ],
                "selectionType": "SelectedByUser",
                "recoveryNetworkSecurityGroupId": "",
                "enableAcceleratedNetworkingOnRecovery": None,
                "tfoVMNetworkId": None,
                "tfoNetworkSecurityGroupId": "",
                "enableAcceleratedNetworkingOnTfo": None,
                # The NICs a failover and a drill created (azure_vms.py): the first NIC.
                "recoveryNicName": recovery.nic_name if recovery and i == 0 else None,
                "recoveryNicResourceGroupName": recovery.resource_group
                if recovery and i == 0
                else None,
                "reuseExistingNic": False,
                "tfoRecoveryNicName": test.nic_name if test and i == 0 else None,
                "tfoRecoveryNicResourceGroupName": test.resource_group if test and i == 0 else None,
                "tfoReuseExistingNic": False,
            }
            for i, nic in enumerate(t.nics)
        ],
        "selectedRecoveryAzureNetworkId": t.network_id,
        "selectedSourceNicId": t.nics[0]["nicId"] if t.nics else None,
        "encryption": "Disabled",
        "oSDetails": {
            "osType": item.vm.os_type,
            "productType": "UNKNOWN",
            "osEdition": "Standard",
            "oSVersion": "10.0",
            "oSMajorVersion": "10",
            "oSMinorVersion": "0",
        },
        "sourceVmRamSizeInMB": item.vm.memory_mb,
        "sourceVmCpuCount": item.vm.cpu_count,
        "enableRdpOnTargetOption": None,
        "recoveryAzureResourceGroupId": t.resource_group_id,
        "recoveryAvailabilitySetId": t.availability_set_id,
        "targetAvailabilityZone": t.availability_zone,
        "targetProximityPlacementGroupId": "",
        "useManagedDisks": t.use_managed_disks,
        "licenseType": t.license_type,
        "sqlServerLicenseType": "NotSpecified",
        "lastRecoveryPointReceived": wire_time(last_rp),
        "targetVmTags": dict(t.tags),
        "seedManagedDiskTags": None,
        "targetManagedDiskTags": {},
        "targetNicTags": {},
        "protectedManagedDisks": [
            {
                "diskId": _disk_id(vid, d.path, n),
                "seedManagedDiskId": None,
                "replicaDiskType": "Standard_LRS",
                "diskEncryptionSetId": None,
                "targetDiskAccountType": "Premium_LRS" if d.os else "StandardSSD_LRS",
                "sectorSizeInBytes": 512,
                "iops": None,
                "throughputInMbps": None,
                "diskSizeInGB": int(d.size_gb),
            }
            for n, d in enumerate(item.vm.disks)
        ]
        if str(t.use_managed_disks).lower() == "true"
        else [],
    }
    health_errors: list[dict[str, Any]] = []
    if item.last_tfo_time is None:
        health_errors.append(
            {
                "innerHealthErrors": [],
                "errorSource": "ReplicationUnitFailoverValidatorError",
                "errorType": "8010",
                "errorLevel": "Warning",
                "errorCategory": "TestFailover",
                "errorCode": "161011",
                "summaryMessage": "",
                "errorMessage": "No successful test failover has been done on the "
                f"virtual machine '{item.name}'.",
                "possibleCauses": "No successful test failover has been done on the "
                "virtual machine after it was replicated.",
                "recommendedAction": "Do a test failover on the virtual machine.",
                "creationTimeUtc": wire_time(utcnow()),
                "recoveryProviderErrorMessage": None,
                "entityId": vid,
                "errorId": "6:8010",
                "customerResolvability": "NotAllowed",
            }
        )
    container_id = vault.container_id(item.fabric)
    return {
        "id": vault.item_id(item),
        "name": vid,
        "type": ITEM_TYPE,
        "properties": {
            "friendlyName": item.name,
            "protectedItemType": "HyperVVirtualMachine",
            "protectableItemId": f"{container_id}/replicationProtectableItems/{vid}",
            "recoveryServicesProviderId": (
                f"{vault.vault_id}/replicationFabrics/{item.fabric}"
                f"/replicationRecoveryServicesProviders/{stable_id('provider', item.host)}"
            ),
            "primaryFabricFriendlyName": item.site,
            "primaryFabricProvider": "SingleHostHyperVFabric",
            "recoveryFabricFriendlyName": AZURE_FABRIC_ID,
            "recoveryFabricId": AZURE_FABRIC_ID,
            "primaryProtectionContainerFriendlyName": item.site,
            "recoveryProtectionContainerFriendlyName": AZURE_FABRIC_ID,
            "protectionState": pstate,
            "protectionStateDescription": pdesc,
            "activeLocation": phase.active_location,
            "testFailoverState": tstate,
            "testFailoverStateDescription": tdesc,
            "allowedOperations": list(item.allowed),
            "replicationHealth": "Normal",
            "failoverHealth": "Warning" if health_errors else "Normal",
            "healthErrors": health_errors,
            "policyId": f"{vault.vault_id}/replicationPolicies/hv-policy",
            "policyFriendlyName": "hv-policy",
            "lastSuccessfulFailoverTime": wire_time(item.last_failover_time)
            if item.last_failover_time
            else NEVER,
            "lastSuccessfulTestFailoverTime": wire_time(item.last_tfo_time)
            if item.last_tfo_time
            else NEVER,
            "currentScenario": current_scenario(vault, item.scenario_job),
            "failoverRecoveryPointId": item.failover_rp_id,
            "providerSpecificDetails": details,
            "recoveryContainerId": (
                f"{vault.vault_id}/replicationFabrics/{AZURE_FABRIC_NAME}"
                f"/replicationProtectionContainers/{AZURE_CONTAINER_NAME}"
            ),
            "eventCorrelationId": stable_id("event", vid),
        },
    }


def rp_json(vault: Vault, item: Item, rp: RecoveryPointState) -> dict[str, Any]:
    return {
        "id": vault.rp_id(item, rp.name),
        "name": rp.name,
        "type": f"{ITEM_TYPE}/recoveryPoints",
        "properties": {
            "recoveryPointTime": wire_time(rp.time),
            "recoveryPointType": rp.type,
            "providerSpecificDetails": None,
        },
    }


def compute_size_json(
    vault: Vault, item: Item, spec: ComputeSizeSpec, errors: list[str]
) -> dict[str, Any]:
    return {
        "id": f"{vault.item_id(item)}/targetComputeSizes/{spec.name}",
        "name": spec.name,
        "type": f"{ITEM_TYPE}/targetComputeSizes",
        "properties": {
            "name": spec.name,
            "friendlyName": spec.name,
            "cpuCoresCount": spec.cores,
            "vCPUsAvailable": spec.cores,
            "memoryInGB": spec.memory_gb,
            "maxDataDiskCount": spec.max_data_disks,
            "maxNicsCount": spec.max_nics,
            "highIopsSupported": "Yes" if spec.name.endswith("s_v3") else "No",
            "hyperVGenerations": [f"V{g}" for g in spec.generations],
            "errors": [
                {
                    "message": e,
                    "severity": "Error",
                    "possibleCauses": e,
                    "recommendedAction": "Choose another size.",
                }
                for e in errors
            ],
        },
    }


def plan_json(vault: Vault, plan: PlanState) -> dict[str, Any]:
    for i in plan.all_items:
        vault.advance(i)
    last = plan.jobs[-1] if plan.jobs else None
    groups: list[dict[str, Any]] = [
        {
            "groupType": "Shutdown",
            "replicationProtectedItems": [],
            "startGroupActions": [],
            "endGroupActions": [],
        },
        {
            "groupType": "Failover",
            "replicationProtectedItems": [],
            "startGroupActions": [],
            "endGroupActions": [],
        },
    ]
    for gspec, gitems in zip(plan.spec.groups, plan.items, strict=True):
        actions: dict[str, list[dict[str, Any]]] = {"start": [], "end": []}
        for a in gspec.actions:
            custom = (
                {"instanceType": "ManualActionDetails", "description": a.manual}
                if a.manual
                else {
                    "instanceType": "AutomationRunbookActionDetails",
                    "runbookId": "",
                    "timeout": "PT1H",
                    "fabricLocation": "Recovery",
                }
            )
            actions[a.position].append(
                {
                    "actionName": a.name,
                    "failoverTypes": list(a.failover_types),
                    "failoverDirections": list(a.failover_directions),
                    "customDetails": custom,
                }
            )
        groups.append(
            {
                "groupType": "Boot",
                "replicationProtectedItems": [
                    {"id": vault.item_id(i), "virtualMachineId": i.vm_id} for i in gitems
                ],
                "startGroupActions": actions["start"],
                "endGroupActions": actions["end"],
            }
        )
    first_site = plan.all_items[0].fabric if plan.all_items else ""
    props: dict[str, Any] = {
        "friendlyName": plan.spec.name,
        "primaryFabricId": f"{vault.vault_id}/replicationFabrics/{first_site}",
        "primaryFabricFriendlyName": first_site,
        "recoveryFabricId": AZURE_FABRIC_ID,
        "recoveryFabricFriendlyName": AZURE_FABRIC_ID,
        "failoverDeploymentModel": "ResourceManager",
        "replicationProviders": ["HyperVReplicaAzure"],
        "allowedOperations": vault.plan_allowed(plan),
        "currentScenario": current_scenario(vault, last)
        if last is None or not last.terminal
        else {
            "scenarioName": last.scenario,
            "jobId": f"{vault.vault_id}/replicationJobs/{last.name}",
            "startTime": wire_time(last.start),
        },
        "currentScenarioStatus": last.state if last else "None",
        "currentScenarioStatusDescription": last.state_description if last else "None",
        "groups": groups,
    }
    for op, key in (
        ("PlannedFailover", "lastPlannedFailoverTime"),
        ("UnplannedFailover", "lastUnplannedFailoverTime"),
        ("TestFailover", "lastTestFailoverTime"),
    ):
        if op in plan.last_times:
            props[key] = wire_time(plan.last_times[op])
    return {
        "id": vault.plan_id(plan),
        "name": plan.spec.name,
        "type": "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans",
        "properties": props,
    }


def fabric_json(vault: Vault, name: str) -> dict[str, Any]:
    return {
        "id": f"{vault.vault_id}/replicationFabrics/{name}",
        "name": name,
        "type": "Microsoft.RecoveryServices/vaults/replicationFabrics",
        "location": vault.scenario.location,
        "properties": {
            "friendlyName": name,
            "internalIdentifier": stable_id("container", name),
            "bcdrState": "Valid",
            "encryptionDetails": {"kekState": "None"},
            "rolloverEncryptionDetails": {"kekState": "None"},
            "customDetails": {"instanceType": "HyperVSite"},
            "health": "Normal",
            "healthErrorDetails": [],
        },
    }


def container_json(vault: Vault, fabric: str) -> dict[str, Any]:
    c = vault.container_name(fabric)
    count = sum(1 for i in vault.items.values() if i.fabric == fabric)
    return {
        "id": vault.container_id(fabric),
        "name": c,
        "type": CONTAINER_TYPE,
        "location": vault.scenario.location,
        "properties": {
            "friendlyName": fabric,
            "fabricFriendlyName": fabric,
            "fabricType": "HyperVSite",
            "protectedItemCount": count,
            "pairingStatus": "Paired",
            "role": "Primary",
        },
    }
