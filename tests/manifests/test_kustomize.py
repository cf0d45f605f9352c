"""`kubectl kustomize deploy` (offline): the objects, the pod's security posture, probes and
least-privilege RBAC. Skipped where kubectl is not installed."""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.manifests.crd_admission import ROOT
from tests.manifests.install_objects import (
    COMMAND,
    IMAGE,
    RESOURCE_RULES,
    SCAN_RULES,
    Manifest,
    assert_command_parses,
    assert_leader_election,
    assert_restricted_pod,
    one,
    rules_of,
)

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")


def kustomize(directory: Path) -> tuple[Manifest, ...]:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


@functools.cache
def build(directory: str) -> tuple[Manifest, ...]:
    return kustomize(ROOT / directory)


def test_objects_and_namespace() -> None:
    docs = build("deploy")
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["CustomResourceDefinition"] * 3
        + ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
        + ["Role", "RoleBinding", "Deployment", "Service"]
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


def test_deployment() -> None:
    deployment = one(build("deploy"), "Deployment")
    assert_restricted_pod(deployment)
    assert_leader_election(build("deploy"))
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["spec"]["serviceAccountName"] == "asr-operator"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == COMMAND
    args = assert_command_parses(container["command"])
    assert args.all_namespaces and args.metrics_port == 9090 and args.log_format == "json"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AZURE_TOKEN_CREDENTIALS"] == "WorkloadIdentityCredential"


def test_cluster_role_is_least_privilege() -> None:
    role = one(build("deploy"), "ClusterRole")
    assert rules_of(role) == {**RESOURCE_RULES, **SCAN_RULES}
    # docs/install.md ("Restricting Secrets") patches this rule by its index.
    assert role["rules"][3]["resources"] == ["secrets"]


def test_namespaced_overlay() -> None:
    docs = build("deploy/namespaced")
    assert rules_of(one(docs, "ClusterRole")) == SCAN_RULES
    role = one(docs, "Role", "dr")
    assert rules_of(role) == RESOURCE_RULES
    (secrets,) = [r for r in role["rules"] if r["resources"] == ["secrets"]]
    assert secrets["resourceNames"]
    binding = one(docs, "RoleBinding", "dr")
    assert binding["subjects"][0]["namespace"] == "asr-operator"
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "--all-namespaces" not in container["command"]
    assert assert_command_parses(container["command"]).namespace == ["dr"]


def test_crds_are_the_committed_ones() -> None:
    built = {d["metadata"]["name"]: d for d in build("deploy") if d["kind"].startswith("Custom")}
    for path in (ROOT / "crds").glob("*.yaml"):
        committed = yaml.safe_load(path.read_text(encoding="utf-8"))
        got = copy.deepcopy(built[committed["metadata"]["name"]])
        # kustomize adds the common labels; everything else is untouched.
        got_labels = got["metadata"].pop("labels")
        want_labels = committed["metadata"].pop("labels")
        assert want_labels.items() <= got_labels.items()
        assert got == committed


def test_overlay_patches_in_the_docs_apply(tmp_path: Path) -> None:
    """Every `patches:` snippet of docs/install.md builds on deploy/base as documented."""
    text = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    snippets = [
        s for s in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if s.startswith("patches:")
    ]
    assert len(snippets) == 2
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    overlay = tmp_path / "deploy" / "my-overlay"
    overlay.mkdir()
    patches = [p for s in snippets for p in yaml.safe_load(s)["patches"]]
    kustomization = {"resources": ["../base"], "patches": patches}
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    docs = kustomize(overlay)
    account = one(docs, "ServiceAccount")
    assert "azure.workload.identity/client-id" in account["metadata"]["annotations"]
    (secrets,) = [r for r in one(docs, "ClusterRole")["rules"] if r["resources"] == ["secrets"]]
    assert secrets["resourceNames"] == ["asr-sp", "hv-winrm", "hv-ca"]
