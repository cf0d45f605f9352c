"""The ProtectedVM state machine: plain data in, one step and the new status out.

`decide` is called on every reconcile with what the controller observed. It returns a
`Decision`: the step to perform and the status to persist *before* performing it (for a
`Submit`, that status holds the intent). The controller then reports what came of the
step through `record`, and persists that status too. Nothing here does I/O.

Decisions come from what ASR says (`allowedOperations`, `activeLocation`,
`currentScenario`), never from `protectionState` strings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum

from asr_operator.api.common import (
    CommitMode,
    FailoverType,
    ManagementPolicy,
    RecoveryPointKind,
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
from asr_operator.api.protectedvm import (
    ApprovalAction,
    AsrObserved,
    AwaitingApproval,
    AzureVM,
    FailureMemo,
    HistoryEntry,
    NicObserved,
    OperationResult,
    OperationStatus,
    OperationType,
    Phase,
    ProtectedVMSpec,
    ProtectedVMStatus,
    TargetObserved,
    TestFailoverStatus,
    ValidationStatus,
)
from asr_operator.lifecycle import recovery_points, target
from asr_operator.lifecycle.observation import Context, Observation, Wants
from asr_operator.lifecycle.observed import (
    ActiveLocation,
    AsrItem,
    AsrJob,
    AsrOperation,
    JobState,
    PowerState,
)
from asr_operator.lifecycle.prechecks import check_vm
from asr_operator.lifecycle.steps import (
    Accepted,
    Action,
    Done,
    Event,
    EventType,
    Outcome,
    Probe,
    ProbeResult,
    Refusal,
    Refused,
    Release,
    ResumeJob,
    ShutdownResult,
    ShutdownSourceVM,
    Stall,
    StartApplyRecoveryPoint,
    StartCommit,
    StartFailback,
    StartFailover,
    StartReprotect,
    StartTestFailover,
    StartTestFailoverCleanup,
    StartUpdateTarget,
    Step,
    Submit,
    Wait,
)

MAX_ATTEMPTS = 3  # automatic tries of one operation per spec generation
HISTORY_LIMIT = 10
INTENT_LOOKUP_GRACE = timedelta(seconds=60)  # a job may take this long to be listed
RESUME_RESEND_AFTER = timedelta(minutes=5)
JOB_LOOKUP_SKEW = timedelta(minutes=5)
PROBE_INTERVAL = 10.0


class ItemState(Enum):
    """Where the item stands, read from allowedOperations and activeLocation."""

    PROTECTED = "Protected"
    TEST_ACTIVE = "TestActive"
    COMMIT_PENDING = "CommitPending"
    FAILED_OVER = "FailedOver"
    FAILBACK_COMMIT_PENDING = "FailbackCommitPending"
    REVERSE_PENDING = "ReversePending"
    UNKNOWN = "Unknown"


def item_state(item: AsrItem) -> ItemState:
    ops = item.allowed_operations
    if AsrOperation.TEST_FAILOVER_CLEANUP in ops:
        return ItemState.TEST_ACTIVE
    if item.active_location == ActiveLocation.RECOVERY:
        if AsrOperation.COMMIT in ops:
            return ItemState.COMMIT_PENDING
        if AsrOperation.FAILBACK in ops:
            return ItemState.FAILED_OVER
        return ItemState.UNKNOWN
    if AsrOperation.COMMIT in ops:
        return ItemState.FAILBACK_COMMIT_PENDING
    if AsrOperation.REVERSE_REPLICATE in ops:
        return ItemState.REVERSE_PENDING
    if ops & {AsrOperation.PLANNED_FAILOVER, AsrOperation.UNPLANNED_FAILOVER}:
        return ItemState.PROTECTED
    return ItemState.UNKNOWN


_RESTING_PHASE = {
    ItemState.PROTECTED: Phase.PROTECTED,
    ItemState.TEST_ACTIVE: Phase.TEST_FAILOVER_ACTIVE,
    ItemState.COMMIT_PENDING: Phase.AWAITING_COMMIT,
    ItemState.FAILED_OVER: Phase.FAILED_OVER,
    ItemState.FAILBACK_COMMIT_PENDING: Phase.AWAITING_FAILBACK_COMMIT,
    ItemState.REVERSE_PENDING: Phase.AWAITING_REVERSE_REPLICATION,
    ItemState.UNKNOWN: Phase.PENDING,
}

_OPERATION_PHASE = {
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

# The item states in which an operation's effect is already visible: if ASR shows one
# of these while the intent's outcome is unknown, the operation happened.
_EFFECT_VISIBLE = {
    OperationType.FAILOVER: {ItemState.COMMIT_PENDING, ItemState.FAILED_OVER},
    OperationType.COMMIT: {ItemState.FAILED_OVER},
    OperationType.FAILBACK: {ItemState.FAILBACK_COMMIT_PENDING, ItemState.REVERSE_PENDING},
    OperationType.FAILBACK_COMMIT: {ItemState.REVERSE_PENDING},
    OperationType.REVERSE_REPLICATION: {ItemState.PROTECTED},
    OperationType.TEST_FAILOVER: {ItemState.TEST_ACTIVE},
}


@dataclass(frozen=True)
class Decision:
    step: Step
    status: ProtectedVMStatus
    events: tuple[Event, ...] = field(default=())


# --- Observation requests -------------------------------------------------------------


def wants(spec: ProtectedVMSpec, status: ProtectedVMStatus) -> Wants:
    """Only what this cycle can use: an idle VM costs one cached item read, nothing else."""
    op = status.operation
    lookup = None
    if op is not None and not op.submitted:
        lookup = op.requested_at - JOB_LOOKUP_SKEW
    tf = spec.test_failover
    done = status.test_failover.last_request_id if status.test_failover else ""
    drill = tf is not None and bool(tf.request_id) and tf.request_id != done
    moving = status.active_site is None or spec.active_site != status.active_site
    busy = op is not None or moving or drill
    settled = status.phase in (Phase.PROTECTED, Phase.FAILED_OVER, Phase.OBSERVING)
    size = spec.target.size if spec.target is not None else None
    held = status.target.size if status.target is not None else ""
    fo = spec.failover
    keep_source_off = (
        spec.active_site == Site.AZURE
        and fo.type == FailoverType.UNPLANNED
        and fo.shutdown_source_vm
    )
    latest = RecoveryPointKind.LATEST.value
    # "Latest" sends no recovery point id; only a named or derived choice needs the list.
    points = (
        (moving and fo.recovery_point != latest)
        or (drill and tf is not None and tf.recovery_point != latest)
        or status.phase in (Phase.AWAITING_COMMIT, Phase.CHANGING_RECOVERY_POINT, Phase.STALLED)
    )
    return Wants(
        job_name=op.job_name if op is not None and op.job_name else None,
        job_lookup_since=lookup,
        recovery_points=points,
        compute_sizes=size is not None and size.lower() != held.lower(),
        hyperv=spec.hyper_v is not None and (busy or keep_source_off),
        fresh_item=busy or not settled,
    )


def needs_fresh_item(wants: Wants, job: AsrJob | None) -> bool:
    """While the operation's job runs, the vault-wide item list is recent enough.

    Following a job reads only the (batched) job; the item is read fresh again as soon as
    the job ends, before anything is decided from the item's state.
    """
    running = job is not None and not job.state.terminal
    return wants.fresh_item and not (wants.job_name is not None and running)


# --- The decision ---------------------------------------------------------------------


def decide(
    spec: ProtectedVMSpec, status: ProtectedVMStatus, obs: Observation, ctx: Context
) -> Decision:
    d = _Decider(spec, status, obs, ctx)
    return d.finish(d.run())


def decide_deletion(status: ProtectedVMStatus, obs: Observation, ctx: Context) -> Decision:
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
        new = _conditions(new, ctx, Reason.DELETING, message, stalled=False, ready=False)
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


class _Decider:
    def __init__(
        self, spec: ProtectedVMSpec, status: ProtectedVMStatus, obs: Observation, ctx: Context
    ) -> None:
        self.spec = spec
        self.status = status
        self.obs = obs
        self.ctx = ctx
        self.events: list[Event] = []
        self.phase: Phase | None = None
        self.previous_approval = status.awaiting_approval
        self.source_checks: tuple[ConditionStatus, Reason, str] | None = None
        # Why the gate shown is up, when its action alone does not say (a probe timed out).
        self.approval_reason: Reason | None = None

    # -- helpers -----------------------------------------------------------------------

    def update(self, **changes: object) -> None:
        self.status = self.status.model_copy(update=changes)

    def event(self, type_: EventType, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message))

    def token(self, action: ApprovalAction, seed: str) -> str:
        digest = hashlib.sha256(f"{action}/{seed}".encode()).hexdigest()[:8]
        return f"{action.value.lower()}-{digest}"

    def await_approval(self, action: ApprovalAction, seed: str, message: str) -> Step | None:
        """Show the gate; return None when spec.approve already carries its token."""
        token = self.token(action, seed)
        if self.spec.approve == token:
            self.update(awaiting_approval=None)
            return None
        current = self.previous_approval
        since = current.since if current and current.token == token else self.ctx.now
        self.update(
            awaiting_approval=AwaitingApproval(
                action=action,
                token=token,
                message=f"{message} To approve, set spec.approve to {token!r}.",
                since=since,
            )
        )
        return Wait(Reason.WAITING, f"{message} Approve with spec.approve: {token}", 300.0)

    def submit(
        self,
        type_: OperationType,
        action: Action,
        *,
        recovery_point: str = "",
        recovery_point_id: str = "",
        detail: str = "",
    ) -> Step:
        """Write the intent into status; the controller persists it before calling ASR."""
        now = self.ctx.now
        run_id = f"{type_.value.lower()}-{self.ctx.generation}-{now:%Y%m%d%H%M%S}"
        self.update(
            operation=OperationStatus(
                run_id=run_id,
                type=type_,
                requested_at=now,
                generation=self.ctx.generation,
                recovery_point=recovery_point,
                recovery_point_id=recovery_point_id,
                detail=detail,
            ),
            awaiting_approval=None,
            validation=None,
        )
        self.event(EventType.NORMAL, f"{type_.value}Requested", f"Requesting {type_.value}.")
        return Submit(action)

    def stall(self, reason: Reason, message: str, recheck: float = 60.0) -> Step:
        """Stop and explain; look again soon, since most causes are fixed outside the spec."""
        return Stall(reason, message, min(recheck, 2 * self.ctx.poll_interval))

    def retry_gate(self, type_: OperationType) -> Step | None:
        """Bound automatic retries of an operation that failed for this generation."""
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

    def not_allowed(self, op: AsrOperation, item: AsrItem) -> Step:
        memo = self.status.failures
        allowed = ", ".join(sorted(item.allowed_operations)) or "nothing"
        if memo is not None and memo.generation == self.ctx.generation:
            return self.stall(
                Reason.ASR_JOB_FAILED,
                f"{memo.type.value} failed in ASR and ASR does not allow {op.value} again "
                f"(it allows: {allowed}). ASR said: {memo.message}",
            )
        return self.stall(
            Reason.OPERATION_NOT_ALLOWED,
            f"ASR does not allow {op.value} on {item.friendly_name} now (allowed: {allowed}; "
            f"protection state {item.protection_state!r}).",
        )

    # -- main flow ---------------------------------------------------------------------

    def run(self) -> Step:
        obs = self.obs
        if not obs.vault_ready:
            if self.status.operation is not None:
                return Wait(Reason.WAITING, f"Vault not ready: {obs.vault_message}", 30.0)
            return self.stall(Reason.VAULT_NOT_READY, obs.vault_message)
        if obs.item_error is not None:
            return self.observation_failed(obs.item_error.kind, obs.item_error.message)
        if obs.item is None:
            return Wait(Reason.RESOLVING, "Looking up the ASR protected item.", 5.0)
        item = obs.item
        self.observe_item(item)
        if self.status.operation is not None:
            return self.follow_operation(item)
        state = item_state(item)
        self.phase = _RESTING_PHASE[state]
        if self.spec.management_policy == ManagementPolicy.OBSERVE_ONLY:
            self.phase = Phase.OBSERVING
            return Done(self.ctx.poll_interval)
        if obs.owning_plan is not None:
            if self.matches_desired(state):
                return Done(self.ctx.poll_interval)
            return self.stall(
                Reason.OWNED_BY_RECOVERY_PLAN,
                f"{item.friendly_name} belongs to RecoveryPlan {obs.owning_plan!r}, which "
                "decides where it runs; change the plan, not this ProtectedVM.",
                300.0,
            )
        if item.current_job_name is not None:
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                f"ASR job {item.current_job_name} ({item.current_scenario}) is running on "
                "this item, started outside the operator; waiting for it to end.",
                self.ctx.poll_interval,
            )
        return self.dispatch(state, item)

    def observation_failed(self, kind: Refusal, message: str) -> Step:
        vault = self.spec.vault_ref.name
        if kind == Refusal.NOT_FOUND:
            return self.stall(
                Reason.ITEM_NOT_FOUND,
                f"{message}. Check spec.protectedItem (the VM's name as ASR lists it, or "
                f"fabric, container and id) and the vault named by SiteRecoveryVault {vault}.",
            )
        if kind == Refusal.AUTH_FAILED:
            return self.stall(
                Reason.AUTHENTICATION_FAILED,
                f"ASR refused the identity of SiteRecoveryVault {vault}: {message}. Fix its "
                "spec.authentication or the Secret it references (the vault's Ready condition "
                "shows the same check).",
            )
        return Wait(Reason.WAITING, f"Cannot read the ASR item now: {message}", 15.0)

    def observe_item(self, item: AsrItem) -> None:
        held = item.target
        site = Site.AZURE if item.active_location == ActiveLocation.RECOVERY else Site.ON_PREMISES
        tgt = TargetObserved(
            vm_name=held.vm_name,
            size=held.size,
            resource_group_id=held.resource_group_id,
            availability_set_id=held.availability_set_id,
            availability_zone=held.availability_zone,
            managed_disks=held.use_managed_disks,
            network_id=held.network_id,
            nics=[
                NicObserved(nic_id=n.nic_id, subnet=n.subnet, static_ip=n.static_ip)
                for n in held.nics
            ],
        )
        if self.spec.target is not None:
            diffs = target.differences(target.desired(self.spec.target, held), held)
            tgt = tgt.model_copy(update={"in_sync": not diffs, "differences": diffs})
        azure_vm = None
        if site == Site.AZURE:
            ips = list(item.recovery_vm_ips)
            azure_vm = AzureVM(
                name=held.vm_name or item.friendly_name,
                size=held.size,
                ips=ips,
                connect=_connect_hint(ips, self.spec),
            )
        self.update(
            active_site=site,
            asr=AsrObserved(
                item_id=item.id,
                protection_state=item.protection_state,
                active_location=item.active_location.value,
                allowed_operations=sorted(item.allowed_operations),
                replication_health=item.replication_health,
                test_failover_state=item.test_failover_state,
                rpo_seconds=item.rpo_seconds,
                last_replicated_time=item.last_replicated_time,
            ),
            target=tgt,
            azure_vm=azure_vm,
        )

    def matches_desired(self, state: ItemState) -> bool:
        want_azure = self.spec.active_site == Site.AZURE
        if want_azure:
            return state == ItemState.FAILED_OVER
        return state == ItemState.PROTECTED

    # -- operation in flight -----------------------------------------------------------

    def follow_operation(self, item: AsrItem) -> Step:
        op = self.status.operation
        assert op is not None
        self.phase = _OPERATION_PHASE[op.type]
        if not op.submitted:
            return self.reattach(item)
        job = self.obs.job
        if job is None or job.name != op.job_name:
            return Wait(Reason.OPERATION_IN_PROGRESS, f"Reading ASR job {op.job_name}.", 5.0)
        self.track(job)
        if job.state == JobState.SUCCEEDED:
            return self.complete(OperationResult.SUCCEEDED, job, "")
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            errors = (
                "; ".join(f"{e.code}: {e.message}" for e in job.errors) or job.state_description
            )
            return self.complete(OperationResult.FAILED, job, errors or job.state.value)
        if job.state == JobState.SUSPENDED:
            return self.suspended(item, job)
        if self.spec.hyper_v is not None and self.obs.hyperv_error is not None:
            self.event(
                EventType.WARNING,
                "HyperVUnreachable",
                f"Hyper-V host unreachable during {op.type.value}; ASR goes on: "
                f"{self.obs.hyperv_error.message}",
            )
        return Wait(
            Reason.OPERATION_IN_PROGRESS,
            f"{op.type.value}: ASR job {job.name} {job.state.value}, task "
            f"{job.tasks_done}/{len(job.tasks)}.",
            self.ctx.poll_interval,
        )

    def reattach(self, item: AsrItem) -> Step:
        """The call's outcome is unknown (crash or lost response): find the job, never guess."""
        op = self.status.operation
        assert op is not None
        jobs = self.obs.intent_jobs
        if item.current_job_name is not None:
            return self.attach(item.current_job_name, "found on the item")
        if jobs:
            newest = max(jobs, key=lambda j: j.start_time or self.ctx.now)
            return self.attach(newest.name, "found in the vault's job list")
        if item_state(item) in _EFFECT_VISIBLE.get(op.type, set()):
            self.event(
                EventType.NORMAL,
                "OperationObserved",
                f"{op.type.value} already took effect in ASR; recording it as done.",
            )
            return self.complete(OperationResult.SUCCEEDED, None, "")
        if jobs is None:
            return Wait(
                Reason.OPERATION_IN_PROGRESS, "Looking for the ASR job of the request.", 5.0
            )
        if self.ctx.now - op.requested_at < INTENT_LOOKUP_GRACE:
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                "No ASR job for the request yet; checking again before any retry.",
                10.0,
            )
        if op.attempt >= MAX_ATTEMPTS:
            return self.stall(
                Reason.OUTCOME_UNKNOWN,
                f"{op.type.value} was sent {op.attempt} time(s) without a confirmed ASR job, "
                "and none can be found. Check the vault's Site Recovery jobs; then clear "
                "status.operation (kubectl patch --subresource=status) to let the operator go on.",
                300.0,
            )
        # Checked: ASR holds no job for the request, so sending it again cannot double it.
        action = self.action_for(op.type, item)
        if action is None:
            return self.complete(OperationResult.FAILED, None, "no longer applicable")
        self.update(
            operation=op.model_copy(
                update={"attempt": op.attempt + 1, "requested_at": self.ctx.now}
            )
        )
        self.event(
            EventType.WARNING,
            "Resubmitting",
            f"No ASR job was created by the previous {op.type.value} request; sending it again.",
        )
        return Submit(action)

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

    def suspended(self, item: AsrItem, job: AsrJob) -> Step:
        op = self.status.operation
        assert op is not None
        if op.type == OperationType.TEST_FAILOVER:
            # ASR may keep a drill's job suspended until cleanup: the test VM is up.
            return self.complete(OperationResult.SUCCEEDED, job, "")
        if op.type != OperationType.FAILBACK:
            return self.stall(
                Reason.UNSUPPORTED_STATE,
                f"ASR job {job.name} is suspended ({job.state_description}); the operator only "
                "resumes failback jobs. Resume or finish it in ASR.",
            )
        vm = self.obs.hyperv
        if vm is not None and vm.state == PowerState.RUNNING:
            return self.stall(
                Reason.SOURCE_VM_POWERED_ON,
                f"The on-premises VM {vm.name} is running while failback waits to complete; "
                "someone started it. Turn it off: ASR must start it after the final sync.",
                30.0,
            )
        gate = self.await_approval(
            ApprovalAction.COMPLETE_FAILBACK,
            op.run_id,
            f"Failback data sync is done and ASR job {job.name} waits: completing it shuts "
            "the Azure VM down, copies the last changes and starts the on-premises VM.",
        )
        if gate is not None:
            return gate
        if op.resume_requested_at and self.ctx.now - op.resume_requested_at < RESUME_RESEND_AFTER:
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                f"Resumed ASR job {job.name}.",
                min(10.0, self.ctx.poll_interval),
            )
        self.update(operation=op.model_copy(update={"resume_requested_at": self.ctx.now}))
        self.event(EventType.NORMAL, "ResumingJob", f"Resuming ASR job {job.name} (approved).")
        return Submit(ResumeJob(job.name, "Approved through spec.approve"))

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
            recovery_point=op.recovery_point,
            error=error,
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
            if op.type == OperationType.REVERSE_REPLICATION:
                updates["applied_recovery_point"] = ""
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
        self.status = self.status.model_copy(update=updates)
        return Wait(Reason.PROGRESSING, f"{op.type.value} {result.value.lower()}.", 0.0)

    # -- resting states ----------------------------------------------------------------

    def dispatch(self, state: ItemState, item: AsrItem) -> Step:
        self.update(awaiting_approval=None)  # a gated state shows its gate again below
        if state == ItemState.PROTECTED:
            return self.from_protected(item)
        if state == ItemState.TEST_ACTIVE:
            return self.from_test_active(item)
        if state == ItemState.COMMIT_PENDING:
            return self.from_commit_pending(item)
        if state == ItemState.FAILED_OVER:
            return self.from_failed_over(item)
        if state == ItemState.FAILBACK_COMMIT_PENDING:
            return self.from_failback_commit_pending(item)
        if state == ItemState.REVERSE_PENDING:
            return self.from_reverse_pending(item)
        return self.stall(
            Reason.UNSUPPORTED_STATE,
            f"ASR reports {item.friendly_name} as {item.protection_state!r} "
            f"({item.protection_state_description}) at {item.active_location.value}, allowing "
            f"{sorted(item.allowed_operations)}; the operator waits for a state it knows.",
        )

    def drill_requested(self) -> bool:
        tf = self.spec.test_failover
        done = self.status.test_failover.last_request_id if self.status.test_failover else ""
        return tf is not None and bool(tf.request_id) and tf.request_id != done

    def from_protected(self, item: AsrItem) -> Step:
        if self.spec.target is not None:
            step = self.sync_target(item)
            if step is not None:
                return step
        if self.spec.active_site == Site.AZURE:
            return self.failover(item)
        if self.drill_requested():
            return self.test_failover(item)
        return Done(self.ctx.poll_interval)

    def sync_target(self, item: AsrItem) -> Step | None:
        spec_target = self.spec.target
        assert spec_target is not None
        want = target.desired(spec_target, item.target)
        if not target.differences(want, item.target):
            return None
        problems = target.problems(spec_target, self.obs.compute_sizes)
        if problems:
            return self.stall(Reason.INVALID_TARGET, "; ".join(problems))
        retry = self.retry_gate(OperationType.UPDATE_TARGET)
        if retry is not None:
            return retry
        self.event(
            EventType.NORMAL,
            "TargetDrift",
            "ASR's Compute and Network settings differ from spec.target: "
            + "; ".join(target.differences(want, item.target)),
        )
        return self.submit(OperationType.UPDATE_TARGET, StartUpdateTarget(want))

    def failover(self, item: AsrItem) -> Step:
        self.phase = Phase.VALIDATING
        fo = self.spec.failover
        planned = fo.type == FailoverType.PLANNED
        op = AsrOperation.PLANNED_FAILOVER if planned else AsrOperation.UNPLANNED_FAILOVER
        if op not in item.allowed_operations:
            return self.not_allowed(op, item)
        retry = self.retry_gate(OperationType.FAILOVER)
        if retry is not None:
            return retry
        if planned and item.replication_health == "Critical":
            return self.stall(
                Reason.REPLICATION_UNHEALTHY,
                f"Replication health of {item.friendly_name} is Critical; a planned failover "
                "would fail. Fix replication, or use failover.type: Unplanned in a disaster.",
            )
        step = self.source_gates(planned)
        if step is not None:
            return step
        resolved = self.resolve_point(fo.recovery_point)
        if isinstance(resolved, Stall | Wait):
            return resolved
        rp_id = resolved.point.id if resolved.point else None
        return self.submit(
            OperationType.FAILOVER,
            StartFailover(planned, rp_id, fo.shutdown_source_vm or planned),
            recovery_point=fo.recovery_point,
            recovery_point_id=rp_id or "",
            detail=fo.type.value,
        )

    def resolve_point(self, choice: str) -> recovery_points.Resolved | Stall | Wait:
        points = self.obs.recovery_points
        if points is None and choice != "Latest":
            return Wait(Reason.WAITING, "Reading the item's recovery points.", 5.0)
        resolved = recovery_points.resolve(choice, points or ())
        if isinstance(resolved, recovery_points.Unresolved):
            return Stall(Reason.RECOVERY_POINT_NOT_FOUND, resolved.message, 60.0)
        return resolved

    def source_gates(self, planned: bool) -> Step | None:
        """Hyper-V checks before a failover; a failed gate stops before anything is sent."""
        if self.spec.hyper_v is None:
            self.source_checks = (
                ConditionStatus.UNKNOWN,
                Reason.CHECKS_SKIPPED,
                "spec.hyperV is not set; checkpoints and Azure limits were not checked.",
            )
            return None
        if self.obs.hyperv_error is not None:
            message = f"Cannot reach Hyper-V to check the VM: {self.obs.hyperv_error.message}"
            self.source_checks = (
                ConditionStatus.UNKNOWN,
                Reason.SOURCE_CHECKS_UNAVAILABLE,
                message,
            )
            if planned:
                return self.stall(
                    Reason.SOURCE_CHECKS_UNAVAILABLE,
                    message + ". A planned failover needs a healthy source; fix WinRM access, "
                    "or use failover.type: Unplanned if the site is down.",
                )
            self.event(EventType.WARNING, "SourceChecksSkipped", message)
            return None
        vm = self.obs.hyperv
        if vm is None:
            return Wait(Reason.WAITING, "Reading the VM from Hyper-V.", 5.0)
        failures = check_vm(vm)
        if failures:
            message = " ".join(f.message for f in failures)
            self.source_checks = (ConditionStatus.FALSE, Reason.CHECKS_FAILED, message)
            reason = (
                Reason.CHECKPOINTS_PRESENT
                if failures[0].requirement == "NoCheckpoints"
                else Reason.AZURE_LIMITS_EXCEEDED
            )
            return self.stall(reason, message, 30.0)
        self.source_checks = (
            ConditionStatus.TRUE,
            Reason.CHECKS_PASSED,
            f"VM {vm.name}: no checkpoints, within Azure limits.",
        )
        return None

    def test_failover(self, item: AsrItem) -> Step:
        tf = self.spec.test_failover
        assert tf is not None
        if AsrOperation.TEST_FAILOVER not in item.allowed_operations:
            return self.not_allowed(AsrOperation.TEST_FAILOVER, item)
        retry = self.retry_gate(OperationType.TEST_FAILOVER)
        if retry is not None:
            return retry
        resolved = self.resolve_point(tf.recovery_point)
        if isinstance(resolved, Stall | Wait):
            return resolved
        rp_id = resolved.point.id if resolved.point else None
        self.update(
            test_failover=TestFailoverStatus(last_request_id=tf.request_id, started_at=self.ctx.now)
        )
        return self.submit(
            OperationType.TEST_FAILOVER,
            StartTestFailover(tf.network_id, rp_id),
            recovery_point=tf.recovery_point,
            recovery_point_id=rp_id or "",
            detail=tf.request_id,
        )

    def from_test_active(self, item: AsrItem) -> Step:
        tf_status = self.status.test_failover
        self.update(
            test_failover=(tf_status or TestFailoverStatus()).model_copy(
                update={
                    "test_vm": AzureVM(
                        name=item.test_vm_name,
                        ips=list(item.test_vm_ips),
                        connect=_connect_hint(list(item.test_vm_ips), self.spec),
                    )
                }
            )
        )
        ours = tf_status if tf_status is not None and tf_status.last_request_id else None
        spec_tf = self.spec.test_failover
        reason = ""
        if self.spec.active_site == Site.AZURE:
            reason = "a failover is requested, and ASR needs the drill cleaned up first"
        elif ours and (spec_tf is None or spec_tf.request_id != ours.last_request_id):
            reason = "the drill request changed"
        elif ours and ours.cleanup_at is not None and self.ctx.now >= ours.cleanup_at:
            reason = "testFailover.cleanupAfter has passed"
        if not reason and ours:
            tf_status = ours
            gate = self.await_approval(
                ApprovalAction.TEST_FAILOVER_CLEANUP,
                tf_status.last_request_id,
                "The drill's test VM is running.",
            )
            if gate is None:
                reason = "cleanup was approved"
            elif tf_status.cleanup_at is not None:
                left = (tf_status.cleanup_at - self.ctx.now).total_seconds()
                assert isinstance(gate, Wait)
                return Wait(gate.reason, gate.message + f" Cleanup in {left:.0f}s.", min(left, 300))
            else:
                return gate
        if not reason:
            return Wait(
                Reason.WAITING,
                "A test failover started outside the operator is active; it is left alone.",
                self.ctx.poll_interval,
            )
        if AsrOperation.TEST_FAILOVER_CLEANUP not in item.allowed_operations:
            return self.not_allowed(AsrOperation.TEST_FAILOVER_CLEANUP, item)
        retry = self.retry_gate(OperationType.TEST_FAILOVER_CLEANUP)
        if retry is not None:
            return retry
        return self.submit(
            OperationType.TEST_FAILOVER_CLEANUP,
            StartTestFailoverCleanup(f"asr-operator: cleanup because {reason}"),
            detail=reason,
        )

    def from_commit_pending(self, item: AsrItem) -> Step:
        fo = self.spec.failover
        applied = self.status.applied_recovery_point or fo.recovery_point
        if not self.status.applied_recovery_point:
            self.update(applied_recovery_point=applied)
        if (
            self.spec.active_site == Site.AZURE
            and fo.recovery_point != applied
            and AsrOperation.CHANGE_PIT in item.allowed_operations
        ):
            retry = self.retry_gate(OperationType.CHANGE_RECOVERY_POINT)
            if retry is not None:
                return retry
            resolved = self.resolve_point(fo.recovery_point)
            if isinstance(resolved, Stall | Wait):
                return resolved
            point = resolved.point or recovery_points.latest(self.obs.recovery_points or ())
            if point is None:
                return self.stall(
                    Reason.RECOVERY_POINT_NOT_FOUND, "ASR lists no recovery point to apply."
                )
            return self.submit(
                OperationType.CHANGE_RECOVERY_POINT,
                StartApplyRecoveryPoint(point.id),
                recovery_point=fo.recovery_point,
                recovery_point_id=point.id,
            )
        step = self.shutdown_source_if_running()
        if step is not None:
            return step
        seed = self.status.last_operation.run_id if self.status.last_operation else item.id
        if self.spec.active_site == Site.ON_PREMISES:
            message = (
                "The failover is not committed. The operator never cancels a failover; "
                "approve the commit and failback to on-premises follows."
            )
            return self.await_approval(ApprovalAction.COMMIT, seed, message) or self.commit(item)
        if fo.commit == CommitMode.AUTOMATIC:
            if fo.validation is None:
                return self.commit(item)
            step = self.validate(seed)
            if step is not None:
                return step
            return self.commit(item)
        message = f"{item.friendly_name} runs in Azure; commit the failover when validated."
        return self.await_approval(ApprovalAction.COMMIT, seed, message) or self.commit(item)

    def validate(self, seed: str) -> Step | None:
        """Probe the failed-over VM; a VM that never answers waits for a human."""
        validation = self.spec.failover.validation
        assert validation is not None
        state = self.status.validation
        if state is None:
            state = ValidationStatus(started_at=self.ctx.now)
            self.update(validation=state)
        if state.passed:
            return None
        deadline = state.started_at + parse_duration(validation.timeout)
        if state.timed_out or self.ctx.now >= deadline:
            self.update(validation=state.model_copy(update={"timed_out": True}))
            message = (
                f"The Azure VM did not answer on TCP {validation.tcp_ports} within "
                f"{validation.timeout} (last: {state.last_result or 'no answer'}). Check it, "
                "then approve the commit."
            )
            self.approval_reason = Reason.VALIDATION_TIMED_OUT
            return self.await_approval(ApprovalAction.COMMIT, seed, message)
        ips = self.status.azure_vm.ips if self.status.azure_vm else []
        if not ips:
            return Wait(Reason.WAITING, "Waiting for the Azure VM's IP address.", PROBE_INTERVAL)
        return Probe(tuple((ip, port) for ip in ips for port in validation.tcp_ports))

    def commit(self, item: AsrItem) -> Step:
        if AsrOperation.COMMIT not in item.allowed_operations:
            return self.not_allowed(AsrOperation.COMMIT, item)
        retry = self.retry_gate(OperationType.COMMIT)
        if retry is not None:
            return retry
        return self.submit(OperationType.COMMIT, StartCommit())

    def shutdown_source_if_running(self) -> Step | None:
        """After an unplanned failover that asked for it, keep the source off (no split brain)."""
        fo = self.spec.failover
        vm = self.obs.hyperv
        if (
            self.spec.active_site != Site.AZURE
            or fo.type != FailoverType.UNPLANNED
            or not fo.shutdown_source_vm
            or vm is None
            or self.spec.hyper_v is None
            or vm.state != PowerState.RUNNING
        ):
            return None
        self.event(
            EventType.WARNING,
            "SourceVMStillRunning",
            f"{vm.name} still runs on Hyper-V after the failover; turning it off "
            "(failover.shutdownSourceVM).",
        )
        return ShutdownSourceVM(self.spec.hyper_v.host, self.spec.hyper_v.vm_name)

    def from_failed_over(self, item: AsrItem) -> Step:
        step = self.shutdown_source_if_running()
        if step is not None:
            return step
        if self.spec.active_site == Site.AZURE:
            return Done(self.ctx.poll_interval)
        if AsrOperation.FAILBACK not in item.allowed_operations:
            return self.not_allowed(AsrOperation.FAILBACK, item)
        retry = self.retry_gate(OperationType.FAILBACK)
        if retry is not None:
            return retry
        if self.spec.hyper_v is not None:
            if self.obs.hyperv_error is not None:
                return self.stall(
                    Reason.SOURCE_CHECKS_UNAVAILABLE,
                    "Cannot reach Hyper-V to check that the on-premises VM is off before "
                    f"failback: {self.obs.hyperv_error.message}",
                    30.0,
                )
            vm = self.obs.hyperv
            if vm is None:
                return Wait(Reason.WAITING, "Reading the VM from Hyper-V.", 5.0)
            if vm.state == PowerState.RUNNING:
                return self.stall(
                    Reason.SOURCE_VM_POWERED_ON,
                    f"The on-premises VM {vm.name} is running; failback would overwrite it. "
                    "Turn it off and leave it off: ASR starts it at the end of failback.",
                    30.0,
                )
        fb = self.spec.failback
        return self.submit(
            OperationType.FAILBACK,
            StartFailback(fb.data_sync.asr_value, fb.create_vm_if_not_found),
            detail=fb.data_sync.value,
        )

    def from_failback_commit_pending(self, item: AsrItem) -> Step:
        if self.spec.failback.commit == CommitMode.AUTOMATIC:
            return self.commit_failback(item)
        seed = self.status.last_operation.run_id if self.status.last_operation else item.id
        message = f"{item.friendly_name} runs on-premises again; commit the failback."
        gate = self.await_approval(ApprovalAction.FAILBACK_COMMIT, seed, message)
        return gate or self.commit_failback(item)

    def commit_failback(self, item: AsrItem) -> Step:
        retry = self.retry_gate(OperationType.FAILBACK_COMMIT)
        if retry is not None:
            return retry
        return self.submit(OperationType.FAILBACK_COMMIT, StartCommit())

    def from_reverse_pending(self, item: AsrItem) -> Step:
        if self.spec.reverse_replication == ReverseReplication.MANUAL:
            seed = self.status.last_operation.run_id if self.status.last_operation else item.id
            message = "Failback is committed; reverse replication protects the VM again."
            gate = self.await_approval(ApprovalAction.REVERSE_REPLICATION, seed, message)
            if gate is not None:
                return gate
        retry = self.retry_gate(OperationType.REVERSE_REPLICATION)
        if retry is not None:
            return retry
        return self.submit(OperationType.REVERSE_REPLICATION, StartReprotect())

    def action_for(self, type_: OperationType, item: AsrItem) -> Action | None:
        """The ASR call of an intent, rebuilt from spec and intent for a checked resend."""
        op = self.status.operation
        assert op is not None
        rp_id = op.recovery_point_id or None
        if type_ == OperationType.FAILOVER:
            planned = op.detail == FailoverType.PLANNED.value
            return StartFailover(planned, rp_id, self.spec.failover.shutdown_source_vm or planned)
        if type_ == OperationType.TEST_FAILOVER and self.spec.test_failover is not None:
            return StartTestFailover(self.spec.test_failover.network_id, rp_id)
        if type_ == OperationType.TEST_FAILOVER_CLEANUP:
            return StartTestFailoverCleanup(f"asr-operator: cleanup because {op.detail}")
        if type_ in (OperationType.COMMIT, OperationType.FAILBACK_COMMIT):
            return StartCommit()
        if type_ == OperationType.CHANGE_RECOVERY_POINT and rp_id:
            return StartApplyRecoveryPoint(rp_id)
        if type_ == OperationType.FAILBACK:
            fb = self.spec.failback
            return StartFailback(fb.data_sync.asr_value, fb.create_vm_if_not_found)
        if type_ == OperationType.REVERSE_REPLICATION:
            return StartReprotect()
        if type_ == OperationType.UPDATE_TARGET and self.spec.target is not None:
            return StartUpdateTarget(target.desired(self.spec.target, item.target))
        return None

    # -- status and conditions ---------------------------------------------------------

    def with_condition(
        self,
        status: ProtectedVMStatus,
        type_: ConditionType,
        value: ConditionStatus,
        reason: Reason,
        message: str,
    ) -> ProtectedVMStatus:
        conds = set_condition(
            status.conditions, type_, value, reason, message, self.ctx.generation, self.ctx.now
        )
        return status.model_copy(update={"conditions": conds})

    def finish(self, step: Step) -> Decision:
        status = self.status
        op = status.operation
        phase = self.phase or Phase.PENDING
        if op is not None:
            phase = _OPERATION_PHASE[op.type]
        if isinstance(step, Stall):
            phase = Phase.STALLED
        job = ""
        if op is not None:
            job = f"{op.type.value} {op.tasks_done}/{op.tasks_total}"
            if op.current_task:
                job += f" {op.current_task}"
        status = status.model_copy(
            update={"phase": phase, "job": job, "observed_generation": self.ctx.generation}
        )
        if self.source_checks is not None:
            status = self.with_condition(
                status, ConditionType.SOURCE_CHECKS_PASSED, *self.source_checks
            )
        if self.obs.item is not None:
            healthy = self.obs.item.replication_health == "Normal"
            status = self.with_condition(
                status,
                ConditionType.REPLICATION_HEALTHY,
                ConditionStatus.TRUE if healthy else ConditionStatus.FALSE,
                Reason.HEALTHY if healthy else Reason.DEGRADED,
                f"ASR replication health: {self.obs.item.replication_health}",
            )
        if isinstance(step, Stall):
            status = _conditions(
                status, self.ctx, step.reason, step.message, stalled=True, ready=False
            )
        elif isinstance(step, Done):
            in_sync = status.target is None or status.target.in_sync
            if self.spec.management_policy == ManagementPolicy.OBSERVE_ONLY:
                status = _conditions(
                    status,
                    self.ctx,
                    Reason.OBSERVE_ONLY,
                    "ObserveOnly: the operator watches and never acts.",
                    stalled=False,
                    ready=in_sync and self.obs.item is not None and self.matches_observed(),
                )
            else:
                # Done means nothing is left to do: in Protected that includes a synced target;
                # while the VM runs in Azure, spec.target applies to the next failover.
                status = _conditions(
                    status,
                    self.ctx,
                    Reason.RECONCILED,
                    f"{self.spec.active_site.value} is active, as desired.",
                    stalled=False,
                    ready=True,
                )
        else:
            reason = step.reason if isinstance(step, Wait) else Reason.PROGRESSING
            message = step.message if isinstance(step, Wait) else _describe(step)
            status = _conditions(status, self.ctx, reason, message, stalled=False, ready=False)
        approval = status.awaiting_approval
        approval_reason = Reason.NOTHING_TO_APPROVE
        if approval is not None:
            approval_reason = self.approval_reason or _APPROVAL_REASON[approval.action]
        status = self.with_condition(
            status,
            ConditionType.AWAITING_APPROVAL,
            ConditionStatus.TRUE if approval else ConditionStatus.FALSE,
            approval_reason,
            approval.message if approval else "",
        )
        # Every condition was judged against this generation, including the ones kept as-is.
        conds = [
            c.model_copy(update={"observed_generation": self.ctx.generation})
            for c in status.conditions
        ]
        return Decision(step, status.model_copy(update={"conditions": conds}), tuple(self.events))

    def matches_observed(self) -> bool:
        return self.obs.item is not None and self.matches_desired(item_state(self.obs.item))


_APPROVAL_REASON = {
    ApprovalAction.COMMIT: Reason.COMMIT_APPROVAL,
    ApprovalAction.COMPLETE_FAILBACK: Reason.FAILBACK_COMPLETION_APPROVAL,
    ApprovalAction.FAILBACK_COMMIT: Reason.FAILBACK_COMMIT_APPROVAL,
    ApprovalAction.REVERSE_REPLICATION: Reason.REVERSE_REPLICATION_APPROVAL,
    ApprovalAction.TEST_FAILOVER_CLEANUP: Reason.TEST_CLEANUP_APPROVAL,
}


def _describe(step: Step) -> str:
    if isinstance(step, Submit):
        return f"Calling ASR: {type(step.action).__name__}."
    if isinstance(step, Probe):
        return f"Probing the Azure VM on {', '.join(f'{h}:{p}' for h, p in step.targets)}."
    if isinstance(step, ShutdownSourceVM):
        return f"Turning off {step.vm_name} on {step.host}."
    return type(step).__name__


def _conditions(
    status: ProtectedVMStatus,
    ctx: Context,
    reason: Reason,
    message: str,
    *,
    stalled: bool,
    ready: bool,
) -> ProtectedVMStatus:
    conds = set_readiness(
        status.conditions, reason, message, ctx.generation, ctx.now, ready=ready, stalled=stalled
    )
    return status.model_copy(update={"conditions": conds})


def _connect_hint(ips: list[str], spec: ProtectedVMSpec) -> str:
    if not ips:
        return ""
    ports = spec.failover.validation.tcp_ports if spec.failover.validation else [3389]
    if 22 in ports and 3389 not in ports:
        return f"ssh {ips[0]}"
    return f"mstsc /v:{ips[0]}"


def _next_probe(spec: ProtectedVMSpec, state: ValidationStatus, ctx: Context) -> float:
    """Probe again at the vault's pace, and look once more when validation.timeout passes
    (so a VM that never answers reaches a human on time, not a probe interval late)."""
    delay = min(PROBE_INTERVAL, ctx.poll_interval)
    validation = spec.failover.validation
    if validation is not None:
        deadline = state.started_at + parse_duration(validation.timeout)
        delay = min(delay, max((deadline - ctx.now).total_seconds(), 0.0))
    return delay


# --- Reporting back ----------------------------------------------------------------------


def record(
    spec: ProtectedVMSpec,
    status: ProtectedVMStatus,
    step: Step,
    outcome: Outcome,
    ctx: Context,
) -> tuple[ProtectedVMStatus, tuple[Event, ...], float]:
    """Fold what came of a step into status. Returns (status, events, requeue delay)."""
    now = ctx.now
    op = status.operation
    if isinstance(outcome, Accepted) and isinstance(step, Submit) and op is not None:
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
    if isinstance(outcome, Refused) and isinstance(step, Submit) and op is not None:
        if isinstance(step.action, ResumeJob):
            cleared = op.model_copy(update={"resume_requested_at": None})
            status = status.model_copy(update={"operation": cleared})
            event = Event(EventType.WARNING, "ResumeRefused", outcome.message)
            return status, (event,), max(outcome.retry_after, 30.0)
        if outcome.kind == Refusal.TRANSIENT:
            # A job may exist: keep the intent; the next decide looks for the job first.
            event = Event(
                EventType.WARNING,
                "OutcomeUncertain",
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
    if isinstance(outcome, ProbeResult) and status.validation is not None:
        v = status.validation
        v = v.model_copy(
            update={
                "attempts": v.attempts + 1,
                "last_result": outcome.detail,
                "passed": outcome.reachable,
            }
        )
        status = status.model_copy(update={"validation": v})
        if outcome.reachable:
            return status, (Event(EventType.NORMAL, "ValidationPassed", outcome.detail),), 0.0
        return status, (), _next_probe(spec, v, ctx)
    if isinstance(outcome, ShutdownResult):
        type_ = EventType.NORMAL if outcome.ok else EventType.WARNING
        reason = "SourceVMTurnedOff" if outcome.ok else "SourceVMShutdownFailed"
        return status, (Event(type_, reason, outcome.detail),), 5.0 if outcome.ok else 30.0
    return status, (), 5.0
