"""ProtectedVM: where one replicated Hyper-V VM should run, and what the operator saw and did."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from asr_operator.api.cel import rules
from asr_operator.api.common import (
    ApiModel,
    CommitMode,
    DataSync,
    Duration,
    FailoverType,
    LocalObjectReference,
    ManagementPolicy,
    ReverseReplication,
    Site,
)
from asr_operator.api.operation import AzureVM, OperationalStatus

# The shared operation types, re-exported where callers first knew them.
from asr_operator.api.operation import FailureMemo as FailureMemo
from asr_operator.api.operation import OperationStatus as OperationStatus
from asr_operator.api.operation import OperationType as OperationType
from asr_operator.api.operation import Phase as Phase
from asr_operator.api.operation import TestFailoverStatus as TestFailoverStatus

KIND = "ProtectedVM"
PLURAL = "protectedvms"

# Azure VM names: 1-63 letters, digits and hyphens, starting and ending alphanumeric.
AZURE_VM_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
# A recovery point kind, or the name (GUID) of one recovery point.
RECOVERY_POINT_PATTERN = (
    r"^(Latest|LatestProcessed|LatestApplicationConsistent|[0-9A-Za-z_.-]{1,128})$"
)
ARM_ID_PATTERN = r"^/[Ss]ubscriptions/[^/]+/"


class ProtectedItemRef(ApiModel):
    model_config = rules(
        (
            "has(self.name) || (has(self.fabric) && has(self.container) && has(self.id))",
            "give the ASR item's friendly name, or fabric, container and id together",
        ),
    )

    name: str | None = Field(default=None, min_length=1, description="ASR friendlyName.")
    fabric: str | None = Field(default=None, min_length=1)
    container: str | None = Field(default=None, min_length=1)
    id: str | None = Field(default=None, min_length=1, description="Item name (Hyper-V VM id).")


class HyperVRef(ApiModel):
    host: str = Field(min_length=1, description="A hyperVHosts[].name of the vault.")
    vm_name: str = Field(min_length=1, max_length=100)


class Nic(ApiModel):
    nic_id: str = Field(min_length=1, description="Hyper-V NIC id as ASR reports it.")
    subnet: str = Field(default="", max_length=80)
    static_ip: str = Field(
        default="", pattern=r"^$|^([0-9]{1,3}\.){3}[0-9]{1,3}$", alias="staticIP"
    )


class Target(ApiModel):
    """The Azure VM a failover creates: ASR's Compute and Network settings."""

    model_config = rules(
        (
            "!(has(self.availabilitySetId) && self.availabilitySetId != '' && "
            "has(self.availabilityZone) && self.availabilityZone != '')",
            "set availabilitySetId or availabilityZone, not both",
        ),
    )

    vm_name: str | None = Field(default=None, pattern=AZURE_VM_NAME_PATTERN, max_length=63)
    size: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+$", max_length=64)
    resource_group_id: str | None = Field(default=None, pattern=ARM_ID_PATTERN)
    availability_set_id: str | None = Field(default=None, pattern=r"^$|^/[Ss]ubscriptions/")
    availability_zone: str | None = Field(default=None, pattern=r"^$|^[1-3]$")
    managed_disks: bool | None = None
    network_id: str | None = Field(default=None, pattern=ARM_ID_PATTERN)
    nics: list[Nic] | None = Field(default=None, max_length=32)
    tags: dict[str, str] | None = None


class Validation(ApiModel):
    """Probe the failed-over VM before an automatic commit ("connect and validate")."""

    tcp_ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(min_length=1, max_length=8)
    timeout: Duration = "15m"


class Failover(ApiModel):
    type: FailoverType = FailoverType.PLANNED
    recovery_point: str = Field(default="Latest", pattern=RECOVERY_POINT_PATTERN)
    shutdown_source_vm: bool = Field(default=True, alias="shutdownSourceVM")
    commit: CommitMode = CommitMode.MANUAL
    validation: Validation | None = None


class Failback(ApiModel):
    data_sync: DataSync = DataSync.BEFORE_FAILOVER
    create_vm_if_not_found: bool = Field(default=False, alias="createVMIfNotFound")
    commit: CommitMode = CommitMode.MANUAL


class TestFailover(ApiModel):
    model_config = rules(
        (
            "!has(self.requestId) || self.requestId == '' || "
            "(has(self.networkId) && self.networkId != '')",
            "testFailover.networkId is required when requestId is set",
        ),
    )

    request_id: str = Field(default="", max_length=63, description="Change it to start a drill.")
    network_id: str = Field(default="", pattern=r"^$|^/[Ss]ubscriptions/")
    cleanup_after: Duration | None = Field(
        default=None, description="Clean the drill up this long after it started."
    )
    recovery_point: str = Field(default="Latest", pattern=RECOVERY_POINT_PATTERN)


class ProtectedVMSpec(ApiModel):
    vault_ref: LocalObjectReference
    protected_item: ProtectedItemRef
    hyper_v: HyperVRef | None = Field(default=None, alias="hyperV")
    active_site: Site = Site.ON_PREMISES
    target: Target | None = None
    failover: Failover = Field(default_factory=Failover)
    failback: Failback = Field(default_factory=Failback)
    reverse_replication: ReverseReplication = ReverseReplication.AUTOMATIC
    approve: str = Field(default="", max_length=63)
    test_failover: TestFailover | None = None
    management_policy: ManagementPolicy = ManagementPolicy.FULL


class AsrObserved(ApiModel):
    item_id: str = ""
    protection_state: str = ""
    active_location: str = ""
    allowed_operations: list[str] = Field(default_factory=list)
    replication_health: str = ""
    test_failover_state: str = ""
    rpo_seconds: int | None = None
    last_replicated_time: datetime | None = None


class NicObserved(ApiModel):
    nic_id: str
    subnet: str = ""
    static_ip: str = Field(default="", alias="staticIP")


class TargetObserved(ApiModel):
    vm_name: str = ""
    size: str = ""
    resource_group_id: str = ""
    availability_set_id: str = ""
    availability_zone: str = ""
    managed_disks: bool | None = None
    network_id: str = ""
    nics: list[NicObserved] = Field(default_factory=list)
    in_sync: bool = True
    differences: list[str] = Field(default_factory=list)


class ValidationStatus(ApiModel):
    started_at: datetime
    attempts: int = 0
    last_result: str = ""
    timed_out: bool = False
    passed: bool = False


class ProtectedVMStatus(OperationalStatus):
    asr: AsrObserved | None = None
    target: TargetObserved | None = None
    azure_vm: AzureVM | None = Field(default=None, alias="azureVM")
    validation: ValidationStatus | None = None
