"""RecoveryPlan status is reported from ASR's view; the operator does not act on plans yet."""

from __future__ import annotations

from dataclasses import replace

from asr_operator.api.conditions import ConditionType, get_condition
from asr_operator.api.recoveryplan import RecoveryPlanSpec, RecoveryPlanStatus
from asr_operator.lifecycle import recoveryplan
from asr_operator.lifecycle.observation import Context
from asr_operator.lifecycle.observed import AsrPlan, AsrPlanGroup
from tests.unit.lifecycle_world import T0, item

CTX = Context(generation=2, now=T0)


def plan_and_items(*states: str) -> tuple[AsrPlan, list]:  # type: ignore[type-arg]
    items = [replace(item(s), id=f"/rpi/{n}", friendly_name=f"vm{n}") for n, s in enumerate(states)]
    groups = (
        AsrPlanGroup("Shutdown", "Shutdown"),
        AsrPlanGroup("Failover", "Failover"),
        AsrPlanGroup("Boot", "Boot 1", tuple(i.id for i in items)),
    )
    return AsrPlan("/plan/p", "p", "p", frozenset({"PlannedFailover"}), groups), items


def spec(site: str) -> RecoveryPlanSpec:
    return RecoveryPlanSpec.model_validate(
        {"vaultRef": {"name": "v"}, "planName": "p", "activeSite": site}
    )


def test_plan_where_desired_is_ready() -> None:
    plan, items = plan_and_items("Protected", "Protected")
    st = recoveryplan.report(spec("OnPremises"), RecoveryPlanStatus(), plan, items, CTX)
    ready = get_condition(st.conditions, ConditionType.READY)
    assert ready is not None and ready.status == "True" and ready.observed_generation == 2
    assert st.active_site == "OnPremises" and st.item_count == 2
    assert [g.name for g in st.groups] == ["Shutdown", "Failover", "Boot 1"]


def test_plan_elsewhere_says_plainly_it_is_not_acted_on() -> None:
    plan, items = plan_and_items("Protected", "FailedOver")
    st = recoveryplan.report(spec("Azure"), RecoveryPlanStatus(), plan, items, CTX)
    stalled = get_condition(st.conditions, ConditionType.STALLED)
    assert stalled is not None and stalled.status == "True"
    assert stalled.reason == "PlanActionsNotImplemented" and "ProtectedVMs" in stalled.message
    assert st.active_site is None  # the VMs run in both sites


def test_running_job_is_reconciling() -> None:
    plan, items = plan_and_items("Protected")
    items[0] = replace(items[0], current_job_name="j1", current_scenario="PlannedFailover")
    st = recoveryplan.report(spec("Azure"), RecoveryPlanStatus(), plan, items, CTX)
    assert get_condition(st.conditions, ConditionType.RECONCILING).status == "True"  # type: ignore[union-attr]
    assert st.job == "PlannedFailover"
