"""The shortest full story through real processes and protocols: fail over, commit, come back."""

from __future__ import annotations

from tests.e2e.conftest import Cluster, Operator


def test_failover_manual_commit_failback_and_reverse_replication(
    cluster: Cluster, operator: Operator
) -> None:
    cluster.create_pvm("web01", activeSite="Azure")
    status = cluster.wait_phase("web01", "AwaitingCommit")
    assert status["azureVM"]["ips"], status
    cluster.approve_pending("web01")
    cluster.wait_ready("web01")
    assert cluster.status("web01")["activeSite"] == "Azure"

    cluster.patch_spec("web01", {"activeSite": "OnPremises"})
    cluster.approve_pending("web01")  # ForDownTime: complete the failback
    cluster.wait_phase("web01", "AwaitingFailbackCommit")
    cluster.approve_pending("web01")
    cluster.wait_ready("web01", timeout=90)
    final = cluster.status("web01")
    assert final["activeSite"] == "OnPremises" and final["phase"] == "Protected"
    kinds = [h["type"] for h in reversed(final["history"])]
    assert kinds == ["Failover", "Commit", "Failback", "FailbackCommit", "ReverseReplication"]
    reasons = {r for _, r, _ in cluster.events("web01")}
    assert {"FailoverStarted", "FailoverSucceeded", "ReverseReplicationSucceeded"} <= reasons
    calls = operator.dc.asr.calls
    assert calls["items.plannedFailover"] == 2  # to Azure, and the failback
    assert not any("cancel" in k.lower() for k in calls)
