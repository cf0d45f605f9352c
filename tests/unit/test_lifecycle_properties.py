"""Property tests: random spec edits, ASR outcomes and restarts against the invariants.

DESIGN.md section 3: never two operations in flight, never a cancel, never a second
submit of the same intent, deletion never acts, every Stalled has a reason and message;
and once the faults stop, every VM ends where it is desired.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from asr_operator.api import protectedvm as pvm
from asr_operator.api.conditions import ConditionType, get_condition
from asr_operator.api.operation import OperationType
from asr_operator.controllers.resting import REST_MAX
from asr_operator.lifecycle import protectedvm as machine
from asr_operator.lifecycle import steps
from asr_operator.lifecycle.observation import Context, Observation
from asr_operator.lifecycle.steps import Done, Release, Submit, Wait
from tests.unit.lifecycle_world import DRILL_NET, World, spec

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
        {"failback.dataSync": "DuringFailover"},
        {"failback.dataSync": "BeforeFailover"},
        {"failback.commit": "Automatic"},
        {"reverseReplication": "Manual"},
        {"reverseReplication": "Automatic"},
        {"testFailover.requestId": "d1", "testFailover.networkId": DRILL_NET},
        {"testFailover.requestId": "d2", "testFailover.networkId": DRILL_NET},
        {"testFailover.cleanupAfter": "5m"},
        {"target.size": "Standard_D4s_v3"},
        {"managementPolicy": "ObserveOnly"},
        {"managementPolicy": "Full"},
    ]
)

# One reconcile round: maybe an edit or a fault, then a controller cycle (maybe
# crashing), maybe the ASR job moving on, maybe a human approving.
ROUND = st.fixed_dictionaries(
    {
        "edit": st.one_of(st.none(), st.none(), st.none(), EDITS),
        "crash": st.sampled_from(
            ["", "", "", "", "", "", "before-call", "lost-response", "dropped", "late"]
        ),
        "tick": st.booleans(),
        "approve": st.sampled_from([False, False, True]),
        "fail_next_job": st.sampled_from([False] * 9 + [True]),
        "power_on": st.sampled_from([False] * 9 + [True]),
        "wait": st.sampled_from([5, 31, 31, 120, 900]),
    }
)
ACTIONS = ROUND

ALLOWED_ACTIONS = {
    steps.StartFailover,
    steps.StartTestFailover,
    steps.StartTestFailoverCleanup,
    steps.StartCommit,
    steps.StartApplyRecoveryPoint,
    steps.StartFailback,
    steps.StartReprotect,
    steps.StartUpdateTarget,
    steps.ResumeJob,
}


def run_program(world: World, program: list[dict[str, object]]) -> None:
    for r in program:
        if r["edit"] is not None:
            world.edit(r["edit"])  # type: ignore[arg-type]
        if r["fail_next_job"]:
            world.fail_next_job = True
        if r["power_on"]:
            world.power = world.power.RUNNING
        world.cycle(crash=str(r["crash"]))
        if r["tick"]:
            world.tick()
        if r["approve"]:
            world.approve_pending()
        world.advance(float(r["wait"]))  # type: ignore[arg-type]


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


def new_world(start: str, site: str) -> World:
    world = World(spec=spec(activeSite=site), state=start)
    if start in ("CommitPending", "FailedOver"):
        world.power = world.power.OFF
    if start == "TestActive":
        # A drill the operator started before a restart (a foreign drill is left alone).
        world.edit({"testFailover.requestId": "d0", "testFailover.networkId": DRILL_NET})
        world.status = world.status.model_copy(
            update={"test_failover": pvm.TestFailoverStatus(last_request_id="d0")}
        )
    return world


def check_invariants(world: World) -> None:
    assert not world.violations, world.violations
    for step in world.steps:
        if isinstance(step, Submit):
            assert type(step.action) in ALLOWED_ACTIONS  # no cancel exists to be sent
    assert not any("Cancel" in name for name, _ in world.calls)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ACTIONS, min_size=10, max_size=80), START, st.sampled_from(["Azure", "OnPremises"]))
def test_invariants_hold_under_random_programs(
    program: list[dict[str, object]], start: str, first_site: str
) -> None:
    world = new_world(start, first_site)
    run_program(world, program)
    check_invariants(world)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(ACTIONS, min_size=10, max_size=50),
    START,
    st.sampled_from(["Azure", "OnPremises"]),
    st.sampled_from(["Azure", "OnPremises"]),
)
def test_every_vm_ends_where_desired(
    program: list[dict[str, object]], start: str, first_site: str, site: str
) -> None:
    """After any history, with faults stopped and gates approved, the VM reaches the spec."""
    world = new_world(start, first_site)
    run_program(world, program)
    world.fail_next_job = False
    running = world.running()
    held = world.status.operation
    failing_back = (running and isinstance(running.action, steps.StartFailback)) or (
        held is not None and held.type == OperationType.FAILBACK  # sent again once it may
    )
    if site == "OnPremises" or failing_back:
        world.power = world.power.OFF  # a human left the VM on; they turn it off again
    world.edit({"activeSite": site, "managementPolicy": "Full"})
    world.settle(cycles=120)
    check_invariants(world)
    ready = get_condition(world.status.conditions, ConditionType.READY)
    stalled = get_condition(world.status.conditions, ConditionType.STALLED)
    desired_state = "FailedOver" if site == "Azure" else "Protected"
    if stalled is not None and stalled.status == "True":
        # The only stalls left once faults stop are those that need a human by design.
        assert stalled.reason in {
            "RetriesExhausted",
            "AsrJobFailed",
            "AsrRejected",
            "OutcomeUnknown",
        }
        return
    assert world.state == desired_state, (world.state, world.status.phase, world.steps[-3:])
    assert world.status.operation is None
    assert ready is not None and ready.status == "True", ready


@settings(max_examples=100, deadline=None)
@given(st.lists(ACTIONS, min_size=10, max_size=50), START, st.sampled_from(["Azure", "OnPremises"]))
def test_deletion_never_acts(program: list[dict[str, object]], start: str, site: str) -> None:
    world = new_world(start, site)
    run_program(world, program)
    calls_before = len(world.calls)
    for abandon in (False, True):
        obs = world.observe()
        ctx = Context(generation=world.generation, now=world.now, abandon_wait=abandon)
        d = machine.decide_deletion(world.status, obs, ctx)
        assert isinstance(d.step, Wait | Release)
        if world.status.operation is None or abandon:
            assert isinstance(d.step, Release)
    assert len(world.calls) == calls_before


def test_a_full_lifecycle_end_to_end() -> None:
    """Protected -> Azure (manual commit) -> back on-premises (ForDownTime) -> Protected."""
    world = World(spec=spec(activeSite="Azure"))
    world.settle()
    assert world.state == "FailedOver"
    world.edit({"activeSite": "OnPremises"})
    world.power = world.power.OFF
    world.settle()
    assert world.state == "Protected"
    names = [n for n, _ in world.calls]
    assert names == [
        "StartFailover",
        "StartCommit",
        "StartFailback",
        "ResumeJob",
        "StartCommit",
        "StartReprotect",
    ]
    assert [h.type for h in reversed(world.status.history)] == [
        "Failover",
        "Commit",
        "Failback",
        "FailbackCommit",
        "ReverseReplication",
    ]
    check_invariants(world)


def test_crash_before_call_resends_once_after_checking() -> None:
    world = World(spec=spec(activeSite="Azure"))
    world.cycle(crash="before-call")
    assert world.calls == [] and world.status.operation is not None
    world.settle()
    assert [n for n, _ in world.calls].count("StartFailover") == 1
    check_invariants(world)


def test_lost_response_reattaches_without_resending() -> None:
    world = World(spec=spec(activeSite="Azure"))
    world.cycle(crash="lost-response")
    assert len(world.calls) == 1 and not world.status.operation.submitted  # type: ignore[union-attr]
    world.settle()
    assert [n for n, _ in world.calls].count("StartFailover") == 1
    assert world.state == "FailedOver"
    check_invariants(world)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ACTIONS, min_size=5, max_size=60), START, st.sampled_from(["Azure", "OnPremises"]))
def test_a_resting_object_has_nothing_to_do_until_its_item_changes(
    program: list[dict[str, object]], start: str, first_site: str
) -> None:
    """What lets an object sleep on the vault's sweep (controllers/resting.py): whenever a
    cycle ends in Done and `at_rest` holds, a cycle up to REST_MAX later, on the same item
    from the vault-wide list, would again be Done and write nothing."""
    world = new_world(start, first_site)
    rested = 0
    for r in program:
        if r["edit"] is not None:
            world.edit(r["edit"])  # type: ignore[arg-type]
        step = world.cycle(crash=str(r["crash"]))
        listed = world.observe().item
        assert listed is not None
        if isinstance(step, Done) and machine.at_rest(world.spec, world.status, listed, ""):
            rested += 1
            later = replace(world.ctx(), now=world.now + timedelta(seconds=REST_MAX - 1))
            again = machine.decide(world.spec, world.status, Observation(item=listed), later)
            assert isinstance(again.step, Done), again.step
            assert again.status.to_wire() == world.status.to_wire()
            assert again.events == ()
        if r["tick"]:
            world.tick()
        if r["approve"]:
            world.approve_pending()
        world.advance(float(r["wait"]))  # type: ignore[arg-type]
    event(f"cycles at rest (3 or more counted as 3): {min(rested, 3)}")
