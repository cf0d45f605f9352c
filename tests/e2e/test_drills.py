"""Drills (test failover) through the real operator process: the test VM in status, cleanup
after `cleanupAfter` or on approval, and the production replication left untouched.
"""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from typing import Any

from asr_operator.sim.stack import SimulatedDatacenter
from tests.e2e.conftest import Cluster, Operator, power_state

NETWORK = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-dr-net"
    "/providers/Microsoft.Network/virtualNetworks/vnet-drill"
)


def _history(status: dict[str, Any]) -> list[str]:
    return [h["type"] for h in reversed(status.get("history", []))]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _answers(ip: str, port: int = 3389) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=2):
            return True
    except OSError:
        return False


def _cleanup_comments(dc: SimulatedDatacenter, vm: str) -> list[str]:
    """The comments ASR recorded on the item's test failover cleanup jobs."""

    def read() -> list[str]:
        return [
            str(j.custom_details.get("comments", ""))
            for j in dc.asr.sim.vault.jobs.values()
            if j.action == "testFailoverCleanup" and j.target_object_name.lower() == vm
        ]

    return dc.asr.call(read)


def _test_vm_up(s: dict[str, Any]) -> bool:
    return s.get("phase") == "TestFailoverActive" and bool(
        ((s.get("testFailover") or {}).get("testVM") or {}).get("ips")
    )


def test_drill_cleans_up_after_cleanup_after(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    cluster.create_pvm(
        "web01",
        testFailover={"requestId": "drill-1", "networkId": NETWORK, "cleanupAfter": "10s"},
    )
    status = cluster.wait_for("web01", _test_vm_up, what="the test VM")
    drill = status["testFailover"]
    test_vm = drill["testVM"]
    assert test_vm["name"] == "web01-test"  # a VM of its own, found through its NIC in ARM
    assert test_vm["id"].endswith("/providers/Microsoft.Compute/virtualMachines/web01-test")
    assert test_vm["powerState"] == "running"
    assert not status.get("azureVM")  # the failed-over VM is another one
    assert test_vm["connect"] == f"mstsc /v:{test_vm['ips'][0]}"
    assert _answers(test_vm["ips"][0])  # the test VM really runs
    assert drill["lastRequestId"] == "drill-1"
    started, cleanup_at = _time(drill["startedAt"]), _time(drill["cleanupAt"])
    assert timedelta(seconds=10) <= cleanup_at - started < timedelta(seconds=17)
    assert status["activeSite"] == "OnPremises" and power_state(dc, "web01") == "Running"
    assert status["awaitingApproval"]["action"] == "TestFailoverCleanup"  # or clean up sooner

    final = cluster.wait_ready("web01", timeout=100)
    assert final["phase"] == "Protected"
    assert _history(final) == ["TestFailover", "TestFailoverCleanup"]
    assert final["testFailover"]["lastRequestId"] == "drill-1"
    assert not final["testFailover"].get("testVM")
    assert not final.get("awaitingApproval")
    cleanup = final["history"][0]
    assert _time(cleanup["startedAt"]) >= cleanup_at  # not a moment before cleanupAfter
    assert not _answers(test_vm["ips"][0])  # the test VM is gone
    assert _cleanup_comments(dc, "web01") == [
        "asr-operator: cleanup because testFailover.cleanupAfter has passed"
    ]
    calls = dc.asr.calls
    assert calls["items.testFailover"] == 1 and calls["items.testFailoverCleanup"] == 1
    assert calls["items.plannedFailover"] == 0 and calls["items.unplannedFailover"] == 0
    reasons = {r for _, r, _ in cluster.events("web01")}
    assert {"TestFailoverSucceeded", "TestFailoverCleanupSucceeded"} <= reasons


def test_drill_without_cleanup_after_waits_for_approval(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    cluster.create_pvm("app01", testFailover={"requestId": "drill-7", "networkId": NETWORK})
    status = cluster.wait_for("app01", _test_vm_up, what="the test VM")
    assert status["testFailover"]["testVM"]["name"] == "app01-test"
    assert not status["testFailover"].get("cleanupAt")
    gate = status["awaitingApproval"]
    assert gate["action"] == "TestFailoverCleanup" and gate["token"] in gate["message"]
    condition = cluster.condition("app01", "AwaitingApproval")
    assert condition["status"] == "True" and condition["reason"] == "TestCleanupApproval"

    cluster.patch_spec("app01", {"approve": gate["token"]})
    final = cluster.wait_ready("app01")
    assert final["phase"] == "Protected"
    assert _history(final) == ["TestFailover", "TestFailoverCleanup"]
    assert _cleanup_comments(dc, "app01") == ["asr-operator: cleanup because cleanup was approved"]
    assert dc.asr.calls["items.testFailoverCleanup"] == 1

    # The same request id does not start the drill again; a new one does.
    cluster.patch_spec("app01", {"testFailover": {"requestId": "drill-8"}})
    status = cluster.wait_for("app01", _test_vm_up, what="the second drill")
    assert status["testFailover"]["lastRequestId"] == "drill-8"
    assert dc.asr.calls["items.testFailover"] == 2
