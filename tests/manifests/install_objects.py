"""What every install (kustomize base, overlay, Helm chart) must produce; shared by the
kustomize and Helm tests so both are held to one expectation."""

from __future__ import annotations

from typing import Any

from asr_operator.controllers import run

Manifest = dict[str, Any]
Rules = dict[tuple[str, str], set[str]]

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
    "--leader-election",
    "--lease-name",
    "asr-operator",
]
# Leader election, in the operator's own namespace.
LEASE_RULES: Rules = {("coordination.k8s.io", "leases"): {"get", "create", "update"}}

# Cluster-scoped reads kopf needs in every mode.
SCAN_RULES: Rules = {
    ("", "namespaces"): {"get", "list", "watch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
}
# Everything namespaced the operator does.
RESOURCE_RULES: Rules = {
    ("", "secrets"): {"get"},
    ("", "events"): {"create", "patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
    **{(GROUP, p): {"get", "list", "watch", "patch"} for p in PLURALS},
    **{(GROUP, f"{p}/status"): {"get", "patch"} for p in PLURALS},
    **{(GROUP, f"{p}/finalizers"): {"update"} for p in PLURALS},
}


def one(docs: list[Manifest] | tuple[Manifest, ...], kind: str, namespace: str = "") -> Manifest:
    (found,) = [
        d for d in docs if d["kind"] == kind and namespace in ("", d["metadata"].get("namespace"))
    ]
    return found


def assert_leader_election(docs: list[Manifest] | tuple[Manifest, ...]) -> None:
    """Two replicas, rolling updates, and a Lease the pod may write in its namespace."""
    deployment = one(docs, "Deployment")
    namespace = deployment["metadata"]["namespace"]
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    (container,) = spec["template"]["spec"]["containers"]
    args = assert_command_parses(container["command"])
    assert args.leader_election
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}) for e in container["env"]}
    assert env["POD_NAME"] == {"fieldPath": "metadata.name"}
    assert env["POD_NAMESPACE"] == {"fieldPath": "metadata.namespace"}
    role = one(docs, "Role", namespace)
    assert rules_of(role) == LEASE_RULES
    binding = one(docs, "RoleBinding", namespace)
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == spec["template"]["spec"]["serviceAccountName"]


def rules_of(role: Manifest) -> Rules:
    """(apiGroup, resource) -> verbs; wildcards are refused outright."""
    out: Rules = {}
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
        for group in rule["apiGroups"]:
            assert group != "*", rule
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def assert_restricted_pod(deployment: Manifest) -> None:
    """A pod that meets the "restricted" Pod Security Standard."""
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
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
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/healthz"
        assert ports[get["port"]] == 8080


def assert_command_parses(command: list[str]) -> Any:
    """The container command is `asr-operator run` with flags the real CLI accepts."""
    assert command[:2] == ["asr-operator", "run"]
    return run.parser().parse_args(command[2:])
