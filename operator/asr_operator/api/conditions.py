"""Conditions: the contract that kubectl wait, kstatus, Argo CD and Flux read.

Reasons are stable PascalCase words (tools and alerts match on them); messages are for
humans and say what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from asr_operator.api.common import ApiModel, StatusMessage


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    REPLICATION_HEALTHY = "ReplicationHealthy"
    AWAITING_APPROVAL = "AwaitingApproval"
    SOURCE_CHECKS_PASSED = "SourceChecksPassed"
    HOSTS_REACHABLE = "HostsReachable"
    TARGET_IN_SYNC = "TargetInSync"


class Reason(StrEnum):
    """Every reason any condition of any resource can carry."""

    # Ready / Reconciling
    RECONCILED = "Reconciled"
    PROGRESSING = "Progressing"
    OPERATION_IN_PROGRESS = "OperationInProgress"
    WAITING = "Waiting"
    RESOLVING = "Resolving"
    OBSERVE_ONLY = "ObserveOnly"
    DELETING = "Deleting"
    # Stalled
    OPERATION_NOT_ALLOWED = "OperationNotAllowed"
    ASR_JOB_FAILED = "AsrJobFailed"
    ASR_REJECTED = "AsrRejected"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    OUTCOME_UNKNOWN = "OutcomeUnknown"
    VAULT_NOT_FOUND = "VaultNotFound"
    VAULT_NOT_READY = "VaultNotReady"
    ITEM_NOT_FOUND = "ItemNotFound"
    AUTHENTICATION_FAILED = "AuthenticationFailed"
    CHECKPOINTS_PRESENT = "CheckpointsPresent"
    AZURE_LIMITS_EXCEEDED = "AzureLimitsExceeded"
    SOURCE_CHECKS_UNAVAILABLE = "SourceChecksUnavailable"
    SOURCE_VM_POWERED_ON = "SourceVMPoweredOn"
    REPLICATION_UNHEALTHY = "ReplicationUnhealthy"
    INVALID_TARGET = "InvalidTarget"
    RECOVERY_POINT_NOT_FOUND = "RecoveryPointNotFound"
    OWNED_BY_RECOVERY_PLAN = "OwnedByRecoveryPlan"
    UNSUPPORTED_STATE = "UnsupportedState"
    PLAN_NOT_FOUND = "PlanNotFound"
    RECOVERY_POINT_CHANGE_NOT_SUPPORTED = "RecoveryPointChangeNotSupported"
    INVALID_SPEC = "InvalidSpec"
    # Domain conditions
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    CHECKS_PASSED = "ChecksPassed"
    CHECKS_FAILED = "ChecksFailed"
    CHECKS_SKIPPED = "ChecksSkipped"
    COMMIT_APPROVAL = "CommitApproval"
    FAILBACK_COMPLETION_APPROVAL = "FailbackCompletionApproval"
    FAILBACK_COMMIT_APPROVAL = "FailbackCommitApproval"
    REVERSE_REPLICATION_APPROVAL = "ReverseReplicationApproval"
    TEST_CLEANUP_APPROVAL = "TestCleanupApproval"
    MANUAL_ACTION = "ManualAction"
    VALIDATION_TIMED_OUT = "ValidationTimedOut"
    NOTHING_TO_APPROVE = "NothingToApprove"
    APPROVAL_NOT_RECOGNIZED = "ApprovalNotRecognized"
    IN_SYNC = "InSync"
    DRIFTED = "Drifted"
    # Vault
    ARM_REACHABLE = "ArmReachable"
    ARM_UNREACHABLE = "ArmUnreachable"
    HOSTS_OK = "HostsOk"
    HOSTS_UNREACHABLE = "HostsUnreachable"
    NO_HOSTS = "NoHosts"


class Condition(ApiModel):
    """One aspect of the object's state, as kubectl wait, kstatus, Argo CD and Flux read it."""

    type: ConditionType
    """The aspect: Ready, Reconciling, Stalled, or one of the kind's own."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Reason
    """Why, as one stable PascalCase word that tools and alerts can match."""
    message: StatusMessage = ""
    """Why, for people: what happens, or what to do."""
    observed_generation: int = Field(ge=0)
    """The metadata.generation the condition was set for."""
    last_transition_time: datetime
    """When status last changed."""


def set_condition(
    conditions: Sequence[Condition],
    type_: ConditionType,
    status: ConditionStatus,
    reason: Reason,
    message: str,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """Return the conditions with one set; lastTransitionTime moves only when status flips."""
    old = get_condition(conditions, type_)
    new = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        last_transition_time=old.last_transition_time
        if old is not None and old.status == status
        else now,
    )
    if old is None:
        return [*conditions, new]
    return [new if c.type == type_ else c for c in conditions]


def set_readiness(
    conditions: Sequence[Condition],
    reason: Reason,
    message: str,
    generation: int,
    now: datetime,
    *,
    ready: bool,
    stalled: bool,
) -> list[Condition]:
    """Ready / Reconciling / Stalled, kstatus style: at most one of them is True."""
    t, f = ConditionStatus.TRUE, ConditionStatus.FALSE
    reconciling = not ready and not stalled
    conds = set_condition(
        conditions,
        ConditionType.READY,
        t if ready else f,
        Reason.RECONCILED if ready else reason,
        message,
        generation,
        now,
    )
    conds = set_condition(
        conds,
        ConditionType.RECONCILING,
        t if reconciling else f,
        reason if reconciling else Reason.RECONCILED,
        message if reconciling else "",
        generation,
        now,
    )
    return set_condition(
        conds,
        ConditionType.STALLED,
        t if stalled else f,
        reason if stalled else Reason.RECONCILED,
        message if stalled else "",
        generation,
        now,
    )


def get_condition(conditions: Sequence[Condition], type_: ConditionType) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: Sequence[Condition], type_: ConditionType) -> bool:
    c = get_condition(conditions, type_)
    return c is not None and c.status == ConditionStatus.TRUE
