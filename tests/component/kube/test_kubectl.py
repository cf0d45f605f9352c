"""kubectl 1.32 against the stand-in through a written kubeconfig (skipped without kubectl)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from asr_operator.sim.kube import KubeStandInThread

from .conftest import NAMESPACE

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

MANIFEST = """
apiVersion: example.asr-operator.io/v1alpha1
kind: Replica
metadata:
  name: r1
spec:
  vmName: vm-1
  size: {size}
"""


def test_apply_get_patch_wait_delete(kubectl: Kubectl, kube: KubeStandInThread) -> None:
    out = kubectl("apply", "-f", "-", input=MANIFEST.format(size=2)).stdout
    assert "replica.example.asr-operator.io/r1 created" in out
    assert "unchanged" in kubectl("apply", "-f", "-", input=MANIFEST.format(size=2)).stdout
    assert "configured" in kubectl("apply", "-f", "-", input=MANIFEST.format(size=3)).stdout
    stored = kube.get("replicas", "r1", NAMESPACE)
    assert (
        stored is not None and stored["spec"]["size"] == 3 and stored["metadata"]["generation"] == 2
    )

    table = kubectl("get", "replicas").stdout.splitlines()
    assert table[0].split() == ["NAME", "VM", "PHASE", "READY", "AGE"]
    assert table[1].split()[:2] == ["r1", "vm-1"]
    wide = kubectl("get", "rep", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "VM", "PHASE", "READY", "SIZE", "AGE"]

    kubectl("patch", "replica", "r1", "--type", "merge", "-p", '{"spec":{"size":4}}')
    waiter = subprocess_in_thread(
        kubectl, "wait", "--for=condition=Ready", "replica/r1", "--timeout=20s"
    )
    kube.wait_for_watch("replicas", NAMESPACE)
    status = {"status": {"phase": "Protected", "conditions": [{"type": "Ready", "status": "True"}]}}
    kubectl(
        "patch",
        "replica",
        "r1",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        json.dumps(status),
    )
    waited = waiter()
    assert waited.returncode == 0 and "condition met" in waited.stdout

    row = kubectl("get", "replicas", "--no-headers").stdout.split()
    assert row[:4] == ["r1", "vm-1", "Protected", "True"]
    got = json.loads(kubectl("get", "replica", "r1", "-o", "json").stdout)
    assert got["spec"]["size"] == 4 and got["status"]["phase"] == "Protected"

    assert "deleted" in kubectl("delete", "replica", "r1").stdout
    assert "No resources found" in kubectl("get", "replicas").stderr


def subprocess_in_thread(
    kubectl: Kubectl, *args: str
) -> Callable[[], subprocess.CompletedProcess[str]]:
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(r=kubectl(*args, check=False)))
    thread.start()

    def join() -> subprocess.CompletedProcess[str]:
        thread.join(timeout=30)
        return result["r"]  # type: ignore[no-any-return]

    return join


def test_apply_refuses_invalid_and_unknown_fields(kubectl: Kubectl) -> None:
    bad = kubectl("apply", "-f", "-", input=MANIFEST.format(size=0), check=False)
    assert bad.returncode != 0
    # kubectl rebuilds the message from details.causes, exactly as with a real apiserver.
    assert bad.stderr.strip() == (
        'The Replica "r1" is invalid: spec.size: Invalid value: 0: '
        "spec.size in body should be greater than or equal to 1"
    )
    unknown = kubectl("apply", "-f", "-", input=MANIFEST.format(size="1\n  bogus: 1"), check=False)
    assert unknown.returncode != 0 and 'unknown field "spec.bogus"' in unknown.stderr
    dry = kubectl("apply", "--dry-run=server", "-f", "-", input=MANIFEST.format(size=1))
    assert "server dry run" in dry.stdout
    assert "No resources found" in kubectl("get", "replicas").stderr


def test_describe_shows_events_and_builtins_print(
    kubectl: Kubectl, kube: KubeStandInThread
) -> None:
    kubectl("apply", "-f", "-", input=MANIFEST.format(size=1))
    uid = kube.get("replicas", "r1", NAMESPACE)["metadata"]["uid"]  # type: ignore[index]
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "r1.1", "namespace": NAMESPACE},
            "involvedObject": {
                "apiVersion": "example.asr-operator.io/v1alpha1",
                "kind": "Replica",
                "name": "r1",
                "namespace": NAMESPACE,
                "uid": uid,
            },
            "reason": "FailoverStarted",
            "message": "planned failover submitted",
            "type": "Normal",
            "count": 1,
        }
    )
    described = kubectl("describe", "replica", "r1").stdout
    assert "FailoverStarted" in described and "planned failover submitted" in described
    events = kubectl("get", "events").stdout
    assert "FailoverStarted" in events and "replica/r1" in events
    namespaces = kubectl("get", "namespaces").stdout.splitlines()
    assert namespaces[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == [NAMESPACE, "Active"] for line in namespaces)
    crds = kubectl("get", "crds").stdout
    assert "replicas.example.asr-operator.io" in crds
    resources = kubectl("api-resources").stdout
    assert "Replica" in resources and "short name" not in resources


def test_create_builtins_sent_as_protobuf(kubectl: Kubectl, kube: KubeStandInThread) -> None:
    kubectl("create", "namespace", "extra")
    kubectl("create", "configmap", "settings", "--from-literal=mode=fast")
    kubectl("create", "secret", "generic", "creds", "--from-literal=clientSecret=s3cret")
    kubectl("label", "namespace", "extra", "team=dr")
    assert kube.get("namespaces", "extra") is not None
    assert kube.get("configmaps", "settings", NAMESPACE)["data"] == {"mode": "fast"}  # type: ignore[index]
    secret = kube.get("secrets", "creds", NAMESPACE)
    assert (
        secret is not None
        and secret["data"] == {"clientSecret": "czNjcmV0"}
        and secret["type"] == "Opaque"
    )
    posts = [r for r in kube.requests if r.verb == "create"]
    assert {r.content_type for r in posts} == {"application/vnd.kubernetes.protobuf"}
    assert "team=dr" in kubectl("get", "ns", "extra", "--show-labels").stdout
