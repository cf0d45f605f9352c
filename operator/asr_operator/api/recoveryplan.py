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


class RecoveryPlanSpec(ApiModel):
    vault_ref: LocalObjectReference
    plan_name: str = Field(min_length=1, max_length=200)
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
    tasks_done: int = 0
    tasks_total: int = 0


class VMOutcome(ApiModel):
    name: str
    state: str = ""
    message: str = ""


class RecoveryPlanStatus(OperationalStatus):
    allowed_operations: list[str] = Field(default_factory=list)
    item_count: int | None = None
    groups: list[GroupProgress] = Field(default_factory=list)
    vms: list[VMOutcome] = Field(default_factory=list)
    last_checked_time: datetime | None = None
