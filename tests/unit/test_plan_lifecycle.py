"""Table tests: the RecoveryPlan machine (lifecycle/recoveryplan.py) on the operation engine.

Per plan state and desired site the step taken; the per-member gates naming every failing
VM; manual actions and ForDownTime failbacks through spec.approve; a job failing for one
member; group and VM progress; the intent and re-attachment; ObserveOnly and deletion.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from asr_operator.api import operation as api
from asr_operator.api.conditions import ConditionStatus, ConditionType, Reason, get_condition
from asr_operator.api.operation import (
    ApprovalAction,
    IntentAction,
    OperationResult,
    OperationStatus,
    OperationType,
    Phase,
)
from asr_operator.api.recoveryplan import RecoveryPlanSpec, RecoveryPlanStatus
from asr_operator.lifecycle import recoveryplan as machine
from asr_operator.lifecycle.engine import RESUME_RESEND_AFTER
from asr_operator.lifecycle.item_state import ItemState
from asr_operator.lifecycle.observation import Context, Observation, ObservationError
from asr_operator.lifecycle.observed import HyperVDisk, JobState, PowerState
from asr_operator.lifecycle.recoveryplan import plan_state
from asr_operator.lifecycle.steps import (
    Accepted,
    Action,
    Done,
    Refusal,
    Refused,
    Release,
    ResumeJob,
    Stall,
    StartPlanCommit,
    StartPlanFailback,
    StartPlanFailover,
    StartPlanReprotect,
    StartPlanTestFailover,
    StartPlanTestFailoverCleanup,
    Step,
    Submit,
    Wait,
    action_from_intent,
    action_to_intent,
)
from tests.unit.lifecycle_world import AZURE_VM, DRILL_NET, T0
from tests.unit.plan_world import (
    APPROVER,
    BOOT,
    PLAN_ID,
    Manual,
    PlanJob,
    asr_plan,
    member,
    member_vm,
    members_of,
    plan_job,
    plan_obs,
    plan_spec,
    plan_steps,
)

CTX = Context(generation=1, now=T0, approved_by=APPROVER)
NET = DRILL_NET
FAILOVER = StartPlanFailover(planned=True, recovery_point_type="Latest", shutdown_source=True)


def decide(
    s: RecoveryPlanSpec,
    o: Observation,
    status: RecoveryPlanStatus | None = None,
    ctx: Context = CTX,
) -> machine.Decision[RecoveryPlanStatus]:
    return machine.decide(s, status or RecoveryPlanStatus(), o, ctx)


def at(minutes: float) -> Context:
    return replace(CTX, now=T0 + timedelta(minutes=minutes))


def running_op(type_: OperationType, job: str = "job-1", **kw: object) -> RecoveryPlanStatus:
    op = OperationStatus(
        run_id="r1",
        type=type_,
        requested_at=T0 - timedelta(minutes=1),
        generation=1,
        submitted=True,
        job_name=job,
        **kw,  # type: ignore[arg-type]
    )
    return RecoveryPlanStatus(operation=op)


def condition(status: RecoveryPlanStatus, type_: ConditionType):  # type: ignore[no-untyped-def]
    c = get_condition(status.conditions, type_)
    assert c is not None, type_
    return c


def assert_nothing_sent(d: machine.Decision[RecoveryPlanStatus]) -> None:
    assert not isinstance(d.step, Submit), d.step
    assert d.status.operation is None


def drill(**tf: object) -> dict[str, object]:
    return {"testFailover": {"requestId": "d1", "networkId": NET, **tf}}


def test_plan_state_is_the_state_all_members_share() -> None:
    assert plan_state((member("WEB01", "CommitPending"), member("APP01", "CommitPending"))) == (
        ItemState.COMMIT_PENDING
    )
    mixed = (member("WEB01", "CommitPending"), member("APP01", "Protected"))
    assert plan_state(mixed) == ItemState.UNKNOWN
    assert plan_state(()) == ItemState.UNKNOWN


# --- Resting states x desired site ----------------------------------------------------------------

REST: list[tuple[str, dict[str, object], PowerState, type[Step], object]] = [
    # (plan state, spec changes, members' power, step type, action built / approval gate)
    ("Protected", {}, PowerState.RUNNING, Done, None),
    ("Protected", {"activeSite": "Azure"}, PowerState.RUNNING, Submit, FAILOVER),
    (
        "Protected",
        {
            "activeSite": "Azure",
            "failover": {
                "type": "Unplanned",
                "recoveryPoint": "LatestProcessed",
                "shutdownSourceVM": False,
            },
        },
        PowerState.RUNNING,
        Submit,
        StartPlanFailover(False, "LatestProcessed", False),
    ),
    (
        "Protected",
        {"activeSite": "Azure", "failover": {"type": "Unplanned"}},
        PowerState.RUNNING,
        Submit,
        StartPlanFailover(False, "Latest", True),
    ),
    (  # a planned failover always shuts the sources down
        "Protected",
        {
            "activeSite": "Azure",
            "failover": {"recoveryPoint": "LatestApplicationConsistent", "shutdownSourceVM": False},
        },
        PowerState.RUNNING,
        Submit,
        StartPlanFailover(True, "LatestApplicationConsistent", True),
    ),
    ("Protected", drill(), PowerState.RUNNING, Submit, StartPlanTestFailover(NET, "Latest")),
    (
        "Protected",
        drill(recoveryPoint="LatestProcessed"),
        PowerState.RUNNING,
        Submit,
        StartPlanTestFailover(NET, "LatestProcessed"),
    ),
    ("CommitPending", {"activeSite": "Azure"}, PowerState.OFF, Wait, ApprovalAction.COMMIT),
    (
        "CommitPending",
        {"activeSite": "Azure", "failover": {"commit": "Automatic"}},
        PowerState.OFF,
        Submit,
        StartPlanCommit(),
    ),
    # Asked back before the commit: the operator never cancels, it asks to commit first.
    ("CommitPending", {}, PowerState.OFF, Wait, ApprovalAction.COMMIT),
    (
        "CommitPending",
        {"failover": {"commit": "Automatic"}},
        PowerState.OFF,
        Wait,
        ApprovalAction.COMMIT,
    ),
    ("FailedOver", {"activeSite": "Azure"}, PowerState.OFF, Done, None),
    ("FailedOver", {}, PowerState.OFF, Submit, StartPlanFailback("ForDownTime", False)),
    (
        "FailedOver",
        {"failback": {"dataSync": "DuringFailover", "createVMIfNotFound": True}},
        PowerState.OFF,
        Submit,
        StartPlanFailback("ForSynchronization", True),
    ),
    ("FailedOver", {}, PowerState.RUNNING, Stall, Reason.SOURCE_VM_POWERED_ON),
    ("FailbackCommitPending", {}, PowerState.RUNNING, Wait, ApprovalAction.FAILBACK_COMMIT),
    (
        "FailbackCommitPending",
        {"failback": {"commit": "Automatic"}},
        PowerState.RUNNING,
        Submit,
        StartPlanCommit(),
    ),
    ("ReversePending", {}, PowerState.RUNNING, Submit, StartPlanReprotect()),
    ("ReversePending", {"activeSite": "Azure"}, PowerState.RUNNING, Submit, StartPlanReprotect()),
    (
        "ReversePending",
        {"reverseReplication": "Manual"},
        PowerState.RUNNING,
        Wait,
        ApprovalAction.REVERSE_REPLICATION,
    ),
]


@pytest.mark.parametrize(("state", "changes", "power", "step_type", "detail"), REST)
def test_resting_transitions(
    state: str,
    changes: dict[str, object],
    power: PowerState,
    step_type: type[Step],
    detail: object,
) -> None:
    d = decide(plan_spec(**changes), plan_obs(state, power))
    assert isinstance(d.step, step_type), d.step
    if isinstance(d.step, Submit):
        assert d.step.action == detail
        op = d.status.operation
        assert op is not None and not op.submitted and op.action is not None
        assert op.action.target == PLAN_ID
    elif isinstance(d.step, Wait):
        gate = d.status.awaiting_approval
        assert gate is not None and gate.action == detail
        assert gate.token in d.step.message and gate.token in gate.message
        assert condition(d.status, ConditionType.AWAITING_APPROVAL).status == "True"
        assert d.status.operation is None
    elif isinstance(d.step, Stall):
        assert d.step.reason == detail and d.status.operation is None
    else:
        assert condition(d.status, ConditionType.READY).status == "True"
    assert d.status.observed_generation == 1
    assert all(c.observed_generation == 1 for c in d.status.conditions)


def test_approved_gates_send_their_operation() -> None:
    for state, changes, action in [
        ("CommitPending", {"activeSite": "Azure"}, StartPlanCommit()),
        ("CommitPending", {}, StartPlanCommit()),
        ("FailbackCommitPending", {}, StartPlanCommit()),
        ("ReversePending", {"reverseReplication": "Manual"}, StartPlanReprotect()),
    ]:
        d = decide(plan_spec(**changes), plan_obs(state))
        assert d.status.awaiting_approval is not None
        token = d.status.awaiting_approval.token
        d2 = decide(plan_spec(**changes, approve=token), plan_obs(state), d.status)
        assert d2.step == Submit(action), (state, d2.step)
        assert d2.status.awaiting_approval is None
        wrong = decide(plan_spec(**changes, approve="commit-00000000"), plan_obs(state), d.status)
        assert isinstance(wrong.step, Wait) and wrong.status.operation is None


def test_commit_token_is_tied_to_the_failover_that_led_there() -> None:
    """A token approves the gate of the operation that led there, never a later one."""
    last = running_op(OperationType.FAILOVER)
    d = decide(plan_spec(activeSite="Azure"), plan_obs("CommitPending"))
    done = decide(
        plan_spec(activeSite="Azure"),
        plan_obs("CommitPending", job=plan_job(FAILOVER, state=JobState.SUCCEEDED)),
        last,
    )
    d2 = decide(plan_spec(activeSite="Azure"), plan_obs("CommitPending"), done.status)
    assert d.status.awaiting_approval is not None and d2.status.awaiting_approval is not None
    assert d.status.awaiting_approval.token != d2.status.awaiting_approval.token


# --- Drills ---------------------------------------------------------------------------------------


def drill_status(**kw: object) -> RecoveryPlanStatus:
    return RecoveryPlanStatus(
        test_failover=api.TestFailoverStatus(last_request_id="d1", started_at=T0, **kw)  # type: ignore[arg-type]
    )


def test_drill_is_started_once_per_request() -> None:
    d = decide(plan_spec(**drill()), plan_obs())
    assert d.step == Submit(StartPlanTestFailover(NET, "Latest"))
    assert d.status.test_failover is not None and d.status.test_failover.last_request_id == "d1"
    again = decide(plan_spec(**drill()), plan_obs(), drill_status())
    assert isinstance(again.step, Done)


def test_drill_success_schedules_cleanup_after() -> None:
    status = running_op(OperationType.TEST_FAILOVER).model_copy(
        update={"test_failover": api.TestFailoverStatus(last_request_id="d1", started_at=T0)}
    )
    job = plan_job(StartPlanTestFailover(NET, "Latest"), state=JobState.SUCCEEDED)
    d = decide(plan_spec(**drill(cleanupAfter="1h")), plan_obs("TestActive", job=job), status)
    assert d.status.operation is None
    assert d.status.test_failover is not None
    assert d.status.test_failover.cleanup_at == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("changes", "status", "ctx", "why"),
    [
        (drill(cleanupAfter="1h"), drill_status(cleanup_at=T0), at(1), "cleanupAfter has passed"),
        (drill(requestId="d2"), drill_status(), CTX, "the drill request changed"),
        ({}, drill_status(), CTX, "the drill request changed"),
        ({**drill(), "activeSite": "Azure"}, drill_status(), CTX, "a failover is requested"),
    ],
)
def test_drill_cleanup_when_due_or_asked(
    changes: dict[str, object], status: RecoveryPlanStatus, ctx: Context, why: str
) -> None:
    d = decide(plan_spec(**changes), plan_obs("TestActive"), status, ctx)
    assert isinstance(d.step, Submit) and isinstance(d.step.action, StartPlanTestFailoverCleanup)
    assert why in d.step.action.comments
    assert d.status.operation is not None and why in d.status.operation.detail


def test_running_drill_waits_for_cleanup_approval_then_cleans_up() -> None:
    s = plan_spec(**drill(cleanupAfter="2h"))
    d = decide(s, plan_obs("TestActive"), drill_status(cleanup_at=T0 + timedelta(hours=2)))
    gate = d.status.awaiting_approval
    assert isinstance(d.step, Wait) and gate is not None
    assert gate.action == ApprovalAction.TEST_FAILOVER_CLEANUP
    assert "Cleanup in 7200s" in d.step.message
    d2 = decide(plan_spec(**drill(), approve=gate.token), plan_obs("TestActive"), d.status)
    assert isinstance(d2.step, Submit) and isinstance(d2.step.action, StartPlanTestFailoverCleanup)
    assert "approved" in d2.step.action.comments


def test_drill_started_outside_the_operator_is_left_alone() -> None:
    d = decide(plan_spec(), plan_obs("TestActive"))
    assert isinstance(d.step, Wait) and "outside the operator" in d.step.message
    assert d.status.awaiting_approval is None


# --- Gates name every failing member --------------------------------------------------------------


def azure(**failover: object) -> RecoveryPlanSpec:
    return plan_spec(activeSite="Azure", failover=failover)


def vms(**overrides: object) -> dict[str, object]:
    """The members' Hyper-V VMs (off), with some replaced."""
    base: dict[str, object] = {n: member_vm(n.upper()) for n in ("web01", "app01", "db01")}
    base.update(overrides)
    return base


def test_checkpoints_on_two_members_stall_naming_both() -> None:
    o = plan_obs(
        member_vms=vms(
            web01=member_vm("WEB01", checkpoints=("before-patch",)),
            db01=member_vm("DB01", checkpoints=("nightly", "weekly")),
        )
    )
    d = decide(azure(), o)
    assert isinstance(d.step, Stall) and d.step.reason == Reason.CHECKPOINTS_PRESENT
    assert "2 of 3 VMs" in d.step.message
    assert "'WEB01'" in d.step.message and "'DB01'" in d.step.message
    assert "before-patch" in d.step.message and "weekly" in d.step.message
    assert "APP01" not in d.step.message
    assert_nothing_sent(d)
    checks = condition(d.status, ConditionType.SOURCE_CHECKS_PASSED)
    assert checks.status == "False" and checks.reason == Reason.CHECKS_FAILED
    assert d.status.phase == Phase.STALLED
    stalled = condition(d.status, ConditionType.STALLED)
    assert stalled.status == "True" and stalled.reason == Reason.CHECKPOINTS_PRESENT


def test_member_over_azure_limits_stalls_naming_it() -> None:
    big = member_vm("APP01", disks=(HyperVDisk("D:\\app\\os.vhdx", "VHDX", 400, True),))
    d = decide(azure(), plan_obs(member_vms=vms(app01=big)))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.AZURE_LIMITS_EXCEEDED
    assert "APP01" in d.step.message and "1 of 3 VMs" in d.step.message
    assert "WEB01" not in d.step.message
    assert_nothing_sent(d)


def test_checkpoints_win_over_limits_and_every_member_is_named() -> None:
    big = member_vm("APP01", disks=(HyperVDisk("os.vhdx", "VHDX", 400, True),))
    snap = member_vm("WEB01", checkpoints=("cp",))
    d = decide(azure(), plan_obs(member_vms=vms(app01=big, web01=snap)))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.CHECKPOINTS_PRESENT
    assert "APP01" in d.step.message and "WEB01" in d.step.message


@pytest.mark.parametrize(("type_", "blocks"), [("Planned", True), ("Unplanned", False)])
def test_critical_replication_blocks_a_planned_failover_only(type_: str, blocks: bool) -> None:
    o = plan_obs(
        members=(
            member("DB01"),
            member("APP01", replication_health="Critical"),
            member("WEB01", replication_health="Warning"),
        )
    )
    d = decide(azure(type=type_), o)
    health = condition(d.status, ConditionType.REPLICATION_HEALTHY)
    assert health.status == "False" and "APP01 (Critical)" in health.message
    assert "WEB01 (Warning)" in health.message
    if blocks:
        assert isinstance(d.step, Stall) and d.step.reason == Reason.REPLICATION_UNHEALTHY
        assert "APP01" in d.step.message and "WEB01" not in d.step.message
        assert_nothing_sent(d)
    else:
        assert d.step == Submit(StartPlanFailover(False, "Latest", True))


def test_member_running_a_job_started_elsewhere_waits_naming_it() -> None:
    o = plan_obs(
        members=(
            member("DB01"),
            member("APP01", current_job_name="j-9", current_scenario="TestFailover"),
            member("WEB01"),
        )
    )
    d = decide(azure(), o)
    assert isinstance(d.step, Wait) and d.step.reason == Reason.OPERATION_IN_PROGRESS
    assert "APP01 (TestFailover)" in d.step.message and "WEB01" not in d.step.message
    assert_nothing_sent(d)


def test_other_plan_sharing_members_with_an_operation_in_flight_waits() -> None:
    d = decide(azure(), plan_obs(plan_conflicts=("plan-db",)))
    assert isinstance(d.step, Wait) and d.step.reason == Reason.OPERATION_IN_PROGRESS
    assert "plan-db" in d.step.message
    assert_nothing_sent(d)


def unreachable() -> dict[str, object]:
    return {
        "member_vms": {k: v for k, v in vms().items() if k != "app01"},
        "member_vm_errors": {"app01": "WinRM: connection refused by hv-02"},
    }


def test_unreachable_host_stalls_a_planned_failover() -> None:
    d = decide(azure(), plan_obs(**unreachable()))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.SOURCE_CHECKS_UNAVAILABLE
    assert "APP01: WinRM: connection refused by hv-02" in d.step.message
    assert_nothing_sent(d)
    checks = condition(d.status, ConditionType.SOURCE_CHECKS_PASSED)
    assert checks.status == "Unknown" and checks.reason == Reason.SOURCE_CHECKS_UNAVAILABLE


def test_unreachable_host_lets_an_unplanned_failover_go_on_with_a_warning() -> None:
    d = decide(azure(type="Unplanned"), plan_obs(**unreachable()))
    assert isinstance(d.step, Submit) and isinstance(d.step.action, StartPlanFailover)
    warnings = [e for e in d.events if e.reason == "SourceChecksSkipped"]
    assert warnings and warnings[0].type == "Warning" and "APP01" in warnings[0].message
    checks = condition(d.status, ConditionType.SOURCE_CHECKS_PASSED)
    assert checks.status == "Unknown" and checks.reason == Reason.SOURCE_CHECKS_UNAVAILABLE


def test_members_without_a_host_are_not_checked() -> None:
    s = plan_spec(activeSite="Azure", hyperV=[{"vm": "web01", "host": "hv-01"}])
    o = plan_obs(member_vms={"web01": member_vm("WEB01")})
    d = decide(s, o)
    assert d.step == Submit(FAILOVER)
    checks = condition(d.status, ConditionType.SOURCE_CHECKS_PASSED)
    assert checks.status == "Unknown" and checks.reason == Reason.CHECKS_SKIPPED
    assert "DB01" in checks.message and "APP01" in checks.message
    assert "1 VMs passed" in checks.message
    # A member without a host is not read, so its checkpoints cannot stop the failover;
    # the members that have one are still checked.
    bad = plan_obs(member_vms={"web01": member_vm("WEB01", checkpoints=("cp",))})
    d2 = decide(s, bad)
    assert isinstance(d2.step, Stall) and d2.step.reason == Reason.CHECKPOINTS_PRESENT


def test_no_hyperv_section_skips_every_check() -> None:
    data = plan_spec(activeSite="Azure").model_dump(by_alias=True, exclude_none=True)
    del data["hyperV"]
    d = decide(RecoveryPlanSpec.model_validate(data), plan_obs(member_vms={}))
    assert d.step == Submit(FAILOVER)
    assert condition(d.status, ConditionType.SOURCE_CHECKS_PASSED).reason == Reason.CHECKS_SKIPPED


def test_all_members_checked_pass() -> None:
    d = decide(azure(), plan_obs())
    assert d.step == Submit(FAILOVER)
    checks = condition(d.status, ConditionType.SOURCE_CHECKS_PASSED)
    assert checks.status == "True" and checks.reason == Reason.CHECKS_PASSED
    assert "All 3 VMs" in checks.message
    assert condition(d.status, ConditionType.REPLICATION_HEALTHY).status == "True"


def test_members_not_read_yet_wait() -> None:
    d = decide(azure(), plan_obs(member_vms={"web01": member_vm("WEB01")}))
    assert isinstance(d.step, Wait) and "Hyper-V" in d.step.message
    assert_nothing_sent(d)


def test_failback_names_every_running_member_and_never_sends() -> None:
    o = plan_obs(
        "FailedOver",
        member_vms=vms(
            web01=member_vm("WEB01", PowerState.RUNNING),
            db01=member_vm("DB01", PowerState.RUNNING),
        ),
    )
    d = decide(plan_spec(), o)
    assert isinstance(d.step, Stall) and d.step.reason == Reason.SOURCE_VM_POWERED_ON
    assert "WEB01" in d.step.message and "DB01" in d.step.message
    assert "APP01" not in d.step.message
    assert_nothing_sent(d)


def test_failback_with_an_unreadable_member_stalls() -> None:
    d = decide(plan_spec(), plan_obs("FailedOver", **unreachable()))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.SOURCE_CHECKS_UNAVAILABLE
    assert "APP01" in d.step.message
    assert_nothing_sent(d)


@pytest.mark.parametrize(
    ("o", "reason"),
    [
        (
            plan_obs(plan=asr_plan("Protected", allowed_operations=frozenset({"TestFailover"}))),
            Reason.OPERATION_NOT_ALLOWED,
        ),
        (
            Observation(item_error=ObservationError(Refusal.NOT_FOUND, "no plan plan-web")),
            Reason.PLAN_NOT_FOUND,
        ),
        (
            Observation(item_error=ObservationError(Refusal.AUTH_FAILED, "AADSTS7000215")),
            Reason.AUTHENTICATION_FAILED,
        ),
        (Observation(vault_ready=False, vault_message="vault missing"), Reason.VAULT_NOT_READY),
        (plan_obs(members=()), Reason.UNSUPPORTED_STATE),
    ],
)
def test_plan_level_gates_stall_with_reason(o: Observation, reason: Reason) -> None:
    d = decide(azure(), o)
    assert isinstance(d.step, Stall) and d.step.reason == reason and d.step.message
    assert_nothing_sent(d)
    assert condition(d.status, ConditionType.STALLED).reason == reason


def test_plan_read_failing_transiently_waits() -> None:
    o = Observation(item_error=ObservationError(Refusal.TRANSIENT, "503"))
    d = decide(azure(), o)
    assert isinstance(d.step, Wait) and "503" in d.step.message


# --- Manual actions -------------------------------------------------------------------------------

MANUAL = (
    Manual(1, "Check DB", "Check that the database accepts connections."),
    Manual(2, "Smoke test", "Run the smoke tests on the web tier.", "start"),
)
# Failover job tasks: Shutdown, Failover, Group1, Check DB, Smoke test, Group2.


def at_manual(done: int, manual: tuple[Manual, ...] = MANUAL) -> Observation:
    job = plan_job(FAILOVER, done=done, state=JobState.SUSPENDED, manual=manual)
    return plan_obs("Protected", job=job)


def test_job_suspended_at_a_manual_action_waits_for_its_approval() -> None:
    d = decide(azure(), at_manual(3), running_op(OperationType.FAILOVER))
    gate = d.status.awaiting_approval
    assert isinstance(d.step, Wait) and gate is not None
    assert gate.action == ApprovalAction.MANUAL_ACTION
    assert gate.token.startswith("manualaction-") and gate.token in d.step.message
    assert "Check that the database accepts connections." in gate.message
    assert "Check DB" in gate.message and "Boot 1" in gate.message
    approval = condition(d.status, ConditionType.AWAITING_APPROVAL)
    assert approval.status == "True" and approval.reason == Reason.MANUAL_ACTION
    assert d.status.progress == "Boot 1: waiting at manual action 'Check DB'."
    assert d.status.phase == Phase.FAILING_OVER
    assert d.status.operation is not None and d.status.operation.resume_requested_at is None


def test_a_manual_action_gate_opens_with_an_event_and_answers_a_wrong_token() -> None:
    d = decide(azure(), at_manual(3), running_op(OperationType.FAILOVER))
    token = d.status.awaiting_approval.token  # type: ignore[union-attr]
    opened = [e for e in d.events if e.reason == "ApprovalRequired"]
    assert len(opened) == 1 and opened[0].type == "Normal" and token in opened[0].message
    wrong = decide(plan_spec(activeSite="Azure", approve="commit-1"), at_manual(3), d.status)
    assert isinstance(wrong.step, Wait)  # not resumed
    assert [e.reason for e in wrong.events] == ["ApprovalNotRecognized"]
    assert f"the token expected now is {token!r}" in wrong.events[0].message
    approval = condition(wrong.status, ConditionType.AWAITING_APPROVAL)
    assert approval.reason == Reason.APPROVAL_NOT_RECOGNIZED and token in approval.message


def test_approved_manual_action_resumes_once_with_the_approver_in_the_comment() -> None:
    s = azure()
    d = decide(s, at_manual(3), running_op(OperationType.FAILOVER))
    token = d.status.awaiting_approval.token  # type: ignore[union-attr]
    d2 = decide(plan_spec(activeSite="Azure", approve=token), at_manual(3), d.status, at(1))
    assert isinstance(d2.step, Submit) and isinstance(d2.step.action, ResumeJob)
    assert d2.step.action.job_name == "job-1"
    assert APPROVER in d2.step.action.comments
    assert d2.status.awaiting_approval is None
    assert d2.status.operation is not None
    assert d2.status.operation.resume_requested_at == T0 + timedelta(minutes=1)
    # ASR has not moved on yet: the next cycle does not resume again.
    d3 = decide(plan_spec(activeSite="Azure", approve=token), at_manual(3), d2.status, at(1.5))
    assert isinstance(d3.step, Wait)
    # Only a resume that ASR has not acted on for 5 minutes is sent again.
    later = at(1 + RESUME_RESEND_AFTER.total_seconds() / 60)
    d4 = decide(plan_spec(activeSite="Azure", approve=token), at_manual(3), d3.status, later)
    assert isinstance(d4.step, Submit) and isinstance(d4.step.action, ResumeJob)


def test_resume_without_an_approver_still_says_it_was_approved() -> None:
    d = decide(azure(), at_manual(3), running_op(OperationType.FAILOVER))
    token = d.status.awaiting_approval.token  # type: ignore[union-attr]
    ctx = replace(CTX, approved_by="")
    d2 = decide(plan_spec(activeSite="Azure", approve=token), at_manual(3), d.status, ctx)
    assert isinstance(d2.step, Submit) and isinstance(d2.step.action, ResumeJob)
    assert "spec.approve" in d2.step.action.comments


@pytest.mark.parametrize(
    "manual",
    [
        MANUAL,
        # ASR names a manual action's task by its type: both tasks may share a name.
        (
            Manual(1, "ManualActionTask", "Check the database."),
            Manual(2, "ManualActionTask", "Run the smoke tests.", "start"),
        ),
    ],
)
def test_second_manual_action_needs_its_own_approval_and_is_resumed_too(
    manual: tuple[Manual, ...],
) -> None:
    first = decide(azure(), at_manual(3, manual), running_op(OperationType.FAILOVER))
    token1 = first.status.awaiting_approval.token  # type: ignore[union-attr]
    resumed = decide(
        plan_spec(activeSite="Azure", approve=token1), at_manual(3, manual), first.status, at(1)
    )
    assert isinstance(resumed.step, Submit) and isinstance(resumed.step.action, ResumeJob)
    # A minute later the job waits at the next manual action.
    second = decide(
        plan_spec(activeSite="Azure", approve=token1), at_manual(4, manual), resumed.status, at(2)
    )
    gate = second.status.awaiting_approval
    assert isinstance(second.step, Wait) and gate is not None
    assert gate.action == ApprovalAction.MANUAL_ACTION and gate.token != token1
    assert manual[1].instructions in gate.message
    # Approved: resumed at once, although the first resume is less than 5 minutes old.
    again = decide(
        plan_spec(activeSite="Azure", approve=gate.token),
        at_manual(4, manual),
        second.status,
        at(3),
    )
    assert isinstance(again.step, Submit) and isinstance(again.step.action, ResumeJob)
    assert again.status.operation is not None
    assert again.status.operation.resume_requested_at == T0 + timedelta(minutes=3)


def test_refused_resume_is_tried_again_after_approval_stays() -> None:
    d = decide(azure(), at_manual(3), running_op(OperationType.FAILOVER))
    token = d.status.awaiting_approval.token  # type: ignore[union-attr]
    s = plan_spec(activeSite="Azure", approve=token)
    d2 = decide(s, at_manual(3), d.status)
    assert isinstance(d2.step, Submit)
    status, events, delay = machine.record(
        s, d2.status, d2.step, Refused(Refusal.TRANSIENT, "busy", 30), CTX
    )
    assert status.operation is not None and status.operation.resume_requested_at is None
    assert [e.reason for e in events] == ["ResumeRefused"] and delay >= 30
    d3 = decide(s, at_manual(3), status, at(1))
    assert isinstance(d3.step, Submit) and isinstance(d3.step.action, ResumeJob)


def test_suspended_job_without_a_manual_action_stalls() -> None:
    job = plan_job(FAILOVER, done=1, state=JobState.SUSPENDED)
    d = decide(azure(), plan_obs(job=job), running_op(OperationType.FAILOVER))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.UNSUPPORTED_STATE
    assert "job-1" in d.step.message


def test_drill_job_suspended_without_a_manual_action_means_the_drill_is_up() -> None:
    drill_action = StartPlanTestFailover(NET, "Latest")
    job = plan_job(drill_action, done=1, state=JobState.SUSPENDED)
    s = plan_spec(**drill())
    d = decide(s, plan_obs(job=job), running_op(OperationType.TEST_FAILOVER))
    assert d.status.operation is None
    assert d.status.last_operation is not None
    assert d.status.last_operation.result == "Succeeded"
    assert_nothing_sent(d)


# --- ForDownTime failback -------------------------------------------------------------------------

FAILBACK = StartPlanFailback("ForDownTime", False)


def fdt(power: PowerState = PowerState.OFF, **kw: object) -> Observation:
    job = plan_job(FAILBACK, done=1, state=JobState.SUSPENDED)
    return plan_obs("FailedOver", power, job=job, **kw)


def test_fordowntime_failback_waits_for_completion_approval_then_resumes_once() -> None:
    d = decide(plan_spec(), fdt(), running_op(OperationType.FAILBACK))
    gate = d.status.awaiting_approval
    assert isinstance(d.step, Wait) and gate is not None
    assert gate.action == ApprovalAction.COMPLETE_FAILBACK
    assert condition(d.status, ConditionType.AWAITING_APPROVAL).reason == (
        Reason.FAILBACK_COMPLETION_APPROVAL
    )
    d2 = decide(plan_spec(approve=gate.token), fdt(), d.status)
    assert isinstance(d2.step, Submit) and isinstance(d2.step.action, ResumeJob)
    assert APPROVER in d2.step.action.comments
    d3 = decide(plan_spec(approve=gate.token), fdt(), d2.status, at(0.5))
    assert isinstance(d3.step, Wait) and d3.status.awaiting_approval is None


def test_fordowntime_failback_never_resumes_while_a_member_runs_on_premises() -> None:
    status = running_op(OperationType.FAILBACK)
    d = decide(plan_spec(), fdt(), status)
    token = d.status.awaiting_approval.token  # type: ignore[union-attr]
    running = vms(app01=member_vm("APP01", PowerState.RUNNING))
    d2 = decide(plan_spec(approve=token), fdt(member_vms=running), d.status)
    assert isinstance(d2.step, Stall) and d2.step.reason == Reason.SOURCE_VM_POWERED_ON
    assert "APP01" in d2.step.message and "WEB01" not in d2.step.message
    assert d2.status.operation is not None and d2.status.operation.resume_requested_at is None


# --- A job failing for one member -----------------------------------------------------------------


def failed_for_app01() -> Observation:
    job = plan_job(FAILOVER, done=3, state=JobState.FAILED, fail_vm="APP01")
    return plan_obs(job=job, states={"DB01": "CommitPending", "WEB01": "CommitPending"})


def test_job_failing_for_one_member_records_which_and_why() -> None:
    d = decide(azure(), failed_for_app01(), running_op(OperationType.FAILOVER))
    assert d.status.operation is None
    entry = d.status.history[0]
    assert entry.result == OperationResult.FAILED and entry.type == OperationType.FAILOVER
    assert "APP01" in entry.error and "The VM did not start." in entry.error
    assert "70094" in entry.error
    assert "WEB01" not in entry.error and "DB01" not in entry.error
    outcomes = {v.name: v for v in d.status.vms}
    assert outcomes["APP01"].result == "Failed"
    assert "The VM did not start." in outcomes["APP01"].message
    assert outcomes["WEB01"].result == "Succeeded" and outcomes["DB01"].result == "Succeeded"
    assert outcomes["WEB01"].message == ""
    assert d.status.failures is not None and d.status.failures.count == 1
    assert any(e.reason == "FailoverFailed" and e.type == "Warning" for e in d.events)
    groups = {g.name: g for g in d.status.groups}
    assert groups["Boot 2"].state == "Failed" and groups["Boot 2"].vms_done == 1
    assert groups["Boot 1"].state == "Succeeded"


def test_members_left_apart_by_a_failed_job_stall_naming_them() -> None:
    d = decide(azure(), failed_for_app01(), running_op(OperationType.FAILOVER))
    mixed = plan_obs(states={"DB01": "CommitPending", "WEB01": "CommitPending"})
    d2 = decide(azure(), mixed, d.status, at(1))
    assert isinstance(d2.step, Stall) and d2.step.reason == Reason.ASR_JOB_FAILED
    assert "CommitPending: DB01, WEB01" in d2.step.message
    assert "Protected: APP01" in d2.step.message
    assert "The VM did not start." in d2.step.message
    assert d2.status.active_site is None
    assert condition(d2.status, ConditionType.READY).status == "False"
    assert_nothing_sent(d2)
    # Spec edits since (an approval of a manual action is one) change none of it.
    d3 = decide(azure(type="Unplanned"), mixed, d2.status, replace(CTX, generation=2))
    assert isinstance(d3.step, Stall) and d3.step.reason == Reason.ASR_JOB_FAILED
    assert "Protected: APP01" in d3.step.message and "The VM did not start." in d3.step.message
    assert condition(d3.status, ConditionType.READY).status == "False"
    assert_nothing_sent(d3)


def test_members_apart_without_a_failed_job_of_ours_stall_as_unsupported() -> None:
    d = decide(azure(), plan_obs(states={"WEB01": "CommitPending"}))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.UNSUPPORTED_STATE
    assert "CommitPending: WEB01" in d.step.message
    assert "Protected: DB01, APP01" in d.step.message
    assert_nothing_sent(d)


def test_job_failing_as_a_whole_is_retried_with_backoff() -> None:
    job = plan_job(FAILOVER, state=JobState.FAILED)
    d = decide(azure(), plan_obs(job=job), running_op(OperationType.FAILOVER))
    assert d.status.operation is None and d.status.failures is not None
    d2 = decide(azure(), plan_obs(), d.status, at(0.2))
    assert isinstance(d2.step, Wait) and "retrying" in d2.step.message
    d3 = decide(azure(), plan_obs(), d.status, at(1))
    assert d3.step == Submit(FAILOVER)


# --- Group and VM progress ------------------------------------------------------------------------


def test_groups_progress_and_job_column_while_the_job_runs() -> None:
    boots = (("DB01",), ("APP01", "WEB01", "FS01"))
    job = PlanJob("job-1", FAILOVER, "r1", T0, plan_steps(FAILOVER, boots))
    for i, s in enumerate(job.steps[:3]):  # Shutdown, Failover, Boot 1 done
        s.state = JobState.SUCCEEDED
        s.started, s.ended = T0 + timedelta(minutes=i), T0 + timedelta(minutes=i, seconds=50)
    job.steps[3].state, job.steps[3].started = JobState.IN_PROGRESS, T0 + timedelta(minutes=3)
    o = plan_obs(boots=boots, job=job.view())
    d = decide(azure(), o, running_op(OperationType.FAILOVER))
    assert isinstance(d.step, Wait) and d.step.reason == Reason.OPERATION_IN_PROGRESS
    assert d.status.progress == "Boot 2: starting 3 VMs."
    assert d.status.job == "Failover InProgress"
    groups = [
        (g.name, g.state, g.vms_done, g.vms_total, g.started_at, g.ended_at)
        for g in d.status.groups
    ]
    minute = timedelta(minutes=1)
    assert groups == [
        ("Shutdown", "Succeeded", 4, 4, T0, T0 + timedelta(seconds=50)),
        ("Failover", "Succeeded", 4, 4, T0 + minute, T0 + minute + timedelta(seconds=50)),
        ("Boot 1", "Succeeded", 1, 1, T0 + 2 * minute, T0 + 2 * minute + timedelta(seconds=50)),
        ("Boot 2", "InProgress", 0, 3, T0 + 3 * minute, None),
    ]
    results = {v.name: v.result for v in d.status.vms}
    assert results == {
        "DB01": "Succeeded",
        "APP01": "InProgress",
        "WEB01": "InProgress",
        "FS01": "InProgress",
    }
    op = d.status.operation
    assert op is not None and op.tasks_done == 3 and op.tasks_total == 4
    assert d.status.phase == Phase.FAILING_OVER


@pytest.mark.parametrize(
    ("done", "progress"),
    [
        (0, "Shutdown: shutting down 3 VMs."),
        (1, "Failover: failing over 3 VMs."),
        (2, "Boot 1: starting 1 VM."),
    ],
)
def test_progress_in_words(done: int, progress: str) -> None:
    d = decide(
        azure(), plan_obs(job=plan_job(FAILOVER, done=done)), running_op(OperationType.FAILOVER)
    )
    assert d.status.progress == progress


def test_idle_plan_shows_its_groups_and_members() -> None:
    d = decide(plan_spec(), plan_obs())
    assert [(g.name, g.vms_total) for g in d.status.groups] == [
        ("Shutdown", 0),
        ("Failover", 0),
        ("Boot 1", 1),
        ("Boot 2", 2),
    ]
    assert [v.name for v in d.status.vms] == ["DB01", "APP01", "WEB01"]
    assert d.status.item_count == 3 and d.status.active_site == "OnPremises"
    assert d.status.progress == "" and d.status.job == ""
    assert "PlannedFailover" in d.status.allowed_operations


def test_job_success_ends_the_operation_with_history() -> None:
    job = plan_job(FAILOVER, state=JobState.SUCCEEDED)
    d = decide(azure(), plan_obs("CommitPending", job=job), running_op(OperationType.FAILOVER))
    assert d.status.operation is None and d.status.job == ""
    entry = d.status.history[0]
    assert entry.result == OperationResult.SUCCEEDED and entry.job_name == "job-1"
    assert entry.duration_seconds == 60
    assert {v.result for v in d.status.vms} == {"Succeeded"}
    assert d.status.progress == "PlannedFailover succeeded."


# --- Recovery point -------------------------------------------------------------------------------


def test_recovery_point_change_while_awaiting_commit_stalls_and_sends_nothing() -> None:
    status = RecoveryPlanStatus(applied_recovery_point="Latest")
    for commit in ("Manual", "Automatic"):
        s = plan_spec(
            activeSite="Azure", failover={"recoveryPoint": "LatestProcessed", "commit": commit}
        )
        d = decide(s, plan_obs("CommitPending"), status)
        assert isinstance(d.step, Stall)
        assert d.step.reason == Reason.RECOVERY_POINT_CHANGE_NOT_SUPPORTED
        assert "Latest" in d.step.message and "LatestProcessed" in d.step.message
        assert_nothing_sent(d)
        assert d.status.awaiting_approval is None
    back = decide(azure(), plan_obs("CommitPending"), status)
    assert isinstance(back.step, Wait) and back.status.awaiting_approval is not None


def test_failover_found_done_leaves_the_point_unknown_and_never_stalls_on_it() -> None:
    s = plan_spec(activeSite="Azure", failover={"recoveryPoint": "LatestProcessed"})
    d = decide(s, plan_obs("CommitPending"))
    assert d.status.applied_recovery_point == ""
    assert isinstance(d.step, Wait)  # the commit gate, not a stall


def test_planned_failover_records_no_recovery_point_unplanned_its_kind() -> None:
    planned = decide(plan_spec(activeSite="Azure"), plan_obs("Protected"))
    assert planned.status.operation is not None
    assert planned.status.operation.recovery_point == ""
    s = plan_spec(
        activeSite="Azure", failover={"type": "Unplanned", "recoveryPoint": "LatestProcessed"}
    )
    unplanned = decide(s, plan_obs("Protected"))
    assert unplanned.status.operation is not None
    assert unplanned.status.operation.recovery_point == "LatestProcessed"


def test_failover_success_records_the_applied_point() -> None:
    s = plan_spec(activeSite="Azure", failover={"recoveryPoint": "LatestProcessed"})
    status = running_op(OperationType.FAILOVER, recovery_point="LatestProcessed")
    job = plan_job(FAILOVER, state=JobState.SUCCEEDED)
    d = decide(s, plan_obs("CommitPending", job=job), status)
    assert d.status.applied_recovery_point == "LatestProcessed"


# --- Intent, restart, re-attachment ---------------------------------------------------------------


RID = "7d0c3f4e-0000-5000-8000-000000000002"  # the intent's request id
LIFETIME = CTX.request_lifetime


def intent(
    action: Action = FAILOVER,
    type_: OperationType = OperationType.FAILOVER,
    age: float = LIFETIME + 60,
    attempt: int = 1,
) -> RecoveryPlanStatus:
    """An intent whose call's outcome is unknown, sent long enough ago that it can no
    longer reach ASR (unless `age` says otherwise)."""
    kind, parameters = action_to_intent(action)
    op = OperationStatus(
        run_id="r1",
        type=type_,
        requested_at=T0 - timedelta(seconds=age),
        generation=1,
        attempt=attempt,
        action=IntentAction(kind=kind, target=PLAN_ID, parameters=parameters),
        request_ids=[RID],
    )
    return RecoveryPlanStatus(operation=op)


def test_intent_records_the_exact_request() -> None:
    s = plan_spec(
        activeSite="Azure",
        failover={"type": "Unplanned", "recoveryPoint": "LatestApplicationConsistent"},
    )
    d = decide(s, plan_obs())
    op = d.status.operation
    assert op is not None and op.action is not None and isinstance(d.step, Submit)
    assert op.action.kind == "StartPlanFailover" and op.action.target == PLAN_ID
    assert action_from_intent(op.action.kind, op.action.parameters) == d.step.action
    assert d.step.action == StartPlanFailover(False, "LatestApplicationConsistent", True)
    assert op.type == OperationType.FAILOVER and op.detail == "Unplanned"
    assert op.recovery_point == "LatestApplicationConsistent"
    assert not op.submitted and op.run_id.startswith("failover-1-")
    assert d.status.phase == Phase.FAILING_OVER and d.status.job == "Failover Requested"
    assert any(e.reason == "FailoverRequested" for e in d.events)


def test_accepted_call_records_the_plan_job() -> None:
    s = azure()
    d = decide(s, plan_obs())
    status, events, _ = machine.record(s, d.status, d.step, Accepted("job-7"), CTX)
    assert status.operation is not None and status.operation.submitted
    assert status.operation.job_name == "job-7"
    assert [e.reason for e in events] == ["FailoverStarted"]
    w = machine.wants(s, status)
    assert w.job_name == "job-7" and w.job_lookup_since is None and w.hyperv


def test_resend_after_the_grace_sends_the_recorded_request_not_the_spec() -> None:
    changed = plan_spec(
        activeSite="Azure",
        failover={"type": "Unplanned", "recoveryPoint": "LatestProcessed"},
    )
    d = decide(changed, plan_obs(intent_jobs=()), intent())
    assert d.step == Submit(FAILOVER)
    assert d.status.operation is not None and d.status.operation.attempt == 2
    assert d.status.operation.run_id == "r1"
    assert any(e.reason == "Resubmitting" for e in d.events)
    failback = StartPlanFailback("ForSynchronization", True)
    d2 = decide(
        plan_spec(),
        plan_obs("FailedOver", intent_jobs=()),
        intent(failback, OperationType.FAILBACK),
    )
    assert d2.step == Submit(failback)


def test_no_job_within_the_grace_or_lookup_failed_waits() -> None:
    d = decide(azure(), plan_obs(intent_jobs=()), intent(age=10))
    assert isinstance(d.step, Wait) and d.status.operation is not None
    d2 = decide(azure(), plan_obs(intent_jobs=None), intent())
    assert isinstance(d2.step, Wait)
    w = machine.wants(azure(), intent(age=120))
    assert w.job_lookup_since == T0 - timedelta(seconds=120) - timedelta(minutes=5)
    d3 = decide(azure(), plan_obs(intent_jobs=()), intent(age=120))
    assert isinstance(d3.step, Wait) and "may still reach ASR" in d3.step.message


def test_the_plans_current_job_is_its_own_only_when_it_names_the_request() -> None:
    plan = asr_plan(
        None,
        current_scenario="PlannedFailover",
        current_job_name="job-8",
        current_scenario_status="InProgress",
    )
    other = plan_job(FAILOVER, name="job-8", request_id="a-human-in-the-portal")
    d = decide(azure(), plan_obs(plan=plan, intent_jobs=(other,)), intent())
    assert d.status.operation is not None and d.status.operation.job_name != "job-8"
    mine = plan_job(FAILOVER, name="job-8", request_id=RID)
    d2 = decide(azure(), plan_obs(plan=plan, intent_jobs=(mine,)), intent())
    assert isinstance(d2.step, Wait)
    op = d2.status.operation
    assert op is not None and op.submitted and op.job_name == "job-8"
    assert any(e.reason == "Reattached" for e in d2.events)


def test_finished_earlier_plan_job_is_not_taken_for_the_intents() -> None:
    plan = asr_plan(
        "Protected",
        current_scenario="TestFailoverCleanup",
        current_job_name="job-old",
        current_scenario_status="Succeeded",
    )
    d = decide(azure(), plan_obs(plan=plan, intent_jobs=()), intent())
    assert d.step == Submit(FAILOVER)


def test_reattach_to_the_plan_job_via_the_vaults_job_list() -> None:
    jobs = (
        plan_job(FAILOVER, name="job-5", now=T0 - timedelta(minutes=2), request_id="other"),
        plan_job(FAILOVER, name="job-6", now=T0 - timedelta(minutes=1), request_id=RID),
        plan_job(FAILOVER, name="job-7", now=T0 - timedelta(minutes=1), request_id="other"),
    )
    d = decide(azure(), plan_obs(intent_jobs=jobs), intent())
    assert d.status.operation is not None and d.status.operation.job_name == "job-6"


def test_effect_already_visible_completes_the_intent() -> None:
    d = decide(azure(), plan_obs("CommitPending", intent_jobs=()), intent())
    assert d.status.operation is None
    assert d.status.last_operation is not None
    assert d.status.last_operation.result == OperationResult.SUCCEEDED
    assert any(e.reason == "OperationObserved" for e in d.events)


def test_no_job_after_three_attempts_is_outcome_unknown() -> None:
    d = decide(azure(), plan_obs(intent_jobs=()), intent(attempt=3))
    assert isinstance(d.step, Stall) and d.step.reason == Reason.OUTCOME_UNKNOWN


# --- ObserveOnly, deletion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "site", "ready"),
    [
        ("Protected", "Azure", False),
        ("Protected", "OnPremises", True),
        ("CommitPending", "Azure", False),
        ("FailedOver", "Azure", True),
        ("FailedOver", "OnPremises", False),
        ("ReversePending", "OnPremises", False),
        ("TestActive", "OnPremises", False),
    ],
)
def test_observe_only_never_submits(state: str, site: str, ready: bool) -> None:
    s = plan_spec(activeSite=site, managementPolicy="ObserveOnly", **drill())
    d = decide(s, plan_obs(state))
    assert isinstance(d.step, Done) and d.status.phase == Phase.OBSERVING
    assert_nothing_sent(d)
    r = condition(d.status, ConditionType.READY)
    assert (r.status == ConditionStatus.TRUE) == ready and "ObserveOnly" in r.message
    assert ready or r.reason == Reason.OBSERVE_ONLY


def test_observe_only_resends_nothing_and_resumes_nothing() -> None:
    observe_only = plan_spec(activeSite="Azure", managementPolicy="ObserveOnly")
    d = decide(observe_only, plan_obs(intent_jobs=()), intent())
    assert isinstance(d.step, Wait) and d.step.reason == Reason.OBSERVE_ONLY, d.step
    assert d.status.operation is not None and d.status.operation.attempt == 1
    full = decide(azure(), plan_obs(intent_jobs=()), d.status)
    assert full.step == Submit(FAILOVER)
    gate = decide(azure(), at_manual(3), running_op(OperationType.FAILOVER))
    token = gate.status.awaiting_approval.token  # type: ignore[union-attr]
    approved = plan_spec(activeSite="Azure", managementPolicy="ObserveOnly", approve=token)
    d2 = decide(approved, at_manual(3), gate.status)
    assert isinstance(d2.step, Wait) and d2.step.reason == Reason.OBSERVE_ONLY, d2.step
    assert d2.status.operation is not None and d2.status.operation.resume_requested_at is None
    resumed = decide(plan_spec(activeSite="Azure", approve=token), at_manual(3), d2.status)
    assert isinstance(resumed.step, Submit) and isinstance(resumed.step.action, ResumeJob)
    # It still follows the job it started, to the end.
    done = plan_obs("CommitPending", job=plan_job(FAILOVER, state=JobState.SUCCEEDED))
    d3 = decide(approved, done, d2.status)
    assert d3.status.operation is None and d3.status.last_operation is not None


def test_deletion_waits_for_the_running_plan_job_and_never_calls() -> None:
    status = running_op(OperationType.FAILOVER)
    for job in (plan_job(FAILOVER, done=2), plan_job(FAILOVER, done=3, state=JobState.SUSPENDED)):
        d = machine.decide_deletion(status, Observation(job=job), CTX)
        assert isinstance(d.step, Wait) and "job-1" in d.step.message
        assert d.status.phase == Phase.DELETING
    unsent = machine.decide_deletion(intent(), Observation(), CTX)
    assert isinstance(unsent.step, Wait)
    done = machine.decide_deletion(
        status, Observation(job=plan_job(FAILOVER, state=JobState.SUCCEEDED)), CTX
    )
    assert isinstance(done.step, Release)
    abandoned = machine.decide_deletion(
        status, Observation(job=plan_job(FAILOVER, done=2)), replace(CTX, abandon_wait=True)
    )
    assert isinstance(abandoned.step, Release) and abandoned.events
    assert isinstance(
        machine.decide_deletion(RecoveryPlanStatus(), Observation(), CTX).step, Release
    )


@pytest.mark.parametrize(("state", "site"), [("Protected", "OnPremises"), ("FailedOver", "Azure")])
def test_an_idle_plan_writes_nothing_from_one_cycle_to_the_next(state: str, site: str) -> None:
    """At rest, status is a pure function of ASR's state: no write per poll interval."""
    s = plan_spec(activeSite=site)
    first = decide(s, plan_obs(state), RecoveryPlanStatus(), CTX)
    later = decide(s, plan_obs(state), first.status, at(30))
    assert later.status == first.status
    assert later.status.to_wire() == first.status.to_wire()


# --- The members' failed-over VMs in status ------------------------------------------------


def test_members_running_in_azure_show_their_recovered_vm() -> None:
    names = members_of(BOOT)
    read = {
        n.lower(): replace(AZURE_VM, name=n.lower(), private_ips=(f"10.0.0.{i}",))
        for i, n in enumerate(names, start=1)
    }
    o = plan_obs("FailedOver", member_azure_vms=read)
    assert [
        m.friendly_name
        for m in machine.member_azure_vm_reads(RecoveryPlanStatus(), o.members, None)
    ] == list(names)
    d = decide(azure(), o)
    shown = {v.name: v.azure_vm for v in d.status.vms}
    for i, n in enumerate(names, start=1):
        vm = shown[n]
        assert vm is not None and vm.name == n.lower() and vm.power_state == "running"
        assert vm.ips == [f"10.0.0.{i}"] and vm.connect == f"mstsc /v:10.0.0.{i}"
    # At rest the plan reads nothing more and keeps what status shows.
    assert machine.member_azure_vm_reads(d.status, o.members, None) == []
    again = decide(azure(), plan_obs("FailedOver"), d.status)
    assert {v.name: v.azure_vm for v in again.status.vms} == shown
    # On-premises members show none.
    home = decide(plan_spec(), plan_obs("Protected"), d.status)
    assert {v.azure_vm for v in home.status.vms} == {None}
