"""RecoveryPlan: where every VM of one ASR recovery plan should run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from asr_operator.api.cel import checked, rules
from asr_operator.api.common import (
    HOST_NAME_PATTERN,
    PATH_SEGMENT_PATTERN,
    RECOVERY_POINT_KEYWORD,
    VM_NAME_MAX_LENGTH,
    ApiModel,
    Clipped,
    CommitMode,
    FailoverType,
    LocalObjectReference,
    ManagementPolicy,
    ReverseReplication,
    Site,
    StatusMessage,
    StatusName,
    StatusText,
    list_map,
)
from asr_operator.api.operation import AzureVM, OperationalStatus
from asr_operator.api.protectedvm import PLANNED_SHUTS_DOWN, Failback, TestFailover

KIND = "RecoveryPlan"
PLURAL = "recoveryplans"


PlanRecoveryPoint = Annotated[str, Field(max_length=36), checked(RECOVERY_POINT_KEYWORD)]


# ASR's planned failover of a plan takes no recovery point: it shuts the sources down,
# synchronizes, and fails over to that last point.
PLANNED_TAKES_LATEST = (
    "self.type != 'Planned' || !has(self.recoveryPoint) || self.recoveryPoint == 'Latest'",
    "a Planned failover of a plan synchronizes and fails over to the latest point (ASR "
    "takes no recovery point for it); set recoveryPoint: Latest, or type: Unplanned to "
    "fail over to LatestProcessed or LatestApplicationConsistent",
)


class PlanFailover(ApiModel):
    """How a change of activeSite to Azure fails the plan over."""

    model_config = rules(PLANNED_SHUTS_DOWN, PLANNED_TAKES_LATEST)

    type: FailoverType = FailoverType.PLANNED
    """Planned (shuts the sources down first, no data loss) or Unplanned."""
    recovery_point: PlanRecoveryPoint = "Latest"
    """Latest, LatestProcessed or LatestApplicationConsistent (a plan names no single point)."""
    shutdown_source_vm: bool = Field(default=True, alias="shutdownSourceVM")
    """Shut the source VMs down before an Unplanned failover; always true for Planned."""
    commit: CommitMode = CommitMode.MANUAL
    """Manual: wait for spec.approve before committing. Automatic: commit."""


class PlanTestFailover(TestFailover):
    """A ProtectedVM's drill (and its rules), with a keyword for the recovery point."""

    recovery_point: PlanRecoveryPoint = "Latest"
    """Latest, LatestProcessed or LatestApplicationConsistent."""


class MemberHost(ApiModel):
    """Where one member of the plan runs on Hyper-V, so its pre-checks can run."""

    vm: str = Field(min_length=1, max_length=VM_NAME_MAX_LENGTH)
    """The member's name as ASR lists it."""
    host: str = Field(max_length=63, pattern=HOST_NAME_PATTERN)
    """A hyperVHosts[].name of the vault."""
    vm_name: str | None = Field(default=None, min_length=1, max_length=VM_NAME_MAX_LENGTH)
    """Hyper-V VM name (default: vm)."""


# ASR allows 100 VMs in a plan (reference limits).
MAX_PLAN_MEMBERS = 100


class RecoveryPlanSpec(ApiModel):
    vault_ref: LocalObjectReference
    """The SiteRecoveryVault (same namespace) that holds the plan."""
    plan_name: str = Field(min_length=1, max_length=200, pattern=PATH_SEGMENT_PATTERN)
    """The recovery plan's name in the vault."""
    hyper_v: list[MemberHost] | None = Field(
        default=None,
        alias="hyperV",
        max_length=MAX_PLAN_MEMBERS,
        json_schema_extra=list_map("vm"),
    )
    """Where members run on Hyper-V, for their pre-failover checks; one entry per vm."""
    active_site: Site = Site.ON_PREMISES
    """Where the plan's VMs should run: OnPremises or Azure. Changing it fails over or back."""
    failover: PlanFailover = Field(default_factory=PlanFailover)
    failback: Failback = Field(default_factory=Failback)
    reverse_replication: ReverseReplication = ReverseReplication.AUTOMATIC
    """Automatic: re-protect after a commit. Manual: wait for spec.approve."""
    approve: str = Field(default="", max_length=63)
    """Set to status.awaitingApproval.token to let the waiting step proceed."""
    test_failover: PlanTestFailover | None = None
    management_policy: ManagementPolicy = ManagementPolicy.FULL
    """Full: act on ASR. ObserveOnly: report status, never call an ASR action."""


# Shutdown, Failover and ASR's boot groups (at most 7).
MAX_PLAN_GROUPS = 16


class GroupProgress(ApiModel):
    """One step of the plan job: Shutdown, Failover, or a boot group."""

    name: StatusName
    """Shutdown, Failover, or Boot 1 to 7."""
    state: StatusName = ""
    """The step's state, as ASR reports it."""
    started_at: datetime | None = None
    """When it started."""
    ended_at: datetime | None = None
    """When it ended."""
    vms_done: int = 0
    """Members done with this step."""
    vms_total: int = 0
    """Members in this step."""


class VMOutcome(ApiModel):
    """One member of the plan."""

    name: StatusName
    """The member's name as ASR lists it."""
    state: StatusText = ""
    """Where ASR says the VM runs, and its state."""
    result: StatusText = ""
    """Its part in the last plan job."""
    message: StatusMessage = ""
    """What went wrong for it, if anything."""
    azure_vm: AzureVM | None = Field(default=None, alias="azureVM")
    """While the VM runs in Azure: the VM its failover created, as ARM shows it."""


class RecoveryPlanStatus(OperationalStatus):
    allowed_operations: Annotated[list[StatusName], Clipped(64)] = Field(default_factory=list)
    """The operations ASR allows on the plan now."""
    item_count: int | None = None
    """Protected items in the plan."""
    progress: StatusText = ""
    """The plan job's current step, in words."""
    groups: Annotated[list[GroupProgress], Clipped(MAX_PLAN_GROUPS)] = Field(default_factory=list)
    """The plan job's steps."""
    vms: Annotated[list[VMOutcome], Clipped(MAX_PLAN_MEMBERS)] = Field(default_factory=list)
    """Every member of the plan."""
