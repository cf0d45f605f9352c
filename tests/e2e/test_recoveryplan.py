"""RecoveryPlans end to end: the operator process fails a three-group plan over and back
through the simulators, with manual actions and approvals through spec, drills, per-member
gates, a member failing during boot, ownership, 100 VMs, and kills at each step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from asr_operator.sim.asr import FaultRule, JobFailure
from asr_operator.sim.scenario import Scenario
from asr_operator.sim.stack import SimulatedDatacenter, bundled_scenario
from tests.e2e.conftest import Cluster, Operator, action_calls, stalled

PLANS = "recoveryplans"
MEMBERS = ("db01", "app01", "web01")
HOSTS = [{"vm": vm, "host": "hv-01"} for vm in MEMBERS]
NETWORK = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-dr-net"
    "/providers/Microsoft.Network/virtualNetworks/vnet-drill"
)


def plans(cluster: Cluster) -> Cluster:
    return cluster.of(PLANS)


def create_plan(cluster: Cluster, name: str = "plan-web", **spec: Any) -> Cluster:
    p = plans(cluster)
    body = {"vaultRef": {"name": "vault-dr"}, "planName": name, "hyperV": HOSTS, **spec}
    p.create("RecoveryPlan", name, body)
    return p


def remove_checkpoints(dc: SimulatedDatacenter, vm: str) -> None:
    state = dc.datacenter.vm_on_host("hv-01", vm)
    assert state is not None
    with dc.datacenter.lock:
        state.checkpoints.clear()


def approval(status: dict[str, Any]) -> dict[str, Any]:
    return dict(status.get("awaitingApproval") or {})


def approve(p: Cluster, action: str, name: str = "plan-web") -> dict[str, Any]:
    status = p.wait_for(
        name, lambda s: approval(s).get("action") == action, what=f"the {action} gate"
    )
    p.patch_spec(name, {"approve": approval(status)["token"]})
    return status


def history(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["type"], h["result"]) for h in reversed(status.get("history", []))]


def test_three_group_plan_fails_over_and_back(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    p = create_plan(cluster, activeSite="Azure")
    # db01 carries a checkpoint: the plan refuses before anything is sent, naming it.
    status = p.wait_stalled("plan-web", "CheckpointsPresent")
    assert "db01" in stalled(status)["message"] and "app01" not in stalled(status)["message"]
    assert not action_calls(dc)
    remove_checkpoints(dc, "db01")

    gate = approve(p, "ManualAction")
    assert "Confirm the DNS cut-over" in gate["awaitingApproval"]["message"]
    assert gate["phase"] == "FailingOver" and "manual action" in gate["progress"]
    groups = {g["name"]: g for g in gate["groups"]}
    assert groups["Boot 1"]["state"] == "Succeeded" and groups["Boot 1"]["vmsDone"] == 1
    assert groups["Boot 3"]["vmsDone"] == 0 and groups["Boot 1"]["startedAt"]
    approve(p, "Commit")
    status = p.wait_ready("plan-web")
    assert status["phase"] == "FailedOver" and status["activeSite"] == "Azure"
    assert {v["name"]: v["result"] for v in status["vms"]} == dict.fromkeys(MEMBERS, "Succeeded")
    # Each member's failed-over VM, as ARM shows it (azure/compute.py).
    for v in status["vms"]:
        vm = v["azureVM"]
        assert vm["id"].endswith(f"/virtualMachines/{v['name']}"), vm
        assert vm["powerState"] == "running" and vm["ips"], vm
    comments = dc.asr.call(
        lambda: [c for j in dc.asr.sim.vault.jobs.values() for c in j.resume_comments]
    )
    assert comments and "Approved through spec.approve" in comments[0]

    p.patch_spec("plan-web", {"activeSite": "OnPremises"})
    approve(p, "CompleteFailback")  # ForDownTime: the job waits after the data sync
    approve(p, "FailbackCommit")
    status = p.wait_ready("plan-web", timeout=90)
    assert status["phase"] == "Protected" and status["activeSite"] == "OnPremises"
    assert all(v.get("azureVM") is None for v in status["vms"])
    assert history(status) == [
        ("Failover", "Succeeded"),
        ("Commit", "Succeeded"),
        ("Failback", "Succeeded"),
        ("FailbackCommit", "Succeeded"),
        ("ReverseReplication", "Succeeded"),
    ]
    assert action_calls(dc) == {
        "plans.plannedFailover": 2,
        "plans.failoverCommit": 2,
        "plans.reProtect": 1,
        "jobs.resume": 2,
    }
    events = p.events("plan-web")
    reasons = [r for _, r, _ in events]
    assert "ResumingJob" in reasons and "FailoverSucceeded" in reasons
    # Events as a ProtectedVM posts them: the stall as a Warning, each request, and one
    # ApprovalRequired per gate naming its token.
    assert ("Warning", "CheckpointsPresent") in [(t, r) for t, r, _ in events]
    assert {"FailoverRequested", "CommitRequested", "FailbackRequested"} <= set(reasons)
    gates = [m for _, r, m in events if r == "ApprovalRequired"]
    assert len(gates) == 4 and all("set spec.approve to" in m for m in gates), gates
    # The JOB column shows only what the plan itself runs, and nothing at rest.
    assert gate["job"].startswith("Failover ") and not status.get("job")


def test_plan_drill_with_cleanup(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    remove_checkpoints(dc, "db01")
    p = create_plan(
        cluster,
        testFailover={"requestId": "q3", "networkId": NETWORK, "cleanupAfter": "10s"},
    )
    approve(p, "ManualAction")  # the plan's manual action applies to drills too
    status = p.wait_for(
        "plan-web",
        lambda s: ("TestFailoverCleanup", "Succeeded") in history(s),
        timeout=150,
        what="the drill and its cleanup",
    )
    assert history(status)[:2] == [
        ("TestFailover", "Succeeded"),
        ("TestFailoverCleanup", "Succeeded"),
    ]
    p.wait_ready("plan-web")
    calls = action_calls(dc)
    assert calls["plans.testFailover"] == 1 and calls["plans.testFailoverCleanup"] == 1


def test_member_failing_during_boot_is_reported(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    remove_checkpoints(dc, "db01")
    dc.asr.fail_job(
        JobFailure(operation="unplannedFailover", target="app01", message="The VM hung.")
    )
    p = create_plan(
        cluster, activeSite="Azure", failover={"type": "Unplanned", "commit": "Automatic"}
    )
    status = p.wait_stalled("plan-web", "AsrJobFailed", timeout=90)
    message = stalled(status)["message"]
    assert "app01" in message and "The VM hung." in message
    vms = {v["name"]: v for v in status["vms"]}
    assert vms["app01"]["result"] == "Failed" and "The VM hung." in vms["app01"]["message"]
    assert vms["db01"]["result"] == "Succeeded"
    assert history(status)[0][1] == "Failed"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"


def test_ownership_and_shared_members(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    remove_checkpoints(dc, "db01")
    p = create_plan(cluster)
    p.wait_ready("plan-web")
    # A ProtectedVM of a plan member does not act on its own.
    cluster.create_pvm("web01", activeSite="Azure")
    status = cluster.wait_stalled("web01", "OwnedByRecoveryPlan")
    assert "plan-web" in stalled(status)["message"]
    assert not any(k.startswith("items.") for k in action_calls(dc))
    # Two plans sharing db01: while plan-web runs, plan-db waits.
    dc.asr.inject(FaultRule(kind="slow", operation="plans.plannedFailover", delay=2.0))
    create_plan(cluster, "plan-db", hyperV=[{"vm": "db01", "host": "hv-01"}])
    p.wait_ready("plan-db")
    p.patch_spec("plan-web", {"activeSite": "Azure"})
    p.wait_for("plan-web", lambda s: s.get("operation"), what="plan-web's intent")
    p.patch_spec("plan-db", {"activeSite": "Azure"})
    waiting = p.wait_for(
        "plan-db",
        lambda s: (
            "plan-web"
            in next(
                (c["message"] for c in s.get("conditions", []) if c["type"] == "Reconciling"), ""
            )
            or "ASR jobs run" in str(s.get("conditions"))
        ),
        what="plan-db to wait for plan-web",
    )
    assert not waiting.get("operation")
    approve(p, "ManualAction")
    p.wait_phase("plan-web", "AwaitingCommit")
    # plan-web failed db01 over, so plan-db finds its VM where it wants it; it sent nothing.
    assert dc.asr.calls["plans.plannedFailover"] == 1


@pytest.fixture()
def dc100(tmp_path: Path) -> Any:
    base = bundled_scenario().model_dump(by_alias=True)
    vms = [
        {
            "name": f"vm{n:03d}",
            "generation": 2,
            "disks": [
                {"path": f"C:\\VMs\\vm{n:03d}\\os.vhdx", "format": "VHDX", "sizeGB": 64, "os": True}
            ],
        }
        for n in range(100)
    ]
    base["sites"][0]["hosts"][0]["vms"].extend(vms)
    names = [v["name"] for v in vms]
    base["plans"] = [
        {
            "name": "plan-100",
            "groups": [{"vms": names[:30]}, {"vms": names[30:70]}, {"vms": names[70:]}],
        }
    ]
    with SimulatedDatacenter(
        Scenario.model_validate(base), tmp_path / "dc", time_scale=0.05, poll_interval=1
    ) as datacenter:
        datacenter.apply(datacenter.vault_manifests())
        yield datacenter


def test_a_100_vm_plan_completes(dc100: SimulatedDatacenter, tmp_path: Path) -> None:
    cluster = Cluster(dc100)
    operator = Operator(dc100, tmp_path)
    operator.start()
    try:
        p = cluster.of(PLANS)
        started = time.monotonic()
        p.create(
            "RecoveryPlan",
            "plan-100",
            {
                "vaultRef": {"name": "vault-dr"},
                "planName": "plan-100",
                "activeSite": "Azure",
                "failover": {"commit": "Automatic"},
            },
        )
        status = p.wait_ready("plan-100", timeout=120)
        took = time.monotonic() - started
        assert status["phase"] == "FailedOver" and status["itemCount"] == 100
        assert sum(g["vmsDone"] for g in status["groups"] if g["name"].startswith("Boot")) == 100
        assert action_calls(dc100) == {"plans.plannedFailover": 1, "plans.failoverCommit": 1}
        print(f"100-VM plan: failed over and committed in {took:.1f}s")
    finally:
        operator.stop()
        cluster.client.close()


@pytest.mark.time_scale(0.3)
@pytest.mark.parametrize("point", ["intent", "running", "manual-action", "commit-gate"])
def test_killed_at_each_step_reattaches_without_a_second_submit(
    cluster: Cluster, operator: Operator, point: str
) -> None:
    dc = operator.dc
    remove_checkpoints(dc, "db01")
    if point == "intent":  # ASR answers slowly: the operator dies with the call in flight
        dc.asr.inject(FaultRule(kind="slow", operation="plans.plannedFailover", delay=3.0))
    p = create_plan(cluster, activeSite="Azure")

    def op(s: dict[str, Any]) -> dict[str, Any]:
        return dict(s.get("operation") or {})

    waits = {
        # the intent is written before the call is sent: wait until the call reached ASR too
        # (a kill before it did is a different case: the operator rightly waits out the
        # request's lifetime and sends it again)
        "intent": lambda s: (
            op(s) and not op(s)["submitted"] and dc.asr.calls["plans.plannedFailover"] >= 1
        ),
        "running": lambda s: op(s).get("submitted") and op(s).get("jobState") == "InProgress",
        "manual-action": lambda s: approval(s).get("action") == "ManualAction",
        "commit-gate": lambda s: approval(s).get("action") == "Commit",
    }
    if point == "commit-gate":
        approve(p, "ManualAction")
    p.wait_for("plan-web", waits[point], what=point)
    operator.kill()
    operator.start()
    if point != "commit-gate":
        approve(p, "ManualAction")
    approve(p, "Commit")
    status = p.wait_ready("plan-web", timeout=90)
    assert status["phase"] == "FailedOver"
    assert dc.asr.calls["plans.plannedFailover"] == 1
    assert dc.asr.calls["jobs.resume"] == 1
    assert history(status) == [("Failover", "Succeeded"), ("Commit", "Succeeded")]
