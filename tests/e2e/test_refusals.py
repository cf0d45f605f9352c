"""Refusals: the operator stops with a Stalled reason that says what to fix, posts a Warning
Event, and sends ASR nothing; fixing the cause lets the lifecycle go on.
"""

from __future__ import annotations

from typing import Any

import kubernetes.client
import pytest

from asr_operator.sim.stack import SimulatedDatacenter
from tests.e2e.conftest import (
    Cluster,
    Operator,
    action_calls,
    only_allowing,
    set_item_phase,
    stalled,
    wait_until,
)


def assert_refused(cluster: Cluster, name: str, reason: str, *words: str) -> str:
    """Stalled=True with `reason`, a message naming the fix, and a Warning Event; returns it."""
    status = cluster.wait_stalled(name, reason)
    message = str(stalled(status)["message"])
    for w in words:
        assert w in message, message
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False", ready
    wait_until(
        lambda: ("Warning", reason) in {(t, r) for t, r, _ in cluster.events(name)},
        what=f"a Warning Event {reason}",
    )
    return message


def test_checkpoint_refuses_failover_until_removed(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    cluster.create_pvm("db01", activeSite="Azure")
    message = assert_refused(
        cluster, "db01", "CheckpointsPresent", "before-patch-tuesday", "Remove-VMSnapshot"
    )
    assert "db01" in message
    checks = cluster.condition("db01", "SourceChecksPassed")
    assert checks["status"] == "False", checks
    assert action_calls(dc) == {}

    vm = dc.datacenter.vm_on_host("hv-01", "db01")
    assert vm is not None
    with dc.datacenter.lock:
        vm.checkpoints.clear()  # Remove-VMSnapshot on the host
    # The stalled gate is re-checked on its own; nobody has to touch the ProtectedVM.
    cluster.wait_phase("db01", "AwaitingCommit", timeout=60)
    assert cluster.condition("db01", "Stalled")["status"] == "False"
    assert cluster.condition("db01", "SourceChecksPassed")["status"] == "True"
    assert action_calls(dc) == {"items.plannedFailover": 1}


def test_vm_over_azure_limits_is_refused(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    vm = dc.datacenter.vm_on_host("hv-01", "web01")
    assert vm is not None and vm.generation == 2
    with dc.datacenter.lock:  # someone grew the OS disk of a generation 2 VM past 300 GB
        vm.disks[0] = vm.disks[0].model_copy(update={"size_gb": 400})
    cluster.create_pvm("web01", activeSite="Azure")
    assert_refused(cluster, "web01", "AzureLimitsExceeded", "400 GB", "300 GB", "OS disk")
    assert action_calls(dc) == {}


def failed_over(cluster: Cluster, name: str, **spec: Any) -> None:
    """Fail `name` over with automatic commit and wait until it runs in Azure, committed."""
    cluster.create_pvm(name, activeSite="Azure", failover={"commit": "Automatic"}, **spec)
    cluster.wait_phase(name, "FailedOver")
    cluster.wait_ready(name)


def test_source_vm_powered_on_refuses_failback(cluster: Cluster, operator: Operator) -> None:
    dc = operator.dc
    failed_over(cluster, "web01")
    vm = dc.datacenter.vm_on_host("hv-01", "web01")
    assert vm is not None and vm.state == "Off"
    dc.datacenter.set_power(vm.vm_id, "Running")  # someone started the old VM on-premises
    before = action_calls(dc)
    cluster.patch_spec("web01", {"activeSite": "OnPremises"})
    assert_refused(cluster, "web01", "SourceVMPoweredOn", "web01", "Turn it off")
    assert action_calls(dc) == before  # no failback was sent
    assert cluster.status("web01")["activeSite"] == "Azure"


def test_source_vm_powered_on_while_failback_waits_is_never_resumed(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    failed_over(cluster, "web01")
    cluster.patch_spec("web01", {"activeSite": "OnPremises"})  # BeforeFailover = ForDownTime
    gate = cluster.wait_for(
        "web01",
        lambda s: (s.get("awaitingApproval") or {}).get("action") == "CompleteFailback",
        what="the CompleteFailback gate",
    )
    vm = dc.datacenter.vm_on_host("hv-01", "web01")
    assert vm is not None
    dc.datacenter.set_power(vm.vm_id, "Running")
    cluster.patch_spec("web01", {"approve": gate["awaitingApproval"]["token"]})
    assert_refused(cluster, "web01", "SourceVMPoweredOn", "final sync", "Turn it off")
    polls = dc.asr.calls["jobs.get"] + dc.asr.calls["jobs.list"]
    # Several more cycles of the operator: still stalled, and the job was never resumed.
    wait_until(
        lambda: dc.asr.calls["jobs.get"] + dc.asr.calls["jobs.list"] >= polls + 3,
        what="more operator cycles",
    )
    assert dc.asr.calls["jobs.resume"] == 0
    assert dc.asr.calls["items.plannedFailover"] == 2  # the failover, the failback
    status = cluster.status("web01")
    assert status["operation"]["jobState"] == "Suspended", status["operation"]
    assert stalled(status)["reason"] == "SourceVMPoweredOn"

    dc.datacenter.set_power(vm.vm_id, "Off")  # turned off again: the approval still stands
    cluster.wait_phase("web01", "AwaitingFailbackCommit")
    assert dc.asr.calls["jobs.resume"] == 1


def test_operation_asr_does_not_allow_is_refused(
    cluster: Cluster, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dc = operator.dc
    # ASR allows only an unplanned failover of this item (e.g. the source site is degraded).
    set_item_phase(dc, "web01", only_allowing(monkeypatch, "UnplannedFailover"))
    cluster.create_pvm("web01", activeSite="Azure")  # planned by default
    message = assert_refused(cluster, "web01", "OperationNotAllowed", "PlannedFailover")
    assert "UnplannedFailover" in message  # what ASR does allow
    assert action_calls(dc) == {}

    set_item_phase(dc, "web01", "Protected")  # ASR allows it again: the failover goes on
    cluster.wait_phase("web01", "AwaitingCommit")
    assert action_calls(dc) == {"items.plannedFailover": 1}


def test_unknown_vault_is_refused(cluster: Cluster, operator: Operator) -> None:
    cluster.create_pvm("web01", activeSite="Azure", vaultRef={"name": "vault-nowhere"})
    assert_refused(cluster, "web01", "VaultNotReady", "vault-nowhere", "vaultRef")
    assert action_calls(operator.dc) == {}


def test_unknown_item_is_refused(cluster: Cluster, operator: Operator) -> None:
    cluster.create_pvm(
        "ghost01",
        activeSite="Azure",
        hyperV={"host": "hv-01", "vmName": "web01"},
    )
    assert_refused(cluster, "ghost01", "ItemNotFound", "ghost01", "spec.protectedItem")
    assert action_calls(operator.dc) == {}


def test_wrong_credentials_are_refused(
    cluster: Cluster, operator: Operator, dc: SimulatedDatacenter
) -> None:
    manifests = dc.vault_manifests()
    secret = next(
        m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == "asr-sp"
    )
    vault = next(m for m in manifests if m["kind"] == "SiteRecoveryVault")
    secret["metadata"]["name"] = "asr-sp-stale"
    secret["data"] = {"clientSecret": "bm90LXRoZS1zZWNyZXQ="}  # "not-the-secret"
    vault["metadata"]["name"] = "vault-stale"
    vault["spec"]["authentication"]["secretRef"] = {"name": "asr-sp-stale"}
    dc.apply([secret, vault])

    def vault_ready() -> dict[str, Any]:
        obj = cluster.get("vault-stale", plural="siterecoveryvaults")
        conds = (obj.get("status") or {}).get("conditions") or []
        return next((c for c in conds if c["type"] == "Ready"), {})

    ready = wait_until(vault_ready, what="the vault's Ready condition")
    assert ready["status"] == "False" and ready["reason"] == "AuthenticationFailed", ready
    assert "AADSTS7000215" in ready["message"] and "not-the-secret" not in ready["message"]
    # Stalled (Argo CD: Degraded; Flux: the health check fails), with one Warning Event,
    # and the Hyper-V hosts are still checked and reported.
    vault_status = cluster.get("vault-stale", plural="siterecoveryvaults")["status"]
    stalled = next(c for c in vault_status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "AuthenticationFailed"
    assert "Fix spec.authentication or the Secret" in stalled["message"]
    hosts = next(c for c in vault_status["conditions"] if c["type"] == "HostsReachable")
    assert hosts["status"] == "True" and vault_status["hosts"], vault_status
    warnings = [e for e in cluster.events("vault-stale") if e[0] == "Warning"]
    assert [e[1] for e in warnings] == ["AuthenticationFailed"], warnings
    assert "not-the-secret" not in warnings[0][2]

    cluster.create_pvm("web01", activeSite="Azure", vaultRef={"name": "vault-stale"})
    message = assert_refused(
        cluster, "web01", "AuthenticationFailed", "vault-stale", "AADSTS7000215", "Secret"
    )
    assert "not-the-secret" not in message
    assert action_calls(dc) == {}


def test_a_spec_an_older_crd_admitted_stalls_until_fixed(
    cluster: Cluster, operator: Operator
) -> None:
    """Admitted by an older, laxer CRD: the operator refuses it itself, once, by field."""
    dc = operator.dc
    lax = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    early = {  # an early CRD: any spec goes
        "name": "v1alpha1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {"type": "object", "properties": {"spec": lax, "status": lax}}
        },
        "subresources": {"status": {}},
    }
    with dc.api_client() as client:
        kubernetes.client.ApiextensionsV1Api(client).patch_custom_resource_definition(
            "protectedvms.asr-operator.io", {"spec": {"versions": [early]}}
        )
    dc.kube.create(
        {
            "apiVersion": "asr-operator.io/v1alpha1",
            "kind": "ProtectedVM",
            "metadata": {"name": "web01", "namespace": dc.namespace},
            "spec": {
                "vaultRef": {"name": "vault-dr"},
                "protectedItem": {"name": "web01"},
                "activeSite": "Azure",
                "failover": {"recoveryPoint": "LatestProccessed"},
            },
        }
    )
    assert_refused(
        cluster, "web01", "InvalidSpec", "spec.failover.recoveryPoint", "LatestProcessed"
    )
    warnings = [e for e in cluster.events("web01") if e[1] == "InvalidSpec"]
    assert len(warnings) == 1, warnings  # said once, not once per cycle
    assert action_calls(dc) == {}
    cluster.patch_spec("web01", {"failover": {"recoveryPoint": "Latest"}})
    status = cluster.wait_for(
        "web01", lambda s: s.get("awaitingApproval"), timeout=90, what="the failover, fixed"
    )
    assert status["phase"] == "AwaitingCommit"
