"""ProtectedVM: where one replicated Hyper-V VM should run, and what the operator saw and did."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from asr_operator.api.cel import FieldRule, checked, is_ip, matches, rules
from asr_operator.api.common import (
    ARM_ID_MAX_LENGTH,
    AVAILABILITY_SET_ID,
    DURATION_MAX_LENGTH,
    HOST_NAME_PATTERN,
    PATH_SEGMENT_PATTERN,
    RECOVERY_POINT,
    RESOURCE_GROUP_ID,
    VIRTUAL_NETWORK_ID,
    VM_NAME_MAX_LENGTH,
    ApiModel,
    Clipped,
    CommitMode,
    DataSync,
    FailoverType,
    LocalObjectReference,
    ManagementPolicy,
    ReverseReplication,
    Site,
    StatusArmId,
    StatusMessage,
    StatusName,
    StatusText,
    duration_rules,
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

# Bounds of the spec's durations (docs/spec.md). A validation
# timeout below one probe interval (10s) allows no second probe, and past 24h the choice of
# recovery point has expired; a drill is cleaned up no sooner than 10s after it is up (0s
# would remove it before anything could look at it; a smoke drill in a pipeline wants
# seconds, not minutes), and within two weeks (the classic limit ASR force-completed drills at).
VALIDATION_TIMEOUT_MIN, VALIDATION_TIMEOUT_MAX = "10s", "24h"
CLEANUP_AFTER_MIN, CLEANUP_AFTER_MAX = "10s", "336h"

ValidationTimeout = Annotated[
    str,
    Field(max_length=DURATION_MAX_LENGTH),
    duration_rules(VALIDATION_TIMEOUT_MIN, VALIDATION_TIMEOUT_MAX),
]
CleanupAfter = Annotated[
    str, Field(max_length=DURATION_MAX_LENGTH), duration_rules(CLEANUP_AFTER_MIN, CLEANUP_AFTER_MAX)
]
RecoveryPoint = Annotated[str, Field(max_length=36), checked(RECOVERY_POINT)]

# ASR's id of a replicated VM's NIC (vmNics[].nicId): base64 of "Microsoft:<VM id>\<NIC id>".
ASR_NIC_ID = matches(
    r"^([A-Za-z0-9+/]{4})+([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
    "must be ASR's id of the replicated VM's NIC (base64, as in status.target.nics[].nicId), "
    "not an Azure network interface resource id",
)
# Recovery static IP: IPv4 only (ASR does not fail IPv6 over); CEL's isIP as Kubernetes has it.
STATIC_IP = FieldRule(
    "self == '' || (isIP(self) && ip(self).family() == 4)",
    "must be empty or an IPv4 address such as 10.20.1.10",
    lambda v: v == "" or is_ip(v, 4),
)
# Azure subnet names: 1-80 characters, starting alphanumeric, ending alphanumeric or '_'.
SUBNET_PATTERN = r"^$|^[A-Za-z0-9]([-A-Za-z0-9_.]{0,78}[A-Za-z0-9_])?$"
# Azure tags: at most 50, names up to 512 characters, values up to 256.
MAX_TAGS, TAG_NAME_MAX_LENGTH, TAG_VALUE_MAX_LENGTH = 50, 512, 256
TAG_NAMES = FieldRule(
    f"self.all(k, size(k) >= 1 && size(k) <= {TAG_NAME_MAX_LENGTH})",
    f"tag names must be 1 to {TAG_NAME_MAX_LENGTH} characters long",
    lambda tags: all(1 <= len(k) <= TAG_NAME_MAX_LENGTH for k in tags),
)


class ProtectedItemRef(ApiModel):
    """The ASR replicated item: by its friendly name, or by fabric, container and id."""

    model_config = rules(
        (
            "has(self.name) || (has(self.fabric) && has(self.container) && has(self.id))",
            "give the ASR item's friendly name, or fabric, container and id together",
        ),
        (
            "!has(self.name) || !(has(self.fabric) || has(self.container) || has(self.id))",
            "give the ASR item's friendly name, or fabric, container and id, not both",
        ),
    )

    name: str | None = Field(default=None, min_length=1, max_length=VM_NAME_MAX_LENGTH)
    """The item's friendly name in ASR (the Hyper-V VM's name)."""
    fabric: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=PATH_SEGMENT_PATTERN
    )
    """The replication fabric's name (the Hyper-V site), with container and id."""
    container: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=PATH_SEGMENT_PATTERN
    )
    """The protection container's name, with fabric and id."""
    id: str | None = Field(default=None, min_length=1, max_length=128, pattern=PATH_SEGMENT_PATTERN)
    """The item's name in ASR (the Hyper-V VM's id), with fabric and container."""


class HyperVRef(ApiModel):
    """Where the VM runs on-premises, for the pre-failover checks over WinRM."""

    host: str = Field(max_length=63, pattern=HOST_NAME_PATTERN)
    """A hyperVHosts[].name of the vault."""
    vm_name: str = Field(min_length=1, max_length=VM_NAME_MAX_LENGTH)
    """The VM's name in Hyper-V."""


class Nic(ApiModel):
    """One NIC of the VM a failover creates."""

    nic_id: Annotated[str, Field(min_length=4, max_length=1024), checked(ASR_NIC_ID)]
    """ASR's id of the replicated VM's NIC (status.target.nics[].nicId)."""
    subnet: str = Field(default="", max_length=80, pattern=SUBNET_PATTERN)
    """The subnet of target.networkId it joins; empty keeps ASR's choice."""
    static_ip: Annotated[str, Field(max_length=15), checked(STATIC_IP)] = Field(
        default="", alias="staticIP"
    )
    """The IPv4 address it gets in Azure; empty for one from DHCP."""


class Target(ApiModel):
    """The Azure VM a failover creates: ASR's Compute and Network settings."""

    model_config = rules(
        (
            "!(has(self.availabilitySetId) && self.availabilitySetId != '' && "
            "has(self.availabilityZone) && self.availabilityZone != '')",
            "set availabilitySetId or availabilityZone, not both",
        ),
        (
            "!has(self.nics) || self.nics.all(a, a.staticIP == '' || "
            "self.nics.filter(b, b.staticIP == a.staticIP).size() == 1)",
            "two NICs cannot have the same staticIP",
        ),
    )

    vm_name: str | None = Field(default=None, pattern=AZURE_VM_NAME_PATTERN, max_length=63)
    """The Azure VM's name."""
    size: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+$", max_length=64)
    """The Azure VM size, e.g. Standard_D2s_v3; checked against the sizes ASR offers."""
    resource_group_id: (
        Annotated[str, Field(max_length=ARM_ID_MAX_LENGTH), checked(RESOURCE_GROUP_ID)] | None
    ) = None
    """The resource group the VM is created in."""
    availability_set_id: (
        Annotated[str, Field(max_length=ARM_ID_MAX_LENGTH), checked(AVAILABILITY_SET_ID)] | None
    ) = None
    """An availability set for the VM; empty for none. Not with availabilityZone."""
    availability_zone: str | None = Field(default=None, pattern=r"^$|^[1-3]$", max_length=1)
    """The availability zone (1, 2 or 3); empty for none. Not with availabilitySetId."""
    managed_disks: bool | None = None
    """Whether the VM gets managed disks."""
    network_id: (
        Annotated[str, Field(max_length=ARM_ID_MAX_LENGTH), checked(VIRTUAL_NETWORK_ID)] | None
    ) = None
    """The virtual network the VM's NICs join."""
    nics: list[Nic] | None = Field(
        default=None,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["nicId"],
        },
    )
    """Settings per NIC, one per nicId; NICs not listed keep ASR's settings."""
    tags: (
        Annotated[
            dict[str, Annotated[str, Field(max_length=TAG_VALUE_MAX_LENGTH)]],
            Field(max_length=MAX_TAGS),
            checked(TAG_NAMES),
        ]
        | None
    ) = None
    """Azure tags of the VM (at most 50)."""


class Validation(ApiModel):
    """Probe the failed-over VM before an automatic commit ("connect and validate")."""

    tcp_ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        min_length=1, max_length=8, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """TCP ports that must accept a connection on the VM's first IP."""
    timeout: ValidationTimeout = "15m"
    """How long to keep probing before waiting for a person (10s to 24h)."""


PLANNED_SHUTS_DOWN = (
    "self.type != 'Planned' || self.shutdownSourceVM",
    "a Planned failover always shuts the source VM down (no data loss); set "
    "shutdownSourceVM: true, or type: Unplanned to fail over without shutting it down",
)


class Failover(ApiModel):
    """How a change of activeSite to Azure fails over."""

    model_config = rules(PLANNED_SHUTS_DOWN)

    type: FailoverType = FailoverType.PLANNED
    """Planned (shuts the source down first, no data loss) or Unplanned (the source is lost)."""
    recovery_point: RecoveryPoint = "Latest"
    """Latest, LatestProcessed, LatestApplicationConsistent, or one recovery point's name."""
    shutdown_source_vm: bool = Field(default=True, alias="shutdownSourceVM")
    """Shut the source VM down before an Unplanned failover; always true for Planned."""
    commit: CommitMode = CommitMode.MANUAL
    """Manual: wait for spec.approve before committing. Automatic: commit (after validation)."""
    validation: Validation | None = None


class Failback(ApiModel):
    """How a change of activeSite back to OnPremises fails back."""

    data_sync: DataSync = DataSync.BEFORE_FAILOVER
    """BeforeFailover (ASR's ForDownTime) or DuringFailover (ForSynchronization)."""
    create_vm_if_not_found: bool = Field(default=False, alias="createVMIfNotFound")
    """Let ASR create the on-premises VM when it no longer exists."""
    commit: CommitMode = CommitMode.MANUAL
    """Manual: wait for spec.approve before committing the failback. Automatic: commit."""


class TestFailover(ApiModel):
    """A drill: a test failover into an isolated network, cleaned up later."""

    model_config = rules(
        (
            "!has(self.requestId) || self.requestId == '' || "
            "(has(self.networkId) && self.networkId != '')",
            "testFailover.networkId is required when requestId is set",
        ),
    )

    request_id: str = Field(default="", max_length=63)
    """Names the drill: set or change it to start one; empty for none."""
    network_id: Annotated[
        str,
        Field(max_length=ARM_ID_MAX_LENGTH),
        checked(
            FieldRule(
                f"self == '' || {VIRTUAL_NETWORK_ID.rule}",
                f"{VIRTUAL_NETWORK_ID.message} (an isolated network for the drill)",
                lambda v: v == "" or VIRTUAL_NETWORK_ID.holds(v),
            )
        ),
    ] = ""
    """The isolated virtual network the test VM joins; required with requestId."""
    cleanup_after: CleanupAfter | None = None
    """Clean the drill up this long after it started (10s to 336h); unset, when approved."""
    recovery_point: RecoveryPoint = "Latest"
    """The recovery point the test VM starts from, as failover.recoveryPoint."""


class ProtectedVMSpec(ApiModel):
    vault_ref: LocalObjectReference
    """The SiteRecoveryVault (same namespace) that replicates this VM."""
    protected_item: ProtectedItemRef
    hyper_v: HyperVRef | None = Field(default=None, alias="hyperV")
    active_site: Site = Site.ON_PREMISES
    """Where the VM should run: OnPremises or Azure. Changing it fails over or back."""
    target: Target | None = None
    failover: Failover = Field(default_factory=Failover)
    failback: Failback = Field(default_factory=Failback)
    reverse_replication: ReverseReplication = ReverseReplication.AUTOMATIC
    """Automatic: re-protect after a commit. Manual: wait for spec.approve."""
    approve: str = Field(default="", max_length=63)
    """Set to status.awaitingApproval.token to let the waiting step proceed."""
    test_failover: TestFailover | None = None
    management_policy: ManagementPolicy = ManagementPolicy.FULL
    """Full: act on ASR. ObserveOnly: report status, never call an ASR action."""


class AsrObserved(ApiModel):
    """The replicated item as ASR last reported it."""

    item_id: StatusArmId = ""
    """The item's ARM resource id."""
    protection_state: StatusName = ""
    """ASR's protectionState, e.g. Protected, UnplannedFailoverCommitPending."""
    active_location: StatusName = ""
    """ASR's activeLocation: Primary or Recovery."""
    allowed_operations: Annotated[list[StatusName], Clipped(64)] = Field(default_factory=list)
    """The operations ASR allows on the item now."""
    replication_health: StatusName = ""
    """ASR's replicationHealth: Normal, Warning or Critical."""
    test_failover_state: StatusName = ""
    """ASR's testFailoverState."""
    rpo_seconds: int | None = None
    """The recovery point objective ASR last measured, in seconds."""
    last_replicated_time: datetime | None = None
    """When data last replicated."""


class NicObserved(ApiModel):
    """One NIC of the replicated VM, as ASR holds its recovery settings."""

    nic_id: Annotated[str, Clipped(1024)]
    """ASR's id of the NIC: what spec.target.nics[].nicId names."""
    subnet: StatusName = ""
    """The subnet it joins in Azure."""
    static_ip: StatusName = Field(default="", alias="staticIP")
    """Its static IP address in Azure; empty for DHCP."""


class TargetObserved(ApiModel):
    """ASR's Compute and Network settings of the item: the VM a failover would create."""

    vm_name: StatusName = ""
    """The Azure VM's name."""
    size: StatusName = ""
    """The Azure VM size."""
    resource_group_id: StatusArmId = ""
    """The resource group the VM is created in."""
    availability_set_id: StatusArmId = ""
    """Its availability set, if any."""
    availability_zone: StatusName = ""
    """Its availability zone, if any."""
    managed_disks: bool | None = None
    """Whether it gets managed disks."""
    network_id: StatusArmId = ""
    """The virtual network its NICs join."""
    nics: Annotated[list[NicObserved], Clipped(32)] = Field(default_factory=list)
    """Its NICs."""
    in_sync: bool = True
    """Whether these settings are those spec.target asks for."""
    differences: Annotated[list[StatusText], Clipped(64)] = Field(default_factory=list)
    """What differs from spec.target, one line per setting."""


class ValidationStatus(ApiModel):
    """The probe of the failed-over VM before an automatic commit."""

    started_at: datetime
    """When probing started."""
    attempts: int = 0
    """Probes made so far."""
    last_result: StatusMessage = ""
    """What the last probe found."""
    timed_out: bool = False
    """True once failover.validation.timeout passed without success."""
    passed: bool = False
    """True once every port answered."""


class DiskObserved(ApiModel):
    """One disk of the replicated VM as ASR reports it (the portal's Disks view)."""

    name: StatusName = ""
    """The VHD's file name (vhdName)."""
    role: StatusName = ""
    """OperatingSystem or DataDisk, as ASR's vhdType says."""
    size_gb: float = Field(default=0, alias="sizeGB")
    """Size in GB (maxSizeMB / 1024)."""
    lun: int | None = None
    """The data disk's LUN in Azure."""
    target_disk_type: StatusName = ""
    """Managed disk type the failed-over VM gets (e.g. Premium_LRS); empty when ASR names
    none (replication to a storage account)."""


PRECHECKS_MAX = 16


class PrecheckResult(ApiModel):
    """One Azure requirement checked on the Hyper-V VM, with the value seen."""

    rule: StatusName
    """Stable PascalCase name, e.g. NoCheckpoints."""
    seen: StatusText = ""
    """What the VM has."""
    limit: StatusName = ""
    """What Azure accepts."""
    passed: bool
    """Whether the VM meets it."""


class PrechecksStatus(ApiModel):
    """The pre-failover checks of the Hyper-V VM against Azure's limits.

    Taken when the object is first seen, when spec.hyperV changes, before every
    failover, and when asked for (the refresh annotation); written only when taken on
    request or when a result changed, so a resting VM costs no status write.
    """

    checked_at: datetime
    """When these results were taken."""
    vm: StatusName = ""
    """The VM checked (host/name)."""
    passed: bool
    """Every rule passed: a failover will not be refused."""
    results: Annotated[list[PrecheckResult], Clipped(PRECHECKS_MAX)] = Field(default_factory=list)
    """Every rule, with the value seen."""
    error: StatusMessage = ""
    """Why the VM could not be read from Hyper-V."""


RECOVERY_POINTS_SHOWN = 12


class RecoveryPointShown(ApiModel):
    """One retained recovery point."""

    name: StatusName
    """What spec.failover.recoveryPoint takes."""
    time: datetime
    """The point's time (recoveryPointTime)."""
    type: StatusName = ""
    """ApplicationConsistent or CrashConsistent, as ASR names it."""


class RecoveryPointsStatus(ApiModel):
    """The retained recovery points, as the portal's Change recovery point list shows them.

    Listed when a failover, drill or change of recovery point needs them and when asked
    for (the refresh annotation), not on every cycle: `listedAt` says how old the list is.
    """

    listed_at: datetime
    """When ASR listed these."""
    retained: int = 0
    """How many points ASR retains in all."""
    newest: Annotated[list[RecoveryPointShown], Clipped(RECOVERY_POINTS_SHOWN)] = Field(
        default_factory=list
    )
    """The newest ones, newest first (at most 12)."""


class ProtectedVMStatus(OperationalStatus):
    asr: AsrObserved | None = None
    target: TargetObserved | None = None
    azure_vm: AzureVM | None = Field(default=None, alias="azureVM")
    """The failed-over VM in Azure, as Azure Resource Manager last showed it."""
    validation: ValidationStatus | None = None
    disks: Annotated[list[DiskObserved], Clipped(64)] | None = None
    """The VM's disks as ASR reports them."""
    prechecks: PrechecksStatus | None = None
    """Each Azure requirement checked on the Hyper-V VM, with the value seen."""
    recovery_points: RecoveryPointsStatus | None = None
    """The retained recovery points, when last listed."""
    last_handled_refresh: StatusName = ""
    """The value of the asr-operator.io/refresh annotation last acted on."""
