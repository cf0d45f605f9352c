"""Property tests of the RecoveryPlan machine: random spec edits, plan job outcomes (success,
a member failing, the whole job failing), crashes before the call, lost responses,
approvals and Hyper-V outages over a plan of three VMs with two manual actions.

The invariants (docs/lifecycle.md, "Safety rules"): never two ASR calls in flight, never
a second submit of an intent whose job may exist, never a cancel, a suspended job resumed
only after its own approval, ObserveOnly never calls, every Stalled has a reason and a
message, a plan whose VMs stand apart is never Ready; and once faults stop, the plan
reaches the desired site.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asr_operator.api import operation as api
from asr_operator.api.conditions import ConditionType, get_condition
from asr_operator.api.operation import OperationType
from asr_operator.controllers.resting import REST_MAX
from asr_operator.lifecycle import recoveryplan as machine
from asr_operator.lifecycle import steps
from asr_operator.lifecycle.observation import Context, Observation
from asr_operator.lifecycle.observed import JobState, PowerState
from asr_operator.lifecycle.steps import Done, Release, Submit, Wait
from tests.unit.lifecycle_world import DRILL_NET
from tests.unit.plan_world import Manual, PlanWorld, plan_spec

NET = DRILL_NET
# Back to back, and named alike (ASR names a manual action's task by its type).
MANUAL = (
    Manual(1, "ManualActionTask", "Check that the database accepts connections."),
    Manual(2, "ManualActionTask", "Run the smoke tests on the web tier.", "start"),
)
MEMBERS = ("DB01", "APP01", "WEB01")

EDITS = st.sampled_from(
    [
        {"activeSite": "Azure"},
        {"activeSite": "OnPremises"},
        {"activeSite": "Azure"},
        {"activeSite": "OnPremises"},
        {"activeSite": "Azure"},
        {"activeSite": "OnPremises"},
        {"failover.type": "Unplanned"},
        {"failover.type": "Planned"},
        {"failover.commit": "Automatic"},
        {"failover.commit": "Manual"},
        {"failover.recoveryPoint": "LatestProcessed"},
        {"failover.recoveryPoint": "Latest"},
        {"failover.recoveryPoint": "LatestApplicationConsistent"},
        {"failover.shutdownSourceVM": False},
        {"failover.shutdownSourceVM": True},
        {"failback.dataSync": "DuringFailover"},
        {"failback.dataSync": "BeforeFailover"},
        {"failback.commit": "Automatic"},
        {"failback.commit": "Manual"},
        {"reverseReplication": "Manual"},
        {"reverseReplication": "Automatic"},
        {"testFailover.requestId": "d1", "testFailover.networkId": NET},
        {"testFailover.requestId": "d2", "testFailover.networkId": NET},
        {"testFailover.cleanupAfter": "5m"},
        {"managementPolicy": "ObserveOnly"},
        {"managementPolicy": "Full"},
    ]
)

# One reconcile round: maybe an edit or a fault, then a controller cycle (maybe crashing),
# maybe the plan job moving on, maybe a human approving.
ROUND = st.fixed_dictionaries(
    {
        "edit": st.one_of(st.none(), st.none(), st.none(), EDITS),
        "crash": st.sampled_from(
            ["", "", "", "", "", "", "before-call", "lost-response", "dropped", "late"]
        ),
        "tick": st.booleans(),
        "approve": st.sampled_from([False, False, True]),
        "fail_vm": st.sampled_from([""] * 12 + list(MEMBERS)),
        "fail_next_job": st.sampled_from([False] * 14 + [True]),
        "power_on": st.sampled_from([""] * 12 + list(MEMBERS)),
        "host_down": st.sampled_from([False] * 9 + [True]),
        "conflict": st.sampled_from([False] * 14 + [True]),
        "wait": st.sampled_from([5, 31, 31, 120, 900]),
    }
)

PLAN_ACTIONS = {
    steps.StartPlanFailover,
    steps.StartPlanTestFailover,
    steps.StartPlanTestFailoverCleanup,
    steps.StartPlanCommit,
    steps.StartPlanFailback,
    steps.StartPlanReprotect,
    steps.ResumeJob,
}

START = st.sampled_from(
    [
        "Protected",
        "Protected",
        "TestActive",
        "CommitPending",
        "FailedOver",
        "FailbackCommitPending",
        "ReversePending",
    ]
)


def new_world(start: str, site: str) -> PlanWorld:
    world = PlanWorld(
        spec=plan_spec(activeSite=site),
        states=dict.fromkeys(MEMBERS, start),
        manual=MANUAL,
    )
    if start in ("CommitPending", "FailedOver"):
        world.power = dict.fromkeys(MEMBERS, PowerState.OFF)
    if start == "TestActive":
        # A drill the operator started before a restart (a foreign drill is left alone).
        world.edit({"testFailover.requestId": "d0", "testFailover.networkId": NET})
        world.status = world.status.model_copy(
            update={"test_failover": api.TestFailoverStatus(last_request_id="d0")}
        )
    return world


def cycle(world: PlanWorld, crash: str = "") -> None:
    """One controller cycle, checking what only holds per decision."""
    observe_only = world.spec.management_policy == "ObserveOnly"
    step = world.cycle(crash=crash)
    if observe_only and isinstance(step, Submit):
        world.violations.append(f"ObserveOnly sent {step.action}")
    ready = get_condition(world.status.conditions, ConditionType.READY)
    apart = world.running() is None and world.common() is None
    if apart and ready is not None and ready.status == "True":
        world.violations.append(f"Ready while the plan's VMs stand apart: {world.states}")
    members = world.member_views()
    if isinstance(step, Done) and machine.at_rest(world.spec, world.status, members):
        # Resting on the vault's sweep (controllers/resting.py): with the plan and members
        # as listed, a cycle up to REST_MAX later is Done again and writes nothing.
        later = replace(world.ctx(), now=world.now + timedelta(seconds=REST_MAX - 1))
        listed = Observation(plan=world.plan_view(), members=members)
        again = machine.decide(world.spec, world.status, listed, later)
        if not isinstance(again.step, Done) or again.status.to_wire() != world.status.to_wire():
            world.violations.append(f"at rest, yet a later cycle does {again.step}")


def run_program(world: PlanWorld, program: list[dict[str, object]]) -> None:
    for r in program:
        if r["edit"] is not None:
            world.edit(r["edit"])  # type: ignore[arg-type]
        if r["fail_vm"]:
            world.fail_vm = str(r["fail_vm"])
        if r["fail_next_job"]:
            world.fail_next_job = True
        if r["power_on"]:
            world.power[str(r["power_on"])] = PowerState.RUNNING
        world.unreadable = {"APP01": "WinRM: connection refused"} if r["host_down"] else {}
        world.conflicts = ("plan-db",) if r["conflict"] else ()
        cycle(world, crash=str(r["crash"]))
        if r["tick"]:
            world.tick()
        if r["approve"]:
            world.approve_pending()
        world.advance(float(r["wait"]))  # type: ignore[arg-type]
    world.unreadable, world.conflicts = {}, ()


def check_invariants(world: PlanWorld) -> None:
    assert not world.violations, world.violations
    for step in world.steps:
        if isinstance(step, Submit):
            assert type(step.action) in PLAN_ACTIONS, step  # no cancel exists to be sent
    assert not any("Cancel" in name for name, _ in world.calls)
    # Every intent whose job was created was sent once.
    sent = [run for name, run in world.calls if name != "ResumeJob"]
    assert all(sent.count(run) <= 1 for run in world.job_runs), world.calls


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROUND, min_size=10, max_size=80), START, st.sampled_from(["Azure", "OnPremises"]))
def test_invariants_hold_under_random_programs(
    program: list[dict[str, object]], start: str, first_site: str
) -> None:
    world = new_world(start, first_site)
    run_program(world, program)
    check_invariants(world)


def stop_faults(world: PlanWorld, site: str) -> None:
    """Faults stop, and a human does what the stalls asked for."""
    world.fail_vm, world.fail_next_job = "", False
    running = world.running()
    if running is not None:
        running.fail_vm, running.fail_job = "", False
    world.repair()  # restart a plan job that failed for some VMs
    held = world.status.operation
    failing_back = (running and isinstance(running.action, steps.StartPlanFailback)) or (
        held is not None and held.type == OperationType.FAILBACK  # it may still land, or be sent
    )
    if site == "OnPremises" or failing_back:
        world.power = dict.fromkeys(MEMBERS, PowerState.OFF)  # turned off again
    world.edit({"activeSite": site, "managementPolicy": "Full"})


def settle(world: PlanWorld) -> None:
    """Run to the end; a human answers the one stall that asks for a spec edit."""
    world.settle(cycles=150)
    stalled = get_condition(world.status.conditions, ConditionType.STALLED)
    if stalled is not None and stalled.reason == "RecoveryPointChangeNotSupported":
        assert world.status.applied_recovery_point in stalled.message
        world.edit({"failover.recoveryPoint": world.status.applied_recovery_point})
        world.settle(cycles=150)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(ROUND, min_size=10, max_size=50),
    START,
    st.sampled_from(["Azure", "OnPremises"]),
    st.sampled_from(["Azure", "OnPremises"]),
)
def test_every_plan_ends_where_desired(
    program: list[dict[str, object]], start: str, first_site: str, site: str
) -> None:
    """After any history, with faults stopped and gates approved, the plan reaches the spec."""
    world = new_world(start, first_site)
    run_program(world, program)
    stop_faults(world, site)
    settle(world)
    check_invariants(world)
    ready = get_condition(world.status.conditions, ConditionType.READY)
    stalled = get_condition(world.status.conditions, ConditionType.STALLED)
    desired = "FailedOver" if site == "Azure" else "Protected"
    if stalled is not None and stalled.status == "True":
        # The only stalls left once faults stop are those that need a human by design.
        assert stalled.reason in {
            "RetriesExhausted",
            "AsrJobFailed",
            "AsrRejected",
            "OutcomeUnknown",
        }, (stalled.reason, stalled.message)
        return
    assert set(world.states.values()) == {desired}, (world.states, world.status.phase)
    assert world.status.operation is None and world.running() is None
    assert ready is not None and ready.status == "True", ready
    assert world.status.active_site == site


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROUND, min_size=10, max_size=50), START, st.sampled_from(["Azure", "OnPremises"]))
def test_deletion_never_acts(program: list[dict[str, object]], start: str, site: str) -> None:
    world = new_world(start, site)
    run_program(world, program)
    calls = len(world.calls)
    for abandon in (False, True):
        obs = world.observe()
        ctx = Context(generation=world.generation, now=world.now, abandon_wait=abandon)
        d = machine.decide_deletion(world.status, obs, ctx)
        assert isinstance(d.step, Wait | Release)
        if world.status.operation is None or abandon:
            assert isinstance(d.step, Release)
        job = world.running()
        if job is not None and world.status.operation is not None and not abandon:
            assert isinstance(d.step, Wait)
    assert len(world.calls) == calls


# --- Whole lifecycles -----------------------------------------------------------------------------


def test_a_full_plan_lifecycle_end_to_end() -> None:
    """Protected -> Azure (two manual actions, manual commit) -> back on-premises
    (ForDownTime, manual failback commit) -> Protected."""
    world = new_world("Protected", "Azure")
    world.settle()
    assert set(world.states.values()) == {"FailedOver"}
    world.edit({"activeSite": "OnPremises"})
    world.power = dict.fromkeys(MEMBERS, PowerState.OFF)
    world.settle()
    assert set(world.states.values()) == {"Protected"}
    assert [n for n, _ in world.calls] == [
        "StartPlanFailover",
        "ResumeJob",
        "ResumeJob",
        "StartPlanCommit",
        "StartPlanFailback",
        "ResumeJob",
        "StartPlanCommit",
        "StartPlanReprotect",
    ]
    assert [h.type for h in reversed(world.status.history)] == [
        "Failover",
        "Commit",
        "Failback",
        "FailbackCommit",
        "ReverseReplication",
    ]
    gates = sorted(token.rsplit("-", 1)[0] for token in world.approvals)
    assert gates == ["commit", "completefailback", "failbackcommit", "manualaction", "manualaction"]
    check_invariants(world)


def test_back_to_back_manual_actions_are_each_approved_and_resumed_promptly() -> None:
    world = new_world("Protected", "Azure")
    world.settle(cycles=12)
    resumes = [
        i
        for i, s in enumerate(world.steps)
        if isinstance(s, Submit) and isinstance(s.action, steps.ResumeJob)
    ]
    assert len(resumes) == 2
    assert resumes[1] - resumes[0] <= 3  # approved at once, resumed on the next cycle
    tokens = [t for t in world.approvals if t.startswith("manualaction-")]
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    check_invariants(world)


def test_member_failure_stalls_then_a_restarted_job_lets_the_plan_go_on() -> None:
    world = new_world("Protected", "Azure")
    world.fail_vm = "APP01"
    for _ in range(30):
        world.approve_pending()
        cycle(world)
        world.tick()
        world.advance()
    assert world.states == {"DB01": "CommitPending", "APP01": "Protected", "WEB01": "CommitPending"}
    stalled = get_condition(world.status.conditions, ConditionType.STALLED)
    assert stalled is not None and stalled.status == "True" and stalled.reason == "AsrJobFailed"
    assert "APP01" in stalled.message and "The VM did not start." in stalled.message
    assert world.status.history[0].result == "Failed"
    assert {v.name: v.result for v in world.status.vms}["APP01"] == "Failed"
    calls = len(world.calls)
    world.repair()
    world.settle()
    assert set(world.states.values()) == {"FailedOver"}
    assert [n for n, _ in world.calls[calls:]] == ["StartPlanCommit"]
    check_invariants(world)


def test_crash_before_call_resends_once_after_checking() -> None:
    world = new_world("Protected", "Azure")
    cycle(world, crash="before-call")
    assert world.calls == [] and world.status.operation is not None
    world.settle()
    assert [n for n, _ in world.calls].count("StartPlanFailover") == 1
    assert set(world.states.values()) == {"FailedOver"}
    check_invariants(world)


def test_lost_response_reattaches_without_resending() -> None:
    world = new_world("Protected", "Azure")
    cycle(world, crash="lost-response")
    assert len(world.calls) == 1
    assert world.status.operation is not None and not world.status.operation.submitted
    world.settle()
    assert [n for n, _ in world.calls].count("StartPlanFailover") == 1
    assert set(world.states.values()) == {"FailedOver"}
    check_invariants(world)


def test_lost_resume_response_is_not_resent_while_the_job_moves_on() -> None:
    world = new_world("Protected", "Azure")
    for _ in range(20):
        world.approve_pending()
        op = world.status.operation
        job = world.jobs.get(op.job_name) if op and op.job_name else None
        suspended = job is not None and job.state == JobState.SUSPENDED
        cycle(world, crash="lost-response" if suspended else "")
        world.tick()
        world.advance()
    assert set(world.states.values()) == {"FailedOver"}
    assert [n for n, _ in world.calls].count("ResumeJob") == 2
    check_invariants(world)
