"""RecoveryPlan: where every VM of one ASR recovery plan should run."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from asr_operator.api.cel import rules
from asr_operator.api.common import (
    ApiModel,
    CommitMode,
    FailoverType,
    LocalObjectReference,
    ManagementPolicy,
    ReverseReplication,
    Site,
)
from asr_operator.api.operation import OperationalStatus
from asr_operator.api.protectedvm import Failback, TestFailover

KIND = "RecoveryPlan"
PLURAL = "recoveryplans"


class PlanFailover(ApiModel):
    model_config = rules(
        (
            "self.recoveryPoint in ['Latest', 'LatestProcessed', 'LatestApplicationConsistent']",
            "a recovery plan fails over to Latest, LatestProcessed or "
            "LatestApplicationConsistent; a named recovery point is only allowed on a ProtectedVM",
        ),
    )

    type: FailoverType = FailoverType.PLANNED
    recovery_point: str = "Latest"
    shutdown_source_vm: bool = Field(default=True, alias="shutdownSourceVM")
    commit: CommitMode = CommitMode.MANUAL


class PlanTestFailover(TestFailover):
    model_config = rules(
        (
            "self.recoveryPoint in ['Latest', 'LatestProcessed', 'LatestApplicationConsistent']",
            "a recovery plan drill uses Latest, LatestProcessed or LatestApplicationConsistent; "
            "a named recovery point is only allowed on a ProtectedVM",
        ),
    )


class MemberHost(ApiModel):
    """Where one member of the plan runs on Hyper-V, so its pre-checks can run."""

    vm: str = Field(min_length=1, max_length=100, description="The member's name as ASR lists it.")
    host: str = Field(min_length=1, description="A hyperVHosts[].name of the vault.")
    vm_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="Hyper-V VM name (default: vm)."
    )


class RecoveryPlanSpec(ApiModel):
    model_config = rules(
        (
            "!has(self.hyperV) || self.hyperV.all(a, self.hyperV.filter(b, b.vm == a.vm)"
            ".size() == 1)",
            "each member appears once in hyperV",
        ),
    )

    vault_ref: LocalObjectReference
    plan_name: str = Field(min_length=1, max_length=200)
    hyper_v: list[MemberHost] | None = Field(default=None, alias="hyperV", max_length=100)
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


class RecoveryPlanStatus(OperationalStatus):
    allowed_operations: list[str] = Field(default_factory=list)
    item_count: int | None = None
    progress: str = Field(default="", description="The plan job's current step, in words.")
    groups: list[GroupProgress] = Field(default_factory=list)
    vms: list[VMOutcome] = Field(default_factory=list, max_length=100)
