"""What every kind that runs ASR operations shares: the operation in flight (the intent),
its history, approval gates, failure memo, phase, and the status fields the engine owns.

ProtectedVM and RecoveryPlan both run on one operation engine (`lifecycle/engine.py`);
these are the types it reads and writes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from asr_operator.api.common import (
    ApiModel,
    Clipped,
    Site,
    StatusArmId,
    StatusMessage,
    StatusName,
    StatusText,
)
from asr_operator.api.conditions import Condition

# Set to "true" on an object being deleted to stop waiting for its running ASR job.
ABANDON_ANNOTATION = "asr-operator.io/abandon-wait"
# Set to any new value (e.g. the time) to have the operator read now what it reads only
# when needed: the Hyper-V pre-checks and the retained recovery points.
REFRESH_ANNOTATION = "asr-operator.io/refresh"


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
    MANUAL_ACTION = "ManualAction"  # a recovery plan's job waits at a manual action


class OperationResult(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABANDONED = "Abandoned"


class CallAnswer(StrEnum):
    """What came back from the last send of an intent's request, when it was no job."""

    # ARM answered with an error and no job of the request exists: the request is over.
    REFUSED_WITHOUT_JOB = "RefusedWithoutJob"
    # No answer (timeout, dropped connection, 504): the request may still reach ASR.
    LOST = "Lost"


class IntentAction(ApiModel):
    """The exact ASR call an intent stands for; a checked resend sends this, nothing rebuilt.

    `parameters` is the call's body parameters as canonical JSON, so the stored request
    survives any schema pruning and reads the same in `kubectl get -o yaml`.
    """

    kind: StatusName
    """The call, e.g. StartFailover, StartPlanFailover."""
    target: StatusArmId
    """ARM id of the protected item or recovery plan acted on."""
    # Never clipped: a resend sends it as stored. Its largest form (50 tags, 32 NICs) is
    # under 100 KB.
    parameters: str = Field(default="{}", max_length=131072)
    """The call's parameters (JSON)."""


# x-ms-client-request-id values (GUIDs), one per send.
RequestIds = Annotated[list[Annotated[str, Clipped(64)]], Field(max_length=8)]


class OperationStatus(ApiModel):
    """The one operation in flight. Written before the ASR call (the persisted intent)."""

    run_id: StatusName
    """Names this run of the operation (in Events, history and metrics)."""
    type: OperationType
    """What the operation does."""
    requested_at: datetime
    """When the operator decided on it."""
    generation: int = 0
    """The metadata.generation of the spec it carries out."""
    attempt: int = 1
    """Which send of the request this is (a resend follows only a check that none acted)."""
    submitted: bool = False
    """True once ASR answered the call; false while the outcome of the call is unknown."""
    submitted_at: datetime | None = None
    """When ASR answered the call."""
    job_name: StatusName = ""
    """The ASR job the call started."""
    job_state: StatusName = ""
    """The job's state, as ASR last reported it."""
    tasks_done: int = 0
    """The job's tasks finished."""
    tasks_total: int = 0
    """The job's tasks in all."""
    current_task: StatusText = ""
    """The job's task running now."""
    recovery_point: StatusName = ""
    """The recovery point asked for: a keyword or a recovery point's name."""
    recovery_point_id: StatusArmId = ""
    """The recovery point it resolved to (ARM id), when named or derived."""
    recovery_point_time: datetime | None = None
    """The chosen point's time (none for Latest: ASR's newest)."""
    recovery_point_type: Annotated[str, Clipped(64)] = ""
    """The chosen point's type, as ASR names it."""
    detail: StatusMessage = ""
    """What the operation waits for now, in words."""
    resume_requested_at: datetime | None = None
    """When the operator asked ASR to resume the job (an approved manual action)."""
    action: IntentAction | None = None
    """The request as it will be (or was) sent; empty only in intents of older versions."""
    request_ids: RequestIds = Field(default_factory=list)
    """The x-ms-client-request-id of each send, oldest first. ASR names it in the
    activityId of the job a request creates: only a job that names one is this operation's."""
    answer: CallAnswer | None = None
    """The last send's answer when it brought no job."""
    answered_at: datetime | None = None
    """When that answer came."""


class HistoryEntry(ApiModel):
    """One finished operation."""

    run_id: StatusName
    """Names the run (as operation.runId did)."""
    type: OperationType
    """What the operation did."""
    result: OperationResult
    """Succeeded, Failed or Abandoned."""
    started_at: datetime
    """When it was requested."""
    ended_at: datetime
    """When it ended."""
    duration_seconds: float
    """How long it took, in seconds."""
    job_name: StatusName = ""
    """Its ASR job."""
    job_ended_at: datetime | None = None
    """When the job ended by ASR's own clock: no job of a later request can start before."""
    recovery_point: StatusName = ""
    """The recovery point it used."""
    recovery_point_time: datetime | None = None
    """That point's time (none for Latest: ASR's newest)."""
    recovery_point_type: Annotated[str, Clipped(64)] = ""
    """That point's type, as ASR names it."""
    error: StatusMessage = ""
    """Why it failed, as ASR or the operator said."""
    request_ids: RequestIds = Field(default_factory=list)
    """The x-ms-client-request-id of each send (ASR's job activityId starts with one)."""


class AwaitingApproval(ApiModel):
    """A step that waits for a person: set spec.approve to the token to let it proceed."""

    action: ApprovalAction
    """What approving does."""
    token: StatusName
    """The value spec.approve must take."""
    message: StatusMessage
    """What will happen, and what to check first."""
    since: datetime
    """When the wait began."""


class FailureMemo(ApiModel):
    """Failures of the same operation for the same generation; bounds automatic retries."""

    type: OperationType
    """The operation that failed."""
    generation: int
    """The metadata.generation it failed for; a new spec starts the count again."""
    count: int
    """Failures so far."""
    last_at: datetime
    """When it last failed."""
    message: StatusMessage
    """The last failure."""


class AzureVM(ApiModel):
    """The failed-over (or test) VM as Azure Resource Manager showed it when last read."""

    name: StatusName = ""
    """The VM's name."""
    id: StatusArmId = ""
    """The VM's ARM resource id."""
    size: StatusName = ""
    """The VM size."""
    power_state: StatusName = ""
    """From its instance view, e.g. running."""
    ips: Annotated[list[StatusName], Clipped(64)] = Field(default_factory=list)
    """Private IPs of its NICs, primary first."""
    public_ip_ids: Annotated[list[StatusArmId], Clipped(64)] = Field(
        default_factory=list, alias="publicIPIds"
    )
    """Public IP address resources."""
    connect: StatusText = ""
    """How to connect (RDP or SSH)."""
    message: StatusMessage = ""
    """Why it could not be read, if so."""


class TestFailoverStatus(ApiModel):
    """The drill: the last one requested, and its test VM."""

    last_request_id: StatusName = ""
    """The spec.testFailover.requestId last acted on."""
    started_at: datetime | None = None
    """When the test failover started."""
    cleanup_at: datetime | None = None
    """When it will be cleaned up (from cleanupAfter)."""
    test_vm: AzureVM | None = Field(default=None, alias="testVM")
    """The test VM in Azure."""


class OperationalStatus(ApiModel):
    """The status fields the operation engine owns, common to every kind it runs."""

    observed_generation: int | None = None
    """The metadata.generation last reconciled."""
    phase: Phase | None = None
    """Where the object is in its lifecycle (docs/lifecycle.md)."""
    active_site: Site | None = None
    """Where ASR says the VM (or plan) runs now."""
    job: StatusText = ""
    """The running ASR job, for printer columns."""
    reason: StatusName = ""
    """What the object is doing now, as one reason word (the REASON column): the Stalled
    reason, the open approval gate's, else the Reconciling or Ready reason."""
    operation: OperationStatus | None = None
    awaiting_approval: AwaitingApproval | None = None
    accepted_approval: StatusName = ""
    """The last spec.approve token that let a gate pass."""
    unrecognized_approval: StatusName = ""
    """The last spec.approve value that matched no open gate (answered with a Warning Event
    ApprovalNotRecognized); nothing proceeds on it."""
    test_failover: TestFailoverStatus | None = None
    applied_recovery_point: StatusName = ""
    """The recovery point the failed-over VM runs from."""
    last_operation: HistoryEntry | None = None
    """The operation that ended last."""
    history: Annotated[list[HistoryEntry], Clipped(20)] = Field(default_factory=list)
    """The last operations, newest first."""
    failures: FailureMemo | None = None
    conditions: Annotated[list[Condition], Clipped(16)] = Field(default_factory=list)
    """Ready, Reconciling, Stalled and the kind's own conditions."""
