"""`kubectl kustomize deploy` (offline): the objects, the pod's security posture, probes and
least-privilege RBAC. Skipped where kubectl is not installed."""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.manifests.crd_admission import ROOT, Manifest

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")

GROUP = "asr-operator.io"
PLURALS = ("protectedvms", "recoveryplans", "siterecoveryvaults")
IMAGE = "ghcr.io/asr-operator/asr-operator:0.1.0"
COMMAND = [
    "asr-operator",
    "run",
    "--all-namespaces",
    "--liveness",
    "http://0.0.0.0:8080/healthz",
    "--metrics-port",
    "9090",
    "--log-format",
    "json",
]


@functools.cache
def build(directory: str) -> tuple[Manifest, ...]:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def one(docs: tuple[Manifest, ...], kind: str) -> Manifest:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def rules_of(role: Manifest) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs; refuses wildcards and resourceNames-less surprises."""
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
        for group in rule["apiGroups"]:
            assert group != "*", rule
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_objects_and_namespace() -> None:
    docs = build("deploy")
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["CustomResourceDefinition"] * 3
        + ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
        + ["Deployment", "Service"]
    )
    cluster_scoped = {"CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding"}
    for doc in docs:
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"]["namespace"] == "asr-operator", doc["kind"]
    binding = one(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "asr-operator", "namespace": "asr-operator"}
    ]
    assert binding["roleRef"]["name"] == one(docs, "ClusterRole")["metadata"]["name"]


def test_deployment_runs_one_operator() -> None:
    deployment = one(build("deploy"), "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["spec"]["serviceAccountName"] == "asr-operator"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == COMMAND
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AZURE_TOKEN_CREDENTIALS"] == "WorkloadIdentityCredential"


def test_pod_security_is_restricted() -> None:
    pod = one(build("deploy"), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc.get("privileged", False) is False
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    for key in ("requests", "limits"):
        assert set(container["resources"][key]) == {"cpu", "memory"}


def test_probes_hit_the_liveness_endpoint() -> None:
    (container,) = one(build("deploy"), "Deployment")["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    for probe in ("livenessProbe", "readinessProbe"):
        get: dict[str, Any] = container[probe]["httpGet"]
        assert get["path"] == "/healthz"
        assert ports[get["port"]] == 8080


def test_cluster_role_is_least_privilege() -> None:
    rules = rules_of(one(build("deploy"), "ClusterRole"))
    want: dict[tuple[str, str], set[str]] = {
        ("", "secrets"): {"get"},
        ("", "events"): {"create", "patch"},
        ("events.k8s.io", "events"): {"create", "patch"},
        ("", "namespaces"): {"get", "list", "watch"},
        ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
    }
    for plural in PLURALS:
        want[(GROUP, plural)] = {"get", "list", "watch", "patch"}
        want[(GROUP, f"{plural}/status")] = {"get", "patch"}
        want[(GROUP, f"{plural}/finalizers")] = {"update"}
    assert rules == want


def test_namespaced_overlay() -> None:
    docs = build("deploy/namespaced")
    cluster = rules_of(one(docs, "ClusterRole"))
    assert cluster == {
        ("", "namespaces"): {"get", "list", "watch"},
        ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
    }
    role = one(docs, "Role")
    assert role["metadata"]["namespace"] == "dr"
    assert rules_of(role)[("", "secrets")] == {"get"}
    (secrets,) = [r for r in role["rules"] if r["resources"] == ["secrets"]]
    assert secrets["resourceNames"]
    binding = one(docs, "RoleBinding")
    assert binding["metadata"]["namespace"] == "dr"
    assert binding["subjects"][0]["namespace"] == "asr-operator"
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "--all-namespaces" not in container["command"]
    assert "--namespace=dr" in container["command"]


def test_crds_are_the_committed_ones() -> None:
    built = {d["metadata"]["name"]: d for d in build("deploy") if d["kind"].startswith("Custom")}
    for path in (ROOT / "crds").glob("*.yaml"):
        committed = yaml.safe_load(path.read_text(encoding="utf-8"))
        got = built[committed["metadata"]["name"]]
        # kustomize adds the common labels; everything else is untouched.
        got_labels = got["metadata"].pop("labels")
        want_labels = committed["metadata"].pop("labels")
        assert want_labels.items() <= got_labels.items()
        assert got == committed
