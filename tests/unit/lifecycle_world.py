"""A pure in-memory world for driving the lifecycle: a toy ASR item, its jobs and a Hyper-V VM.

It models only what the lifecycle reads (allowedOperations, activeLocation, jobs) and
counts every call, so tests can check the invariants over whole lifecycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from asr_operator.api.protectedvm import ProtectedVMSpec, ProtectedVMStatus
from asr_operator.lifecycle import protectedvm as machine
from asr_operator.lifecycle.observation import Context, Observation
from asr_operator.lifecycle.observed import (
    ActiveLocation,
    AsrItem,
    AsrJob,
    AsrTask,
    AzureVmObserved,
    ComputeSize,
    HyperVDisk,
    HyperVVM,
    PowerState,
    RecoveryPoint,
    TargetSettings,
)
from asr_operator.lifecycle.steps import (
    Accepted,
    Action,
    Done,
    Outcome,
    Probe,
    ProbeResult,
    Refusal,
    Refused,
    ResumeJob,
    ShutdownResult,
    ShutdownSourceVM,
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
)

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)

PROTECTED_OPS = frozenset(
    {"PlannedFailover", "UnplannedFailover", "TestFailover", "DisableProtection"}
)
STATES: dict[str, tuple[ActiveLocation, frozenset[str]]] = {
    "Protected": (ActiveLocation.PRIMARY, PROTECTED_OPS),
    "TestActive": (ActiveLocation.PRIMARY, frozenset({"TestFailoverCleanup"})),
    "CommitPending": (
        ActiveLocation.RECOVERY,
        frozenset({"Commit", "ChangePit", "DisableProtection"}),
    ),
    "FailedOver": (ActiveLocation.RECOVERY, frozenset({"Failback", "DisableProtection"})),
    "FailbackCommitPending": (ActiveLocation.PRIMARY, frozenset({"Commit"})),
    "ReversePending": (
        ActiveLocation.PRIMARY,
        frozenset({"ReverseReplicate", "DisableProtection"}),
    ),
}


# The failed-over VM as ARM shows it (azure/compute.py reads it after a failover).
AZURE_VM = AzureVmObserved(
    id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web01",
    name="web01",
    size="Standard_D2s_v3",
    power_state="running",
    os_type="Windows",
    private_ips=("127.0.0.1",),
)


def item(state: str = "Protected", **changes: object) -> AsrItem:
    loc, ops = STATES[state]
    base = AsrItem(
        id="/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/"
        "replicationFabrics/site/replicationProtectionContainers/c/replicationProtectedItems/vm1",
        name="vm1",
        friendly_name="WEB01",
        fabric="site",
        container="c",
        protection_state=state,
        active_location=loc,
        allowed_operations=ops,
        rpo_seconds=30,
        target=TargetSettings(vm_name="web01", size="Standard_D2s_v3"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# ASR names recovery points by GUID; the spec admits no other name.
P1, P2, P3 = (f"0689d0d0-3518-4793-8c98-c26bf94526f{n}" for n in (1, 2, 3))
POINTS = (
    RecoveryPoint("/rp/p1", P1, T0 - timedelta(minutes=30), "ApplicationConsistent"),
    RecoveryPoint("/rp/p2", P2, T0 - timedelta(minutes=10), "CrashConsistent"),
    RecoveryPoint("/rp/p3", P3, T0 - timedelta(minutes=5), "CrashConsistent"),
)
# A virtual network id as admission wants it (the drill's isolated network).
DRILL_NET = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-net/providers/"
    "Microsoft.Network/virtualNetworks/drill"
)


SIZES = (ComputeSize("Standard_D2s_v3"), ComputeSize("Standard_D4s_v3"))


def vm(state: PowerState = PowerState.RUNNING, **changes: object) -> HyperVVM:
    disks = (HyperVDisk("C:\\VMs\\WEB01\\os.vhdx", "VHDX", 127, True),)
    base = HyperVVM("WEB01", "vm1", state, 2, disks=disks, host="hv-01")
    return replace(base, **changes)  # type: ignore[arg-type]


def spec(**changes: object) -> ProtectedVMSpec:
    base: dict[str, object] = {
        "vaultRef": {"name": "vault"},
        "protectedItem": {"name": "WEB01"},
        "hyperV": {"host": "hv-01", "vmName": "WEB01"},
    }
    base.update(changes)
    return ProtectedVMSpec.model_validate(base)


# The effect of each action's job once it succeeds: item state after.
_EFFECT = {
    StartFailover: "CommitPending",
    StartCommit: None,  # depends on where the item is
    StartApplyRecoveryPoint: "CommitPending",
    StartFailback: "FailbackCommitPending",
    StartReprotect: "Protected",
    StartTestFailover: "TestActive",
    StartTestFailoverCleanup: "Protected",
    StartUpdateTarget: None,
}
_NEEDS = {
    StartFailover: None,  # planned or unplanned, checked below
    StartCommit: "Commit",
    StartApplyRecoveryPoint: "ChangePit",
    StartFailback: "Failback",
    StartReprotect: "ReverseReplicate",
    StartTestFailover: "TestFailover",
    StartTestFailoverCleanup: "TestFailoverCleanup",
    StartUpdateTarget: None,
}


@dataclass
class FakeJob:
    name: str
    action: Action
    run_id: str
    started: datetime
    ticks_left: int
    fail: bool = False
    suspend_at: int | None = None
    state: str = "InProgress"
    request_id: str = ""

    def view(self) -> AsrJob:
        from asr_operator.lifecycle.observed import JobState

        total = 4
        done = total - min(self.ticks_left, total)
        tasks = tuple(
            AsrTask(f"t{i}", f"Task {i}", JobState.SUCCEEDED if i < done else JobState.NOT_STARTED)
            for i in range(total)
        )
        return AsrJob(
            name=self.name,
            scenario=type(self.action).__name__,
            state=JobState(self.state),
            tasks=tasks,
            start_time=self.started,
            target_object_id="vm1",
            errors=(),
            client_request_id=self.request_id or None,
        )


# How late a request the client gave up on reaches ASR (seconds), by its request id.
LATE_BY = (0, 70, 150, 280)


class Reconciler:
    """The controller side of a world, whatever the kind: observe, decide, persist,
    perform, record, persist. A world gives `machine` (the kind's lifecycle module), its
    spec, status, clock and records, and `observe`, `ctx`, `call`, `tick`, `running`.
    """

    machine: Any
    spec: Any
    status: Any
    now: datetime
    generation: int
    steps: list[Step]
    violations: list[str]
    in_flight: list[tuple[datetime, Action, str, str]]

    def observe(self) -> Observation:
        raise NotImplementedError

    def ctx(self) -> Context:
        raise NotImplementedError

    def call(self, action: Action, run_id: str, request_id: str = "") -> Outcome:
        raise NotImplementedError

    def tick(self) -> None:
        raise NotImplementedError

    def running(self) -> object | None:
        raise NotImplementedError

    def perform(self, step: Step, probe_ok: bool) -> Outcome | None:
        """What the controller does for a step that is not an ASR call."""
        return None

    def edit(self, changes: dict[str, object]) -> None:
        """Apply spec edits by dotted camelCase path; a real change bumps the generation."""
        data = self.spec.model_dump(by_alias=True, exclude_none=True)
        for path, value in changes.items():
            *parents, last = path.split(".")
            node = data
            for k in parents:
                node = node.setdefault(k, {})
            node[last] = value
        new = type(self.spec).model_validate(data)
        if new != self.spec:
            self.spec = new
            self.generation += 1

    def approve_pending(self) -> None:
        gate = self.status.awaiting_approval
        if gate is not None and self.spec.approve != gate.token:
            self.edit({"approve": gate.token})

    def cycle(self, crash: str = "", probe_ok: bool = True) -> Step:
        """One reconcile: observe, decide, persist, perform, record, persist.

        crash: "" | "before-call" (intent persisted, never sent) |
               "lost-response" (sent, the answer never arrived) |
               "dropped" (the connection dropped before ASR took it; the client knows the
               answer is lost) | "late" (the client gave up; the request reaches ASR at a
               later cycle, within the request lifetime).
        """
        self.deliver_late()
        decision = self.machine.decide(self.spec, self.status, self.observe(), self.ctx())
        self.status = decision.status
        step = decision.step
        self.steps.append(step)
        self.check_status()
        outcome: Outcome | None = None
        if isinstance(step, Submit):
            op = self.status.operation
            if op is None:
                self.violations.append("Submit without a persisted intent")
                return step
            if crash == "before-call":
                return step
            if crash in ("dropped", "late"):
                if crash == "late":
                    self.in_flight.append((self.now, step.action, op.run_id, step.request_id))
                outcome = Refused(Refusal.UNANSWERED, "no answer")
                self.status, _, _ = self.machine.record(
                    self.spec, self.status, step, outcome, self.ctx()
                )
                return step
            outcome = self.call(step.action, op.run_id, step.request_id)
            if crash == "lost-response":
                return step
        else:
            outcome = self.perform(step, probe_ok)
        if outcome is not None:
            self.status, _, _ = self.machine.record(
                self.spec, self.status, step, outcome, self.ctx()
            )
            self.check_status()
        return step

    def deliver_late(self) -> None:
        """Requests the client gave up on reach ASR now, if still alive; their answer is
        never seen."""
        lifetime = timedelta(seconds=self.ctx().request_lifetime)
        pending, self.in_flight = self.in_flight, []
        for sent, action, run_id, rid in pending:
            # Each request is late by its own delay, up to just under the lifetime.
            late = timedelta(seconds=LATE_BY[int(rid[:8] or "0", 16) % len(LATE_BY)])
            if self.now - sent >= lifetime:
                continue  # it died on the way
            if self.now - sent >= min(late, lifetime - timedelta(seconds=1)):
                self.call(action, run_id, rid)
            else:
                self.in_flight.append((sent, action, run_id, rid))

    def check_history(self) -> None:
        """Every history entry names a job its own operation created, or none."""
        runs = self.job_runs_by_name()
        for h in self.status.history:
            if h.job_name and runs.get(h.job_name) != h.run_id:
                self.violations.append(
                    f"{h.type} {h.run_id} recorded with job {h.job_name} of {runs.get(h.job_name)}"
                )

    def job_runs_by_name(self) -> dict[str, str]:
        raise NotImplementedError

    def check_status(self) -> None:
        self.check_history()
        for c in self.status.conditions:
            if c.type == "Stalled" and c.status == "True" and not (c.reason and c.message):
                self.violations.append(f"Stalled without reason/message: {c}")
            if c.observed_generation != self.generation:
                self.violations.append("condition without current observedGeneration")

    def advance(self, seconds: float = 31.0) -> None:
        self.now += timedelta(seconds=seconds)

    def settle(self, cycles: int = 80, approve: bool = True) -> None:
        """Run without faults until nothing is left to do."""
        quiet = 0
        for _ in range(cycles):
            if approve:
                self.approve_pending()
            step = self.cycle()
            self.tick()
            self.advance()
            quiet = quiet + 1 if isinstance(step, Done) and self.running() is None else 0
            if quiet >= 3:
                return


@dataclass
class World(Reconciler):
    """One item, its jobs, its Hyper-V VM; and the controller's persisted status."""

    machine = machine

    spec: ProtectedVMSpec
    state: str = "Protected"
    power: PowerState = PowerState.RUNNING
    target: TargetSettings = field(
        default_factory=lambda: TargetSettings(vm_name="web01", size="Standard_D2s_v3")
    )
    status: ProtectedVMStatus = field(default_factory=ProtectedVMStatus)
    now: datetime = T0
    generation: int = 1
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (action, run_id)
    job_runs: dict[str, str] = field(default_factory=dict)  # run_id -> job created for it
    violations: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    fail_next_job: bool = False
    job_ticks: int = 2
    in_flight: list[tuple[datetime, Action, str, str]] = field(default_factory=list)

    def job_runs_by_name(self) -> dict[str, str]:
        return {j.name: j.run_id for j in self.jobs.values()}

    # -- ASR side -------------------------------------------------------------------

    def running(self) -> FakeJob | None:
        return next((j for j in self.jobs.values() if j.state in ("InProgress", "Suspended")), None)

    def call(self, action: Action, run_id: str, request_id: str = "") -> Outcome:
        self.calls.append((type(action).__name__, run_id))
        if isinstance(action, ResumeJob):
            job = self.jobs.get(action.job_name)
            if job is None or job.state != "Suspended":
                return Refused(Refusal.NOT_ALLOWED, "job is not suspended")
            job.state = "InProgress"
            return Accepted(job.name)
        running = self.running()
        if running is not None:
            self.violations.append(f"submit {type(action).__name__} while {running.name} runs")
            return Refused(Refusal.CONFLICT, "another operation is in progress")
        if run_id in self.job_runs:
            self.violations.append(f"second submit of intent {run_id}")
        _, ops = STATES[self.state]
        need = _NEEDS[type(action)]
        if isinstance(action, StartFailover):
            need = "PlannedFailover" if action.planned else "UnplannedFailover"
        if need is not None and need not in ops:
            return Refused(Refusal.NOT_ALLOWED, f"{need} is not allowed in {self.state}")
        name = f"job-{len(self.jobs) + 1}"
        suspend = (
            1 if isinstance(action, StartFailback) and action.data_sync == "ForDownTime" else None
        )
        self.jobs[name] = FakeJob(
            name,
            action,
            run_id,
            self.now,
            self.job_ticks,
            self.fail_next_job,
            suspend,
            request_id=request_id,
        )
        self.fail_next_job = False
        self.job_runs[run_id] = name
        return Accepted(name)

    def tick(self) -> None:
        job = self.running()
        if job is None or job.state == "Suspended":
            return
        job.ticks_left -= 1
        if job.suspend_at is not None and job.ticks_left == job.suspend_at:
            job.state = "Suspended"
            job.suspend_at = None
            return
        if job.ticks_left > 0:
            return
        if job.fail:
            job.state = "Failed"
            return
        job.state = "Succeeded"
        action = job.action
        if isinstance(action, StartCommit):
            self.state = "FailedOver" if self.state == "CommitPending" else "ReversePending"
        elif isinstance(action, StartUpdateTarget):
            self.target = action.settings
        else:
            effect = _EFFECT[type(action)]
            assert effect is not None
            self.state = effect
        if isinstance(action, StartFailover) and action.shutdown_source:
            self.power = PowerState.OFF
        if isinstance(action, StartFailback):
            self.power = PowerState.RUNNING

    # -- controller side ------------------------------------------------------------

    def observe(self) -> Observation:
        w = machine.wants(self.spec, self.status)
        running = self.running()
        it = item(
            self.state,
            target=self.target,
            current_scenario=type(running.action).__name__ if running else None,
            current_job_name=running.name if running else None,
        )
        job = self.jobs[w.job_name].view() if w.job_name and w.job_name in self.jobs else None
        intent = None
        if w.job_lookup_since is not None:
            intent = tuple(j.view() for j in self.jobs.values() if j.started >= w.job_lookup_since)
        recovery, _ = machine.azure_vm_reads(self.status, it, job)
        return Observation(
            item=it,
            job=job,
            azure_vm=AZURE_VM if recovery else None,
            intent_jobs=intent,
            # Only what the lifecycle asked for, so narrow requests are tested too.
            recovery_points=POINTS if w.recovery_points else None,
            compute_sizes=SIZES if w.compute_sizes else None,
            hyperv=vm(self.power) if w.hyperv else None,
        )

    def ctx(self) -> Context:
        return Context(generation=self.generation, now=self.now, poll_interval=30.0)

    def perform(self, step: Step, probe_ok: bool) -> Outcome | None:
        """What the controller does for a step that is not an ASR call."""
        if isinstance(step, Probe):
            return ProbeResult(probe_ok, "open" if probe_ok else "refused")
        if isinstance(step, ShutdownSourceVM):
            self.power = PowerState.OFF
            return ShutdownResult(True, "turned off")
        return None
