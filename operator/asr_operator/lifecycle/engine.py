"""The one operation engine: what every kind that runs ASR operations does the same way.

A kind (ProtectedVM, RecoveryPlan) gives a table: per observed state, an ordered list of
`Row`s (when it applies, which operation, which gates, how the ASR action is built).
The engine does the rest: it walks the table, runs the gates in order (the first that
fails wins), writes the intent with the exact request before anything is sent,
re-attaches to the job after a crash, follows it, bounds retries, shows approval gates,
records history and sets the conditions. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from asr_operator.api.common import (
    CommitMode,
    FailoverType,
    ManagementPolicy,
    ReverseReplication,
    Site,
    parse_duration,
)
from asr_operator.api.conditions import (
    ConditionStatus,
    ConditionType,
    Reason,
    set_condition,
    set_readiness,
)
from asr_operator.api.operation import (
    ApprovalAction,
    AwaitingApproval,
    CallAnswer,
    FailureMemo,
    HistoryEntry,
    IntentAction,
    OperationalStatus,
    OperationResult,
    OperationStatus,
    OperationType,
    Phase,
    TestFailoverStatus,
)
from asr_operator.api.protectedvm import Failback, TestFailover
from asr_operator.lifecycle import item_state
from asr_operator.lifecycle.observation import Context, Observation
from asr_operator.lifecycle.observed import AsrJob, AsrOperation, JobState, RecoveryPoint
from asr_operator.lifecycle.steps import (
    Accepted,
    Action,
    Done,
    Event,
    EventType,
    Outcome,
    Refusal,
    Refused,
    Release,
    ResumeJob,
    Stall,
    Step,
    Submit,
    Wait,
    action_from_intent,
    action_to_intent,
    describe,
)

MAX_ATTEMPTS = 3  # automatic tries of one operation per spec generation
HISTORY_LIMIT = 10
INTENT_LOOKUP_GRACE = timedelta(seconds=60)  # a job may take this long to be listed
# A resume is sent again when the job still waits at the same suspension this long after
# it was asked for (the operator may have died between recording it and sending it). Safe:
# the approval token is tied to that suspension, and ASR refuses to resume a running job.
RESUME_RESEND_AFTER = timedelta(seconds=60)
JOB_LOOKUP_SKEW = timedelta(minutes=5)

OPERATION_PHASE = {
    OperationType.UPDATE_TARGET: Phase.UPDATING_TARGET,
    OperationType.FAILOVER: Phase.FAILING_OVER,
    OperationType.CHANGE_RECOVERY_POINT: Phase.CHANGING_RECOVERY_POINT,
    OperationType.COMMIT: Phase.COMMITTING,
    OperationType.FAILBACK: Phase.FAILING_BACK,
    OperationType.FAILBACK_COMMIT: Phase.COMMITTING_FAILBACK,
    OperationType.REVERSE_REPLICATION: Phase.REVERSING_REPLICATION,
    OperationType.TEST_FAILOVER: Phase.TEST_FAILING_OVER,
    OperationType.TEST_FAILOVER_CLEANUP: Phase.CLEANING_UP_TEST_FAILOVER,
}

APPROVAL_REASON = {
    ApprovalAction.COMMIT: Reason.COMMIT_APPROVAL,
    ApprovalAction.COMPLETE_FAILBACK: Reason.FAILBACK_COMPLETION_APPROVAL,
    ApprovalAction.FAILBACK_COMMIT: Reason.FAILBACK_COMMIT_APPROVAL,
    ApprovalAction.REVERSE_REPLICATION: Reason.REVERSE_REPLICATION_APPROVAL,
    ApprovalAction.TEST_FAILOVER_CLEANUP: Reason.TEST_CLEANUP_APPROVAL,
    ApprovalAction.MANUAL_ACTION: Reason.MANUAL_ACTION,
}


class FailoverChoice(Protocol):
    """What both kinds' `spec.failover` say that the engine reads."""

    @property
    def type(self) -> FailoverType: ...

    @property
    def commit(self) -> CommitMode: ...


class EngineSpec(Protocol):
    """The spec fields the engine reads; each kind's spec has them."""

    @property
    def active_site(self) -> Site: ...

    @property
    def approve(self) -> str: ...

    @property
    def management_policy(self) -> ManagementPolicy: ...

    @property
    def test_failover(self) -> TestFailover | None: ...

    @property
    def failback(self) -> Failback: ...

    @property
    def failover(self) -> FailoverChoice: ...

    @property
    def reverse_replication(self) -> ReverseReplication: ...


SpecT = TypeVar("SpecT", bound=EngineSpec)
StatusT = TypeVar("StatusT", bound=OperationalStatus)
StateT = TypeVar("StateT")
M = TypeVar("M")


@dataclass(frozen=True)
class Decision(Generic[StatusT]):
    step: Step
    status: StatusT
    events: tuple[Event, ...] = field(default=())


@dataclass(frozen=True)
class Intent:
    """What a row sends, and what status remembers of it."""

    operation: OperationType
    action: Action
    recovery_point: str = ""  # the choice: a keyword or a point's name
    point: RecoveryPoint | None = None  # the point it resolved to, when one was named
    detail: str = ""


Gate = Callable[[M], "Step | None"]


@dataclass(frozen=True)
class Row(Generic[M]):
    """One line of a kind's table: the first row whose `when` holds is the one taken.

    The gates run in order and the first that returns a step wins (nothing is sent);
    when all pass, `build` gives the intent to send (or a step that is not an ASR call).
    """

    when: Callable[[M], bool]
    operation: OperationType | None
    gates: tuple[Gate[M], ...]
    build: Callable[[M], Intent | Step]
    phase: Phase | None = None  # shown while the gates run (e.g. Validating)


def always(_: object) -> bool:
    return True


def job_wants(status: OperationalStatus) -> tuple[str | None, datetime | None]:
    """The job to follow, and since when to look for the intent's job (re-attachment)."""
    op = status.operation
    lookup = None
    if op is not None and not op.submitted:
        lookup = op.requested_at - JOB_LOOKUP_SKEW
    return (op.job_name if op is not None and op.job_name else None), lookup


def drill_requested(spec: EngineSpec, status: OperationalStatus) -> bool:
    tf = spec.test_failover
    done = status.test_failover.last_request_id if status.test_failover else ""
    return tf is not None and bool(tf.request_id) and tf.request_id != done


def asked_for(spec: EngineSpec, status: OperationalStatus) -> tuple[bool, bool]:
    """(a move, a drill): what the spec asks for that the object may carry out.

    ObserveOnly asks for nothing: an observed object whose spec names another site reads
    no more than one at rest (it read its item fresh and its Hyper-V VM every cycle).
    """
    if spec.management_policy == ManagementPolicy.OBSERVE_ONLY:
        return False, False
    moving = status.active_site is None or spec.active_site != status.active_site
    return moving, drill_requested(spec, status)


class Engine(Generic[SpecT, StatusT, StateT]):
    """One decision over one object; a kind subclasses it with its table and observations."""

    TABLE: Mapping[Any, tuple[Row[Any], ...]] = {}
    RESTING_PHASE: Mapping[Any, Phase] = item_state.RESTING_PHASE
    EFFECT_VISIBLE: Mapping[OperationType, frozenset[Any]] = item_state.EFFECT_VISIBLE

    def __init__(self, spec: SpecT, status: StatusT, obs: Observation, ctx: Context) -> None:
        self.spec = spec
        self.status = status
        self.obs = obs
        self.ctx = ctx
        self.events: list[Event] = []
        self.phase: Phase | None = None
        self.previous_approval = status.awaiting_approval
        # Why the gate shown is up, when its action alone does not say (a probe timed out).
        self.approval_reason: Reason | None = None
        self.row: Row[Any] | None = None
        self.cleanup_reason = ""

    # -- what a kind provides ------------------------------------------------------------

    def observe(self) -> Step | None:
        """Fold the observation into status; a step when there is nothing to decide on."""
        raise NotImplementedError

    def state(self) -> StateT:
        raise NotImplementedError

    def target_id(self) -> str:
        """ARM id of what the operations act on (the item, the plan)."""
        raise NotImplementedError

    def target_label(self) -> str:
        raise NotImplementedError

    def allowed(self) -> frozenset[str]:
        raise NotImplementedError

    def not_allowed_detail(self) -> str:
        return ""

    def hold(self, state: StateT) -> Step | None:
        """Reasons not to act at all in a resting state (ownership, a job started elsewhere)."""
        return None

    def enter(self, state: StateT) -> None:
        """Status updates that belong to a resting state whatever its rows decide."""

    def suspended(self, job: AsrJob) -> Step:
        raise NotImplementedError

    def submitting(self) -> dict[str, object]:
        """Status fields a kind resets when a new operation is requested."""
        return {}

    def completed(
        self, op: OperationStatus, result: OperationResult, updates: dict[str, object]
    ) -> None:
        """Kind-specific status changes when an operation ends."""

    def job_errors(self, job: AsrJob) -> str:
        return "; ".join(f"{e.code}: {e.message}" for e in job.errors) or job.state_description

    def matches_desired(self, state: StateT) -> bool:
        raise NotImplementedError

    def conditions(self, status: StatusT, step: Step) -> StatusT:
        """Domain conditions of the kind (replication health, source checks)."""
        return status

    def observe_only_ready(self, status: StatusT) -> bool:
        return False

    def following(self, job: AsrJob) -> Step | None:
        """A kind's say while its job runs (e.g. a warning); None: the usual wait."""
        return None

    def track(self, job: AsrJob) -> None:
        op = self.status.operation
        assert op is not None
        current = job.current_task
        self.update(
            operation=op.model_copy(
                update={
                    "job_state": job.state.value,
                    "tasks_done": job.tasks_done,
                    "tasks_total": len(job.tasks),
                    "current_task": current.friendly_name or current.name if current else "",
                }
            )
        )

    # -- helpers -------------------------------------------------------------------------

    def update(self, **changes: object) -> None:
        self.status = self.status.model_copy(update=changes)

    def event(self, type_: EventType, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message))

    def token(self, action: ApprovalAction, seed: str) -> str:
        digest = hashlib.sha256(f"{action}/{seed}".encode()).hexdigest()[:8]
        return f"{action.value.lower()}-{digest}"

    def await_approval(self, action: ApprovalAction, seed: str, message: str) -> Step | None:
        """Show the gate; return None when spec.approve already carries its token.

        A gate that opens posts one Normal Event with its token; a spec.approve that is not
        its token (a typo, a token of an earlier gate) is answered and changes nothing."""
        token = self.token(action, seed)
        if self.spec.approve == token:
            self.update(awaiting_approval=None, accepted_approval=token)
            return None
        current = self.previous_approval
        opening = current is None or current.token != token
        since = self.ctx.now if opening or current is None else current.since
        message = f"{message} To approve, set spec.approve to {token!r}."
        if opening:
            self.event(EventType.NORMAL, "ApprovalRequired", message)
        refused = self.answer_unrecognized(token)
        if refused:
            self.approval_reason = self.approval_reason or Reason.APPROVAL_NOT_RECOGNIZED
            message = f"{refused} {message}"
        self.update(
            awaiting_approval=AwaitingApproval(
                action=action, token=token, message=message, since=since
            )
        )
        return Wait(Reason.WAITING, message, 300.0)

    def answer_unrecognized(self, token: str | None) -> str:
        """What to say about a spec.approve no gate takes ("" when there is none); a new
        value of it is answered once with a Warning Event."""
        approve = self.spec.approve
        if not unrecognized_approval(approve, token, self.status.accepted_approval):
            if self.status.unrecognized_approval:  # answered: status stops showing it
                self.update(unrecognized_approval="")
            return ""
        expected = f"the token expected now is {token!r}" if token else "nothing waits for approval"
        note = f"spec.approve {approve!r} matches no open gate ({expected}); nothing proceeds."
        if approve != self.status.unrecognized_approval:
            self.event(EventType.WARNING, Reason.APPROVAL_NOT_RECOGNIZED.value, note)
            self.update(unrecognized_approval=approve)
        return note

    def remember_applied_point(self, recovery_point: str) -> None:
        """A failover found already done (not by us) applied what the spec asks."""
        if not self.status.applied_recovery_point:
            self.update(applied_recovery_point=recovery_point)

    def approval_seed(self) -> str:
        """Ties a resting state's gate to the operation that led there."""
        last = self.status.last_operation
        return last.run_id if last else self.target_id()

    def stall(self, reason: Reason, message: str, recheck: float = 60.0) -> Step:
        """Stop and explain; look again soon, since most causes are fixed outside the spec."""
        return Stall(reason, message, min(recheck, 2 * self.ctx.poll_interval))

    def submit(self, intent: Intent) -> Step:
        """Write the intent, with the exact request, into status; persisted before the call."""
        now = self.ctx.now
        type_ = intent.operation
        kind, parameters = action_to_intent(intent.action)
        run_id = f"{type_.value.lower()}-{self.ctx.generation}-{now:%Y%m%d%H%M%S}"
        rid = request_id(self.target_id(), run_id, now, 1)
        self.update(
            operation=OperationStatus(
                run_id=run_id,
                type=type_,
                requested_at=now,
                generation=self.ctx.generation,
                recovery_point=intent.recovery_point,
                recovery_point_id=intent.point.id if intent.point else "",
                recovery_point_time=intent.point.time if intent.point else None,
                recovery_point_type=intent.point.type if intent.point else "",
                detail=intent.detail,
                action=IntentAction(kind=kind, target=self.target_id(), parameters=parameters),
                request_ids=[rid],
            ),
            awaiting_approval=None,
            **self.submitting(),
        )
        self.event(EventType.NORMAL, f"{type_.value}Requested", f"Requesting {type_.value}.")
        return Submit(intent.action, rid)

    # -- gates every kind uses -----------------------------------------------------------

    def retry(self) -> Step | None:
        """Bound automatic retries of the row's operation that failed for this generation."""
        assert self.row is not None and self.row.operation is not None
        return self.retry_gate(self.row.operation)

    def retry_gate(self, type_: OperationType) -> Step | None:
        memo = self.status.failures
        if memo is None or memo.type != type_ or memo.generation != self.ctx.generation:
            return None
        if memo.count > MAX_ATTEMPTS:
            return self.stall(
                Reason.ASR_REJECTED,
                f"ASR refused {type_.value}: {memo.message}. Fix the cause, then change the "
                "spec (any edit bumps the generation) to try again.",
            )
        if memo.count == MAX_ATTEMPTS:
            return self.stall(
                Reason.RETRIES_EXHAUSTED,
                f"{type_.value} failed {memo.count} times; last error: {memo.message}. "
                "Fix the cause, then change the spec (any edit bumps the generation) to retry.",
            )
        backoff = timedelta(seconds=30 * 2 ** (memo.count - 1))
        if self.ctx.now < memo.last_at + backoff:
            left = (memo.last_at + backoff - self.ctx.now).total_seconds()
            return Wait(
                Reason.WAITING,
                f"{type_.value} failed ({memo.message}); retrying in {left:.0f}s "
                f"(try {memo.count + 1} of {MAX_ATTEMPTS}).",
                left,
            )
        return None

    def allows(self, op: AsrOperation) -> Step | None:
        return None if op in self.allowed() else self.not_allowed(op.value)

    def failover_allowed(self) -> Step | None:
        planned = self.spec.failover.type == FailoverType.PLANNED
        return self.allows(
            AsrOperation.PLANNED_FAILOVER if planned else AsrOperation.UNPLANNED_FAILOVER
        )

    def not_allowed(self, op: str) -> Step:
        memo = self.status.failures
        allowed = ", ".join(sorted(self.allowed())) or "nothing"
        if memo is not None and memo.generation == self.ctx.generation:
            return self.stall(
                Reason.ASR_JOB_FAILED,
                f"{memo.type.value} failed in ASR and ASR does not allow {op} again "
                f"(it allows: {allowed}). ASR said: {memo.message}",
            )
        return self.stall(
            Reason.OPERATION_NOT_ALLOWED,
            f"ASR does not allow {op} on {self.target_label()} now (allowed: {allowed}"
            f"{self.not_allowed_detail()}).",
        )

    # -- conditions of rows (`when`) and gates every kind shares -------------------------

    def wants_azure(self) -> bool:
        return self.spec.active_site == Site.AZURE

    def wants_on_premises(self) -> bool:
        return self.spec.active_site == Site.ON_PREMISES

    def drill_requested(self) -> bool:
        return drill_requested(self.spec, self.status)

    def cleanup_due(self) -> Step | None:
        """A drill is cleaned up when asked, when due, or when approved; else its gate shows."""
        ours = self.status.test_failover
        ours = ours if ours is not None and ours.last_request_id else None
        spec_tf = self.spec.test_failover
        if self.spec.active_site == Site.AZURE:
            self.cleanup_reason = (
                "a failover is requested, and ASR needs the drill cleaned up first"
            )
        elif ours and (spec_tf is None or spec_tf.request_id != ours.last_request_id):
            self.cleanup_reason = "the drill request changed"
        elif ours and ours.cleanup_at is not None and self.ctx.now >= ours.cleanup_at:
            self.cleanup_reason = "testFailover.cleanupAfter has passed"
        if self.cleanup_reason:
            return None
        if ours is None:
            return Wait(
                Reason.WAITING,
                "A test failover started outside the operator is active; it is left alone.",
                self.ctx.poll_interval,
            )
        gate = self.await_approval(
            ApprovalAction.TEST_FAILOVER_CLEANUP,
            ours.last_request_id,
            "The drill's test VM is running.",
        )
        if gate is None:
            self.cleanup_reason = "cleanup was approved"
            return None
        if ours.cleanup_at is not None:
            left = (ours.cleanup_at - self.ctx.now).total_seconds()
            assert isinstance(gate, Wait)
            return Wait(gate.reason, gate.message + f" Cleanup in {left:.0f}s.", min(left, 300))
        return gate

    def failback_commit_approved(self) -> Step | None:
        if self.spec.failback.commit == CommitMode.AUTOMATIC:
            return None
        message = f"{self.target_label()} runs on-premises again; commit the failback."
        return self.await_approval(ApprovalAction.FAILBACK_COMMIT, self.approval_seed(), message)

    def reverse_approved(self) -> Step | None:
        if self.spec.reverse_replication != ReverseReplication.MANUAL:
            return None
        message = "Failback is committed; reverse replication protects the VM again."
        return self.await_approval(
            ApprovalAction.REVERSE_REPLICATION, self.approval_seed(), message
        )

    # -- main flow -----------------------------------------------------------------------

    def run(self) -> Step:
        step = self.observe()
        if step is not None:
            return step
        if self.status.operation is not None:
            return self.follow_operation()
        state = self.state()
        self.phase = self.RESTING_PHASE.get(state, Phase.PENDING)
        if self.spec.management_policy == ManagementPolicy.OBSERVE_ONLY:
            self.phase = Phase.OBSERVING
            return Done(self.ctx.poll_interval)
        step = self.hold(state)
        if step is not None:
            return step
        return self.dispatch(state)

    def dispatch(self, state: StateT) -> Step:
        self.update(awaiting_approval=None)  # a gated state shows its gate again below
        rows = self.TABLE.get(state)
        if rows is None:
            return self.unsupported(state)
        self.enter(state)
        for row in rows:
            if not row.when(self):
                continue
            self.row = row
            if row.phase is not None:
                self.phase = row.phase
            for gate in row.gates:
                step = gate(self)
                if step is not None:
                    return step
            built = row.build(self)
            return self.submit(built) if isinstance(built, Intent) else built
        return Done(self.ctx.poll_interval)

    def unsupported(self, state: StateT) -> Step:
        return self.stall(
            Reason.UNSUPPORTED_STATE,
            f"ASR reports {self.target_label()} in a state the operator does not act on "
            f"(allowing {sorted(self.allowed())}); the operator waits for a state it knows.",
        )

    # -- operation in flight -------------------------------------------------------------

    def follow_operation(self) -> Step:
        op = self.status.operation
        assert op is not None
        self.phase = OPERATION_PHASE[op.type]
        if not op.submitted:
            return self.reattach()
        job = self.obs.job
        if job is None or job.name != op.job_name:
            return Wait(Reason.OPERATION_IN_PROGRESS, f"Reading ASR job {op.job_name}.", 5.0)
        self.track(job)
        if job.state == JobState.SUCCEEDED:
            return self.complete(OperationResult.SUCCEEDED, job, "")
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            return self.complete(OperationResult.FAILED, job, self.job_errors(job) or job.state)
        if job.state == JobState.SUSPENDED:
            return self.suspended(job)
        step = self.following(job)
        if step is not None:
            return step
        return Wait(
            Reason.OPERATION_IN_PROGRESS,
            f"{op.type.value}: ASR job {job.name} {job.state.value}, task "
            f"{job.tasks_done}/{len(job.tasks)}.",
            # The vault's job poll serves answers up to half an interval old: looking at
            # that pace keeps a job's end in status within one interval.
            self.ctx.poll_interval / 2,
        )

    def reattach(self) -> Step:
        """The call's outcome is unknown (crash or lost answer): find its job, never guess.

        A job is this operation's only when its activityId names one of the intent's
        request ids. Until a request whose answer was lost can no longer reach ASR, nothing
        is sent again and nothing else is done: landing late, it would act on a state the
        operator had moved on to.
        """
        op = self.status.operation
        assert op is not None
        jobs = self.obs.intent_jobs
        if jobs is None:  # first the job list: an effect seen without its job leaves the
            # job unrecorded, and a later lost request could then take it for its own
            return Wait(
                Reason.OPERATION_IN_PROGRESS, "Looking for the ASR job of the request.", 5.0
            )
        ids = {r.lower() for r in op.request_ids}
        ours = [j for j in jobs if j.client_request_id and j.client_request_id.lower() in ids]
        if ours:
            newest = max(ours, key=lambda j: j.start_time or self.ctx.now)
            return self.attach(newest.name, "it names this operation's request id")
        unknown = self.unidentified(jobs)
        if unknown:
            listed = ", ".join(f"{j.name} ({j.scenario or 'no scenario'})" for j in unknown)
            return self.stall(
                Reason.OUTCOME_UNKNOWN,
                f"ASR job(s) {listed} of {self.target_label()} started after the "
                f"{op.type.value} request, but name no request id the operator can match. "
                f"Check in the vault's Site Recovery jobs whether one is this {op.type.value}; "
                "then clear status.operation (kubectl patch --subresource=status) to let the "
                "operator go on.",
                300.0,
            )
        doubt = self.in_doubt_until(op)
        if doubt is not None and self.ctx.now < doubt:
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                f"No ASR job names request {op.request_ids[-1] if op.request_ids else '?'} "
                f"yet, and it may still reach ASR until {doubt:%H:%M:%S}Z: nothing is sent "
                "again, and nothing else is done, before then.",
                min(10.0, self.ctx.poll_interval),
            )
        if self.state() in self.EFFECT_VISIBLE.get(op.type, frozenset()):
            self.event(
                EventType.WARNING,
                "OperationObserved",
                f"{op.type.value} took effect in ASR, but no ASR job names this operation's "
                "request: it was done outside the operator, or its job is no longer listed. "
                "Recorded as done, without a job.",
            )
            return self.complete(OperationResult.SUCCEEDED, None, "")
        if self.ctx.now - op.requested_at < INTENT_LOOKUP_GRACE:
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                "No ASR job for the request yet; checking again before any retry.",
                10.0,
            )
        unknown_outcome = (
            "Check the vault's Site Recovery jobs; then clear status.operation "
            "(kubectl patch --subresource=status) to let the operator go on."
        )
        if op.attempt >= MAX_ATTEMPTS:
            return self.stall(
                Reason.OUTCOME_UNKNOWN,
                f"{op.type.value} was sent {op.attempt} time(s) without a confirmed ASR job, "
                f"and none can be found. {unknown_outcome}",
                300.0,
            )
        if op.action is None:
            return self.stall(
                Reason.OUTCOME_UNKNOWN,
                f"No ASR job can be found for the {op.type.value} request, and the request was "
                f"recorded by an older operator version without its parameters. "
                f"{unknown_outcome}",
                300.0,
            )
        if self.spec.management_policy == ManagementPolicy.OBSERVE_ONLY:
            return Wait(
                Reason.OBSERVE_ONLY,
                f"No ASR job can be found for the {op.type.value} request; ObserveOnly: it is "
                "not sent again until the policy is Full.",
                self.ctx.poll_interval,
            )
        # Checked: no job names any of the request's ids, and none can still appear. What is
        # sent is the request the intent recorded, never one rebuilt from the spec.
        action = action_from_intent(op.action.kind, op.action.parameters)
        attempt = op.attempt + 1
        rid = request_id(self.target_id(), op.run_id, self.ctx.now, attempt)
        self.update(
            operation=op.model_copy(
                update={
                    "attempt": attempt,
                    "requested_at": self.ctx.now,
                    "request_ids": [*op.request_ids, rid],
                    "answer": None,
                    "answered_at": None,
                }
            )
        )
        self.event(
            EventType.WARNING,
            "Resubmitting",
            f"No ASR job was created by the previous {op.type.value} request; sending it again.",
        )
        return Submit(action, rid)

    def unidentified(self, jobs: tuple[AsrJob, ...]) -> list[AsrJob]:
        """Jobs that may be this operation's and cannot be told apart: those naming no
        request id, or any job at all for an intent of an older version (no ids).

        A job recorded for an earlier operation, or started before the last recorded job
        ended, is not this request's (it was sent after that).
        """
        op = self.status.operation
        assert op is not None
        spent = {h.job_name.lower() for h in self.status.history if h.job_name}
        if self.status.last_operation is not None and self.status.last_operation.job_name:
            spent.add(self.status.last_operation.job_name.lower())
        ends = [h.job_ended_at for h in self.status.history if h.job_ended_at is not None]
        floor = max(ends) if ends else None
        return [
            j
            for j in jobs
            if (not op.request_ids or j.client_request_id is None)
            and j.name.lower() not in spent
            and (floor is None or j.start_time is None or j.start_time >= floor)
        ]

    def in_doubt_until(self, op: OperationStatus) -> datetime | None:
        """Until when the last send may still reach ASR; None when it is known not to."""
        if op.answer == CallAnswer.REFUSED_WITHOUT_JOB:
            return None
        sent = op.answered_at or op.requested_at  # after a crash: from the intent
        return sent + timedelta(seconds=self.ctx.request_lifetime)

    def attach(self, job_name: str, how: str) -> Step:
        op = self.status.operation
        assert op is not None
        self.update(
            operation=op.model_copy(
                update={"submitted": True, "submitted_at": self.ctx.now, "job_name": job_name}
            )
        )
        self.event(EventType.NORMAL, "Reattached", f"Following ASR job {job_name} ({how}).")
        return Wait(Reason.OPERATION_IN_PROGRESS, f"Following ASR job {job_name}.", 0.0)

    def resume_when_approved(
        self, job: AsrJob, action: ApprovalAction, seed: str, message: str
    ) -> Step:
        """A suspended job goes on only through spec.approve, and is resumed once."""
        op = self.status.operation
        assert op is not None
        gate = self.await_approval(action, seed, message)
        if gate is not None:
            if op.resume_requested_at is not None:
                # This suspension awaits its own approval, so it was never resumed: the resume
                # recorded was of an earlier one (a plan job stops at each manual action).
                self.update(operation=op.model_copy(update={"resume_requested_at": None}))
            return gate
        if self.spec.management_policy == ManagementPolicy.OBSERVE_ONLY:
            return Wait(
                Reason.OBSERVE_ONLY,
                f"ASR job {job.name} waits (approved); ObserveOnly: the operator does not "
                "resume it until the policy is Full.",
                self.ctx.poll_interval,
            )
        if op.resume_requested_at and self.ctx.now - op.resume_requested_at < RESUME_RESEND_AFTER:
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                f"Resumed ASR job {job.name}.",
                min(10.0, self.ctx.poll_interval),
            )
        self.update(operation=op.model_copy(update={"resume_requested_at": self.ctx.now}))
        self.event(EventType.NORMAL, "ResumingJob", f"Resuming ASR job {job.name} (approved).")
        return Submit(ResumeJob(job.name, self.resume_comment()))

    def resume_comment(self) -> str:
        """Names who approved (the field manager that set spec.approve), when the API says."""
        who = f" by {self.ctx.approved_by}" if self.ctx.approved_by else ""
        return f"Approved through spec.approve{who}"

    def complete(self, result: OperationResult, job: AsrJob | None, error: str) -> Step:
        op = self.status.operation
        assert op is not None
        now = self.ctx.now
        start = op.requested_at
        entry = HistoryEntry(
            run_id=op.run_id,
            type=op.type,
            result=result,
            started_at=start,
            ended_at=now,
            duration_seconds=round((now - start).total_seconds(), 3),
            job_name=op.job_name or (job.name if job else ""),
            job_ended_at=job.end_time if job is not None else None,
            recovery_point=op.recovery_point,
            recovery_point_time=op.recovery_point_time,
            recovery_point_type=op.recovery_point_type,
            error=error,
            request_ids=list(op.request_ids),
        )
        history = [entry, *self.status.history][:HISTORY_LIMIT]
        updates: dict[str, object] = {
            "operation": None,
            "last_operation": entry,
            "history": history,
            "awaiting_approval": None,
        }
        if result == OperationResult.SUCCEEDED:
            updates["failures"] = None
            if op.type in (OperationType.FAILOVER, OperationType.CHANGE_RECOVERY_POINT):
                updates["applied_recovery_point"] = op.recovery_point
            if op.type == OperationType.REVERSE_REPLICATION:
                updates["applied_recovery_point"] = ""
            if op.type == OperationType.TEST_FAILOVER:
                tf = self.status.test_failover or TestFailoverStatus()
                cleanup_at = None
                if self.spec.test_failover and self.spec.test_failover.cleanup_after:
                    cleanup_at = now + parse_duration(self.spec.test_failover.cleanup_after)
                updates["test_failover"] = tf.model_copy(update={"cleanup_at": cleanup_at})
            if op.type == OperationType.TEST_FAILOVER_CLEANUP and self.status.test_failover:
                updates["test_failover"] = self.status.test_failover.model_copy(
                    update={"cleanup_at": None, "test_vm": None}
                )
            self.event(
                EventType.NORMAL,
                f"{op.type.value}Succeeded",
                f"{op.type.value} succeeded in {entry.duration_seconds:.0f}s.",
            )
        else:
            memo = self.status.failures
            count = 1
            if memo and memo.type == op.type and memo.generation == op.generation:
                count = memo.count + 1
            updates["failures"] = FailureMemo(
                type=op.type, generation=op.generation, count=count, last_at=now, message=error
            )
            self.event(
                EventType.WARNING, f"{op.type.value}Failed", f"{op.type.value} failed: {error}"
            )
        self.completed(op, result, updates)
        self.status = self.status.model_copy(update=updates)
        return Wait(Reason.PROGRESSING, f"{op.type.value} {result.value.lower()}.", 0.0)

    # -- status and conditions -----------------------------------------------------------

    def with_condition(
        self,
        status: StatusT,
        type_: ConditionType,
        value: ConditionStatus,
        reason: Reason,
        message: str,
    ) -> StatusT:
        conds = set_condition(
            status.conditions, type_, value, reason, message, self.ctx.generation, self.ctx.now
        )
        return status.model_copy(update={"conditions": conds})

    def done_message(self) -> str:
        return f"{self.spec.active_site.value} is active, as desired."

    def job_column(self, op: OperationStatus) -> str:
        job = f"{op.type.value} {op.tasks_done}/{op.tasks_total}"
        return f"{job} {op.current_task}" if op.current_task else job

    def finish(self, step: Step) -> Decision[StatusT]:
        refused = "" if self.status.awaiting_approval else self.answer_unrecognized(None)
        status = self.status
        op = status.operation
        phase = self.phase or Phase.PENDING
        if op is not None:
            phase = OPERATION_PHASE[op.type]
        if isinstance(step, Stall):
            phase = Phase.STALLED
        status = status.model_copy(
            update={
                "phase": phase,
                "job": self.job_column(op) if op is not None else "",
                "observed_generation": self.ctx.generation,
            }
        )
        status = self.conditions(status, step)
        if isinstance(step, Stall):
            status = readiness(status, self.ctx, step.reason, step.message, False, True)
        elif isinstance(step, Done):
            if self.spec.management_policy == ManagementPolicy.OBSERVE_ONLY:
                message = "ObserveOnly: the operator watches and never acts."
                ready = self.observe_only_ready(status)
                status = readiness(status, self.ctx, Reason.OBSERVE_ONLY, message, ready, False)
            else:
                status = readiness(
                    status, self.ctx, Reason.RECONCILED, self.done_message(), True, False
                )
        else:
            reason = step.reason if isinstance(step, Wait) else Reason.PROGRESSING
            message = step.message if isinstance(step, Wait) else describe(step)
            status = readiness(status, self.ctx, reason, message, False, False)
        approval = status.awaiting_approval
        approval_reason = Reason.APPROVAL_NOT_RECOGNIZED if refused else Reason.NOTHING_TO_APPROVE
        if approval is not None:
            approval_reason = self.approval_reason or APPROVAL_REASON[approval.action]
        status = self.with_condition(
            status,
            ConditionType.AWAITING_APPROVAL,
            ConditionStatus.TRUE if approval else ConditionStatus.FALSE,
            approval_reason,
            approval.message if approval else refused,
        )
        if approval is not None and not isinstance(step, Stall):
            status = status.model_copy(update={"reason": approval_reason.value})
        # Every condition was judged against this generation, including the ones kept as-is.
        conds = [
            c.model_copy(update={"observed_generation": self.ctx.generation})
            for c in status.conditions
        ]
        return Decision(step, status.model_copy(update={"conditions": conds}), tuple(self.events))


def unrecognized_approval(approve: str, token: str | None, accepted: str) -> bool:
    """spec.approve names nothing the operator can act on: it is neither the open gate's
    token nor a token already accepted (which stays in spec after its gate passed)."""
    return bool(approve) and approve != token and approve != accepted


def readiness(
    status: StatusT, ctx: Context, reason: Reason, message: str, ready: bool, stalled: bool
) -> StatusT:
    conds = set_readiness(
        status.conditions, reason, message, ctx.generation, ctx.now, ready=ready, stalled=stalled
    )
    return status.model_copy(update={"conditions": conds, "reason": reason.value})


# --- Deletion ---------------------------------------------------------------------------


def decide_deletion(status: StatusT, obs: Observation, ctx: Context) -> Decision[StatusT]:
    """Deletion never calls ASR or Hyper-V: wait for a running job to end, then let go."""
    op = status.operation
    running = op is not None and (not op.submitted or obs.job is None or not obs.job.state.terminal)
    if running and not ctx.abandon_wait:
        assert op is not None
        what = f"ASR job {op.job_name}" if op.job_name else f"the {op.type} just requested"
        message = (
            f"Deletion waits for {what} to end; the operator never cancels an ASR job. "
            "To stop waiting (the job keeps running in ASR), annotate the object with "
            "asr-operator.io/abandon-wait=true."
        )
        new = status.model_copy(update={"phase": Phase.DELETING})
        new = readiness(new, ctx, Reason.DELETING, message, False, False)
        # One Event when the wait begins, so `kubectl describe` says why the object stays.
        said: tuple[Event, ...] = (
            ()
            if status.phase == Phase.DELETING
            else (Event(EventType.NORMAL, "DeletionWaits", message),)
        )
        return Decision(Wait(Reason.DELETING, message, ctx.poll_interval), new, said)
    events: tuple[Event, ...] = ()
    if running:
        events = (
            Event(
                EventType.WARNING,
                "DeletionAbandonedWait",
                "Stopped waiting for the running ASR job; it goes on in ASR unwatched.",
            ),
        )
    return Decision(Release(), status.model_copy(update={"phase": Phase.DELETING}), events)


# --- Reporting back ---------------------------------------------------------------------


def request_id(target: str, run_id: str, at: datetime, attempt: int) -> str:
    """The x-ms-client-request-id of one send: a GUID, as ARM asks, unique per send."""
    return str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{target.lower()}|{run_id}|{at.isoformat()}|{attempt}")
    )


def record_call(
    status: StatusT, step: Step, outcome: Outcome, ctx: Context
) -> tuple[StatusT, tuple[Event, ...], float] | None:
    """Fold what ASR answered to a call into status; None for outcomes that are not calls."""
    now = ctx.now
    op = status.operation
    if not isinstance(step, Submit) or op is None:
        return None
    if isinstance(outcome, Accepted):
        if isinstance(step.action, ResumeJob):  # follow the resumed job at the vault's pace
            return status, (), min(5.0, ctx.poll_interval)
        new_op = op.model_copy(
            update={
                "submitted": True,
                "submitted_at": now,
                "job_name": outcome.job_name,
                "job_state": JobState.IN_PROGRESS.value,
            }
        )
        status = status.model_copy(update={"operation": new_op, "job": f"{op.type.value} 0/?"})
        event = Event(
            EventType.NORMAL,
            f"{op.type.value}Started",
            f"ASR accepted {op.type.value}; job {outcome.job_name}.",
        )
        return status, (event,), 1.0
    if not isinstance(outcome, Refused):
        return None
    if isinstance(step.action, ResumeJob):
        cleared = op.model_copy(update={"resume_requested_at": None})
        status = status.model_copy(update={"operation": cleared})
        event = Event(EventType.WARNING, "ResumeRefused", outcome.message)
        return status, (event,), max(outcome.retry_after, 30.0)
    if outcome.kind in (Refusal.TRANSIENT, Refusal.UNANSWERED):
        # Keep the intent; the next decide looks for the request's job first, and a request
        # that may still reach ASR is not sent again (nor anything else done) before then.
        lost = outcome.kind == Refusal.UNANSWERED
        answer = CallAnswer.LOST if lost else CallAnswer.REFUSED_WITHOUT_JOB
        kept = op.model_copy(update={"answer": answer, "answered_at": now})
        status = status.model_copy(update={"operation": kept})
        event = Event(
            EventType.WARNING,
            "OutcomeUncertain" if lost else "CallFailed",
            f"{op.type.value} call failed in transit ({outcome.message}); "
            "looking for its job before anything else.",
        )
        return status, (event,), 5.0
    status = status.model_copy(update={"operation": None})
    if outcome.kind in (Refusal.THROTTLED, Refusal.CONFLICT):
        event = Event(
            EventType.NORMAL, "Deferred", f"ASR deferred {op.type.value}: {outcome.message}"
        )
        return (
            status,
            (event,),
            max(outcome.retry_after, 1.0 if outcome.kind == Refusal.THROTTLED else 30.0),
        )
    # Refused for good (not allowed, bad input, auth): stop retrying this generation.
    memo = FailureMemo(
        type=op.type,
        generation=op.generation,
        count=MAX_ATTEMPTS + 1,
        last_at=now,
        message=f"{outcome.kind.value}: {outcome.message}",
    )
    status = status.model_copy(update={"failures": memo})
    event = Event(EventType.WARNING, f"{op.type.value}Refused", outcome.message)
    return status, (event,), 0.0
