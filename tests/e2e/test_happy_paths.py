"""Failover to Azure and back, every way a user can ask for it, through real processes.

Each story runs `asr-operator run` against the simulated datacenter and asserts on what a
user sees (status, conditions, Events) and on what ASR and Hyper-V were asked to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import (
    Cluster,
    Operator,
    failover_point,
    power_state,
    recovery_points,
    wait_until,
)


def _gate(action: str) -> Callable[[dict[str, Any]], bool]:
    def predicate(s: dict[str, Any]) -> bool:
        return bool(s.get("awaitingApproval")) and s["awaitingApproval"]["action"] == action

    return predicate


def _history(status: dict[str, Any]) -> list[str]:
    return [h["type"] for h in reversed(status.get("history", []))]


def _settled(cluster: Cluster, name: str) -> dict[str, Any]:
    """Status once the operator has judged the current generation (one full cycle)."""
    generation = cluster.get(name)["metadata"]["generation"]
    return cluster.wait_for(
        name, lambda s: s.get("observedGeneration") == generation, what="observedGeneration"
    )


def test_planned_failover_change_point_manual_commit_then_failback_for_synchronization(
    cluster: Cluster, operator: Operator
) -> None:
    """Planned, Latest; a wrong token approves nothing; the recovery point changes before
    commit; DuringFailover failback never suspends; failback commits itself; reverse
    replication waits for approval."""
    dc = operator.dc
    cluster.create_pvm("web01", activeSite="Azure", failover={"type": "Planned"})
    status = cluster.wait_for("web01", _gate("Commit"), what="the commit gate")
    assert status["phase"] == "AwaitingCommit" and status["activeSite"] == "Azure"
    gate = status["awaitingApproval"]
    assert gate["token"].startswith("commit-") and gate["token"] in gate["message"]
    assert cluster.condition("web01", "AwaitingApproval")["status"] == "True"
    assert power_state(dc, "web01") == "Off"  # a planned failover shuts the source down

    cluster.patch_spec("web01", {"approve": "commit-00000000"})  # a stale or wrong token
    status = _settled(cluster, "web01")
    assert status["phase"] == "AwaitingCommit" and status["awaitingApproval"]["action"] == "Commit"
    assert dc.asr.calls["items.failoverCommit"] == 0

    # Change the recovery point before commit: an older, named point ASR really holds.
    names = [n for n, _ in recovery_points(dc, "web01")]
    older = names[-3]
    assert failover_point(dc, "web01") != older
    cluster.patch_spec("web01", {"failover": {"recoveryPoint": older}})
    status = cluster.wait_for(
        "web01",
        lambda s: s.get("appliedRecoveryPoint") == older and _gate("Commit")(s),
        what="the new recovery point applied",
    )
    assert status["phase"] == "AwaitingCommit"
    assert status["lastOperation"]["type"] == "ChangeRecoveryPoint"
    assert status["lastOperation"]["recoveryPoint"] == older
    assert dc.asr.calls["items.applyRecoveryPoint"] == 1
    assert failover_point(dc, "web01") == older
    assert status["awaitingApproval"]["token"] != gate["token"]  # a new gate, a new token

    cluster.patch_spec("web01", {"approve": status["awaitingApproval"]["token"]})
    status = cluster.wait_ready("web01")
    assert status["phase"] == "FailedOver" and status["activeSite"] == "Azure"
    assert dc.asr.calls["items.failoverCommit"] == 1
    assert recovery_points(dc, "web01") == [(older, recovery_points(dc, "web01")[0][1])]

    cluster.patch_spec(
        "web01",
        {
            "activeSite": "OnPremises",
            "failback": {"dataSync": "DuringFailover", "commit": "Automatic"},
            "reverseReplication": "Manual",
        },
    )
    seen: set[str] = set()

    def reverse_gate(s: dict[str, Any]) -> bool:
        if s.get("awaitingApproval"):
            seen.add(s["awaitingApproval"]["action"])
        return _gate("ReverseReplication")(s)

    status = cluster.wait_for("web01", reverse_gate, what="the reverse replication gate")
    assert seen == {"ReverseReplication"}  # no CompleteFailback, no FailbackCommit gate
    assert status["phase"] == "AwaitingReverseReplication"
    assert dc.asr.calls["jobs.resume"] == 0  # ForSynchronization: the job never suspended
    assert dc.asr.calls["items.reProtect"] == 0
    assert power_state(dc, "web01") == "Running"

    cluster.approve_pending("web01")
    final = cluster.wait_ready("web01")
    assert final["phase"] == "Protected" and final["activeSite"] == "OnPremises"
    assert _history(final) == [
        "Failover",
        "ChangeRecoveryPoint",
        "Commit",
        "Failback",
        "FailbackCommit",
        "ReverseReplication",
    ]
    assert all(h["result"] == "Succeeded" for h in final["history"])
    calls = dc.asr.calls
    assert calls["items.plannedFailover"] == 2 and calls["items.failoverCommit"] == 2
    assert calls["items.reProtect"] == 1 and calls["items.unplannedFailover"] == 0
    assert not any("cancel" in k.lower() for k in calls)
    reasons = {r for _, r, _ in cluster.events("web01")}
    assert {"ChangeRecoveryPointSucceeded", "FailbackSucceeded", "FailbackCommitSucceeded"} <= (
        reasons
    )


def test_unplanned_failover_with_source_shutdown_automatic_commit_then_failback_for_downtime(
    cluster: Cluster, operator: Operator
) -> None:
    """Unplanned with source shutdown commits by itself; a source VM started behind the
    operator's back is turned off again; the ForDownTime failback suspends until
    approved; failback commit waits for approval; reverse replication is automatic."""
    dc = operator.dc
    assert power_state(dc, "app01") == "Running"
    cluster.create_pvm(
        "app01",
        activeSite="Azure",
        failover={"type": "Unplanned", "shutdownSourceVM": True, "commit": "Automatic"},
    )
    status = cluster.wait_ready("app01")
    assert status["phase"] == "FailedOver" and status["activeSite"] == "Azure"
    assert _history(status) == ["Failover", "Commit"]
    assert power_state(dc, "app01") == "Off"
    calls = dc.asr.calls
    assert calls["items.unplannedFailover"] == 1 and calls["items.plannedFailover"] == 0
    assert calls["items.failoverCommit"] == 1

    # Someone starts the source VM while it runs in Azure: the operator turns it off again.
    vm = dc.datacenter.vm_on_host("hv-01", "app01")
    assert vm is not None
    dc.datacenter.set_power(vm.vm_id, "Running")
    wait_until(lambda: power_state(dc, "app01") == "Off", what="app01 turned off again")
    events = wait_until(
        lambda: (
            {r for _, r, _ in cluster.events("app01")} >= {"SourceVMStillRunning"}
            and cluster.events("app01")
        ),
        what="the split-brain Events",
    )
    warnings = [(r, m) for t, r, m in events if t == "Warning" and r == "SourceVMStillRunning"]
    assert warnings and "app01" in warnings[0][1]

    cluster.patch_spec(
        "app01",
        {
            "activeSite": "OnPremises",
            "failback": {"dataSync": "BeforeFailover", "commit": "Manual"},
        },
    )
    status = cluster.wait_for("app01", _gate("CompleteFailback"), what="the suspended failback")
    assert status["phase"] == "FailingBack"
    assert status["operation"]["type"] == "Failback"
    assert status["operation"]["jobState"] == "Suspended"
    assert status["operation"]["detail"] == "BeforeFailover"
    assert "spec.approve" in status["awaitingApproval"]["message"]
    assert dc.asr.calls["jobs.resume"] == 0
    assert power_state(dc, "app01") == "Off"

    cluster.approve_pending("app01")
    status = cluster.wait_for("app01", _gate("FailbackCommit"), what="the failback commit gate")
    assert status["phase"] == "AwaitingFailbackCommit" and status["activeSite"] == "OnPremises"
    assert dc.asr.calls["jobs.resume"] == 1
    assert power_state(dc, "app01") == "Running"  # ASR started it at the end of failback

    cluster.approve_pending("app01")
    final = cluster.wait_ready("app01")
    assert final["phase"] == "Protected" and final["activeSite"] == "OnPremises"
    assert _history(final) == [
        "Failover",
        "Commit",
        "Failback",
        "FailbackCommit",
        "ReverseReplication",
    ]
    calls = dc.asr.calls
    assert calls["items.plannedFailover"] == 1  # the failback
    assert calls["items.failoverCommit"] == 2 and calls["items.reProtect"] == 1
    assert not any("cancel" in k.lower() for k in calls)
    assert final["appliedRecoveryPoint"] == ""


def test_each_recovery_point_kind_reaches_asr(cluster: Cluster, operator: Operator) -> None:
    """Latest, LatestProcessed, LatestApplicationConsistent and a named point, side by side."""
    dc = operator.dc
    named = recovery_points(dc, "file01")[2][0]  # an older point ASR really holds
    choices = {
        "print01": "Latest",
        "web01": "LatestProcessed",
        "app01": "LatestApplicationConsistent",
        "file01": named,
    }
    before = {vm: [n for n, t in recovery_points(dc, vm)] for vm in choices}
    app_before = {
        vm: [n for n, t in recovery_points(dc, vm) if t == "ApplicationConsistent"]
        for vm in choices
    }
    for vm, choice in choices.items():
        cluster.create_pvm(vm, activeSite="Azure", failover={"recoveryPoint": choice})
    for vm, choice in choices.items():
        status = cluster.wait_for(vm, _gate("Commit"), what=f"{vm} failed over")
        assert status["appliedRecoveryPoint"] == choice, vm
        assert status["lastOperation"]["recoveryPoint"] == choice, vm
        used = failover_point(dc, vm)
        points = recovery_points(dc, vm)
        names = [n for n, _ in points]
        assert used in names, (vm, used)
        # Points keep arriving until the failover starts; "latest" means no older than
        # the newest one held when the ProtectedVM was created.
        if choice == named:
            assert used == named
        elif choice == "LatestApplicationConsistent":
            assert dict(points)[used] == "ApplicationConsistent"
            assert names.index(used) >= names.index(app_before[vm][-1]), vm
        else:
            assert names.index(used) >= names.index(before[vm][-1]), vm
        if choice == "Latest":  # no id sent: ASR takes its newest, and none came after
            assert used == names[-1]
    assert dc.asr.calls["items.plannedFailover"] == len(choices)
