"""Compute and Network settings (`spec.target`) and the validation probe before an automatic
commit, through the real operator process, the ASR simulator and its loopback Azure VMs.
"""

from __future__ import annotations

import time
from typing import Any

from asr_operator.sim.stack import SimulatedDatacenter
from tests.e2e.conftest import Cluster, Operator, wait_until

NETWORK = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-dr-net"
    "/providers/Microsoft.Network/virtualNetworks/vnet-dr-2"
)


def _asr_target(dc: SimulatedDatacenter, vm: str) -> dict[str, Any]:
    """The Compute and Network settings ASR holds for the item."""

    def read() -> dict[str, Any]:
        t = dc.asr.sim.item(vm).target
        return {
            "vmName": t.vm_name,
            "size": t.size,
            "networkId": t.network_id,
            "nics": [dict(n) for n in t.nics],
        }

    return dc.asr.call(read)


def _history(status: dict[str, Any]) -> list[str]:
    return [h["type"] for h in reversed(status.get("history", []))]


def test_target_applied_drift_corrected_and_nics_set(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    cluster.create_pvm(
        "web01", target={"vmName": "web01-dr", "size": "Standard_D4s_v3", "networkId": NETWORK}
    )
    status = cluster.wait_ready("web01")
    assert status["phase"] == "Protected"
    assert _history(status) == ["UpdateTarget"]
    assert status["target"]["inSync"] is True and status["target"]["differences"] == []
    assert status["target"]["vmName"] == "web01-dr"
    assert status["target"]["size"] == "Standard_D4s_v3"
    assert status["target"]["networkId"].lower() == NETWORK.lower()
    held = _asr_target(dc, "web01")
    assert (held["vmName"], held["size"]) == ("web01-dr", "Standard_D4s_v3")
    assert held["networkId"].lower() == NETWORK.lower()
    assert dc.asr.calls["items.update"] == 1

    # Someone changes the size in the portal: the operator notices and puts it back.
    dc.asr.call(lambda: setattr(dc.asr.sim.item("web01").target, "size", "Standard_B2s"))
    wait_until(lambda: dc.asr.calls["items.update"] == 2, what="a second UpdateTarget")
    status = cluster.wait_for(
        "web01",
        lambda s: (
            s.get("phase") == "Protected"
            and s["target"]["inSync"]
            and s["target"]["size"] == "Standard_D4s_v3"
        ),
        what="the drift corrected",
    )
    assert _asr_target(dc, "web01")["size"] == "Standard_D4s_v3"
    assert _history(status) == ["UpdateTarget", "UpdateTarget"]
    drift = [m for _, r, m in cluster.events("web01") if r == "TargetDrift"]
    assert any("'Standard_B2s'" in m and "'Standard_D4s_v3'" in m for m in drift), drift

    # NIC settings: the NIC id as ASR reports it (status.target.nics), a subnet and static IP.
    nic_id = status["target"]["nics"][0]["nicId"]
    cluster.patch_spec(
        "web01",
        {"target": {"nics": [{"nicId": nic_id, "subnet": "apps", "staticIP": "10.30.0.7"}]}},
    )
    status = cluster.wait_ready("web01")
    assert status["target"]["nics"] == [
        {"nicId": nic_id, "subnet": "apps", "staticIP": "10.30.0.7"}
    ]
    assert _asr_target(dc, "web01")["nics"][0] == {
        "nicId": nic_id,
        "subnet": "apps",
        "ip": "10.30.0.7",
    }
    assert dc.asr.calls["items.update"] == 3


def test_size_the_item_cannot_use_is_refused_with_asrs_reason(
    cluster: Cluster, operator: Operator
) -> None:
    """web01 is generation 2; ASR offers Standard_A1 for generation 1 only (targetComputeSizes)."""
    dc = operator.dc
    cluster.create_pvm("web01", activeSite="Azure", target={"size": "Standard_A1"})
    status = cluster.wait_stalled("web01", "InvalidTarget")
    stalled = cluster.condition("web01", "Stalled")
    assert "Standard_A1" in stalled["message"]
    assert "generation 2" in stalled["message"]  # ASR's own words for why
    assert status["phase"] == "Stalled"
    assert cluster.condition("web01", "Ready")["status"] == "False"
    # kopf posts Events from a queue, so the Event may trail the status a little.
    warnings = wait_until(
        lambda: [
            m for t, r, m in cluster.events("web01") if (t, r) == ("Warning", "InvalidTarget")
        ],
        10,
        "the InvalidTarget Warning Event",
    )
    assert "Standard_A1" in warnings[0]
    calls = dc.asr.calls
    assert calls["items.update"] == 0 and calls["items.plannedFailover"] == 0  # nothing sent

    cluster.patch_spec("web01", {"target": {"size": "Standard_D4s_v3"}})
    status = cluster.wait_for("web01", lambda s: s.get("phase") == "AwaitingCommit")
    assert _history(status) == ["UpdateTarget", "Failover"]  # settings first, then failover
    assert status["azureVM"]["size"] == "Standard_D4s_v3"


def test_target_before_failover_and_commit_only_once_the_vm_answers(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    dc.asr.set_vm_answering("app01", False)  # the failed-over VM will not answer at first
    cluster.create_pvm(
        "app01",
        activeSite="Azure",
        target={"vmName": "app01-dr", "size": "Standard_D8s_v3"},
        failover={"commit": "Automatic", "validation": {"tcpPorts": [3389], "timeout": "5m"}},
    )
    status = cluster.wait_for(
        "app01",
        lambda s: (
            s.get("phase") == "AwaitingCommit" and (s.get("validation") or {}).get("attempts")
        ),
        what="a failed probe",
    )
    assert _history(status) == ["UpdateTarget", "Failover"]
    assert status["validation"]["passed"] is False and status["validation"]["timedOut"] is False
    assert "no answer" in status["validation"]["lastResult"]
    assert not status.get("awaitingApproval")  # the probe is still within its timeout
    assert dc.asr.calls["items.failoverCommit"] == 0

    vm = status["azureVM"]  # as ARM's Compute and Network show it
    assert vm["name"] == "app01-dr" and vm["size"] == "Standard_D8s_v3"
    assert vm["id"].endswith("/providers/Microsoft.Compute/virtualMachines/app01-dr")
    assert vm["powerState"] == "running"
    assert vm["ips"] and vm["connect"] == f"mstsc /v:{vm['ips'][0]}"

    dc.asr.set_vm_answering("app01", True)
    status = cluster.wait_ready("app01", timeout=30)
    assert status["phase"] == "FailedOver"
    assert _history(status) == ["UpdateTarget", "Failover", "Commit"]
    assert status["azureVM"]["name"] == "app01-dr"
    assert status["azureVM"]["ips"] == vm["ips"]
    assert dc.asr.calls["items.failoverCommit"] == 1
    passed = [m for _, r, m in cluster.events("app01") if r == "ValidationPassed"]
    assert passed and "3389" in passed[0]


def test_a_vm_that_never_answers_waits_for_a_human(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    dc.asr.set_vm_answering("web01", False)
    cluster.create_pvm(
        "web01",
        activeSite="Azure",
        failover={"commit": "Automatic", "validation": {"tcpPorts": [3389], "timeout": "10s"}},
    )
    status = cluster.wait_for(
        "web01",
        lambda s: (s.get("awaitingApproval") or {}).get("action") == "Commit",
        timeout=30,
        what="the commit gate after the probe timed out",
    )
    assert status["phase"] == "AwaitingCommit"
    assert status["validation"]["timedOut"] is True and status["validation"]["passed"] is False
    message = status["awaitingApproval"]["message"]
    assert "did not answer on TCP [3389] within 10s" in message and "approve" in message
    condition = cluster.condition("web01", "AwaitingApproval")
    assert condition["status"] == "True"
    assert condition["reason"] == "ValidationTimedOut"
    assert "did not answer" in condition["message"]
    assert dc.asr.calls["items.failoverCommit"] == 0

    cluster.approve_pending("web01")  # the human checked the VM
    status = cluster.wait_ready("web01")
    assert status["phase"] == "FailedOver"
    assert dc.asr.calls["items.failoverCommit"] == 1


def test_automatic_commit_probes_a_vm_whose_recovery_ip_is_dynamic(
    cluster: Cluster, operator: Operator
) -> None:
    """file01 has no static recovery IP: only ARM's NIC knows its address."""
    dc = operator.dc
    cluster.create_pvm(
        "file01",
        activeSite="Azure",
        failover={"commit": "Automatic", "validation": {"tcpPorts": [3389], "timeout": "5m"}},
    )
    status = cluster.wait_ready("file01", timeout=60)
    assert status["phase"] == "FailedOver"
    assert _history(status) == ["Failover", "Commit"]
    passed = [m for _, r, m in cluster.events("file01") if r == "ValidationPassed"]
    assert passed and "3389" in passed[0]  # the probe reached the IP ARM's NIC showed
    vm = status["azureVM"]
    assert vm["id"].endswith("/providers/Microsoft.Compute/virtualMachines/file01")
    assert vm["powerState"] == "running" and vm["ips"] and not vm.get("message")
    # At rest, the VM is not read again: idle cycles cost no ARM read.
    reads = dc.asr.calls["virtualMachines.get"] + dc.asr.calls["networkInterfaces.get"]
    time.sleep(4)  # four poll intervals
    assert dc.asr.calls["virtualMachines.get"] + dc.asr.calls["networkInterfaces.get"] == reads
