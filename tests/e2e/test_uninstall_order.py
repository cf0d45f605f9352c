"""docs/upgrade.md's uninstall, verbatim with the real kubectl: delete the resources while
the operator runs (it removes its finalizers), then stop the operator, then delete the
CRDs. Skipped where kubectl is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.e2e.conftest import Cluster, Operator
from tests.manifests.crd_admission import ROOT
from tests.manifests.test_upgrade_doc import UNINSTALL

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
FINALIZER = "asr-operator.io/finalizer"


def test_uninstall_in_the_documented_order(cluster: Cluster, operator: Operator) -> None:
    env = {**os.environ, "KUBECONFIG": str(operator.dc.kubeconfig)}

    def run(command: str) -> subprocess.CompletedProcess[str]:
        assert command.startswith("kubectl ")
        done = subprocess.run(
            [str(KUBECTL), *command.split()[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{command}: {done.stderr}"
        return done

    cluster.create_pvm("web01")
    cluster.wait_ready("web01")
    assert FINALIZER in cluster.get("web01")["metadata"]["finalizers"]
    vault = cluster.get("vault-dr", "siterecoveryvaults")
    assert FINALIZER in vault["metadata"]["finalizers"]

    delete_items, delete_vaults, check, delete_crds = UNINSTALL
    run(delete_items)
    assert not cluster.exists("web01")
    run(delete_vaults)
    done = run(check)
    assert "No resources found" in done.stdout + done.stderr, done

    operator.stop()
    out = run(delete_crds).stdout
    assert out.count("deleted") == 3, out
    crds = run("kubectl get customresourcedefinitions -o name").stdout
    assert "asr-operator.io" not in crds, crds
