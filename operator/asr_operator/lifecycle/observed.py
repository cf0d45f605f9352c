"""What the gateways observe, as plain immutable data.

The ASR gateway (`azure/`) and the Hyper-V gateway (`hyperv/`) translate wire
responses into these types; the lifecycle decides only from them. No SDK model,
no pywinrm object and no kopf type crosses this line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ActiveLocation(StrEnum):
    PRIMARY = "Primary"
    RECOVERY = "Recovery"


class JobState(StrEnum):
    """ASR job and task states (reference section 4.1); `Cancelled` is ASR's spelling."""

    NOT_STARTED = "NotStarted"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SUSPENDED = "Suspended"
    OTHER = "Other"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class AsrOperation(StrEnum):
    """Values of `allowedOperations` (ReplicationProtectedItemOperation) that we use."""

    PLANNED_FAILOVER = "PlannedFailover"
    UNPLANNED_FAILOVER = "UnplannedFailover"
    TEST_FAILOVER = "TestFailover"
    TEST_FAILOVER_CLEANUP = "TestFailoverCleanup"
    COMMIT = "Commit"
    CHANGE_PIT = "ChangePit"
    FAILBACK = "Failback"
    REVERSE_REPLICATE = "ReverseReplicate"
    CANCEL_FAILOVER = "CancelFailover"
    DISABLE_PROTECTION = "DisableProtection"


@dataclass(frozen=True)
class AsrErrorDetail:
    """One ASR error: service code and message, with ASR's own advice."""

    code: str
    message: str
    possible_causes: str = ""
    recommended_action: str = ""


@dataclass(frozen=True)
class AsrTask:
    name: str
    friendly_name: str
    state: JobState
    # For a manual action in a recovery plan: the instructions ASR shows.
    instructions: str = ""
    # For a plan's group task: the group's name ("Shutdown", "Failover", "Boot 1", ...).
    group: str = ""
    # For a plan's group task (groupTaskCustomDetails.childTasks): the group's steps in
    # order, one child task per VM the group acts on, and its manual actions.
    children: tuple[AsrTask, ...] = ()
    # For a child task (JobTaskDetails): the VM its child job acts on (jobTask.targetObject*).
    target_name: str = ""
    target_id: str = ""
    errors: tuple[AsrErrorDetail, ...] = ()
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True)
class AsrJob:
    """An ASR job as read from `replicationJobs/{name}`."""

    name: str
    scenario: str
    state: JobState
    state_description: str = ""
    friendly_name: str = ""
    tasks: tuple[AsrTask, ...] = ()
    allowed_actions: frozenset[str] = frozenset()
    errors: tuple[AsrErrorDetail, ...] = ()
    start_time: datetime | None = None
    end_time: datetime | None = None
    target_object_id: str = ""
    target_object_name: str = ""
    # The x-ms-client-request-id of the request that created the job, as ASR echoes it at
    # the head of the job's activityId; None when the activityId names none.
    client_request_id: str | None = None
    # ProtectionEntity (an item's job) or RecoveryPlan (a plan's job).
    target_instance_type: str = ""

    @property
    def steps(self) -> tuple[AsrTask, ...]:
        """The job's steps: a plan group task counts as its child tasks, others as one."""
        return tuple(c for t in self.tasks for c in (t.children or (t,)))

    @property
    def tasks_done(self) -> int:
        """Top-level tasks done; a plan group task counts as one (its VMs are its children)."""
        return sum(1 for t in self.tasks if t.state in (JobState.SUCCEEDED, JobState.OTHER))

    @property
    def current_task(self) -> AsrTask | None:
        """The top-level task running, suspended or failed (else the next to run)."""
        return _current(self.tasks)

    @property
    def current_step(self) -> tuple[AsrTask, AsrTask] | None:
        """(top-level task, step): the step within a plan group task, or the task itself."""
        top = self.current_task
        if top is None:
            return None
        step = _current(top.children) if top.children else None
        return top, step or top


def _current(tasks: tuple[AsrTask, ...]) -> AsrTask | None:
    for t in tasks:
        if t.state in (JobState.IN_PROGRESS, JobState.SUSPENDED, JobState.FAILED):
            return t
    for t in tasks:
        if t.state == JobState.NOT_STARTED:
            return t
    return None


@dataclass(frozen=True)
class JobTarget:
    """What ASR names as a job's target (targetInstanceType, targetObjectId/-Name).

    An item's jobs name the VM id and the VM's name; a plan's jobs name the plan's
    internal id, which the plan resource does not show, and the plan's name.
    """

    instance_type: str  # ProtectionEntity | RecoveryPlan
    object_id: str = ""
    name: str = ""

    @classmethod
    def item(cls, vm_id: str, friendly_name: str = "") -> JobTarget:
        return cls("ProtectionEntity", vm_id, friendly_name)

    @classmethod
    def plan(cls, name: str) -> JobTarget:
        return cls("RecoveryPlan", "", name)

    def matches(self, job: AsrJob) -> bool:
        kind = job.target_instance_type
        if kind and kind.lower() != self.instance_type.lower():
            return False
        if self.object_id and job.target_object_id.lower() == self.object_id.lower():
            return True
        return bool(self.name) and job.target_object_name.lower() == self.name.lower()


@dataclass(frozen=True)
class NicSettings:
    """One NIC of the Azure VM a failover creates (Compute and Network settings)."""

    nic_id: str
    subnet: str = ""
    static_ip: str = ""


@dataclass(frozen=True)
class TargetSettings:
    """The Compute and Network settings of a replicated item, as ASR holds them.

    Empty strings mean "not set", as ASR sends them.
    """

    vm_name: str = ""
    size: str = ""
    resource_group_id: str = ""
    availability_set_id: str = ""
    availability_zone: str = ""
    use_managed_disks: bool | None = None
    network_id: str = ""
    nics: tuple[NicSettings, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ComputeSize:
    """One entry of `targetComputeSizes`; `errors` say why the item cannot use it."""

    name: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecoveryPoint:
    id: str  # ARM id, what ASR wants as recoveryPointId
    name: str
    time: datetime
    type: str  # "CrashConsistent" | "ApplicationConsistent" (free string in ASR)

    @property
    def app_consistent(self) -> bool:
        return self.type.lower().startswith("app")


@dataclass(frozen=True)
class AsrDisk:
    """One replicated disk (azureVmDiskDetails, with protectedManagedDisks' target type)."""

    name: str  # vhdName
    os: bool  # vhdType OperatingSystem
    size_mb: int  # maxSizeMB
    lun: int | None = None
    target_disk_type: str = ""  # targetDiskAccountType of the matching managed disk


@dataclass(frozen=True)
class AsrItem:
    """A replication protected item (reference section 3)."""

    id: str  # ARM id as ASR returns it
    name: str  # the Hyper-V VM id
    friendly_name: str
    fabric: str
    container: str
    protection_state: str
    active_location: ActiveLocation
    allowed_operations: frozenset[str]
    replication_health: str = "Normal"
    protection_state_description: str = ""
    test_failover_state: str = "None"
    # The running job, from currentScenario; None when idle ("None" sentinel).
    current_scenario: str | None = None
    current_job_name: str | None = None
    rpo_seconds: int | None = None
    last_replicated_time: datetime | None = None
    failover_recovery_point_id: str | None = None
    target: TargetSettings = field(default_factory=TargetSettings)
    health_errors: tuple[AsrErrorDetail, ...] = ()
    # The NICs (resource group, name) ASR names for the failed-over VM and for a drill's
    # test VM (vmNics[].recoveryNicName / tfoRecoveryNicName), when it names them.
    recovery_nics: tuple[tuple[str, str], ...] = ()
    test_nics: tuple[tuple[str, str], ...] = ()
    # Recovery plans this item belongs to (names), when known.
    recovery_plans: tuple[str, ...] = ()
    disks: tuple[AsrDisk, ...] = ()

    @property
    def busy_job(self) -> str | None:
        """The job at work on the item, if any.

        A test failover's job stays Suspended until its cleanup and currentScenario names
        it meanwhile; the item then allows the cleanup, and that job holds nothing up.
        """
        waits_for_cleanup = (
            self.current_scenario == "TestFailover"
            and AsrOperation.TEST_FAILOVER_CLEANUP in self.allowed_operations
        )
        return None if waits_for_cleanup else self.current_job_name


@dataclass(frozen=True)
class AzureVmObserved:
    """A VM as Azure Resource Manager shows it (Microsoft.Compute and Microsoft.Network)."""

    id: str  # ARM id; the expected one when the VM was not found
    name: str
    found: bool = True
    size: str = ""
    power_state: str = ""  # from instanceView: "running", "deallocated", ...
    os_type: str = ""  # "Windows" | "Linux"
    private_ips: tuple[str, ...] = ()  # primary NIC's primary IP first
    public_ip_ids: tuple[str, ...] = ()  # publicIPAddress references of its IP configurations
    error: str = ""  # why it could not be read


@dataclass(frozen=True)
class AsrPlanGroup:
    """One group of a recovery plan: Shutdown, Failover, or Boot (numbered from 1)."""

    group_type: str  # "Shutdown" | "Failover" | "Boot"
    name: str  # "Shutdown", "Failover", "Boot 1", ...
    item_ids: tuple[str, ...] = ()  # ARM ids of the protected items
    # Manual actions as (name, instructions), before and after the group.
    start_manual_actions: tuple[tuple[str, str], ...] = ()
    end_manual_actions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AsrPlan:
    """A recovery plan (reference section 6)."""

    id: str
    name: str
    friendly_name: str
    allowed_operations: frozenset[str]
    groups: tuple[AsrPlanGroup, ...] = ()
    # The plan's latest job from currentScenario (ASR keeps it after the job ends).
    current_scenario: str | None = None
    current_job_name: str | None = None
    current_scenario_status: str = ""

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(i for g in self.groups for i in g.item_ids)


class PowerState(StrEnum):
    RUNNING = "Running"
    OFF = "Off"
    SAVED = "Saved"
    PAUSED = "Paused"
    STARTING = "Starting"
    STOPPING = "Stopping"
    OTHER = "Other"


@dataclass(frozen=True)
class HyperVDisk:
    path: str
    format: str  # "VHD" | "VHDX"
    size_gb: float
    is_os: bool
    shared: bool = False


@dataclass(frozen=True)
class HyperVVM:
    """A VM as its Hyper-V host reports it (Get-VM, Get-VMSnapshot, Get-VHD...)."""

    name: str
    vm_id: str
    state: PowerState
    generation: int
    checkpoints: tuple[str, ...] = ()
    disks: tuple[HyperVDisk, ...] = ()
    nic_count: int = 1
    host: str = ""
    # The guest OS name the VM reports through Hyper-V data exchange (KVP), e.g.
    # "Windows Server 2022 Datacenter"; empty when unknown (VM off, no integration services).
    guest_os: str = ""
