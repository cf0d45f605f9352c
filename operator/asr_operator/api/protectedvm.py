"""ProtectedVM: where one replicated Hyper-V VM should run, and what the operator saw and did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
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
from asr_operator.api.conditions import Condition

KIND = "ProtectedVM"
PLURAL = "protectedvms"

# Azure VM names: 1-63 letters, digits and hyphens, starting and ending alphanumeric.
AZURE_VM_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
# A recovery point kind, or the name (GUID) of one recovery point.
RECOVERY_POINT_PATTERN = (
    r"^(Latest|LatestProcessed|LatestApplicationConsistent|[0-9A-Za-z_.-]{1,128})$"
)
ARM_ID_PATTERN = r"^/[Ss]ubscriptions/[^/]+/"
ABANDON_ANNOTATION = "asr-operator.io/abandon-wait"


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


class Phase(StrEnum):
    PENDING = "Pending"
    PROTECTED = "Protected"
    UPDATING_TARGET = "UpdatingTarget"
    VALIDATING = "Validating"
    FAILING_OVER = "FailingOver"
    AWAITING_COMMIT = "AwaitingCommit"
    CHANGING_RECOVERY_POINT = "ChangingRecoveryPoint"
    COMMITTING = "Committing"
    FAILED_OVER = "FailedOver"
    FAILING_BACK = "FailingBack"
    AWAITING_FAILBACK_COMMIT = "AwaitingFailbackCommit"
    COMMITTING_FAILBACK = "CommittingFailback"
    AWAITING_REVERSE_REPLICATION = "AwaitingReverseReplication"
    REVERSING_REPLICATION = "ReversingReplication"
    TEST_FAILING_OVER = "TestFailingOver"
    TEST_FAILOVER_ACTIVE = "TestFailoverActive"
    CLEANING_UP_TEST_FAILOVER = "CleaningUpTestFailover"
    STALLED = "Stalled"
    OBSERVING = "Observing"
    DELETING = "Deleting"


class OperationType(StrEnum):
    UPDATE_TARGET = "UpdateTarget"
    FAILOVER = "Failover"
    CHANGE_RECOVERY_POINT = "ChangeRecoveryPoint"
    COMMIT = "Commit"
    FAILBACK = "Failback"
    FAILBACK_COMMIT = "FailbackCommit"
    REVERSE_REPLICATION = "ReverseReplication"
    TEST_FAILOVER = "TestFailover"
    TEST_FAILOVER_CLEANUP = "TestFailoverCleanup"


class ApprovalAction(StrEnum):
    COMMIT = "Commit"
    COMPLETE_FAILBACK = "CompleteFailback"
    FAILBACK_COMMIT = "FailbackCommit"
    REVERSE_REPLICATION = "ReverseReplication"
    TEST_FAILOVER_CLEANUP = "TestFailoverCleanup"


class OperationResult(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABANDONED = "Abandoned"


class OperationStatus(ApiModel):
    """The one operation in flight. Written before the ASR call (the persisted intent)."""

    run_id: str
    type: OperationType
    requested_at: datetime
    generation: int = 0
    attempt: int = 1
    # True once ASR answered the call; False while the outcome of the call is unknown.
    submitted: bool = False
    submitted_at: datetime | None = None
    job_name: str = ""
    job_state: str = ""
    tasks_done: int = 0
    tasks_total: int = 0
    current_task: str = ""
    recovery_point: str = ""
    recovery_point_id: str = ""
    detail: str = ""
    resume_requested_at: datetime | None = None


class HistoryEntry(ApiModel):
    run_id: str
    type: OperationType
    result: OperationResult
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    job_name: str = ""
    recovery_point: str = ""
    error: str = ""


class AwaitingApproval(ApiModel):
    action: ApprovalAction
    token: str
    message: str
    since: datetime


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


class AzureVM(ApiModel):
    name: str = ""
    size: str = ""
    ips: list[str] = Field(default_factory=list)
    connect: str = ""


class TestFailoverStatus(ApiModel):
    last_request_id: str = ""
    started_at: datetime | None = None
    cleanup_at: datetime | None = None
    test_vm: AzureVM | None = Field(default=None, alias="testVM")


class ValidationStatus(ApiModel):
    started_at: datetime
    attempts: int = 0
    last_result: str = ""
    timed_out: bool = False
    passed: bool = False


class FailureMemo(ApiModel):
    """Failures of the same operation for the same generation; bounds automatic retries."""

    type: OperationType
    generation: int
    count: int
    last_at: datetime
    message: str


class ProtectedVMStatus(ApiModel):
    observed_generation: int | None = None
    phase: Phase | None = None
    active_site: Site | None = None
    job: str = Field(default="", description="The running ASR job, for printer columns.")
    asr: AsrObserved | None = None
    target: TargetObserved | None = None
    azure_vm: AzureVM | None = Field(default=None, alias="azureVM")
    operation: OperationStatus | None = None
    awaiting_approval: AwaitingApproval | None = None
    applied_recovery_point: str = ""
    validation: ValidationStatus | None = None
    test_failover: TestFailoverStatus | None = None
    last_operation: HistoryEntry | None = None
    history: list[HistoryEntry] = Field(default_factory=list, max_length=20)
    failures: FailureMemo | None = None
    conditions: list[Condition] = Field(default_factory=list)
