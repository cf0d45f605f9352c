"""A RecoveryPlan is observed and reported, and says plainly that it is not acted on."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import GROUP, NS, VERSION, Cluster, Operator, wait_until

PLANS = "recoveryplans"


def plan_status(cluster: Cluster) -> dict[str, Any]:
    return dict(cluster.get("plan-web", PLANS).get("status") or {})


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def test_recovery_plan_status_and_refusal(cluster: Cluster, operator: Operator) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecoveryPlan",
        "metadata": {"name": "plan-web", "namespace": NS},
        "spec": {"vaultRef": {"name": "vault-dr"}, "planName": "plan-web"},
    }
    cluster.custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLANS, body)
    wait_until(
        lambda: condition(plan_status(cluster), "Ready").get("status") == "True",
        30,
        "the plan to be Ready",
    )
    status = plan_status(cluster)
    assert status["itemCount"] == 3 and status["activeSite"] == "OnPremises"
    assert {v["name"] for v in status["vms"]} == {"db01", "app01", "web01"}
    assert [g["name"] for g in status["groups"]][:2] == ["Shutdown", "Failover"]

    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, PLANS, "plan-web", {"spec": {"activeSite": "Azure"}}
    )
    wait_until(
        lambda: (
            condition(plan_status(cluster), "Stalled").get("reason") == "PlanActionsNotImplemented"
        ),
        30,
        "the plan to say it is not acted on",
    )
    assert operator.dc.asr.calls["plans.plannedFailover"] == 0
    assert not any(
        "plannedFailover" in k or "Failover" in k
        for k in operator.dc.asr.calls
        if k.startswith("items.")
    )
