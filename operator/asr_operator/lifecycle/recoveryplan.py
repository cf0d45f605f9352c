"""The RecoveryPlan state machine: its table on the one operation engine (`engine.py`).

A plan stands where its members stand (they move together in one ASR job). Its gates
check every member, and a refusal names each failing member and the rule it fails. The
plan job's progress is reported per group (Shutdown, Failover, Boot 1..n) and per VM,
and a job suspended at a manual action waits for `spec.approve`. Nothing here does I/O.
"""

from __future__ import annotations

from asr_operator.api.common import CommitMode, FailoverType, Site
from asr_operator.api.conditions import ConditionStatus, ConditionType, Reason
from asr_operator.api.operation import (
    ApprovalAction,
    AzureVM,
    OperationResult,
    OperationStatus,
    OperationType,
    Phase,
    TestFailoverStatus,
)
from asr_operator.api.recoveryplan import (
    GroupProgress,
    RecoveryPlanSpec,
    RecoveryPlanStatus,
    VMOutcome,
)
from asr_operator.lifecycle import engine
from asr_operator.lifecycle.azure_vm import azure_vm_status, made_azure_vm
from asr_operator.lifecycle.engine import Decision, Intent, Row, always
from asr_operator.lifecycle.item_state import ItemState, item_state
from asr_operator.lifecycle.observation import Context, Observation, Wants
from asr_operator.lifecycle.observed import (
    ActiveLocation,
    AsrItem,
    AsrJob,
    AsrOperation,
    AsrTask,
    HyperVVM,
    JobState,
    PowerState,
)
from asr_operator.lifecycle.prechecks import check_vm
from asr_operator.lifecycle.steps import (
    Event,
    EventType,
    Outcome,
    Refusal,
    StartPlanCommit,
    StartPlanFailback,
    StartPlanFailover,
    StartPlanReprotect,
    StartPlanTestFailover,
    StartPlanTestFailoverCleanup,
    Step,
    Wait,
)

_GROUP_VERB = {"Shutdown": "shutting down", "Failover": "failing over"}


def plan_state(members: tuple[AsrItem, ...]) -> ItemState:
    """The state every member shares; Unknown when they disagree (or there are none)."""
    states = {item_state(m) for m in members}
    return states.pop() if len(states) == 1 else ItemState.UNKNOWN


def site_of(item: AsrItem) -> Site:
    return Site.AZURE if item.active_location == ActiveLocation.RECOVERY else Site.ON_PREMISES


def wants(spec: RecoveryPlanSpec, status: RecoveryPlanStatus) -> Wants:
    """Members are read fresh, and Hyper-V asked, only when the plan may act."""
    job_name, lookup = engine.job_wants(status)
    busy = status.operation is not None or any(engine.asked_for(spec, status))
    return Wants(
        job_name=job_name,
        job_lookup_since=lookup,
        recovery_points=False,
        compute_sizes=False,
        hyperv=bool(spec.hyper_v) and busy,
        fresh_item=busy or status.phase not in (Phase.PROTECTED, Phase.FAILED_OVER),
    )


def at_rest(
    spec: RecoveryPlanSpec, status: RecoveryPlanStatus, members: tuple[AsrItem, ...]
) -> bool:
    """With ASR as it is, the next cycle would read nothing of its own: the plan can sleep
    until it or a member changes."""
    return wants(spec, status).only_shared_lists and not member_azure_vm_reads(
        status, members, None
    )


def member_azure_vm_reads(
    status: RecoveryPlanStatus, members: tuple[AsrItem, ...], job: AsrJob | None
) -> list[AsrItem]:
    """The members whose failed-over VM to read from ARM now: those running in Azure,
    when a failover's job has ended or status shows no VM for them yet (a resting plan
    keeps what status shows and reads nothing)."""
    made = made_azure_vm(status.operation, job)
    shown = {v.name.lower(): v.azure_vm for v in status.vms}
    return [
        m
        for m in members
        if m.active_location == ActiveLocation.RECOVERY
        and (made or (vm := shown.get(m.friendly_name.lower())) is None or not vm.id)
    ]


def decide(
    spec: RecoveryPlanSpec, status: RecoveryPlanStatus, obs: Observation, ctx: Context
) -> Decision[RecoveryPlanStatus]:
    d = PlanMachine(spec, status, obs, ctx)
    return d.finish(d.run())


decide_deletion = engine.decide_deletion


def record(
    spec: RecoveryPlanSpec,
    status: RecoveryPlanStatus,
    step: Step,
    outcome: Outcome,
    ctx: Context,
) -> tuple[RecoveryPlanStatus, tuple[Event, ...], float]:
    return engine.record_call(status, step, outcome, ctx) or (status, (), 5.0)


class PlanMachine(engine.Engine[RecoveryPlanSpec, RecoveryPlanStatus, ItemState]):
    """One decision for one RecoveryPlan; the rows are in `TABLE` below the class."""

    def __init__(
        self, spec: RecoveryPlanSpec, status: RecoveryPlanStatus, obs: Observation, ctx: Context
    ) -> None:
        super().__init__(spec, status, obs, ctx)
        self.source_checks: tuple[ConditionStatus, Reason, str] | None = None

    @property
    def members(self) -> tuple[AsrItem, ...]:
        return self.obs.members

    # -- what the engine asks of a kind --------------------------------------------------

    def observe(self) -> Step | None:
        obs = self.obs
        if not obs.vault_ready:
            if self.status.operation is not None:
                return Wait(Reason.WAITING, f"Vault not ready: {obs.vault_message}", 30.0)
            return self.stall(Reason.VAULT_NOT_READY, obs.vault_message)
        if obs.item_error is not None:
            error = obs.item_error
            if error.kind == Refusal.NOT_FOUND:
                return self.stall(
                    Reason.PLAN_NOT_FOUND,
                    f"{error.message}. Check spec.planName (the plan's name in the vault "
                    f"named by SiteRecoveryVault {self.spec.vault_ref.name}).",
                )
            if error.kind == Refusal.AUTH_FAILED:
                return self.stall(
                    Reason.AUTHENTICATION_FAILED,
                    f"ASR refused the identity of SiteRecoveryVault {self.spec.vault_ref.name}: "
                    f"{error.message}. Fix its spec.authentication or the Secret it references.",
                )
            return Wait(Reason.WAITING, f"Cannot read the recovery plan now: {error.message}", 15.0)
        plan = obs.plan
        if plan is None:
            return Wait(Reason.RESOLVING, "Looking up the ASR recovery plan.", 5.0)
        sites = {site_of(m) for m in self.members}
        outcomes = {v.name.lower(): v for v in self.status.vms}
        vms = []
        for m in self.members:
            kept = outcomes.get(m.friendly_name.lower())
            vms.append(
                VMOutcome(
                    name=m.friendly_name,
                    state=f"{site_of(m).value}: {m.protection_state}",
                    result=kept.result if kept else "",
                    message=kept.message if kept else "",
                    azure_vm=self.recovered_vm(m, kept),
                )
            )
        updates: dict[str, object] = {
            "active_site": sites.pop() if len(sites) == 1 else None,
            "allowed_operations": sorted(plan.allowed_operations),
            "item_count": len(plan.item_ids),
            "vms": vms,
        }
        if self.status.operation is None:
            updates["progress"] = ""
            if not self.status.groups:
                updates["groups"] = [
                    GroupProgress(name=g.name, vms_total=len(g.item_ids)) for g in plan.groups
                ]
        self.update(**updates)
        return None

    def recovered_vm(self, member: AsrItem, kept: VMOutcome | None) -> AzureVM | None:
        """The member's failed-over VM: read now, else as status showed it, while it runs
        in Azure; nothing on-premises."""
        if member.active_location != ActiveLocation.RECOVERY:
            return None
        read = self.obs.member_azure_vms.get(member.friendly_name.lower())
        if read is not None:
            return azure_vm_status(read)
        if kept is not None and kept.azure_vm is not None and kept.azure_vm.id:
            return kept.azure_vm  # read after the last operation; idle cycles keep it
        return AzureVM(name=member.target.vm_name or member.friendly_name)

    def state(self) -> ItemState:
        return plan_state(self.members)

    def target_id(self) -> str:
        assert self.obs.plan is not None
        return self.obs.plan.id

    def target_label(self) -> str:
        assert self.obs.plan is not None
        return f"recovery plan {self.obs.plan.name}"

    def allowed(self) -> frozenset[str]:
        assert self.obs.plan is not None
        return self.obs.plan.allowed_operations

    def matches_desired(self, state: ItemState) -> bool:
        if self.spec.active_site == Site.AZURE:
            return state == ItemState.FAILED_OVER
        return state == ItemState.PROTECTED

    def done_message(self) -> str:
        where = self.spec.active_site.value
        return f"All {len(self.members)} VMs of the plan run {where}, as desired."

    def unsupported(self, state: ItemState) -> Step:
        if not self.members:
            return self.stall(
                Reason.UNSUPPORTED_STATE,
                f"{self.target_label()} has no protected VMs; add VMs to the plan in ASR.",
            )
        by_state: dict[str, list[str]] = {}
        for m in self.members:
            by_state.setdefault(item_state(m).value, []).append(m.friendly_name)
        where = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(by_state.items()))
        memo = self.status.failures
        last = self.status.last_operation
        # The last job left them apart, whatever spec edits (approvals) came since.
        if memo is not None and last is not None and last.result == OperationResult.FAILED:
            return self.stall(
                Reason.ASR_JOB_FAILED,
                f"{memo.type.value} of {self.target_label()} failed for some VMs and the plan's "
                f"VMs now stand apart ({where}). ASR said: {memo.message}. Fix the failed VMs "
                "in ASR (or fail them over singly), then change the spec to try again.",
            )
        return self.stall(
            Reason.UNSUPPORTED_STATE,
            f"The VMs of {self.target_label()} do not stand in one state ({where}); the "
            "operator acts on a plan only when all its VMs do.",
        )

    def hold(self, state: ItemState) -> Step | None:
        if self.obs.plan_conflicts:
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                f"RecoveryPlan {', '.join(self.obs.plan_conflicts)} runs an operation on VMs "
                "this plan shares; waiting for it to end.",
                self.ctx.poll_interval,
            )
        busy = [m for m in self.members if m.busy_job]
        if busy:
            names = ", ".join(f"{m.friendly_name} ({m.current_scenario})" for m in busy)
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                f"ASR jobs run on VMs of the plan, started outside this RecoveryPlan: {names}; "
                "waiting for them to end.",
                self.ctx.poll_interval,
            )
        return None

    def track(self, job: AsrJob) -> None:
        super().track(job)
        groups = _groups(job)  # jobs without groups (commit, reprotect) keep the last ones
        self.update(
            groups=groups or self.status.groups,
            vms=_outcomes(self.status.vms, job),
            progress=_progress(job),
        )

    def job_column(self, op: OperationStatus) -> str:
        return f"{op.type.value} {op.job_state or 'Requested'}"

    def job_errors(self, job: AsrJob) -> str:
        failed = [
            f"{c.target_name}: "
            + ("; ".join(f"{e.code} {e.message}" for e in c.errors) or "failed")
            for c in _children(job)
            if c.state == JobState.FAILED
        ]
        return " | ".join(failed) or super().job_errors(job)

    def suspended(self, job: AsrJob) -> Step:
        op = self.status.operation
        assert op is not None
        step = job.current_step
        group, task = step if step is not None else (None, None)
        if task is not None and task.instructions:
            where = f" ({group.group})" if group is not None and group.group else ""
            # By the step's place in the job: ASR may give every manual action one task name.
            return self.resume_when_approved(
                job,
                ApprovalAction.MANUAL_ACTION,
                f"{op.run_id}/{job.steps.index(task)}/{task.name}",
                f"ASR job {job.name} waits at manual action {task.name!r}{where}: "
                f"{task.instructions}",
            )
        if op.type == OperationType.TEST_FAILOVER:
            # ASR may keep a drill's job suspended until cleanup: the test VMs are up.
            return self.complete(OperationResult.SUCCEEDED, job, "")
        if op.type == OperationType.FAILBACK:
            running = [
                vm.name for vm in self.obs.member_vms.values() if vm.state == PowerState.RUNNING
            ]
            if running:
                return self.stall(
                    Reason.SOURCE_VM_POWERED_ON,
                    f"On-premises VMs of the plan run while failback waits to complete: "
                    f"{', '.join(sorted(running))}. Turn them off: ASR starts them after the "
                    "final sync.",
                    30.0,
                )
            return self.resume_when_approved(
                job,
                ApprovalAction.COMPLETE_FAILBACK,
                op.run_id,
                f"Failback data sync is done and ASR job {job.name} waits: completing it shuts "
                "the plan's Azure VMs down, copies the last changes and starts them on-premises.",
            )
        return self.stall(
            Reason.UNSUPPORTED_STATE,
            f"ASR job {job.name} is suspended ({job.state_description}) at no manual action; "
            "resume or finish it in ASR.",
        )

    def conditions(self, status: RecoveryPlanStatus, step: Step) -> RecoveryPlanStatus:
        if self.source_checks is not None:
            status = self.with_condition(
                status, ConditionType.SOURCE_CHECKS_PASSED, *self.source_checks
            )
        if self.members:
            degraded = [
                f"{m.friendly_name} ({m.replication_health})"
                for m in self.members
                if m.replication_health != "Normal"
            ]
            status = self.with_condition(
                status,
                ConditionType.REPLICATION_HEALTHY,
                ConditionStatus.FALSE if degraded else ConditionStatus.TRUE,
                Reason.DEGRADED if degraded else Reason.HEALTHY,
                f"Replication not healthy: {', '.join(degraded)}"
                if degraded
                else f"All {len(self.members)} VMs replicate normally.",
            )
        return status

    def observe_only_ready(self, status: RecoveryPlanStatus) -> bool:
        return bool(self.members) and self.matches_desired(self.state())

    # -- conditions of rows and gates ----------------------------------------------------

    def point_changed(self) -> bool:
        applied = self.status.applied_recovery_point
        return bool(applied) and self.spec.failover.recovery_point != applied

    def members_healthy(self) -> Step | None:
        if self.spec.failover.type != FailoverType.PLANNED:
            return None
        critical = [m.friendly_name for m in self.members if m.replication_health == "Critical"]
        if not critical:
            return None
        return self.stall(
            Reason.REPLICATION_UNHEALTHY,
            f"Replication health is Critical for {', '.join(critical)}: a planned failover of "
            "the plan would fail. Fix replication, or use failover.type: Unplanned in a "
            "disaster.",
        )

    def member_vms(self) -> tuple[list[tuple[str, HyperVVM]], list[str], list[str]]:
        """(members read from Hyper-V, members unreadable with why, members not checked)."""
        hosts = {h.vm.lower(): h for h in self.spec.hyper_v or []}
        read, unreadable, unchecked = [], [], []
        for m in self.members:
            key = m.friendly_name.lower()
            if key not in hosts:
                unchecked.append(m.friendly_name)
            elif key in self.obs.member_vm_errors:
                unreadable.append(f"{m.friendly_name}: {self.obs.member_vm_errors[key]}")
            elif key in self.obs.member_vms:
                read.append((m.friendly_name, self.obs.member_vms[key]))
        return read, unreadable, unchecked

    def member_prechecks(self) -> Step | None:
        """Every member on a known host: no checkpoints, within Azure's limits."""
        planned = self.spec.failover.type == FailoverType.PLANNED
        read, unreadable, unchecked = self.member_vms()
        if len(read) + len(unreadable) + len(unchecked) < len(self.members):
            return Wait(Reason.WAITING, "Reading the plan's VMs from Hyper-V.", 5.0)
        if unreadable:
            message = f"Cannot read VMs of the plan from Hyper-V: {'; '.join(unreadable)}"
            self.source_checks = (
                ConditionStatus.UNKNOWN,
                Reason.SOURCE_CHECKS_UNAVAILABLE,
                message,
            )
            if planned:
                return self.stall(
                    Reason.SOURCE_CHECKS_UNAVAILABLE,
                    message + ". A planned failover needs healthy sources; fix WinRM access, "
                    "or use failover.type: Unplanned if the site is down.",
                )
            self.event(EventType.WARNING, "SourceChecksSkipped", message)
            return None
        failing = [(name, check_vm(vm)) for name, vm in read]
        failing = [(name, f) for name, f in failing if f]
        if failing:
            message = (
                f"Pre-checks failed for {len(failing)} of {len(self.members)} VMs: "
                + " ".join(f"{name}: {' '.join(x.message for x in f)}" for name, f in failing)
            )
            self.source_checks = (ConditionStatus.FALSE, Reason.CHECKS_FAILED, message)
            checkpoints = any(x.requirement == "NoCheckpoints" for _, f in failing for x in f)
            reason = Reason.CHECKPOINTS_PRESENT if checkpoints else Reason.AZURE_LIMITS_EXCEEDED
            return self.stall(reason, message, 30.0)
        if unchecked:
            self.source_checks = (
                ConditionStatus.UNKNOWN,
                Reason.CHECKS_SKIPPED,
                f"{len(read)} VMs passed; not checked (no host in spec.hyperV): "
                f"{', '.join(unchecked)}.",
            )
        else:
            self.source_checks = (
                ConditionStatus.TRUE,
                Reason.CHECKS_PASSED,
                f"All {len(read)} VMs: no checkpoints, within Azure limits.",
            )
        return None

    def member_sources_off(self) -> Step | None:
        read, unreadable, _ = self.member_vms()
        if unreadable:
            return self.stall(
                Reason.SOURCE_CHECKS_UNAVAILABLE,
                "Cannot check that the plan's on-premises VMs are off before failback: "
                + "; ".join(unreadable),
                30.0,
            )
        running = [name for name, vm in read if vm.state == PowerState.RUNNING]
        if running:
            return self.stall(
                Reason.SOURCE_VM_POWERED_ON,
                f"On-premises VMs of the plan are running: {', '.join(running)}; failback would "
                "overwrite them. Turn them off and leave them off: ASR starts them at the end "
                "of failback.",
                30.0,
            )
        return None

    def commit_approved(self) -> Step | None:
        seed = self.approval_seed()
        if self.spec.active_site == Site.ON_PREMISES:
            message = (
                "The plan's failover is not committed. The operator never cancels a failover; "
                "approve the commit and failback to on-premises follows."
            )
            return self.await_approval(ApprovalAction.COMMIT, seed, message)
        if self.spec.failover.commit == CommitMode.AUTOMATIC:
            return None
        message = f"The VMs of {self.target_label()} run in Azure; commit when validated."
        return self.await_approval(ApprovalAction.COMMIT, seed, message)

    # -- how each row's request is built -------------------------------------------------

    def failover(self) -> Intent:
        fo = self.spec.failover
        planned = fo.type == FailoverType.PLANNED
        return Intent(
            OperationType.FAILOVER,
            StartPlanFailover(planned, fo.recovery_point, fo.shutdown_source_vm or planned),
            # A planned failover sends no recovery point (ASR syncs, then uses the latest).
            recovery_point="" if planned else fo.recovery_point,
            detail=fo.type.value,
        )

    def drill(self) -> Intent:
        tf = self.spec.test_failover
        assert tf is not None
        self.update(
            test_failover=TestFailoverStatus(last_request_id=tf.request_id, started_at=self.ctx.now)
        )
        return Intent(
            OperationType.TEST_FAILOVER,
            StartPlanTestFailover(tf.network_id, tf.recovery_point),
            recovery_point=tf.recovery_point,
            detail=tf.request_id,
        )

    def cleanup(self) -> Intent:
        reason = self.cleanup_reason
        return Intent(
            OperationType.TEST_FAILOVER_CLEANUP,
            StartPlanTestFailoverCleanup(f"asr-operator: cleanup because {reason}"),
            detail=reason,
        )

    def refuse_point_change(self) -> Step:
        return self.stall(
            Reason.RECOVERY_POINT_CHANGE_NOT_SUPPORTED,
            f"The plan failed over to {self.status.applied_recovery_point}; spec asks for "
            f"{self.spec.failover.recovery_point}. ASR has no change of recovery point for a "
            "whole plan (only per VM): change it per VM in ASR, or set "
            "spec.failover.recoveryPoint back to commit.",
        )

    def failback(self) -> Intent:
        fb = self.spec.failback
        return Intent(
            OperationType.FAILBACK,
            StartPlanFailback(fb.data_sync.asr_value, fb.create_vm_if_not_found),
            detail=fb.data_sync.value,
        )

    def commit(self) -> Intent:
        return Intent(OperationType.COMMIT, StartPlanCommit())

    def commit_failback(self) -> Intent:
        return Intent(OperationType.FAILBACK_COMMIT, StartPlanCommit())

    def reverse(self) -> Intent:
        return Intent(OperationType.REVERSE_REPLICATION, StartPlanReprotect())


# --- The table: per state of the plan's VMs, the rows in order ---------------------------

M = PlanMachine
Op = OperationType

PlanMachine.TABLE = {
    ItemState.PROTECTED: (
        Row(
            M.wants_azure,
            Op.FAILOVER,
            (M.failover_allowed, M.retry, M.members_healthy, M.member_prechecks),
            M.failover,
            phase=Phase.VALIDATING,
        ),
        Row(
            M.drill_requested,
            Op.TEST_FAILOVER,
            (lambda m: m.allows(AsrOperation.TEST_FAILOVER), M.retry),
            M.drill,
        ),
    ),
    ItemState.TEST_ACTIVE: (
        Row(
            always,
            Op.TEST_FAILOVER_CLEANUP,
            (M.cleanup_due, lambda m: m.allows(AsrOperation.TEST_FAILOVER_CLEANUP), M.retry),
            M.cleanup,
        ),
    ),
    ItemState.COMMIT_PENDING: (
        Row(M.point_changed, None, (), M.refuse_point_change),
        Row(
            always,
            Op.COMMIT,
            (M.commit_approved, lambda m: m.allows(AsrOperation.COMMIT), M.retry),
            M.commit,
        ),
    ),
    ItemState.FAILED_OVER: (
        Row(
            M.wants_on_premises,
            Op.FAILBACK,
            (lambda m: m.allows(AsrOperation.PLANNED_FAILOVER), M.retry, M.member_sources_off),
            M.failback,
        ),
    ),
    ItemState.FAILBACK_COMMIT_PENDING: (
        Row(always, Op.FAILBACK_COMMIT, (M.failback_commit_approved, M.retry), M.commit_failback),
    ),
    ItemState.REVERSE_PENDING: (
        Row(always, Op.REVERSE_REPLICATION, (M.reverse_approved, M.retry), M.reverse),
    ),
}


# --- The plan job, per group and per VM --------------------------------------------------


def _children(job: AsrJob) -> list[AsrTask]:
    """The VMs' child tasks (JobTaskDetails) of the job's group tasks."""
    return [c for t in job.tasks for c in _vm_steps(t)]


def _vm_steps(task: AsrTask) -> list[AsrTask]:
    return [c for c in task.children if c.target_name or c.target_id]


def _task_errors(task: AsrTask) -> str:
    return "; ".join(f"{e.code}: {e.message}" for e in task.errors)


def _group_state(tasks: list[AsrTask]) -> str:
    states = {t.state for t in tasks}
    for s in (JobState.FAILED, JobState.SUSPENDED, JobState.IN_PROGRESS, JobState.CANCELLED):
        if s in states:
            return s.value
    if states <= {JobState.SUCCEEDED, JobState.OTHER}:
        return JobState.SUCCEEDED.value
    if JobState.SUCCEEDED in states:
        return JobState.IN_PROGRESS.value
    return JobState.NOT_STARTED.value


def _groups(job: AsrJob) -> list[GroupProgress]:
    by_group: dict[str, list[AsrTask]] = {}
    for t in job.tasks:
        if t.group:
            by_group.setdefault(t.group, []).append(t)
    out = []
    for name, tasks in by_group.items():
        children = [c for t in tasks for c in _vm_steps(t)]
        starts = [t.start_time for t in tasks if t.start_time is not None]
        ends = [t.end_time for t in tasks if t.end_time is not None]
        state = _group_state(tasks)
        finished = state in (JobState.SUCCEEDED.value, JobState.FAILED.value)
        out.append(
            GroupProgress(
                name=name,
                state=state,
                started_at=min(starts) if starts else None,
                ended_at=max(ends) if ends and finished else None,
                vms_done=sum(1 for c in children if c.state == JobState.SUCCEEDED),
                vms_total=len(children),
            )
        )
    return out


def _outcomes(vms: list[VMOutcome], job: AsrJob) -> list[VMOutcome]:
    """Each VM's part in the job: its worst child task, with ASR's message."""
    results: dict[str, tuple[str, str]] = {}
    for c in _children(job):
        key = c.target_name.lower()
        message = _task_errors(c)
        previous = results.get(key)
        if previous is None or previous[0] != JobState.FAILED.value:
            results[key] = (c.state.value, message)
    return [
        v.model_copy(
            update={"result": results[v.name.lower()][0], "message": results[v.name.lower()][1]}
        )
        if v.name.lower() in results
        else v
        for v in vms
    ]


def _progress(job: AsrJob) -> str:
    step = job.current_step
    if job.state.terminal:
        return f"{job.scenario} {job.state.value.lower()}."
    if step is None:
        return f"{job.scenario}: starting."
    top, task = step
    where = top.group or job.scenario
    if task.instructions:
        return f"{where}: waiting at manual action {task.name!r}."
    vms = _vm_steps(top)
    if vms and (task is top or task in vms):
        kind = top.group.split(" ")[0] if top.group else ""
        verb = _GROUP_VERB.get(kind, "starting")
        count = len(vms)
        return f"{where}: {verb} {count} VM{'' if count == 1 else 's'}."
    return f"{where}: {task.friendly_name or task.name}."
