"""ASR resources (SDK models, or wire JSON for lists) -> the dataclasses of lifecycle/observed.py.

SDK models are mappings over the wire JSON; fields are read by wire name with a
case-insensitive fallback, because ASR has changed field casing between service
versions (reference 3.5) and the SDK then silently reports None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from asr_operator.azure.job_ids import job_name_from_url
from asr_operator.lifecycle.observed import (
    ActiveLocation,
    AsrDisk,
    AsrErrorDetail,
    AsrItem,
    AsrJob,
    AsrPlan,
    AsrPlanGroup,
    AsrTask,
    ComputeSize,
    JobState,
    NicSettings,
    RecoveryPoint,
    TargetSettings,
)


def field_of(obj: Any, *names: str) -> Any:
    """The first present field among `names` (exact, then case-insensitive), else None."""
    if not isinstance(obj, Mapping):
        return None
    for name in names:
        if name in obj and obj[name] is not None:
            return obj[name]
    lowered = {str(k).lower(): k for k in obj}
    for name in names:
        key = lowered.get(name.lower())
        if key is not None and obj[key] is not None:
            return obj[key]
    return None


def _str(obj: Any, *names: str) -> str:
    v = field_of(obj, *names)
    return "" if v is None else str(v)


def _list(obj: Any, *names: str) -> list[Any]:
    v = field_of(obj, *names)
    return list(v) if isinstance(v, Iterable) and not isinstance(v, str | bytes | Mapping) else []


_FRACTION = re.compile(r"^(.*\.\d{6})\d*(.*)$")


def parse_time(value: Any) -> datetime | None:
    """ASR times; "0001-01-01T00:00:00", the 1601 and 1753 sentinels mean unset."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        t = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        m = _FRACTION.match(text)
        if m:
            text = m.group(1) + m.group(2)
        try:
            t = datetime.fromisoformat(text)
        except ValueError:
            return None
    if t.year < 1900:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def arm_segment(arm_id: str, collection: str) -> str:
    """The name after `/{collection}/` in an ARM id (case-insensitive)."""
    parts = arm_id.split("/")
    for i, p in enumerate(parts[:-1]):
        if p.lower() == collection.lower():
            return parts[i + 1]
    return ""


def _job_state(value: str) -> JobState:
    for s in JobState:
        if s.value.lower() == value.lower():
            return s
    return JobState.CANCELLED if value.lower() == "canceled" else JobState.OTHER


def _scenario(current: Any) -> tuple[str | None, str | None]:
    name = _str(current, "scenarioName")
    job = job_name_from_url(_str(current, "jobId"))
    if not name or name.lower() == "none":
        return None, job
    return name, job


def _health_error(e: Any) -> AsrErrorDetail:
    return AsrErrorDetail(
        code=_str(e, "errorCode"),
        message=_str(e, "errorMessage", "summaryMessage"),
        possible_causes=_str(e, "possibleCauses"),
        recommended_action=_str(e, "recommendedAction"),
    )


def target_settings(details: Any) -> TargetSettings:
    nics = []
    for nic in _list(details, "vmNics"):
        configs = _list(nic, "ipConfigs")
        primary = next(
            (c for c in configs if field_of(c, "isPrimary")), configs[0] if configs else None
        )
        nics.append(
            NicSettings(
                nic_id=_str(nic, "nicId"),
                subnet=_str(primary, "recoverySubnetName") or _str(nic, "recoveryVMSubnetName"),
                static_ip=_str(primary, "recoveryStaticIPAddress")
                or _str(nic, "replicaNicStaticIPAddress"),
            )
        )
    managed = _str(details, "useManagedDisks").lower()
    tags = field_of(details, "targetVmTags")
    return TargetSettings(
        vm_name=_str(details, "recoveryAzureVmName", "recoveryAzureVMName"),
        size=_str(details, "recoveryAzureVMSize", "recoveryAzureVmSize"),
        resource_group_id=_str(details, "recoveryAzureResourceGroupId"),
        availability_set_id=_str(details, "recoveryAvailabilitySetId"),
        availability_zone=_str(details, "targetAvailabilityZone"),
        use_managed_disks=True if managed == "true" else False if managed == "false" else None,
        network_id=_str(details, "selectedRecoveryAzureNetworkId"),
        nics=tuple(nics),
        tags=tuple(sorted((str(k), str(v)) for k, v in dict(tags).items()))
        if isinstance(tags, Mapping)
        else (),
    )


def item_from_sdk(model: Any) -> AsrItem:
    props = field_of(model, "properties") or {}
    details = field_of(props, "providerSpecificDetails") or {}
    arm_id = _str(model, "id")
    scenario, job = _scenario(field_of(props, "currentScenario"))
    location = _str(props, "activeLocation")
    active = ActiveLocation.RECOVERY if location.lower() == "recovery" else ActiveLocation.PRIMARY
    target = target_settings(details)
    rpo = field_of(details, "rpoInSeconds")
    errors = _list(props, "healthErrors") or _list(props, "replicationHealthErrors")
    return AsrItem(
        id=arm_id,
        name=_str(model, "name"),
        friendly_name=_str(props, "friendlyName"),
        fabric=arm_segment(arm_id, "replicationFabrics"),
        container=arm_segment(arm_id, "replicationProtectionContainers"),
        protection_state=_str(props, "protectionState"),
        active_location=active,
        allowed_operations=frozenset(str(o) for o in _list(props, "allowedOperations")),
        replication_health=_str(props, "replicationHealth") or "None",
        protection_state_description=_str(props, "protectionStateDescription"),
        test_failover_state=_str(props, "testFailoverState") or "None",
        current_scenario=scenario,
        current_job_name=job if scenario else None,
        rpo_seconds=int(rpo) if rpo is not None else None,
        last_replicated_time=parse_time(field_of(details, "lastReplicatedTime")),
        failover_recovery_point_id=_str(props, "failoverRecoveryPointId") or None,
        target=target,
        health_errors=tuple(_health_error(e) for e in errors),
        recovery_nics=_nic_refs(details, "recoveryNicResourceGroupName", "recoveryNicName"),
        test_nics=_nic_refs(details, "tfoRecoveryNicResourceGroupName", "tfoRecoveryNicName"),
        disks=_disks(details),
    )


def _disks(details: Any) -> tuple[AsrDisk, ...]:
    """The Disks view: ASR's per-VHD details, joined to the managed disk of the same id."""
    targets = {
        _str(m, "diskId").lower(): _str(m, "targetDiskAccountType", "replicaDiskType")
        for m in _list(details, "protectedManagedDisks")
    }
    disks = []
    for d in _list(details, "azureVmDiskDetails"):
        size, lun = _str(d, "maxSizeMB"), _str(d, "lunId")
        disks.append(
            AsrDisk(
                name=_str(d, "vhdName"),
                os=_str(d, "vhdType").lower() == "operatingsystem",
                size_mb=int(size) if size.isdigit() else 0,
                lun=int(lun) if lun.isdigit() else None,
                target_disk_type=targets.get(_str(d, "diskId").lower(), ""),
            )
        )
    return tuple(disks)


def _nic_refs(details: Any, group: str, name: str) -> tuple[tuple[str, str], ...]:
    """(resource group, NIC name) of each vmNics entry that names one."""
    return tuple(
        (_str(nic, group), _str(nic, name)) for nic in _list(details, "vmNics") if _str(nic, name)
    )


def _job_error(e: Any) -> AsrErrorDetail:
    service = field_of(e, "serviceErrorDetails")
    provider = field_of(e, "providerErrorDetails")
    if service:
        return AsrErrorDetail(
            code=_str(service, "code"),
            message=_str(service, "message"),
            possible_causes=_str(service, "possibleCauses"),
            recommended_action=_str(service, "recommendedAction"),
        )
    return AsrErrorDetail(
        code=_str(provider, "errorCode"),
        message=_str(provider, "errorMessage"),
        possible_causes=_str(provider, "possibleCauses"),
        recommended_action=_str(provider, "recommendedAction"),
    )


def _errors(obj: Any) -> tuple[AsrErrorDetail, ...]:
    return tuple(_job_error(e) for e in _list(obj, "errors"))


def _task(t: Any) -> AsrTask:
    custom = field_of(t, "customDetails")
    group = field_of(t, "groupTaskCustomDetails")
    manual = _str(custom, "instanceType") == "ManualActionTaskDetails"
    child_job = field_of(custom, "jobTask")  # JobTaskDetails: a child job (one VM's part)
    return AsrTask(
        name=_str(t, "name") or _str(t, "taskId"),
        friendly_name=_str(t, "friendlyName"),
        state=_job_state(_str(t, "state")),
        instructions=_str(custom, "instructions") if manual else "",
        group=_str(group, "name"),
        children=tuple(_task(c) for c in _list(group, "childTasks")),
        target_name=_str(child_job, "targetObjectName"),
        target_id=_str(child_job, "targetObjectId"),
        errors=_errors(t),
        start_time=parse_time(field_of(t, "startTime")),
        end_time=parse_time(field_of(t, "endTime")),
    )


def job_from_sdk(model: Any) -> AsrJob:
    props = field_of(model, "properties") or {}
    return AsrJob(
        name=_str(model, "name"),
        scenario=_str(props, "scenarioName"),
        state=_job_state(_str(props, "state")),
        state_description=_str(props, "stateDescription"),
        friendly_name=_str(props, "friendlyName"),
        tasks=tuple(_task(t) for t in _list(props, "tasks")),
        allowed_actions=frozenset(str(a) for a in _list(props, "allowedActions")),
        errors=_errors(props),
        start_time=parse_time(field_of(props, "startTime")),
        end_time=parse_time(field_of(props, "endTime")),
        target_object_id=_str(props, "targetObjectId"),
        target_object_name=_str(props, "targetObjectName"),
        target_instance_type=_str(props, "targetInstanceType"),
        client_request_id=client_request_id(_str(props, "activityId")),
    )


def client_request_id(activity_id: str) -> str | None:
    """The caller's request id in a job's activityId ("<client id> ActivityId: <id>")."""
    head, sep, _ = activity_id.partition(" ActivityId:")
    if not sep:
        return None
    return head.strip() or None


def recovery_point_from_sdk(model: Any) -> RecoveryPoint:
    props = field_of(model, "properties") or {}
    return RecoveryPoint(
        id=_str(model, "id"),
        name=_str(model, "name"),
        time=parse_time(field_of(props, "recoveryPointTime")) or datetime.min.replace(tzinfo=UTC),
        type=_str(props, "recoveryPointType"),
    )


def compute_size_from_sdk(model: Any) -> ComputeSize:
    props = field_of(model, "properties") or {}
    errors = tuple(_str(e, "message") for e in _list(props, "errors"))
    return ComputeSize(name=_str(props, "name") or _str(model, "name"), errors=errors)


def _manual_actions(actions: list[Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for a in actions:
        custom = field_of(a, "customDetails")
        if _str(custom, "instanceType") == "ManualActionDetails":
            out.append((_str(a, "actionName"), _str(custom, "description")))
    return tuple(out)


def plan_from_sdk(model: Any) -> AsrPlan:
    props = field_of(model, "properties") or {}
    groups = []
    boot = 0
    for g in _list(props, "groups"):
        kind = _str(g, "groupType")
        if kind.lower() == "boot":
            boot += 1
            name = f"Boot {boot}"
        else:
            name = kind
        groups.append(
            AsrPlanGroup(
                group_type=kind,
                name=name,
                item_ids=tuple(_str(i, "id") for i in _list(g, "replicationProtectedItems")),
                start_manual_actions=_manual_actions(_list(g, "startGroupActions")),
                end_manual_actions=_manual_actions(_list(g, "endGroupActions")),
            )
        )
    scenario, job = _scenario(field_of(props, "currentScenario"))
    return AsrPlan(
        id=_str(model, "id"),
        name=_str(model, "name"),
        friendly_name=_str(props, "friendlyName"),
        allowed_operations=frozenset(str(o) for o in _list(props, "allowedOperations")),
        groups=tuple(groups),
        current_scenario=scenario,
        current_job_name=job if scenario else None,
        current_scenario_status=_str(props, "currentScenarioStatus"),
    )
