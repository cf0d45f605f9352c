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
    CommitMode,
    FailoverType,
    LocalObjectReference,
    ManagementPolicy,
    ReverseReplication,
    Site,
    list_map,
)
from asr_operator.api.operation import AzureVM, OperationalStatus
from asr_operator.api.protectedvm import PLANNED_SHUTS_DOWN, Failback, TestFailover

KIND = "RecoveryPlan"
PLURAL = "recoveryplans"


PlanRecoveryPoint = Annotated[str, Field(max_length=36), checked(RECOVERY_POINT_KEYWORD)]


class PlanFailover(ApiModel):
    model_config = rules(PLANNED_SHUTS_DOWN)

    type: FailoverType = FailoverType.PLANNED
    recovery_point: PlanRecoveryPoint = "Latest"
    shutdown_source_vm: bool = Field(default=True, alias="shutdownSourceVM")
    commit: CommitMode = CommitMode.MANUAL


class PlanTestFailover(TestFailover):
    """A ProtectedVM's drill (and its rules), with a keyword for the recovery point."""

    recovery_point: PlanRecoveryPoint = "Latest"


class MemberHost(ApiModel):
    """Where one member of the plan runs on Hyper-V, so its pre-checks can run."""

    vm: str = Field(
        min_length=1,
        max_length=VM_NAME_MAX_LENGTH,
        description="The member's name as ASR lists it.",
    )
    host: str = Field(
        max_length=63, pattern=HOST_NAME_PATTERN, description="A hyperVHosts[].name of the vault."
    )
    vm_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=VM_NAME_MAX_LENGTH,
        description="Hyper-V VM name (default: vm).",
    )


# ASR allows 100 VMs in a plan (reference limits).
MAX_PLAN_MEMBERS = 100


class RecoveryPlanSpec(ApiModel):
    vault_ref: LocalObjectReference
    plan_name: str = Field(min_length=1, max_length=200, pattern=PATH_SEGMENT_PATTERN)
    hyper_v: list[MemberHost] | None = Field(
        default=None,
        alias="hyperV",
        max_length=MAX_PLAN_MEMBERS,
        json_schema_extra=list_map("vm"),
    )
    active_site: Site = Site.ON_PREMISES
    failover: PlanFailover = Field(default_factory=PlanFailover)
    failback: Failback = Field(default_factory=Failback)
    reverse_replication: ReverseReplication = ReverseReplication.AUTOMATIC
    approve: str = Field(default="", max_length=63)
    test_failover: PlanTestFailover | None = None
    management_policy: ManagementPolicy = ManagementPolicy.FULL


class GroupProgress(ApiModel):
    name: str  # Shutdown, Failover, Boot 1..7
    state: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    vms_done: int = 0
    vms_total: int = 0


class VMOutcome(ApiModel):
    name: str
    state: str = Field(default="", description="Where ASR says the VM runs, and its state.")
    result: str = Field(default="", description="Its part in the last plan job.")
    message: str = ""
    azure_vm: AzureVM | None = Field(
        default=None,
        alias="azureVM",
        description="While the VM runs in Azure: the VM its failover created, as ARM shows it.",
    )


class RecoveryPlanStatus(OperationalStatus):
    allowed_operations: list[str] = Field(default_factory=list)
    item_count: int | None = None
    progress: str = Field(default="", description="The plan job's current step, in words.")
    groups: list[GroupProgress] = Field(default_factory=list)
    vms: list[VMOutcome] = Field(default_factory=list, max_length=100)
