"""What every kind that runs ASR operations shares: the operation in flight (the intent),
its history, approval gates, failure memo, phase, and the status fields the engine owns.

ProtectedVM and RecoveryPlan both run on one operation engine (`lifecycle/engine.py`);
these are the types it reads and writes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from asr_operator.api.common import ApiModel, Site
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

    kind: str = Field(description="The call, e.g. StartFailover, StartPlanFailover.")
    target: str = Field(description="ARM id of the protected item or recovery plan acted on.")
    parameters: str = Field(default="{}", description="The call's parameters (JSON).")


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
    recovery_point_time: datetime | None = Field(
        default=None, description="The chosen point's time (none for Latest: ASR's newest)."
    )
    recovery_point_type: str = Field(
        default="", max_length=64, description="The chosen point's type, as ASR names it."
    )
    detail: str = ""
    resume_requested_at: datetime | None = None
    # The request as it will be (or was) sent; empty only in intents of older versions.
    action: IntentAction | None = None
    # The x-ms-client-request-id of each send, oldest first. ASR names it in the activityId
    # of the job a request creates: only a job that names one of these is this operation's.
    request_ids: list[str] = Field(default_factory=list, max_length=8)
    # The last send's answer when it brought no job, and when it came.
    answer: CallAnswer | None = None
    answered_at: datetime | None = None


class HistoryEntry(ApiModel):
    run_id: str
    type: OperationType
    result: OperationResult
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    job_name: str = ""
    # When the job ended by ASR's own clock: no job of a later request can start before.
    job_ended_at: datetime | None = None
    recovery_point: str = ""
    recovery_point_time: datetime | None = None
    recovery_point_type: str = Field(default="", max_length=64)
    error: str = ""
    # The x-ms-client-request-id of each send (ASR's job activityId starts with one).
    request_ids: list[str] = Field(default_factory=list, max_length=8)


class AwaitingApproval(ApiModel):
    action: ApprovalAction
    token: str
    message: str
    since: datetime


class FailureMemo(ApiModel):
    """Failures of the same operation for the same generation; bounds automatic retries."""

    type: OperationType
    generation: int
    count: int
    last_at: datetime
    message: str


class AzureVM(ApiModel):
    """The failed-over (or test) VM as Azure Resource Manager showed it when last read."""

    name: str = ""
    id: str = Field(default="", description="The VM's ARM resource id.")
    size: str = ""
    power_state: str = Field(default="", description="From its instance view, e.g. running.")
    ips: list[str] = Field(
        default_factory=list, description="Private IPs of its NICs, primary first."
    )
    public_ip_ids: list[str] = Field(
        default_factory=list, alias="publicIPIds", description="Public IP address resources."
    )
    connect: str = Field(default="", description="How to connect (RDP or SSH).")
    message: str = Field(default="", description="Why it could not be read, if so.")


class TestFailoverStatus(ApiModel):
    last_request_id: str = ""
    started_at: datetime | None = None
    cleanup_at: datetime | None = None
    test_vm: AzureVM | None = Field(default=None, alias="testVM")


class OperationalStatus(ApiModel):
    """The status fields the operation engine owns, common to every kind it runs."""

    observed_generation: int | None = None
    phase: Phase | None = None
    active_site: Site | None = None
    job: str = Field(default="", description="The running ASR job, for printer columns.")
    reason: str = Field(
        default="",
        description="What the object is doing now, as one reason word (the REASON column): the "
        "Stalled reason, the open approval gate's, else the Reconciling or Ready reason.",
    )
    operation: OperationStatus | None = None
    awaiting_approval: AwaitingApproval | None = None
    accepted_approval: str = Field(
        default="", description="The last spec.approve token that let a gate pass."
    )
    unrecognized_approval: str = Field(
        default="",
        description="The last spec.approve value that matched no open gate (answered with a "
        "Warning Event ApprovalNotRecognized); nothing proceeds on it.",
    )
    test_failover: TestFailoverStatus | None = None
    applied_recovery_point: str = ""
    last_operation: HistoryEntry | None = None
    history: list[HistoryEntry] = Field(default_factory=list, max_length=20)
    failures: FailureMemo | None = None
    conditions: list[Condition] = Field(default_factory=list)
