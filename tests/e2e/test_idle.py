"""At rest the operator writes nothing and reads no object of its own from the API.

Objects that nothing changed are reconciled every poll interval (1 s here) from kopf's
live body and the vault-wide lists: a status write, an Event or a GET of the object on
such a cycle is a cost per object per cycle that a real API server and etcd pay for.
"""

from __future__ import annotations

import time

from tests.e2e.conftest import Cluster, Operator

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
