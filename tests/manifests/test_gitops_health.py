"""GitOps health: the Argo CD Lua check (run in Lua 5.1, as Argo CD's gopher-lua is) and the
Flux CEL health expressions, over the same objects, agree with kstatus's reading of the
conditions; docs/gitops.md shows exactly the shipped script."""

from __future__ import annotations

import functools
import re
from typing import Any

import cel
import pytest
import yaml

from tests.manifests.crd_admission import ROOT

GITOPS = ROOT / "deploy" / "gitops"
KINDS = ("ProtectedVM", "RecoveryPlan", "SiteRecoveryVault")
T = "2026-01-01T00:00:00Z"


def condition(type_: str, status: str, reason: str, message: str = "", gen: int = 2) -> Any:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": gen,
        "lastTransitionTime": T,
    }


def obj(*conditions: Any, observed: int | None = 2, generation: int = 2) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": list(conditions)}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"name": "web01", "generation": generation}, "spec": {}, "status": status}


READY = condition("Ready", "True", "Reconciled", "VM runs on OnPremises as desired")
NOT_READY = condition("Ready", "False", "OperationInProgress", "Failover job running")
RECONCILING = condition("Reconciling", "True", "OperationInProgress", "Failover 3/7 tasks")
NOT_RECONCILING = condition("Reconciling", "False", "Reconciled")
STALLED = condition("Stalled", "True", "CheckpointsPresent", "remove checkpoints: before-patch")
NOT_STALLED = condition("Stalled", "False", "Reconciled")
APPROVAL = condition("AwaitingApproval", "True", "CommitApproval", "approve commit-1a2b3c4d")

# object -> (Argo CD health status, substring of its message, Flux verdict)
CASES: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "no-status": ({"metadata": {"generation": 1}, "spec": {}}, "Progressing", "Waiting", "busy"),
    "never-observed": (obj(observed=None), "Progressing", "generation 2", "busy"),
    "old-generation": (obj(READY, observed=1), "Progressing", "generation 2", "busy"),
    "ready": (obj(READY, NOT_RECONCILING, NOT_STALLED), "Healthy", "as desired", "current"),
    "ready-but-stale": (
        obj(condition("Ready", "True", "Reconciled", gen=1), observed=2),
        "Progressing",
        "Waiting",
        "busy",
    ),
    "failing-over": (obj(NOT_READY, RECONCILING, NOT_STALLED), "Progressing", "3/7", "busy"),
    "stalled": (obj(STALLED, NOT_READY), "Degraded", "CheckpointsPresent: remove", "failed"),
    "awaiting-approval": (obj(APPROVAL, NOT_READY), "Suspended", "commit-1a2b3c4d", "busy"),
    "stale-stall-ignored": (
        obj(condition("Stalled", "True", "CheckpointsPresent", gen=1), NOT_READY),
        "Progressing",
        "Failover job running",
        "busy",
    ),
}


@functools.cache
def argocd_scripts() -> dict[str, str]:
    doc = yaml.safe_load((GITOPS / "argocd-cm-health.yaml").read_text(encoding="utf-8"))
    prefix = "resource.customizations.health.asr-operator.io_"
    return {k.removeprefix(prefix): v for k, v in doc["data"].items()}


def argocd_health(manifest: dict[str, Any]) -> tuple[str, str]:
    lua51 = pytest.importorskip("lupa.lua51")
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(manifest, recursive=True)
    run = runtime.eval("function(src) return assert(loadstring(src))() end")
    hs = run(argocd_scripts()["ProtectedVM"])
    return str(hs["status"]), str(hs["message"])


def flux_verdict(manifest: dict[str, Any], kind: str = "ProtectedVM") -> str:
    doc = yaml.safe_load((GITOPS / "flux-kustomization.yaml").read_text(encoding="utf-8"))
    (exprs,) = [e for e in doc["spec"]["healthCheckExprs"] if e["kind"] == kind]
    variables = {k: manifest.get(k, {}) for k in ("metadata", "spec", "status")}
    if cel.evaluate(exprs["failed"], variables):
        return "failed"
    return "current" if cel.evaluate(exprs["current"], variables) else "busy"


def test_one_script_for_every_kind() -> None:
    scripts = argocd_scripts()
    assert sorted(scripts) == sorted(KINDS)
    assert len(set(scripts.values())) == 1


def test_docs_show_the_shipped_script() -> None:
    text = (ROOT / "docs" / "gitops.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```lua\n(.*?)```", text, flags=re.S)
    assert blocks == [argocd_scripts()["ProtectedVM"]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_argocd_health(name: str) -> None:
    manifest, status, message, _ = CASES[name]
    got_status, got_message = argocd_health(manifest)
    assert got_status == status
    assert message in got_message


@pytest.mark.parametrize("name", sorted(CASES))
def test_flux_health_expressions(name: str) -> None:
    manifest, _, _, verdict = CASES[name]
    for kind in KINDS:
        assert flux_verdict(manifest, kind) == verdict
