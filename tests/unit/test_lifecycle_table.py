"""Table tests: one row per transition of the ProtectedVM lifecycle (docs/lifecycle.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from asr_operator.api import protectedvm as pvm
from asr_operator.api.conditions import ConditionStatus, ConditionType, Reason, get_condition
from asr_operator.api.operation import CallAnswer, HistoryEntry, IntentAction
from asr_operator.api.protectedvm import (
    OperationStatus,
    OperationType,
    Phase,
    ProtectedVMStatus,
)
from asr_operator.lifecycle import protectedvm as machine
from asr_operator.lifecycle.observation import Context, Observation, ObservationError
from asr_operator.lifecycle.observed import (
    ActiveLocation,
    AsrErrorDetail,
    AsrJob,
    AsrTask,
    ComputeSize,
    HyperVDisk,
    JobState,
    NicSettings,
    PowerState,
    TargetSettings,
)
from asr_operator.lifecycle.steps import (
    Accepted,
    Action,
    Done,
    Probe,
    ProbeResult,
    Refusal,
    Refused,
    Release,
    ResumeJob,
    ShutdownSourceVM,
    Stall,
    StartApplyRecoveryPoint,
    StartCommit,
    StartFailback,
    StartFailover,
    StartPlanCommit,
    StartPlanFailback,
    StartPlanFailover,
    StartPlanReprotect,
    StartPlanTestFailover,
    StartPlanTestFailoverCleanup,
    StartReprotect,
    StartTestFailover,
    StartTestFailoverCleanup,
    StartUpdateTarget,
    Submit,
    Wait,
    action_from_intent,
    action_to_intent,
)
from tests.unit.lifecycle_world import AZURE_VM, DRILL_NET, P2, POINTS, T0, item, spec, vm

GONE = "0689d0d0-3518-4793-8c98-c26bf94526ff"  # a name no retained point has

CTX = Context(generation=1, now=T0)


def decide(s, obs, status=None, ctx=CTX):  # type: ignore[no-untyped-def]
    return machine.decide(s, status or ProtectedVMStatus(), obs, ctx)


def obs(state: str = "Protected", power: PowerState = PowerState.OFF, **kw: object) -> Observation:
    it = item(state)
    base: dict[str, object] = {
        "item": it,
        "recovery_points": POINTS,
        "hyperv": vm(power),
        # What ARM shows once the VM runs in Azure (the controller reads it then).
        "azure_vm": AZURE_VM if it.active_location == ActiveLocation.RECOVERY else None,
    }
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


def running_op(type_: OperationType, job: str = "job-1", **kw: object) -> ProtectedVMStatus:
    op = OperationStatus(
        run_id="r1",
        type=type_,
        requested_at=T0 - timedelta(minutes=1),
        generation=1,
        submitted=True,
        job_name=job,
        **kw,  # type: ignore[arg-type]
    )
    return ProtectedVMStatus(operation=op)


def job(state: JobState, name: str = "job-1", **kw: object) -> AsrJob:
    base: dict[str, object] = {
        "name": name,
        "scenario": "PlannedFailover",
        "state": state,
        "tasks": (
            AsrTask("a", "Prerequisites check", JobState.SUCCEEDED),
            AsrTask("b", "Start failover", state),
        ),
    }
    base.update(kw)
    return AsrJob(**base)  # type: ignore[arg-type]


# --- Resting states x desired site -> the step taken --------------------------------------

REST = [
    # (item state, spec changes, hyper-v power, expected step type, expected action / reason)
    ("Protected", {}, PowerState.RUNNING, Done, None),
    ("Protected", {"activeSite": "Azure"}, PowerState.RUNNING, Submit, StartFailover),
    (
        "Protected",
        {"activeSite": "Azure", "failover": {"type": "Unplanned"}},
        PowerState.RUNNING,
        Submit,
        StartFailover,
    ),
    (
        "Protected",
        {"testFailover": {"requestId": "d1", "networkId": DRILL_NET}},
        PowerState.RUNNING,
        Submit,
        StartTestFailover,
    ),
    ("CommitPending", {"activeSite": "Azure"}, PowerState.OFF, Wait, Reason.WAITING),  # approval
    (
        "CommitPending",
        {"activeSite": "Azure", "failover": {"commit": "Automatic"}},
        PowerState.OFF,
        Submit,
        StartCommit,
    ),
    ("CommitPending", {}, PowerState.OFF, Wait, Reason.WAITING),  # never cancels: asks to commit
    ("FailedOver", {"activeSite": "Azure"}, PowerState.OFF, Done, None),
    ("FailedOver", {}, PowerState.OFF, Submit, StartFailback),
    ("FailedOver", {}, PowerState.RUNNING, Stall, Reason.SOURCE_VM_POWERED_ON),
    ("FailbackCommitPending", {}, PowerState.RUNNING, Wait, Reason.WAITING),  # approval
    (
        "FailbackCommitPending",
        {"failback": {"commit": "Automatic"}},
        PowerState.RUNNING,
        Submit,
        StartCommit,
    ),
    ("ReversePending", {}, PowerState.RUNNING, Submit, StartReprotect),
    ("ReversePending", {"reverseReplication": "Manual"}, PowerState.RUNNING, Wait, Reason.WAITING),
    ("ReversePending", {"activeSite": "Azure"}, PowerState.RUNNING, Submit, StartReprotect),
    (
        "FailedOver",
        {"activeSite": "Azure", "failover": {"type": "Unplanned"}},
        PowerState.RUNNING,
        ShutdownSourceVM,
        None,
    ),
]


@pytest.mark.parametrize(("state", "changes", "power", "step_type", "detail"), REST)
def test_resting_transitions(state, changes, power, step_type, detail):  # type: ignore[no-untyped-def]
    d = decide(spec(**changes), obs(state, power))
    assert isinstance(d.step, step_type), d.step
    if step_type is Submit:
        assert isinstance(d.step.action, detail)
        assert d.status.operation is not None and not d.status.operation.submitted
    elif detail is not None:
        assert d.step.reason == detail
    assert d.status.observed_generation == 1
    for c in d.status.conditions:
        assert c.observed_generation == 1


def test_changing_recovery_point_before_commit_applies_it():
    status = ProtectedVMStatus(applied_recovery_point="Latest")
    s = spec(activeSite="Azure", failover={"recoveryPoint": "LatestProcessed"})
    d = decide(s, obs("CommitPending"), status)
    assert d.step == Submit(StartApplyRecoveryPoint("/rp/p3"))
    assert d.status.phase == Phase.CHANGING_RECOVERY_POINT
    done = running_op(OperationType.CHANGE_RECOVERY_POINT, recovery_point="LatestProcessed")
    d2 = decide(s, obs("CommitPending", job=job(JobState.SUCCEEDED)), done)
    assert d2.status.applied_recovery_point == "LatestProcessed"


def test_failover_sends_chosen_recovery_point_and_source_shutdown():
    d = decide(
        spec(
            activeSite="Azure",
            failover={"type": "Unplanned", "recoveryPoint": "LatestApplicationConsistent"},
        ),
        obs("Protected", PowerState.RUNNING),
    )
    assert d.step == Submit(
        StartFailover(planned=False, recovery_point_id="/rp/p1", shutdown_source=True)
    )
    assert d.status.phase == Phase.FAILING_OVER


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("Latest", None),
        ("LatestProcessed", "/rp/p3"),
        ("LatestApplicationConsistent", "/rp/p1"),
        (P2, "/rp/p2"),
    ],
)
def test_recovery_point_kinds(choice, expected):  # type: ignore[no-untyped-def]
    d = decide(spec(activeSite="Azure", failover={"recoveryPoint": choice}), obs())
    assert isinstance(d.step, Submit) and isinstance(d.step.action, StartFailover)
    assert d.step.action.recovery_point_id == expected


def test_unknown_recovery_point_stalls_before_anything_is_sent():
    d = decide(spec(activeSite="Azure", failover={"recoveryPoint": GONE}), obs())
    assert isinstance(d.step, Stall) and d.step.reason == Reason.RECOVERY_POINT_NOT_FOUND
    assert d.status.operation is None


GATES = [
    (obs(hyperv=vm(PowerState.RUNNING, checkpoints=("before-patch",))), Reason.CHECKPOINTS_PRESENT),
    (
        obs(hyperv=vm(PowerState.RUNNING, disks=(HyperVDisk("os.vhdx", "VHDX", 400, True),))),
        Reason.AZURE_LIMITS_EXCEEDED,
    ),
    (
        obs(item=item("Protected", allowed_operations=frozenset({"UnplannedFailover"}))),
        Reason.OPERATION_NOT_ALLOWED,
    ),
    (obs(item=item("Protected", replication_health="Critical")), Reason.REPLICATION_UNHEALTHY),
    (
        obs(hyperv=None, hyperv_error=ObservationError(Refusal.TRANSIENT, "host down")),
        Reason.SOURCE_CHECKS_UNAVAILABLE,
    ),
    (obs(owning_plan="plan-web"), Reason.OWNED_BY_RECOVERY_PLAN),
    (
        Observation(item_error=ObservationError(Refusal.NOT_FOUND, "no item WEB01")),
        Reason.ITEM_NOT_FOUND,
    ),
    (
        Observation(item_error=ObservationError(Refusal.AUTH_FAILED, "AADSTS7000215")),
        Reason.AUTHENTICATION_FAILED,
    ),
    (Observation(vault_ready=False, vault_message="vault missing"), Reason.VAULT_NOT_READY),
]


@pytest.mark.parametrize(("observation", "reason"), GATES)
def test_failover_gates_stall_with_reason(observation, reason):  # type: ignore[no-untyped-def]
    d = decide(spec(activeSite="Azure"), observation)
    assert isinstance(d.step, Stall), d.step
    assert d.step.reason == reason and d.step.message
    stalled = get_condition(d.status.conditions, ConditionType.STALLED)
    assert (
        stalled is not None and stalled.status == ConditionStatus.TRUE and stalled.reason == reason
    )
    assert d.status.operation is None  # nothing half-started
    assert d.status.phase == Phase.STALLED


def test_unplanned_failover_goes_on_when_hyperv_is_unreachable():
    d = decide(
        spec(activeSite="Azure", failover={"type": "Unplanned"}),
        obs(hyperv=None, hyperv_error=ObservationError(Refusal.TRANSIENT, "host down")),
    )
    assert isinstance(d.step, Submit)
    assert any(e.reason == "SourceChecksSkipped" for e in d.events)


def test_observe_only_never_acts():
    d = decide(spec(activeSite="Azure", managementPolicy="ObserveOnly"), obs())
    assert isinstance(d.step, Done) and d.status.phase == Phase.OBSERVING


def test_foreign_job_on_item_waits():
    d = decide(
        spec(activeSite="Azure"),
        obs(item=item(current_job_name="j9", current_scenario="TestFailover")),
    )
    assert isinstance(d.step, Wait) and d.step.reason == Reason.OPERATION_IN_PROGRESS


# --- Compute and Network settings --------------------------------------------------------


def test_target_drift_is_corrected_with_an_update_job():
    d = decide(
        spec(target={"size": "Standard_D4s_v3"}),
        obs(compute_sizes=(ComputeSize("Standard_D4s_v3"),)),
    )
    assert isinstance(d.step, Submit) and isinstance(d.step.action, StartUpdateTarget)
    assert d.step.action.settings.size == "Standard_D4s_v3"
    assert d.status.target is not None and not d.status.target.in_sync


def test_tag_name_azure_refuses_is_reported_before_sending():
    d = decide(spec(target={"tags": {"app/tier": "web"}}), obs())
    assert isinstance(d.step, Stall) and d.step.reason == Reason.INVALID_TARGET
    assert "target.tags" in d.step.message and "'app/tier'" in d.step.message


def test_target_size_azure_refuses_is_reported_before_sending():
    sizes = (ComputeSize("Standard_A1", ("Generation 2 VMs are not supported",)),)
    d = decide(spec(target={"size": "Standard_A1"}), obs(compute_sizes=sizes))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.INVALID_TARGET
    assert "Generation 2" in d.step.message


def test_target_in_sync_is_ready():
    o = obs(item=item(target=TargetSettings(vm_name="web-01", size="Standard_D2s_v3")))
    d = decide(spec(target={"vmName": "web-01"}), o)
    assert isinstance(d.step, Done)
    ready = get_condition(d.status.conditions, ConditionType.READY)
    assert ready is not None and ready.status == ConditionStatus.TRUE


# --- Commit, approval, validation ---------------------------------------------------------


def test_manual_commit_waits_for_token_then_commits():
    s = spec(activeSite="Azure")
    d = decide(s, obs("CommitPending"))
    gate = d.status.awaiting_approval
    assert gate is not None and gate.token.startswith("commit-")
    assert get_condition(d.status.conditions, ConditionType.AWAITING_APPROVAL).status == "True"  # type: ignore[union-attr]
    d2 = decide(spec(activeSite="Azure", approve=gate.token), obs("CommitPending"), d.status)
    assert d2.step == Submit(StartCommit())
    wrong = decide(
        spec(activeSite="Azure", approve="commit-00000000"), obs("CommitPending"), d.status
    )
    assert isinstance(wrong.step, Wait)


def approval_events(d, type_: str = "Normal", reason: str = "ApprovalRequired"):  # type: ignore[no-untyped-def]
    return [e for e in d.events if e.type == type_ and e.reason == reason]


def test_each_gate_posts_one_normal_event_with_its_token_when_it_opens():
    suspended = job(JobState.SUSPENDED, allowed_actions=frozenset({"Cancel", "Resume"}))
    drill = ProtectedVMStatus(
        test_failover=pvm.TestFailoverStatus(last_request_id="d1", started_at=T0)
    )
    gates = [
        (spec(activeSite="Azure"), obs("CommitPending"), None),
        (spec(), obs("FailedOver", job=suspended), running_op(OperationType.FAILBACK)),
        (spec(), obs("FailbackCommitPending"), None),
        (spec(**drill_spec()), obs("TestActive"), drill),
    ]
    for s, o, status in gates:
        d = decide(s, o, status)
        gate = d.status.awaiting_approval
        assert gate is not None, o
        opened = approval_events(d)
        assert len(opened) == 1 and gate.token in opened[0].message, gate.action
        again = decide(s, o, d.status, Context(generation=1, now=T0 + timedelta(minutes=3)))
        assert again.status.awaiting_approval == gate  # same token, same since
        assert approval_events(again) == [], gate.action


def test_an_approval_that_matches_no_open_gate_is_answered_and_nothing_proceeds():
    d = decide(spec(activeSite="Azure"), obs("CommitPending"))
    token = d.status.awaiting_approval.token  # type: ignore[union-attr]
    typo = spec(activeSite="Azure", approve="commit-0000000")
    wrong = decide(typo, obs("CommitPending"), d.status)
    assert isinstance(wrong.step, Wait)  # no commit
    warned = approval_events(wrong, "Warning", "ApprovalNotRecognized")
    assert len(warned) == 1 and "'commit-0000000'" in warned[0].message
    assert f"the token expected now is {token!r}" in warned[0].message
    gate = wrong.status.awaiting_approval
    assert gate is not None and gate.token == token and "matches no open gate" in gate.message
    condition = get_condition(wrong.status.conditions, ConditionType.AWAITING_APPROVAL)
    assert condition is not None and condition.status == ConditionStatus.TRUE
    assert condition.reason == Reason.APPROVAL_NOT_RECOGNIZED and token in condition.message
    # Said once; the gate keeps saying it while the value stays.
    again = decide(typo, obs("CommitPending"), wrong.status)
    assert approval_events(again, "Warning", "ApprovalNotRecognized") == []
    assert "matches no open gate" in again.status.awaiting_approval.message  # type: ignore[union-attr]
    right = decide(spec(activeSite="Azure", approve=token), obs("CommitPending"), again.status)
    assert right.step == Submit(StartCommit())


def test_an_approval_when_nothing_waits_says_so_and_an_accepted_token_is_no_error():
    typo = spec(approve="commit-deadbeef")
    d = decide(typo, obs())
    assert isinstance(d.step, Done) and d.status.awaiting_approval is None
    warned = approval_events(d, "Warning", "ApprovalNotRecognized")
    assert len(warned) == 1 and "nothing waits for approval" in warned[0].message
    condition = get_condition(d.status.conditions, ConditionType.AWAITING_APPROVAL)
    assert condition is not None and condition.status == ConditionStatus.FALSE
    assert condition.reason == Reason.APPROVAL_NOT_RECOGNIZED
    assert "nothing waits for approval" in condition.message
    assert approval_events(decide(typo, obs(), d.status), "Warning", "ApprovalNotRecognized") == []
    # A token that let its gate pass stays in spec afterwards: that is no mistake.
    gated = decide(spec(activeSite="Azure"), obs("CommitPending"))
    token = gated.status.awaiting_approval.token  # type: ignore[union-attr]
    passed = decide(spec(activeSite="Azure", approve=token), obs("CommitPending"), gated.status)
    assert passed.status.accepted_approval == token
    later = decide(spec(activeSite="Azure", approve=token), obs("FailedOver"), passed.status)
    assert approval_events(later, "Warning", "ApprovalNotRecognized") == []
    condition = get_condition(later.status.conditions, ConditionType.AWAITING_APPROVAL)
    assert condition is not None and condition.reason == Reason.NOTHING_TO_APPROVE


def test_status_reason_says_what_the_object_does_now():
    """status.reason (the -o wide REASON column): the stall, the open gate, the work."""
    drill = ProtectedVMStatus(
        test_failover=pvm.TestFailoverStatus(last_request_id="d1", started_at=T0)
    )
    checkpoints = obs(hyperv=vm(PowerState.RUNNING, checkpoints=("before-patch",)))
    running = job(JobState.IN_PROGRESS)
    cases = [
        (spec(), obs(), None, "Reconciled"),
        (spec(activeSite="Azure"), obs("CommitPending"), None, "CommitApproval"),
        (spec(**drill_spec()), obs("TestActive"), drill, "TestCleanupApproval"),
        (spec(activeSite="Azure"), checkpoints, None, "CheckpointsPresent"),
        (
            spec(activeSite="Azure"),
            obs(job=running),
            running_op(OperationType.FAILOVER),
            "OperationInProgress",
        ),
    ]
    for s, o, status, reason in cases:
        assert decide(s, o, status).status.reason == reason


def test_automatic_commit_probes_first_and_commits_once_reachable():
    s = spec(
        activeSite="Azure",
        failover={"commit": "Automatic", "validation": {"tcpPorts": [3389], "timeout": "5m"}},
    )
    d = decide(s, obs("CommitPending"))
    assert d.step == Probe((("127.0.0.1", 3389),))
    status, _events, _ = machine.record(s, d.status, d.step, ProbeResult(True, "3389 open"), CTX)
    assert status.validation is not None and status.validation.passed
    d2 = decide(s, obs("CommitPending"), status)
    assert d2.step == Submit(StartCommit())


def test_validation_timeout_waits_for_a_human():
    s = spec(
        activeSite="Azure",
        failover={"commit": "Automatic", "validation": {"tcpPorts": [22], "timeout": "1m"}},
    )
    d = decide(s, obs("CommitPending"))
    status, _, _ = machine.record(s, d.status, d.step, ProbeResult(False, "refused"), CTX)
    later = Context(generation=1, now=T0 + timedelta(minutes=2))
    d2 = decide(s, obs("CommitPending"), status, later)
    assert isinstance(d2.step, Wait) and d2.status.awaiting_approval is not None
    assert "did not answer" in d2.status.awaiting_approval.message
    gate = get_condition(d2.status.conditions, ConditionType.AWAITING_APPROVAL)
    assert gate is not None and gate.reason == Reason.VALIDATION_TIMED_OUT


def test_failed_probe_retries_at_the_vault_pace_and_no_later_than_the_timeout():
    s = spec(
        activeSite="Azure",
        failover={"commit": "Automatic", "validation": {"tcpPorts": [22], "timeout": "1m"}},
    )
    fast = Context(generation=1, now=T0, poll_interval=1.0)
    d = decide(s, obs("CommitPending"), ctx=fast)
    _, _, delay = machine.record(s, d.status, d.step, ProbeResult(False, "refused"), fast)
    assert delay == 1.0
    d = decide(s, obs("CommitPending"))
    late = Context(generation=1, now=T0 + timedelta(seconds=57), poll_interval=30.0)
    _, _, delay = machine.record(s, d.status, d.step, ProbeResult(False, "refused"), late)
    assert delay == 3.0  # the timeout passes before the next probe would be due


# --- Operations in flight ---------------------------------------------------------------------


def test_running_job_is_tracked_and_spec_changes_wait():
    status = running_op(OperationType.FAILOVER)
    d = decide(spec(activeSite="OnPremises"), obs(job=job(JobState.IN_PROGRESS)), status)
    assert isinstance(d.step, Wait) and d.step.reason == Reason.OPERATION_IN_PROGRESS
    assert d.status.operation is not None and d.status.operation.tasks_done == 1
    assert d.status.job.startswith("Failover 1/2")


def test_job_success_ends_the_operation_with_history():
    status = running_op(OperationType.FAILOVER, recovery_point="Latest")
    d = decide(spec(activeSite="Azure"), obs("CommitPending", job=job(JobState.SUCCEEDED)), status)
    assert d.status.operation is None
    assert d.status.last_operation is not None and d.status.last_operation.result == "Succeeded"
    assert d.status.history[0].duration_seconds == 60
    assert d.status.applied_recovery_point == "Latest"


def test_job_failure_retries_only_when_asr_allows():
    status = running_op(OperationType.FAILOVER)
    err = (AsrErrorDetail("70094", "Failover failed"),)
    d = decide(spec(activeSite="Azure"), obs(job=job(JobState.FAILED, errors=err)), status)
    assert d.status.failures is not None and d.status.failures.count == 1
    # Not allowed any more: Stalled with ASR's message.
    d2 = decide(
        spec(activeSite="Azure"),
        obs(item=item(allowed_operations=frozenset({"UnplannedFailover"}))),
        d.status,
    )
    assert isinstance(d2.step, Stall) and d2.step.reason == Reason.ASR_JOB_FAILED
    assert "70094" in d2.step.message
    # Allowed again: backoff, then a retry.
    d3 = decide(spec(activeSite="Azure"), obs(), d.status)
    assert isinstance(d3.step, Wait)
    later = Context(generation=1, now=T0 + timedelta(minutes=5))
    d4 = decide(spec(activeSite="Azure"), obs(), d.status, later)
    assert isinstance(d4.step, Submit)


def test_retries_are_bounded():
    from asr_operator.api.protectedvm import FailureMemo

    status = ProtectedVMStatus(
        failures=FailureMemo(
            type=OperationType.FAILOVER, generation=1, count=3, last_at=T0, message="x"
        )
    )
    d = decide(
        spec(activeSite="Azure"), obs(), status, Context(generation=1, now=T0 + timedelta(hours=1))
    )
    assert isinstance(d.step, Stall) and d.step.reason == Reason.RETRIES_EXHAUSTED


def test_forDownTime_failback_suspends_for_approval_then_resumes():
    status = running_op(OperationType.FAILBACK)
    suspended = job(JobState.SUSPENDED, allowed_actions=frozenset({"Cancel", "Resume"}))
    d = decide(spec(), obs("FailedOver", job=suspended), status)
    gate = d.status.awaiting_approval
    assert gate is not None and gate.action == "CompleteFailback"
    d2 = decide(spec(approve=gate.token), obs("FailedOver", job=suspended), d.status)
    assert d2.step == Submit(ResumeJob("job-1", "Approved through spec.approve"))
    assert d2.status.operation is not None and d2.status.operation.resume_requested_at is not None
    # Not re-sent while the resume is fresh.
    d3 = decide(spec(approve=gate.token), obs("FailedOver", job=suspended), d2.status)
    assert isinstance(d3.step, Wait)


def test_source_vm_powered_on_during_failback_refuses_to_resume():
    status = running_op(OperationType.FAILBACK)
    d = decide(spec(), obs("FailedOver", PowerState.RUNNING, job=job(JobState.SUSPENDED)), status)
    assert isinstance(d.step, Stall) and d.step.reason == Reason.SOURCE_VM_POWERED_ON


def test_hyperv_down_during_failover_warns_and_goes_on():
    status = running_op(OperationType.FAILOVER)
    o = obs(
        job=job(JobState.IN_PROGRESS),
        hyperv=None,
        hyperv_error=ObservationError(Refusal.TRANSIENT, "down"),
    )
    d = decide(spec(activeSite="Azure"), o, status)
    assert isinstance(d.step, Wait) and any(e.reason == "HyperVUnreachable" for e in d.events)


# --- Drills ---------------------------------------------------------------------------------------


def drill_spec(**tf: object) -> dict[str, object]:
    return {"testFailover": {"requestId": "d1", "networkId": DRILL_NET, **tf}}


def test_drill_cleanup_after_duration():
    status = running_op(OperationType.TEST_FAILOVER)
    status = status.model_copy(
        update={"test_failover": pvm.TestFailoverStatus(last_request_id="d1", started_at=T0)}
    )
    s = spec(**drill_spec(cleanupAfter="1h"))
    d = decide(s, obs("TestActive", job=job(JobState.SUCCEEDED)), status)
    assert (
        d.status.test_failover is not None
        and d.status.test_failover.cleanup_at == T0 + timedelta(hours=1)
    )
    d2 = decide(s, obs("TestActive"), d.status)
    assert isinstance(d2.step, Wait)
    d3 = decide(s, obs("TestActive"), d.status, Context(generation=1, now=T0 + timedelta(hours=1)))
    assert isinstance(d3.step, Submit) and isinstance(d3.step.action, StartTestFailoverCleanup)


def test_drill_cleanup_on_approval_and_on_failover_request():
    status = ProtectedVMStatus(
        test_failover=pvm.TestFailoverStatus(last_request_id="d1", started_at=T0)
    )
    d = decide(spec(**drill_spec()), obs("TestActive"), status)
    gate = d.status.awaiting_approval
    assert gate is not None and gate.action == "TestFailoverCleanup"
    d2 = decide(spec(**drill_spec(), approve=gate.token), obs("TestActive"), d.status)
    assert isinstance(d2.step, Submit) and isinstance(d2.step.action, StartTestFailoverCleanup)
    d3 = decide(spec(**drill_spec(), activeSite="Azure"), obs("TestActive"), status)
    assert isinstance(d3.step, Submit) and isinstance(d3.step.action, StartTestFailoverCleanup)


def test_drill_not_repeated_for_the_same_request():
    status = ProtectedVMStatus(test_failover=pvm.TestFailoverStatus(last_request_id="d1"))
    d = decide(spec(**drill_spec()), obs(), status)
    assert isinstance(d.step, Done)


def test_suspended_test_failover_job_means_drill_active():
    status = running_op(OperationType.TEST_FAILOVER)
    d = decide(spec(**drill_spec()), obs("TestActive", job=job(JobState.SUSPENDED)), status)
    assert d.status.operation is None
    assert not any(isinstance(d.step, Submit) and isinstance(d.step.action, ResumeJob) for _ in [0])


def test_drill_cleanup_goes_on_while_the_test_failover_job_waits_for_it():
    """ASR keeps the drill's job Suspended and names it in currentScenario until cleanup:
    that job holds nothing up, while any other job on the item does."""
    status = ProtectedVMStatus(
        test_failover=pvm.TestFailoverStatus(last_request_id="d1", started_at=T0)
    )
    waiting = item("TestActive", current_scenario="TestFailover", current_job_name="tfo-1")
    assert waiting.busy_job is None
    d = decide(spec(**drill_spec(), activeSite="Azure"), obs("TestActive", item=waiting), status)
    assert isinstance(d.step, Submit) and isinstance(d.step.action, StartTestFailoverCleanup)
    other = replace(waiting, current_scenario="UpdateVmProperties")
    d = decide(spec(**drill_spec(), activeSite="Azure"), obs("TestActive", item=other), status)
    assert isinstance(d.step, Wait) and d.step.reason == Reason.OPERATION_IN_PROGRESS


# --- Intent, restart, re-attachment --------------------------------------------------------------


RECORDED = StartFailover(planned=True, recovery_point_id=None, shutdown_source=True)


RID = "7d0c3f4e-0000-5000-8000-000000000001"  # the intent's request id (x-ms-client-request-id)
LIFETIME = CTX.request_lifetime  # an unanswered request may still act this long


def intent(
    type_: OperationType = OperationType.FAILOVER,
    attempt: int = 1,
    age: float = LIFETIME + 60,
    action: Action | None = RECORDED,
    request_ids: tuple[str, ...] = (RID,),
    answer: CallAnswer | None = None,
    answered_age: float | None = None,
) -> ProtectedVMStatus:
    """An intent whose call's outcome is unknown; by default sent long enough ago that it
    can no longer reach ASR."""
    recorded = None
    if action is not None:
        kind, parameters = action_to_intent(action)
        recorded = IntentAction(kind=kind, target=item().id, parameters=parameters)
    op = OperationStatus(
        run_id="r1",
        type=type_,
        requested_at=T0 - timedelta(seconds=age),
        generation=1,
        attempt=attempt,
        detail="Planned",
        action=recorded,
        request_ids=list(request_ids),
        answer=answer,
        answered_at=None if answered_age is None else T0 - timedelta(seconds=answered_age),
    )
    return ProtectedVMStatus(operation=op)


def ours(state: JobState, name: str, **kw: object) -> AsrJob:
    """A job that names the intent's request id."""
    return job(state, name, client_request_id=RID, **kw)


def test_reattach_to_job_found_after_restart():
    d = decide(
        spec(activeSite="Azure"), obs(intent_jobs=(ours(JobState.IN_PROGRESS, "job-7"),)), intent()
    )
    assert isinstance(d.step, Wait)
    assert d.status.operation is not None and d.status.operation.job_name == "job-7"
    assert d.status.operation.submitted


def test_a_job_naming_another_request_is_never_taken_for_the_intents():
    # An earlier drill's job (issue: a dropped drill request recorded as a second drill),
    # or the item's current job: another request's, however close in time.
    other = job(JobState.IN_PROGRESS, "job-8", client_request_id="another-request")
    o = obs(
        item=item(current_job_name="job-8", current_scenario="PlannedFailover"),
        intent_jobs=(other,),
    )
    d = decide(spec(activeSite="Azure"), o, intent())
    assert d.status.operation is not None and d.status.operation.job_name != "job-8"
    assert d.step == Submit(RECORDED)  # checked: no job of its own, none can still appear


def test_a_job_that_names_no_request_cannot_be_told_apart_and_stalls():
    anonymous = job(JobState.IN_PROGRESS, "job-9", client_request_id=None)
    d = decide(spec(activeSite="Azure"), obs(intent_jobs=(anonymous,)), intent())
    assert isinstance(d.step, Stall) and d.step.reason == Reason.OUTCOME_UNKNOWN
    assert "job-9" in d.step.message and d.status.operation is not None


def test_no_job_within_grace_waits_never_resends():
    d = decide(spec(activeSite="Azure"), obs(intent_jobs=()), intent(age=10))
    assert isinstance(d.step, Wait)
    d2 = decide(spec(activeSite="Azure"), obs(intent_jobs=None), intent())
    assert isinstance(d2.step, Wait)


def test_an_unanswered_request_is_not_resent_while_it_may_still_reach_asr():
    # Sent 2 minutes ago, answer lost 1 minute ago: it may still land until lost + lifetime.
    status = intent(age=120, answer=CallAnswer.LOST, answered_age=60)
    d = decide(spec(activeSite="Azure"), obs(intent_jobs=()), status)
    assert isinstance(d.step, Wait) and "may still reach ASR" in d.step.message
    # Nor after a crash (no answer recorded): from the intent's time.
    d2 = decide(spec(activeSite="Azure"), obs(intent_jobs=()), intent(age=LIFETIME - 5))
    assert isinstance(d2.step, Wait)
    # Once it cannot, the recorded request goes out again.
    d3 = decide(
        spec(activeSite="Azure"),
        obs(intent_jobs=()),
        intent(age=LIFETIME + 80, answer=CallAnswer.LOST, answered_age=LIFETIME + 1),
    )
    assert d3.step == Submit(RECORDED)


def test_an_unanswered_request_keeps_the_object_from_moving_on():
    # The effect is visible (a human committed in the portal?), but our commit may still
    # land; on a later state it would act on something else (issue: a late failoverCommit
    # committing a failback without approval). Nothing is done before the bound.
    status = intent(OperationType.COMMIT, age=30, action=StartCommit())
    d = decide(spec(activeSite="Azure"), obs("FailedOver", intent_jobs=()), status)
    assert isinstance(d.step, Wait) and d.status.operation is not None


def test_a_request_refused_without_a_job_is_resent_after_the_grace():
    status = intent(age=90, answer=CallAnswer.REFUSED_WITHOUT_JOB, answered_age=89)
    d = decide(spec(activeSite="Azure"), obs(intent_jobs=()), status)
    assert d.step == Submit(RECORDED)


def test_checked_absence_allows_one_resend():
    d = decide(spec(activeSite="Azure"), obs(intent_jobs=()), intent())
    assert isinstance(d.step, Submit) and isinstance(d.step.action, StartFailover)
    op = d.status.operation
    assert op is not None and op.attempt == 2 and op.run_id == "r1"
    # The resend carries a new request id, and the first stays ours too.
    assert op.request_ids[0] == RID and len(op.request_ids) == 2
    assert d.step.request_id == op.request_ids[1] != RID
    late = job(JobState.IN_PROGRESS, "job-late", client_request_id=RID)
    d2 = decide(spec(activeSite="Azure"), obs(intent_jobs=(late,)), d.status)
    assert d2.status.operation is not None and d2.status.operation.job_name == "job-late"


def test_a_job_recorded_for_an_earlier_operation_is_never_reattached():
    # The failover's job started a minute before the commit's intent: inside the lookup
    # window, but it belongs to the failover. The commit request was lost (no job).
    failover = HistoryEntry(
        run_id="r0",
        type=OperationType.FAILOVER,
        result="Succeeded",
        started_at=T0 - timedelta(minutes=3),
        ended_at=T0 - timedelta(minutes=2),
        duration_seconds=60,
        job_name="job-failover",
    )
    status = intent(OperationType.COMMIT, action=StartCommit())
    status = status.model_copy(update={"history": [failover], "last_operation": failover})
    old = job(JobState.SUCCEEDED, "job-failover", start_time=T0 - timedelta(minutes=3))
    s = spec(activeSite="Azure")
    d = decide(s, obs("CommitPending", intent_jobs=(old,)), status)
    assert d.status.operation is not None and not d.status.operation.submitted
    assert d.step == Submit(StartCommit())  # checked: no job of its own, so sent again
    o = obs(item=item("CommitPending", current_job_name="job-failover"), intent_jobs=(old,))
    d2 = decide(s, o, status)
    assert d2.status.operation is not None and d2.status.operation.job_name != "job-failover"


def test_a_job_older_than_the_last_recorded_one_is_never_reattached():
    # Out of the bounded history, but it started before the last operation's job ended
    # (by ASR's clock): it cannot be the job of the request sent after that, even if it
    # names no request id.
    last = HistoryEntry(
        run_id="r0",
        type=OperationType.FAILOVER,
        result="Succeeded",
        started_at=T0 - timedelta(minutes=3),
        ended_at=T0 - timedelta(minutes=2),
        duration_seconds=60,
        job_name="job-failover",
        job_ended_at=T0 - timedelta(minutes=2),
    )
    status = intent(OperationType.COMMIT, action=StartCommit())
    status = status.model_copy(update={"history": [last], "last_operation": last})
    older = job(JobState.SUCCEEDED, "job-old-commit", start_time=T0 - timedelta(minutes=4))
    newer = ours(JobState.IN_PROGRESS, "job-commit", start_time=T0 - timedelta(seconds=90))
    s = spec(activeSite="Azure")
    d = decide(s, obs("CommitPending", intent_jobs=(older,)), status)
    assert d.step == Submit(StartCommit())
    d2 = decide(s, obs("CommitPending", intent_jobs=(older, newer)), status)
    assert d2.status.operation is not None and d2.status.operation.job_name == "job-commit"


def test_resend_sends_the_recorded_request_not_one_rebuilt_from_the_spec():
    # The spec moved on (unplanned, another recovery point) after the intent was written.
    changed = spec(
        activeSite="Azure", failover={"type": "Unplanned", "recoveryPoint": "LatestProcessed"}
    )
    d = decide(changed, obs(intent_jobs=()), intent())
    assert d.step == Submit(RECORDED)


def test_intent_records_the_exact_request_and_its_target():
    d = decide(spec(activeSite="Azure", failover={"recoveryPoint": P2}), obs())
    op = d.status.operation
    assert op is not None and op.action is not None
    assert op.action.target == item().id
    assert isinstance(d.step, Submit)
    assert action_from_intent(op.action.kind, op.action.parameters) == d.step.action
    # The request id it will carry is in the intent before the call.
    assert op.request_ids == [d.step.request_id] and d.step.request_id


def test_intent_without_recorded_request_is_never_resent():
    d = decide(spec(activeSite="Azure"), obs(intent_jobs=()), intent(action=None, request_ids=()))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.OUTCOME_UNKNOWN
    assert "older operator version" in d.step.message


def test_an_older_intents_candidate_jobs_stall_rather_than_guess():
    # No request ids: any job of the item since the intent may be its own, or not.
    candidate = job(JobState.IN_PROGRESS, "job-5", client_request_id="someone")
    d = decide(spec(activeSite="Azure"), obs(intent_jobs=(candidate,)), intent(request_ids=()))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.OUTCOME_UNKNOWN


@pytest.mark.parametrize(
    "action",
    [
        RECORDED,
        StartFailover(planned=False, recovery_point_id="/rp/p1", shutdown_source=False),
        StartTestFailover(DRILL_NET, None),
        StartTestFailoverCleanup("asr-operator: cleanup because x"),
        StartCommit(),
        StartApplyRecoveryPoint("/rp/p2"),
        StartFailback("ForDownTime", True),
        StartReprotect(),
        StartUpdateTarget(
            TargetSettings(
                vm_name="web-01",
                size="Standard_D4s_v3",
                use_managed_disks=True,
                nics=(NicSettings("nic-1", "app", "10.0.0.4"),),
                tags=(("app", "web"), ("tier", "front")),
            )
        ),
        ResumeJob("job-1", "ok"),
        StartPlanFailover(True, "LatestProcessed", True),
        StartPlanTestFailover(DRILL_NET, "Latest"),
        StartPlanTestFailoverCleanup("done"),
        StartPlanCommit(),
        StartPlanFailback("ForSynchronization", False),
        StartPlanReprotect(),
    ],
)
def test_every_action_survives_the_intent_round_trip(action):  # type: ignore[no-untyped-def]
    assert action_from_intent(*action_to_intent(action)) == action


def test_outcome_unknown_after_attempts():
    d = decide(spec(activeSite="Azure"), obs(intent_jobs=()), intent(attempt=3))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.OUTCOME_UNKNOWN


def test_effect_visible_waits_for_the_job_list_first():
    # Completing without the job would leave it unrecorded, free for a later lost request.
    d = decide(spec(activeSite="Azure"), obs("CommitPending", intent_jobs=None), intent())
    assert isinstance(d.step, Wait) and d.status.operation is not None


def test_effect_already_visible_completes_the_intent_without_a_job():
    d = decide(spec(activeSite="Azure"), obs("CommitPending", intent_jobs=()), intent())
    assert d.status.operation is None and d.status.last_operation is not None
    assert d.status.last_operation.job_name == ""  # no job is claimed that is not its own
    assert any(e.reason == "OperationObserved" and e.type == "Warning" for e in d.events)


# --- Recording call outcomes ----------------------------------------------------------------------


def submitted() -> tuple[object, ProtectedVMStatus]:
    d = decide(spec(activeSite="Azure"), obs())
    return d.step, d.status


def test_accepted_records_job_name():
    step, status = submitted()
    new, events, _ = machine.record(spec(activeSite="Azure"), status, step, Accepted("job-1"), CTX)  # type: ignore[arg-type]
    assert (
        new.operation is not None and new.operation.submitted and new.operation.job_name == "job-1"
    )
    assert events[0].reason == "FailoverStarted"


@pytest.mark.parametrize(
    ("kind", "keeps_intent", "stalls"),
    [
        (Refusal.TRANSIENT, True, False),
        (Refusal.THROTTLED, False, False),
        (Refusal.CONFLICT, False, False),
        (Refusal.NOT_ALLOWED, False, True),
        (Refusal.PERMANENT, False, True),
        (Refusal.AUTH_FAILED, False, True),
    ],
)
def test_refusals(kind, keeps_intent, stalls):  # type: ignore[no-untyped-def]
    step, status = submitted()
    s = spec(activeSite="Azure")
    new, _, delay = machine.record(s, status, step, Refused(kind, "msg", 7), CTX)  # type: ignore[arg-type]
    assert (new.operation is not None) == keeps_intent
    if kind == Refusal.THROTTLED:
        assert delay == 7
    after = decide(s, obs(intent_jobs=()), new)
    assert isinstance(after.step, Stall) == stalls


# --- Deletion -------------------------------------------------------------------------------------


def test_deletion_waits_for_running_job_then_releases():
    status = running_op(OperationType.FAILOVER)
    d = machine.decide_deletion(status, Observation(job=job(JobState.IN_PROGRESS)), CTX)
    assert isinstance(d.step, Wait) and "abandon-wait" in d.step.message
    assert [e.reason for e in d.events] == ["DeletionWaits"]
    again = machine.decide_deletion(d.status, Observation(job=job(JobState.IN_PROGRESS)), CTX)
    assert not again.events  # said once, not on every retry
    d2 = machine.decide_deletion(status, Observation(job=job(JobState.SUCCEEDED)), CTX)
    assert isinstance(d2.step, Release)
    d3 = machine.decide_deletion(
        status, Observation(job=job(JobState.IN_PROGRESS)), replace(CTX, abandon_wait=True)
    )
    assert isinstance(d3.step, Release) and d3.events


def test_deletion_of_idle_object_releases():
    assert isinstance(
        machine.decide_deletion(ProtectedVMStatus(), Observation(), CTX).step, Release
    )
