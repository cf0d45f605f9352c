"""kubectl 1.32 against the project's Kubernetes API stand-in, loaded with the generated
CRDs: the examples apply, a bad manifest is refused naming its field, and
`kubectl wait --for=condition=Ready` ignores a Ready condition of an older generation
(the claim docs/gitops.md makes). Skipped where kubectl is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from asr_operator.sim.kube import KubeStandInThread
from tests.manifests.crd_admission import ROOT

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")

NAMESPACE = "dr"
EXAMPLES = ROOT / "deploy" / "examples"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeStandInThread]:
    with KubeStandInThread(crds=[ROOT / "crds"], namespaces=[NAMESPACE]) as standin:
        yield standin


@pytest.fixture(scope="module")
def kubectl(
    kube: KubeStandInThread, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., subprocess.CompletedProcess[str]]:
    config = kube.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config", NAMESPACE)
    env = {**os.environ, "KUBECONFIG": str(config)}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        done = subprocess.run(
            [KUBECTL, *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done

    return run


def files(*names: str) -> list[str]:
    return [arg for name in names for arg in ("-f", str(EXAMPLES / name))]


def test_examples_apply(kubectl: Kubectl, kube: KubeStandInThread) -> None:
    out = kubectl(
        "apply",
        *files("secret-winrm.yaml", "vault-simulator.yaml", "protectedvm-web01.yaml"),
        *files("protectedvm-app01.yaml", "protectedvm-db01.yaml", "drill-file01.yaml"),
        *files("recoveryplan-web.yaml"),
    ).stdout
    for name in ("protectedvm.asr-operator.io/web01", "recoveryplan.asr-operator.io/plan-web"):
        assert f"{name} created" in out
    stored = kube.get("protectedvms", "app01", NAMESPACE)
    assert stored is not None
    # Defaults come from the CRD: the example leaves managementPolicy out.
    assert stored["spec"]["managementPolicy"] == "Full"


def test_invalid_manifest_is_refused_naming_the_field(kubectl: Kubectl) -> None:
    path = Path(__file__).parent / "invalid" / "pvm-drill-without-network.yaml"
    done = kubectl("apply", "-f", str(path), check=False)
    assert done.returncode != 0
    assert "spec.testFailover" in done.stderr
    assert "testFailover.networkId is required when requestId is set" in done.stderr


def ready(generation: int) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "status": {
            "observedGeneration": generation,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Reconciled",
                    "message": "",
                    "observedGeneration": generation,
                    "lastTransitionTime": now,
                }
            ],
        }
    }


def test_kubectl_wait_ignores_a_stale_ready(kubectl: Kubectl, kube: KubeStandInThread) -> None:
    kubectl("apply", *files("protectedvm-web01.yaml"))
    pvm = kube.get("protectedvms", "web01", NAMESPACE)
    assert pvm is not None
    first = pvm["metadata"]["generation"]
    kube.patch("protectedvms", "web01", ready(first), NAMESPACE, subresource="status")
    wait = ("wait", "pvm/web01", "--for=condition=Ready")
    assert "condition met" in kubectl(*wait, "--timeout=5s").stdout

    patch = '{"spec":{"activeSite":"Azure"}}'
    kubectl("patch", "pvm", "web01", "--type", "merge", "-p", patch)
    pvm = kube.get("protectedvms", "web01", NAMESPACE)
    assert pvm is not None and pvm["metadata"]["generation"] == first + 1
    stale = kubectl(*wait, "--timeout=1s", check=False)
    assert stale.returncode != 0 and "timed out" in stale.stderr

    kube.patch("protectedvms", "web01", ready(first + 1), NAMESPACE, subresource="status")
    assert "condition met" in kubectl(*wait, "--timeout=5s").stdout


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("protectedvm.spec.failover", "How a change of activeSite to Azure fails over."),
        ("protectedvm.spec.failover.recoveryPoint", "LatestApplicationConsistent"),
        ("protectedvm.status.operation.requestIds", "x-ms-client-request-id"),
        ("recoveryplan.status.groups.vmsDone", "Members done with this step."),
        ("siterecoveryvault.spec.hyperVHosts.transport", "WinRM authentication"),
    ],
)
def test_kubectl_explain_shows_the_field_descriptions(
    kubectl: Kubectl, field: str, says: str
) -> None:
    """The descriptions come from the typed API; kubectl reads them from OpenAPI v3."""
    out = kubectl("explain", field).stdout
    assert " ".join(says.split()) in " ".join(out.split()), out
