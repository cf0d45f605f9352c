"""ASR jobs: the task-by-task runner and the job's wire shape (reference section 4)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asr_operator.sim.asr.faults import Faults, JobFailure

UNSET_TIME = "0001-01-01T00:00:00"


def wire_time(t: datetime | None) -> str:
    if t is None:
        return UNSET_TIME
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utcnow() -> datetime:
    return datetime.now(UTC)


Effect = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ChildJob:
    """What a plan's child task (JobTaskDetails) points at: one VM's part of the plan job."""

    job_id: str  # ARM id under the vault's replicationJobs (not served, docs/simulator.md)
    friendly_name: str
    target_id: str  # the VM id, as item jobs' targetObjectId
    target_name: str  # the VM's friendly name
    scenario: str

    def json(self) -> dict[str, str]:
        return {
            "jobId": self.job_id,
            "jobFriendlyName": self.friendly_name,
            "targetObjectId": self.target_id,
            "targetObjectName": self.target_name,
            "targetInstanceType": "ProtectionEntity",
            "jobScenarioName": self.scenario,
        }


@dataclass(frozen=True)
class PlanGroup:
    """A recovery plan group as its job shows it: one group task (GroupTaskDetails)."""

    name: str  # "Shutdown", "Failover", "Boot n"
    group_id: str
    rp_group_type: str  # Shutdown | Failover | Boot
    task_id: str
    task_name: str
    friendly_name: str

    @property
    def details_type(self) -> str:
        if self.rp_group_type == "Shutdown":
            return "RecoveryPlanShutdownGroupTaskDetails"
        return "RecoveryPlanGroupTaskDetails"


@dataclass
class SimTask:
    task_id: str
    name: str
    friendly_name: str
    effect: Effect | None = None
    # A task that suspends the job until it is resumed (manual action, ForDownTime).
    suspend: bool = False
    suspend_description: str = "WaitingForManualAction"
    # Run as the task suspends (a test failover releasing its VMs for the cleanup).
    on_suspend: Effect | None = None
    instructions: str = ""
    # The plan group this step belongs to; the job shows the group's steps as the
    # child tasks of one group task (job_json).
    group: PlanGroup | None = None
    state: str = "NotStarted"
    state_description: str = "NotStarted"
    start: datetime | None = None
    end: datetime | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    observation: str = ""
    # A plan's group task: one child task per VM, run (effect by effect) with the group.
    children: list[SimTask] = field(default_factory=list)
    # A child task: the VM's child job; `skip`: nothing to do for this VM (Other/Skipped);
    # `final`: the VM's last step in the job, where a failure targeted at the VM hits, and
    # whose success means the VM's part of the job is done.
    job_task: ChildJob | None = None
    skip: bool = False
    final: bool = False

    def set(self, state: str, description: str | None = None) -> None:
        self.state = state
        self.state_description = description or state

    def reset(self) -> None:
        self.set("NotStarted")
        self.errors.clear()
        self.start = self.end = None


@dataclass
class SimJob:
    action: str  # API action, e.g. "plannedFailover"
    scenario: str  # scenarioName
    friendly_name: str
    resource_id: str  # ARM id of the acted-on resource (Location goes under it)
    target_object_id: str
    target_object_name: str
    target_instance_type: str
    tasks: list[SimTask]
    custom_details: dict[str, Any]
    name: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "NotStarted"
    state_description: str = "NotStarted"
    start: datetime = field(default_factory=utcnow)
    end: datetime | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    cursor: int = 0
    failure: JobFailure | None = None
    # Failures targeted at member VMs of a plan job, by VM id (lower case).
    member_failures: dict[str, JobFailure] = field(default_factory=dict)
    on_success: Callable[[], None] | None = None
    on_failed: Callable[[], Awaitable[None]] | None = None
    on_restart: Callable[[], None] | None = None
    activity_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # The caller's x-ms-client-request-id; ASR echoes it at the head of activityId.
    client_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    resume_event: asyncio.Event | None = None
    runner: asyncio.Task[None] | None = None
    resume_comments: list[str] = field(default_factory=list)

    @property
    def allowed_actions(self) -> list[str]:
        if self.state == "InProgress" or self.state == "NotStarted":
            return ["Cancel"]
        if self.state == "Suspended":
            return ["Cancel", "Resume"]
        if self.state == "Failed":
            return ["Restart"]
        return []

    @property
    def terminal(self) -> bool:
        return self.state in ("Succeeded", "Failed", "Cancelled")

    def failure_hits(self, index: int) -> bool:
        f = self.failure
        if f is None:
            return False
        if isinstance(f.task, int):
            return f.task == index
        t = self.tasks[index]
        return f.task.lower() in (t.task_id.lower(), t.name.lower())

    @property
    def final_children(self) -> list[SimTask]:
        return [c for t in self.tasks for c in t.children if c.final]

    def member_failure(self, child: SimTask) -> JobFailure | None:
        if not child.final or child.job_task is None:
            return None
        return self.member_failures.get(child.job_task.target_id.lower())

    def done_targets(self) -> set[str]:
        """VM ids (lower case) whose part of this plan job finished."""
        return {
            c.job_task.target_id.lower()
            for c in self.final_children
            if c.job_task is not None and c.state == "Succeeded"
        }


def _task_json(t: SimTask) -> dict[str, Any]:
    """One step as an ASRTask: a VM's child task, a manual action or a plain task."""
    custom: dict[str, Any]
    if t.job_task is not None:
        custom = {"instanceType": "JobTaskDetails", "jobTask": t.job_task.json()}
        task_type = "JobTaskDetails"
    elif t.instructions:
        custom = {
            "instanceType": "ManualActionTaskDetails",
            "name": t.name,
            "instructions": t.instructions,
            "observation": t.observation,
        }
        task_type = "ManualActionTaskDetails"
    else:
        # A plain task as the official ReplicationJobs_Get example shows one.
        custom = {"instanceType": "ManualActionTaskDetails"}
        task_type = "TaskDetails"
    return {
        "taskId": t.task_id,
        "name": t.name,
        "startTime": wire_time(t.start),
        "endTime": wire_time(t.end),
        "allowedActions": [],
        "friendlyName": t.friendly_name,
        "state": t.state,
        "stateDescription": t.state_description,
        "taskType": task_type,
        "customDetails": custom,
        "groupTaskCustomDetails": None,
        "errors": t.errors,
    }


def _group_state(steps: list[SimTask]) -> tuple[str, str]:
    """A group task's state from its steps' (the children's) states."""
    states = {s.state for s in steps}
    for state in ("Failed", "Cancelled", "Suspended"):
        if state in states:
            desc = next(s.state_description for s in steps if s.state == state)
            return state, desc
    if "InProgress" in states:
        return "InProgress", "InProgress"
    if states <= {"Succeeded", "Other"}:
        return "Succeeded", "Completed"
    if states & {"Succeeded", "Other"}:
        return "InProgress", "InProgress"
    return "NotStarted", "NotStarted"


def _group_json(group: PlanGroup, steps: list[SimTask]) -> dict[str, Any]:
    """A plan group's task: its steps' children (the VMs' child tasks) and its other
    steps (manual actions, failback sync) as childTasks, in the order they run."""
    children = [_task_json(c) for s in steps for c in (s.children or [s])]
    state, desc = _group_state(steps)
    starts = [s.start for s in steps if s.start is not None]
    ends = [s.end for s in steps if s.end is not None]
    finished = state in ("Succeeded", "Failed", "Cancelled")
    return {
        "taskId": group.task_id,
        "name": group.task_name,
        "startTime": wire_time(min(starts) if starts else None),
        "endTime": wire_time(max(ends) if ends and finished else None),
        "allowedActions": [],
        "friendlyName": group.friendly_name,
        "state": state,
        "stateDescription": desc,
        "taskType": group.details_type,
        "customDetails": None,
        "groupTaskCustomDetails": {
            "instanceType": group.details_type,
            "childTasks": children,
            "name": group.name,
            "groupId": group.group_id,
            "rpGroupType": group.rp_group_type,
        },
        "errors": [e for s in steps for e in s.errors],
    }


def tasks_json(tasks: list[SimTask]) -> list[dict[str, Any]]:
    """A job's tasks: the steps of one plan group become that group's task."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(tasks):
        group = tasks[i].group
        if group is None:
            out.append(_task_json(tasks[i]))
            i += 1
            continue
        j = i
        while j < len(tasks) and tasks[j].group == group:
            j += 1
        out.append(_group_json(group, tasks[i:j]))
        i = j
    return out


def job_json(job: SimJob, vault_id: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "activityId": f"{job.client_request_id} ActivityId: {job.activity_id}",
        "scenarioName": job.scenario,
        "friendlyName": job.friendly_name,
        "state": job.state,
        "stateDescription": job.state_description,
        "tasks": tasks_json(job.tasks),
        "errors": job.errors,
        "startTime": wire_time(job.start),
        "allowedActions": job.allowed_actions,
        "targetObjectId": job.target_object_id,
        "targetObjectName": job.target_object_name,
        "targetInstanceType": job.target_instance_type,
        "customDetails": job.custom_details,
    }
    if job.end is not None:
        props["endTime"] = wire_time(job.end)
    return {
        "id": f"{vault_id}/replicationJobs/{job.name}",
        "name": job.name,
        "type": "Microsoft.RecoveryServices/vaults/replicationJobs",
        "properties": props,
    }


def job_error(f: JobFailure, task_id: str, message: str = "") -> dict[str, Any]:
    """A JobErrorDetails entry as ASR sends it (reference 4.1); `message` overrides f's."""
    return {
        "serviceErrorDetails": {
            "code": f.code,
            "message": message or f.message,
            "possibleCauses": f.possible_causes,
            "recommendedAction": f.recommended_action,
            "activityId": str(uuid.uuid4()),
        },
        "providerErrorDetails": None,
        "errorLevel": "Error",
        "creationTime": wire_time(utcnow()),
        "taskId": task_id,
    }


def operation_status_json(job: SimJob, cancelled_spelling: str) -> dict[str, Any]:
    """The generic ARM async-operation body of replicationOperationStatus (reference 2.3)."""
    status = {
        "Succeeded": "Succeeded",
        "Failed": "Failed",
        "Cancelled": cancelled_spelling,
    }.get(job.state, "InProgress")
    error = None
    if job.state == "Failed" and job.errors:
        d = job.errors[0]["serviceErrorDetails"]
        error = {"code": d["code"], "message": d["message"], "details": None}
    return {
        "error": error,
        "id": None,
        "name": job.name,
        "properties": None,
        "status": status,
        "startTime": wire_time(job.start),
        "endTime": wire_time(job.end) if job.end else None,
        "percentComplete": None,
    }


@dataclass
class JobRunner:
    """Runs jobs task by task on the simulator's event loop."""

    task_seconds: Callable[[], float]
    faults: Faults

    def start(self, job: SimJob) -> None:
        operations = (job.action, job.scenario)
        job.failure = self.faults.take_job_failure(
            operations, (job.target_object_id, job.target_object_name)
        )
        for child in job.final_children:  # a plan job: failures aimed at its member VMs
            ref = child.job_task
            assert ref is not None
            f = self.faults.take_job_failure(
                operations, (ref.target_id, ref.target_name), targeted=True
            )
            if f is not None:
                job.member_failures[ref.target_id.lower()] = f
        job.resume_event = asyncio.Event()
        job.state, job.state_description = "InProgress", "InProgress"
        job.runner = asyncio.get_running_loop().create_task(self._run(job))

    def resume(self, job: SimJob, comments: str) -> None:
        job.resume_comments.append(comments)
        assert job.resume_event is not None
        job.resume_event.set()

    def cancel(self, job: SimJob) -> None:
        if job.runner is not None:
            job.runner.cancel()

    def restart(self, job: SimJob) -> None:
        job.errors.clear()
        job.end = None
        job.failure = None
        job.member_failures.clear()
        t = job.tasks[job.cursor]
        t.reset()
        for c in t.children:  # the VMs whose part succeeded are not redone
            if c.state not in ("Succeeded", "Other"):
                c.reset()
        if job.on_restart is not None:
            job.on_restart()
        job.state, job.state_description = "InProgress", "InProgress"
        job.resume_event = asyncio.Event()
        job.runner = asyncio.get_running_loop().create_task(self._run(job))

    async def _run(self, job: SimJob) -> None:
        try:
            while job.cursor < len(job.tasks):
                i = job.cursor
                task = job.tasks[i]
                task.start = utcnow()
                if task.suspend:
                    task.set("Suspended", task.suspend_description)
                    job.state, job.state_description = "Suspended", task.suspend_description
                    if task.on_suspend is not None:
                        await task.on_suspend()
                    assert job.resume_event is not None
                    job.resume_event.clear()
                    await job.resume_event.wait()
                    job.state, job.state_description = "InProgress", "InProgress"
                    task.observation = job.resume_comments[-1] if job.resume_comments else ""
                else:
                    task.set("InProgress")
                    for c in task.children:
                        if c.state == "NotStarted":
                            c.set("InProgress")
                            c.start = task.start
                    await asyncio.sleep(self.task_seconds())
                if job.failure_hits(i):
                    assert job.failure is not None
                    await self._fail(job, task, [job_error(job.failure, task.task_id)])
                    return
                errors = await self._run_children(job, task)
                if errors:
                    await self._fail(job, task, errors)
                    return
                if task.effect is not None:
                    await task.effect()
                task.set("Succeeded", "Completed")
                task.end = utcnow()
                job.cursor += 1
            job.state, job.state_description = "Succeeded", "Completed"
            job.end = utcnow()
            if job.on_success is not None:
                job.on_success()
        except asyncio.CancelledError:
            for t in job.tasks[job.cursor :]:
                for c in (t, *t.children):
                    if c.state in ("InProgress", "Suspended"):
                        c.set("Cancelled")
                        c.end = utcnow()
            job.state, job.state_description = "Cancelled", "Cancelled"
            job.end = utcnow()
            if job.on_failed is not None:
                with contextlib.suppress(Exception):
                    await job.on_failed()

    @staticmethod
    async def _run_children(job: SimJob, task: SimTask) -> list[dict[str, Any]]:
        """Each VM's step of a group task; the job errors of the VMs that failed."""
        errors = []
        for c in task.children:
            if c.state != "InProgress":
                continue  # done before a restart
            f = job.member_failure(c)
            if f is not None:
                c.set("Failed")
                c.errors.append(job_error(f, c.task_id))
                vm = c.job_task.target_name if c.job_task else c.name
                group = task.group.name if task.group else task.friendly_name
                message = f"The virtual machine '{vm}' failed in group '{group}': {f.message}"
                errors.append(job_error(f, task.task_id, message))
            elif c.skip:
                c.set("Other", "Skipped")
            else:
                if c.effect is not None:
                    await c.effect()
                c.set("Succeeded", "Completed")
            c.end = utcnow()
        return errors

    @staticmethod
    async def _fail(job: SimJob, task: SimTask, errors: list[dict[str, Any]]) -> None:
        now = utcnow()
        task.set("Failed")
        task.end = now
        task.errors.extend(errors)
        for c in task.children:
            if c.state == "InProgress":  # the group failed as a whole
                c.set("Failed")
                c.end = now
        job.errors.extend(errors)
        job.state, job.state_description = "Failed", "Failed"
        job.end = now
        if job.on_failed is not None:
            await job.on_failed()
