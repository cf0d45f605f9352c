"""At rest the operator writes nothing and reads no object of its own from the API.

Objects that nothing changed rest: the vault's sweep checks them on the vault-wide lists
every poll interval (1 s here), and an object runs a cycle only when what it decided
on changed. A status write, an Event or a GET of the object at rest would be a cost per
object per interval that a real API server and etcd pay for.
"""

from __future__ import annotations

import time
from pathlib import Path

from asr_operator.sim.stack import SimulatedDatacenter
from tests.e2e.conftest import OPERATOR_ARGS, Cluster, Operator, wait_until
from tests.e2e.test_metrics import Samples, free_port, of, scrape

WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def test_idle_objects_cost_no_kubernetes_writes_and_no_reads_of_themselves(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    for vm in ("db01", "app01"):
        cluster.create_pvm(vm)
    plan = cluster.of("recoveryplans")
    plan.create(
        "RecoveryPlan",
        "plan-db",
        {"vaultRef": {"name": "vault-dr"}, "planName": "plan-db"},
    )
    for vm in ("db01", "app01"):
        cluster.wait_ready(vm)
    plan.wait_ready("plan-db")
    time.sleep(3)  # the last writes' watch events and Events pass
    start, lists = len(dc.kube.requests), dc.asr.calls["items.list"]
    time.sleep(6)  # six poll intervals: six idle cycles per object
    idle = dc.kube.requests[start:]
    writes = [(r.verb, r.resource, r.name, r.subresource) for r in idle if r.verb in WRITES]
    assert writes == []
    own_reads = [
        (r.resource, r.name)
        for r in idle
        if r.verb == "get" and r.resource in ("protectedvms", "recoveryplans")
    ]
    assert own_reads == []
    assert dc.asr.calls["items.list"] > lists  # the cycles ran, on the vault-wide list


def test_resting_objects_sleep_until_the_sweep_finds_a_change(
    dc: SimulatedDatacenter, tmp_path: Path
) -> None:
    """A resting object runs no cycle of its own (controllers/resting.py): the vault's sweep
    checks it on the shared list each poll interval, keeps its RPO metric live, and wakes it
    only when its item changed; a change made in the portal is still put right."""
    port = free_port()
    args = (*OPERATOR_ARGS, "--metrics-port", str(port), "--metrics-address", "127.0.0.1")
    operator = Operator(dc, tmp_path, args)
    operator.start()
    cluster = Cluster(dc)
    try:
        cluster.create_pvm("db01")
        cluster.create_pvm("web01", target={"size": "Standard_D4s_v3"})
        plan = cluster.of("recoveryplans")
        plan.create(
            "RecoveryPlan", "plan-db", {"vaultRef": {"name": "vault-dr"}, "planName": "plan-db"}
        )
        for vm in ("db01", "web01"):
            cluster.wait_ready(vm)
        plan.wait_ready("plan-db")
        time.sleep(3)  # the last cycles after the writes pass
        before = scrape(port)
        time.sleep(6)  # six poll intervals: six cycles per object, were it not resting
        after = scrape(port)
        for kind in ("ProtectedVM", "RecoveryPlan"):
            ran = cycles(after, kind) - cycles(before, kind)
            assert ran <= 2, f"{kind}: {ran} cycles in six poll intervals at rest"
        rpo = [of(s, "asr_operator_rpo_seconds", name="db01") for s in (before, after)]
        assert rpo[0] != rpo[1], "the sweep keeps the live RPO current"

        # Someone changes the target size in the portal: the sweep wakes web01, which
        # puts it back.
        dc.asr.call(lambda: setattr(dc.asr.sim.item("web01").target, "size", "Standard_B2s"))
        wait_until(lambda: dc.asr.calls["items.update"] >= 2, what="the drift corrected")
    finally:
        cluster.client.close()
        operator.stop()


def test_a_spec_change_wakes_a_resting_object_and_kopf_writes_nothing_of_its_own(
    cluster: Cluster, operator: Operator
) -> None:
    """The watch event's generation wakes the object (`cycle.wakes`); kopf keeps no diff
    base for the daemon kinds (`run.VaultsOnlyDiffBase`), so the change costs no PATCH of
    the object's metadata, only the status write that answers it."""
    dc = operator.dc
    cluster.create_pvm("web01")
    plan = cluster.of("recoveryplans")
    plan.create(
        "RecoveryPlan", "plan-db", {"vaultRef": {"name": "vault-dr"}, "planName": "plan-db"}
    )
    cluster.wait_ready("web01")
    plan.wait_ready("plan-db")
    time.sleep(3)  # both at rest
    start, updates = len(dc.kube.requests), dc.asr.calls["items.update"]
    cluster.patch_spec("web01", {"target": {"size": "Standard_D4s_v3"}})
    plan.patch_spec("plan-db", {"failover": {"commit": "Automatic"}})
    wait_until(lambda: dc.asr.calls["items.update"] > updates, what="the new size sent to ASR")
    for c, name in ((cluster, "web01"), (plan, "plan-db")):
        wait_until(
            lambda c=c, name=name: c.status(name).get("observedGeneration") == 2,
            what=f"{name} to decide on the new spec",
        )
    time.sleep(2)  # any PATCH of kopf's would follow the change within this
    others = [  # every write but status and the test's own two spec patches
        (r.verb, r.resource, r.name, r.subresource, r.body)
        for r in dc.kube.requests[start:]
        if r.verb in WRITES
        and r.resource in ("protectedvms", "recoveryplans")
        and r.subresource != "status"
        and not (isinstance(r.body, dict) and set(r.body) == {"spec"})
    ]
    assert others == []
    for c, name in ((cluster, "web01"), (plan, "plan-db")):
        meta = c.get(name)["metadata"]
        assert not any("last-handled" in a for a in meta.get("annotations") or {}), meta
        assert "asr-operator.io/finalizer" in meta.get("finalizers", []), meta


def cycles(samples: Samples, kind: str) -> float:
    return sum(of(samples, "asr_operator_reconcile_duration_seconds_count", kind=kind))
