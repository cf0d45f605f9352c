"""A pure in-memory world for the RecoveryPlan machine: a plan of three VMs, its jobs
walking Shutdown, Failover and Boot groups (with per-VM child tasks, manual actions and a
member VM failing), and the members' Hyper-V VMs.

Built on `lifecycle_world` (its items, VMs and controller loop); the plan's
allowedOperations are the simulator's. It counts every call, so tests can check the
invariants over whole lifecycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from asr_operator.api.recoveryplan import RecoveryPlanSpec, RecoveryPlanStatus
from asr_operator.lifecycle import recoveryplan as machine
from asr_operator.lifecycle.observation import Context, Observation
from asr_operator.lifecycle.observed import (
    AsrErrorDetail,
    AsrItem,
    AsrJob,
    AsrPlan,
    AsrPlanGroup,
    AsrTask,
    HyperVVM,
    JobState,
    PowerState,
)
from asr_operator.lifecycle.steps import (
    Accepted,
    Action,
    Outcome,
    Refusal,
    Refused,
    ResumeJob,
    StartPlanCommit,
    StartPlanFailback,
    StartPlanFailover,
    StartPlanReprotect,
    StartPlanTestFailover,
    StartPlanTestFailoverCleanup,
    Step,
)
from asr_operator.sim.asr.states import PLAN_ALLOWED
from tests.unit.lifecycle_world import T0, Reconciler, item, vm

VAULT = "/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
PLAN_ID = f"{VAULT}/replicationRecoveryPlans/plan-web"
# ASR names a plan job's target by the plan's internal id (not the ARM id) and its name.
PLAN_OBJECT_ID = "0c6b0d8e-7a51-4f2e-9b2a-5d1f3c4e6a7b"
# Boot 1 starts the database, Boot 2 the application and the web server.
BOOT: tuple[tuple[str, ...], ...] = (("DB01",), ("APP01", "WEB01"))
APPROVER = "alice@example.com"

# The plan's allowedOperations by the state its members share, as the simulator has them.
_SIM_PHASE = {
    "Protected": "Protected",
    "TestActive": "TestFailoverPending",
    "CommitPending": "PlannedFailoverCommitPending",
    "FailedOver": "FailedOver",
    "FailbackCommitPending": "FailbackCommitPending",
    "ReversePending": "FailbackCommitted",
}


def plan_ops(state: str) -> frozenset[str]:
    return frozenset(PLAN_ALLOWED[_SIM_PHASE[state]])


def item_id(name: str) -> str:
    container = f"{VAULT}/replicationFabrics/site/replicationProtectionContainers/c"
    return f"{container}/replicationProtectedItems/{name.lower()}"


def member(name: str, state: str = "Protected", **changes: object) -> AsrItem:
    return item(state, id=item_id(name), name=name.lower(), friendly_name=name, **changes)


def members_of(boots: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return tuple(n for group in boots for n in group)


def member_vm(name: str, power: PowerState = PowerState.OFF, **changes: object) -> HyperVVM:
    return vm(power, name=name, vm_id=name.lower(), **changes)


class Manual(NamedTuple):
    """A manual action of the plan: before ("start") or after ("end") Boot `group`."""

    group: int
    name: str
    instructions: str
    position: str = "end"


def asr_plan(
    state: str | None = "Protected",
    boots: tuple[tuple[str, ...], ...] = BOOT,
    manual: tuple[Manual, ...] = (),
    **changes: object,
) -> AsrPlan:
    """The plan as ASR lists it; `state` None: its VMs disagree (ASR then allows nothing)."""
    groups = [AsrPlanGroup("Shutdown", "Shutdown"), AsrPlanGroup("Failover", "Failover")]
    for n, names in enumerate(boots, start=1):
        groups.append(
            AsrPlanGroup(
                "Boot",
                f"Boot {n}",
                tuple(item_id(v) for v in names),
                start_manual_actions=tuple(
                    (a.name, a.instructions)
                    for a in manual
                    if a.group == n and a.position == "start"
                ),
                end_manual_actions=tuple(
                    (a.name, a.instructions) for a in manual if a.group == n and a.position == "end"
                ),
            )
        )
    base = AsrPlan(
        id=PLAN_ID,
        name="plan-web",
        friendly_name="plan-web",
        allowed_operations=plan_ops(state) if state else frozenset(),
        groups=tuple(groups),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def plan_spec(**changes: object) -> RecoveryPlanSpec:
    base: dict[str, object] = {
        "vaultRef": {"name": "vault"},
        "planName": "plan-web",
        "hyperV": [{"vm": n, "host": "hv-01"} for n in members_of(BOOT)],
    }
    base.update(changes)
    return RecoveryPlanSpec.model_validate(base)


def plan_obs(
    state: str = "Protected",
    power: PowerState = PowerState.OFF,
    boots: tuple[tuple[str, ...], ...] = BOOT,
    states: dict[str, str] | None = None,
    **kw: object,
) -> Observation:
    """A plan whose members all stand in `state` (or each in `states`), read from Hyper-V."""
    names = members_of(boots)
    per = {n: (states or {}).get(n, state) for n in names}
    common = state if len(set(per.values())) == 1 else None
    base: dict[str, object] = {
        "plan": asr_plan(common, boots),
        "members": tuple(member(n, per[n]) for n in names),
        "member_vms": {n.lower(): member_vm(n, power) for n in names},
    }
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


# --- Plan jobs ------------------------------------------------------------------------------


@dataclass
class PlanStep:
    """One task of a plan job: a group task with one child per VM, a manual action, a
    ForDownTime wait, or a plain task (commit, cleanup and reprotect jobs)."""

    name: str
    friendly_name: str
    group: str = ""
    vms: tuple[str, ...] = ()  # the group task's children
    instructions: str = ""
    suspends: bool = False
    skipped: bool = False  # children end Other (an unplanned failover leaves the source)
    state: JobState = JobState.NOT_STARTED
    started: datetime | None = None
    ended: datetime | None = None


def plan_steps(
    action: Action, boots: tuple[tuple[str, ...], ...], manual: tuple[Manual, ...] = ()
) -> list[PlanStep]:
    names = members_of(boots)
    if isinstance(action, StartPlanFailover | StartPlanTestFailover | StartPlanFailback):
        steps: list[PlanStep] = []
        if isinstance(action, StartPlanFailback) and action.data_sync == "ForDownTime":
            steps.append(PlanStep("RpSyncData", "Synchronize data", "Shutdown"))
            steps.append(
                PlanStep(
                    "RpWaitForCompleteFailover",
                    "Complete failover (waiting for user input)",
                    "Shutdown",
                    suspends=True,
                )
            )
        if not isinstance(action, StartPlanTestFailover):
            skip = isinstance(action, StartPlanFailover) and not action.shutdown_source
            steps.append(PlanStep("Shutdown", "Group Shutdown", "Shutdown", names, skipped=skip))
        steps.append(PlanStep("Failover", "Group Failover", "Failover", names))
        for n, group in enumerate(boots, start=1):
            actions = manual if isinstance(action, StartPlanFailover) else ()
            for a in (a for a in actions if a.group == n and a.position == "start"):
                steps.append(PlanStep(a.name, a.name, f"Boot {n}", (), a.instructions, True))
            steps.append(
                PlanStep(f"Group{n}", f"Group {n}: Start virtual machines", f"Boot {n}", group)
            )
            for a in (a for a in actions if a.group == n and a.position == "end"):
                steps.append(PlanStep(a.name, a.name, f"Boot {n}", (), a.instructions, True))
        return steps
    what = type(action).__name__.removeprefix("StartPlan")
    return [PlanStep(f"{what}-{n.lower()}", f"{what} {n}") for n in names]


_SCENARIO = {
    StartPlanTestFailover: "TestFailover",
    StartPlanTestFailoverCleanup: "TestFailoverCleanup",
    StartPlanCommit: "CommitFailover",
    StartPlanFailback: "PlannedFailover",
    StartPlanReprotect: "SwitchProtection",
}


def scenario_of(action: Action) -> str:
    if isinstance(action, StartPlanFailover):
        return "PlannedFailover" if action.planned else "UnplannedFailover"
    return _SCENARIO[type(action)]


@dataclass
class PlanJob:
    """A plan job and where it stands; `view()` is what ASR shows of it."""

    name: str
    action: Action
    run_id: str
    started: datetime
    steps: list[PlanStep]
    fail_vm: str = ""  # this VM's child fails at its Boot group
    fail_job: bool = False  # the first task fails (ASR refuses the whole job)
    state: JobState = JobState.IN_PROGRESS
    ended: datetime | None = None
    request_id: str = ""
    errors: tuple[AsrErrorDetail, ...] = ()

    @property
    def position(self) -> int | None:
        """The index of the task running, suspended or failed; None when none is."""
        for i, s in enumerate(self.steps):
            if s.state in (JobState.IN_PROGRESS, JobState.SUSPENDED, JobState.FAILED):
                return i
        return None

    def child(self, step: PlanStep, vm_name: str) -> AsrTask:
        state = step.state
        errors: tuple[AsrErrorDetail, ...] = ()
        if state == JobState.FAILED and vm_name == self.fail_vm:
            errors = (AsrErrorDetail("70094", "The VM did not start."),)
        elif state == JobState.FAILED:  # the others' part succeeded, or never began
            state = JobState.SUCCEEDED if self.fail_vm else JobState.NOT_STARTED
        elif state == JobState.SUCCEEDED and step.skipped:
            state = JobState.OTHER
        return AsrTask(
            f"{step.name}-{vm_name.lower()}",
            f"{step.friendly_name} ({vm_name})",
            state,
            target_name=vm_name,
            target_id=item_id(vm_name),
            errors=errors,
            start_time=step.started,
            end_time=step.ended,
        )

    def leaf(self, s: PlanStep) -> AsrTask:
        return AsrTask(
            s.name,
            s.friendly_name,
            s.state,
            instructions=s.instructions,
            start_time=s.started,
            end_time=s.ended,
        )

    def group_task(self, group: str, steps: list[PlanStep]) -> AsrTask:
        """As ASR shows a plan group: one task whose child tasks are the group's steps
        (a child per VM, the manual actions), its state that of its steps."""
        children = tuple(
            c for s in steps for c in ([self.child(s, v) for v in s.vms] or [self.leaf(s)])
        )
        states = {s.state for s in steps}
        state = next(
            (x for x in (JobState.FAILED, JobState.SUSPENDED, JobState.IN_PROGRESS) if x in states),
            None,
        )
        if state is None:
            done = states <= {JobState.SUCCEEDED, JobState.OTHER}
            started = bool(states & {JobState.SUCCEEDED, JobState.OTHER})
            state = (
                JobState.SUCCEEDED
                if done
                else JobState.IN_PROGRESS
                if started
                else JobState.NOT_STARTED
            )
        starts = [s.started for s in steps if s.started is not None]
        ends = [s.ended for s in steps if s.ended is not None]
        finished = state in (JobState.SUCCEEDED, JobState.FAILED)
        return AsrTask(
            steps[-1].name if len(steps) == 1 else f"{group}Group",
            f"Group {group}",
            state,
            group=group,
            children=children,
            start_time=min(starts) if starts else None,
            end_time=max(ends) if ends and finished else None,
        )

    def view(self) -> AsrJob:
        tasks: list[AsrTask] = []
        for s in self.steps:
            if not s.group:
                tasks.append(self.leaf(s))
            elif tasks and tasks[-1].group == s.group:
                members = [x for x in self.steps if x.group == s.group]
                tasks[-1] = self.group_task(s.group, members)
            else:
                tasks.append(self.group_task(s.group, [s]))
        suspended = self.state == JobState.SUSPENDED
        return AsrJob(
            name=self.name,
            scenario=scenario_of(self.action),
            state=self.state,
            state_description="WaitingForManualAction" if suspended else "",
            friendly_name=scenario_of(self.action),
            tasks=tuple(tasks),
            allowed_actions=frozenset({"Cancel", "Resume"} if suspended else {"Cancel"}),
            errors=self.errors,
            start_time=self.started,
            end_time=self.ended,
            client_request_id=self.request_id or None,
            target_object_id=PLAN_OBJECT_ID,
            target_object_name="plan-web",
            target_instance_type="RecoveryPlan",
        )

    def start_next(self, now: datetime) -> bool:
        """Start the next task; False when there is none."""
        nxt = next((s for s in self.steps if s.state == JobState.NOT_STARTED), None)
        if nxt is None:
            return False
        nxt.started = now
        nxt.state = JobState.SUSPENDED if nxt.suspends else JobState.IN_PROGRESS
        if nxt.suspends:
            self.state = JobState.SUSPENDED
        return True

    def fails_at(self, step: PlanStep) -> bool:
        if self.fail_job:
            return step is self.steps[0]
        return bool(self.fail_vm) and step.group.startswith("Boot") and self.fail_vm in step.vms


def job_errors(fail_vm: str) -> tuple[AsrErrorDetail, ...]:
    """ASR's errors of a failed plan job: for one VM, or for the whole job."""
    if fail_vm:
        return (AsrErrorDetail("70094", f"The operation failed for {fail_vm}."),)
    return (AsrErrorDetail("70000", "Prerequisites check failed."),)


def plan_job(
    action: Action,
    done: int = 0,
    state: JobState = JobState.IN_PROGRESS,
    boots: tuple[tuple[str, ...], ...] = BOOT,
    manual: tuple[Manual, ...] = (),
    name: str = "job-1",
    fail_vm: str = "",
    now: datetime = T0,
    request_id: str = "",
) -> AsrJob:
    """A plan job `done` tasks in, its next task in `state` (its last one when Succeeded)."""
    job = PlanJob(name, action, "r1", now, plan_steps(action, boots, manual), fail_vm)
    job.request_id = request_id
    for s in job.steps[:done]:
        s.state, s.started, s.ended = JobState.SUCCEEDED, now, now
    if state == JobState.SUCCEEDED:
        for s in job.steps:
            s.state, s.started, s.ended = JobState.SUCCEEDED, s.started or now, s.ended or now
        job.state, job.ended = JobState.SUCCEEDED, now
        return job.view()
    cur = job.steps[done]
    cur.started = now
    cur.state = state
    job.state = state
    if state == JobState.FAILED:
        cur.ended = now
        job.ended = now
        job.errors = job_errors(fail_vm)
    return job.view()


# --- The world ------------------------------------------------------------------------------

# The members' state once a job of that action succeeds (commit: by where they stand).
_EFFECT = {
    StartPlanFailover: "CommitPending",
    StartPlanFailback: "FailbackCommitPending",
    StartPlanReprotect: "Protected",
    StartPlanTestFailover: "TestActive",
    StartPlanTestFailoverCleanup: "Protected",
}
_COMMITTED = {"CommitPending": "FailedOver", "FailbackCommitPending": "ReversePending"}
# What the plan must allow, and the state its members must share, for each action.
_NEEDS: dict[type, tuple[str, tuple[str, ...]]] = {
    StartPlanTestFailover: ("TestFailover", ("Protected",)),
    StartPlanTestFailoverCleanup: ("TestFailoverCleanup", ("TestActive",)),
    StartPlanCommit: ("Commit", ("CommitPending", "FailbackCommitPending")),
    StartPlanFailback: ("PlannedFailover", ("FailedOver",)),
    StartPlanReprotect: ("ReverseReplicate", ("ReversePending",)),
}


@dataclass
class PlanWorld(Reconciler):
    """One recovery plan, its members, their jobs and Hyper-V VMs; and the controller's
    persisted status."""

    machine = machine

    spec: RecoveryPlanSpec
    states: dict[str, str] = field(default_factory=dict)  # member -> state (lifecycle_world)
    power: dict[str, PowerState] = field(default_factory=dict)
    boots: tuple[tuple[str, ...], ...] = BOOT
    manual: tuple[Manual, ...] = ()
    status: RecoveryPlanStatus = field(default_factory=RecoveryPlanStatus)
    now: datetime = T0
    generation: int = 1
    jobs: dict[str, PlanJob] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (action, run_id)
    job_runs: dict[str, str] = field(default_factory=dict)  # run_id -> job created for it
    violations: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    in_flight: list[tuple[datetime, Action, str, str]] = field(default_factory=list)
    # Tokens a human approved, with the suspension they were shown for (job, task index).
    approvals: dict[str, tuple[str, int] | None] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # member -> why Hyper-V fails
    conflicts: tuple[str, ...] = ()
    fail_vm: str = ""  # the next job that boots VMs fails this member
    fail_next_job: bool = False
    partial: str = ""  # the state a failed job left some members in (a human may finish it)

    def __post_init__(self) -> None:
        for n in members_of(self.boots):
            self.states.setdefault(n, "Protected")
            self.power.setdefault(n, PowerState.RUNNING)

    @property
    def names(self) -> tuple[str, ...]:
        return members_of(self.boots)

    def common(self) -> str | None:
        states = set(self.states.values())
        return states.pop() if len(states) == 1 else None

    # -- ASR side ------------------------------------------------------------------------

    def running(self) -> PlanJob | None:
        return next(
            (
                j
                for j in self.jobs.values()
                if j.state in (JobState.IN_PROGRESS, JobState.SUSPENDED)
            ),
            None,
        )

    def job_runs_by_name(self) -> dict[str, str]:
        return {j.name: j.run_id for j in self.jobs.values()}

    def call(self, action: Action, run_id: str, request_id: str = "") -> Outcome:
        self.calls.append((type(action).__name__, run_id))
        if isinstance(action, ResumeJob):
            return self.resume(action)
        running = self.running()
        if running is not None:
            self.violations.append(f"submit {type(action).__name__} while {running.name} runs")
            return Refused(Refusal.CONFLICT, "another operation is in progress")
        if run_id in self.job_runs:
            self.violations.append(f"second submit of intent {run_id}")
        common = self.common()
        if isinstance(action, StartPlanFailover):
            need, states = (
                ("PlannedFailover" if action.planned else "UnplannedFailover"),
                ("Protected",),
            )
        else:
            need, states = _NEEDS[type(action)]
        if common is None or need not in plan_ops(common) or common not in states:
            return Refused(Refusal.NOT_ALLOWED, f"{need} is not allowed on the plan now")
        name = f"job-{len(self.jobs) + 1}"
        job = PlanJob(name, action, run_id, self.now, plan_steps(action, self.boots, self.manual))
        job.request_id = request_id
        if self.fail_next_job:
            job.fail_job, self.fail_next_job = True, False
        elif self.fail_vm and any(s.group.startswith("Boot") for s in job.steps):
            job.fail_vm, self.fail_vm = self.fail_vm, ""
        job.start_next(self.now)
        self.jobs[name] = job
        self.job_runs[run_id] = name
        return Accepted(name)

    def resume(self, action: ResumeJob) -> Outcome:
        job = self.jobs.get(action.job_name)
        if job is None or job.state != JobState.SUSPENDED:
            self.violations.append(f"resume of {action.job_name}, which is not suspended")
            return Refused(Refusal.NOT_ALLOWED, "job is not suspended")
        at = job.position
        assert at is not None
        if self.approvals.get(self.spec.approve) != (job.name, at):
            self.violations.append(
                f"resume of {job.name} at {job.steps[at].name} without its approval"
            )
        if not action.comments:
            self.violations.append("resume without a comment")
        step = job.steps[at]
        step.state, step.ended = JobState.SUCCEEDED, self.now
        job.state = JobState.IN_PROGRESS
        if not job.start_next(self.now):
            self.finish(job)
        return Accepted(job.name)

    def tick(self) -> None:
        """The running job finishes its current task and starts the next."""
        job = self.running()
        if job is None or job.state == JobState.SUSPENDED:
            return
        at = job.position
        assert at is not None
        step = job.steps[at]
        step.ended = self.now
        if job.fails_at(step):
            step.state = JobState.FAILED
            job.state, job.ended = JobState.FAILED, self.now
            job.errors = job_errors("" if job.fail_job else job.fail_vm)
            self.effects(job, failed_at=at)
            return
        step.state = JobState.SUCCEEDED
        shuts_down = isinstance(job.action, StartPlanFailover) and not step.skipped
        if step.group == "Shutdown" and shuts_down:
            for n in step.vms:
                self.power[n] = PowerState.OFF
        if not job.start_next(self.now):
            self.finish(job)

    def finish(self, job: PlanJob) -> None:
        job.state, job.ended = JobState.SUCCEEDED, self.now
        self.effects(job, failed_at=None)

    def effects(self, job: PlanJob, failed_at: int | None) -> None:
        """Each VM whose part finished takes the job's effect; the others stay as they were."""
        if job.fail_job:
            return
        moved = set(self.names)
        if failed_at is not None:
            booted = [
                v for s in job.steps[: failed_at + 1] if s.group.startswith("Boot") for v in s.vms
            ]
            moved = {v for v in booted if v != job.fail_vm}
        for n in moved:
            if isinstance(job.action, StartPlanCommit):
                self.states[n] = _COMMITTED[self.states[n]]
            else:
                self.states[n] = _EFFECT[type(job.action)]
            if isinstance(job.action, StartPlanFailback):
                self.power[n] = PowerState.RUNNING
        if failed_at is not None and moved:
            self.partial = _EFFECT[type(job.action)]

    def repair(self) -> None:
        """A human restarts the failed plan job in ASR: the VMs left behind catch up."""
        if self.partial and self.running() is None:
            for n in self.names:
                self.states[n] = self.partial
            self.partial = ""

    # -- controller side -----------------------------------------------------------------

    def plan_view(self) -> AsrPlan:
        running = self.running()
        last = max(self.jobs.values(), key=lambda j: j.started, default=None)
        common = None if running is not None else self.common()
        return asr_plan(
            common,
            self.boots,
            self.manual,
            current_scenario=scenario_of(last.action) if last else None,
            current_job_name=last.name if last else None,
            current_scenario_status=last.state.value if last else "",
        )

    def member_views(self) -> tuple[AsrItem, ...]:
        running = self.running()
        out = []
        for n in self.names:
            m = member(n, self.states[n])
            if running is not None:  # ASR allows nothing on a VM while its job runs
                m = replace(
                    m,
                    allowed_operations=frozenset(),
                    current_scenario=scenario_of(running.action),
                    current_job_name=f"{running.name}-{n.lower()}",
                )
            out.append(m)
        return tuple(out)

    def observe(self) -> Observation:
        w = machine.wants(self.spec, self.status)
        job = self.jobs[w.job_name].view() if w.job_name and w.job_name in self.jobs else None
        intent = None
        if w.job_lookup_since is not None:
            intent = tuple(j.view() for j in self.jobs.values() if j.started >= w.job_lookup_since)
        vms, errors = {}, {}
        if w.hyperv:  # only what the lifecycle asked for, so narrow requests are tested too
            for n in self.names:
                if n in self.unreadable:
                    errors[n.lower()] = self.unreadable[n]
                else:
                    vms[n.lower()] = member_vm(n, self.power[n])
        return Observation(
            plan=self.plan_view(),
            members=self.member_views(),
            job=job,
            intent_jobs=intent,
            member_vms=vms,
            member_vm_errors=errors,
            plan_conflicts=self.conflicts,
        )

    def ctx(self) -> Context:
        return Context(
            generation=self.generation, now=self.now, poll_interval=30.0, approved_by=APPROVER
        )

    def approve_pending(self) -> None:
        gate = self.status.awaiting_approval
        if gate is not None and self.spec.approve != gate.token:
            job = self.running()
            at = job.position if job is not None else None
            suspension = (job.name, at) if job is not None and at is not None else None
            self.approvals.setdefault(gate.token, suspension)
            self.edit({"approve": gate.token})
