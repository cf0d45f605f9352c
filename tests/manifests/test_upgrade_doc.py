"""docs/upgrade.md: every command it gives is run here or in tests/e2e/test_uninstall_order.py.

Commands that need a real cluster or the helm binary (neither exists in CI) are run as far
as the Kubernetes API stand-in and Helm's engine allow: the same kustomizations built, the
same chart rendered for an upgrade. Those that the stand-in serves run verbatim.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from asr_operator.sim.kube import KubeStandInThread
from tests.manifests.crd_admission import ROOT, Manifest

DOC = ROOT / "docs" / "upgrade.md"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")

HELM_UPGRADE = (
    "helm upgrade asr-operator charts/asr-operator --namespace asr-operator -f my-values.yaml"
)
HELM_UNINSTALL = "helm uninstall asr-operator --namespace asr-operator"
APPLY = "kubectl apply --server-side -k deploy"
APPLY_CRDS = "kubectl apply --server-side -k deploy/crds"
DELETE_ALL = "kubectl delete -k deploy"
# Run verbatim by tests/e2e/test_uninstall_order.py, in this order.
UNINSTALL = (
    "kubectl delete protectedvms,recoveryplans --all --all-namespaces --wait=true",
    "kubectl delete siterecoveryvaults --all --all-namespaces --wait=true",
    "kubectl get protectedvms,recoveryplans,siterecoveryvaults --all-namespaces",
    "kubectl delete -k deploy/crds",
)
EXERCISED = {HELM_UPGRADE, HELM_UNINSTALL, APPLY, APPLY_CRDS, DELETE_ALL, *UNINSTALL}


def doc_commands(path: Path = DOC) -> list[str]:
    """The shell commands of a page's ```sh blocks, in order, comments dropped."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                out.append(" ".join(command.split()))
    return out


def test_every_command_of_the_page_is_exercised() -> None:
    commands = doc_commands()
    assert set(commands) == EXERCISED
    assert [c for c in commands if c in UNINSTALL] == list(UNINSTALL)


def kustomize(directory: str) -> list[Manifest]:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "kustomize", directory],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@needs_kubectl
def test_kustomize_upgrade_applies_the_crds_before_the_operator() -> None:
    """`kubectl apply -k deploy` applies in kustomize's order: CRDs before the Deployment."""
    kinds = [d["kind"] for d in kustomize(shlex.split(APPLY)[-1])]
    last_crd = max(i for i, k in enumerate(kinds) if k == "CustomResourceDefinition")
    assert last_crd < kinds.index("Deployment")


@needs_kubectl
def test_kustomize_uninstall_removes_the_operator_and_the_crds() -> None:
    docs = kustomize(shlex.split(DELETE_ALL)[-1])
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("CustomResourceDefinition") == 3
    assert {"Deployment", "Namespace", "ClusterRole", "ClusterRoleBinding"} <= set(kinds)


@pytest.fixture()
def standin() -> Iterator[KubeStandInThread]:
    with KubeStandInThread(crds=[ROOT / "crds"], namespaces=["dr"]) as kube:
        yield kube


@needs_kubectl
def test_crd_upgrade_keeps_the_objects(standin: KubeStandInThread, tmp_path: Path) -> None:
    """`kubectl apply --server-side -k deploy/crds` over installed CRDs, with an object
    stored. The stand-in answers server-side apply with 415, so the same kustomization is
    applied client-side; what is checked is the objects and that nothing stored is lost."""
    assert KUBECTL is not None
    env = {**os.environ, "KUBECONFIG": str(standin.write_kubeconfig(tmp_path / "kc", "dr"))}

    def kubectl(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [KUBECTL, *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    kubectl("apply", "-f", str(ROOT / "deploy" / "examples" / "protectedvm-web01.yaml"))
    words = shlex.split(APPLY_CRDS)
    words.remove("--server-side")
    out = kubectl(*words[1:])
    assert out.count("customresourcedefinition.apiextensions.k8s.io/") == 3, out
    assert "web01" in kubectl("get", "protectedvms", "-o", "name")


def _helm() -> object:
    return pytest.importorskip("helm_python", reason="helm-python-sdk renders Helm charts")


def test_helm_upgrade_values_and_rendered_crds(tmp_path: Path) -> None:
    """`helm upgrade ... -f my-values.yaml`: Helm validates the values against the chart's
    schema, renders the CRDs with the release (before the Deployment, kept on uninstall)."""
    from tests.manifests.test_helm_chart import merged, schema_errors

    my_values = {"workloadIdentity": {"clientId": "33333333-4444-5555-6666-777777777777"}}
    (tmp_path / "my-values.yaml").write_text(yaml.safe_dump(my_values))
    assert schema_errors(merged(my_values)) == []
    helm = _helm()
    chart = helm.Chart.load(str(ROOT / "charts" / "asr-operator"))  # type: ignore[attr-defined]
    rendered = chart.render(
        my_values, name="asr-operator", namespace="asr-operator", is_install=False
    )
    docs = [
        d
        for path, text in sorted(rendered.items())
        if path.endswith(".yaml")
        for d in yaml.safe_load_all(text)
        if d
    ]
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert len(crds) == 3
    for crd in crds:  # `helm uninstall` leaves them
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
