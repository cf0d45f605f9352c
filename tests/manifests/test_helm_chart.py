"""charts/asr-operator: values, and (where the optional `helm-python-sdk` is installed) the
rendered objects, held to the same expectations as the kustomize install.

Rendering needs Helm's template engine. No helm binary exists here and the only offline
engine on PyPI, `helm-python-sdk` (Helm's Go SDK via ctypes), installs 244 MB, so it is
not a project dependency: `pip install helm-python-sdk==0.2.2` to run the render tests;
without it they are skipped and `helm lint` / `helm template` remain the user's check.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

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

CHART = ROOT / "charts" / "asr-operator"
NS = "asr-operator"  # the release's namespace
CLIENT_ID = "33333333-4444-5555-6666-777777777777"


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return loaded


def values_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    return loaded


def schema_errors(vals: dict[str, Any]) -> list[str]:
    """What Helm says of these values (it validates them against values.schema.json on
    install, upgrade, lint and template)."""
    errors = Draft7Validator(values_schema()).iter_errors(vals)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def merged(overrides: dict[str, Any], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """values.yaml with overrides merged, as Helm merges --set and -f files."""
    out = copy.deepcopy(values() if into is None else into)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(value, out[key])
        else:
            out[key] = value
    return out


def test_default_values_satisfy_the_values_schema() -> None:
    Draft7Validator.check_schema(values_schema())
    assert schema_errors(values()) == []


# Maps whose keys are the user's (labels, annotations, selectors) or Kubernetes' own objects.
FREE_MAPS = {
    "global",
    "serviceAccount.annotations",
    "metrics.service.annotations",
    "metrics.serviceMonitor.labels",
    "metrics.prometheusRule.labels",
    "metrics.grafanaDashboard.labels",
    "resources",
    "podAnnotations",
    "podLabels",
    "nodeSelector",
    "affinity",
    "extraEnv[].valueFrom",
}


def _objects(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)] if node.get("type") == "object" else []
    for name, sub in node.get("properties", {}).items():
        out += _objects(sub, f"{path}.{name}".lstrip("."))
    if isinstance(node.get("items"), dict):
        out += _objects(node["items"], f"{path}[]")
    return out


def test_every_values_object_refuses_unknown_keys() -> None:
    objects = dict(_objects(values_schema()))
    closed = {p for p, o in objects.items() if o.get("additionalProperties") is False}
    assert set(objects) - closed == FREE_MAPS


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"instalCRDs": False}, "instalCRDs"),
        ({"image": {"tags": "1.0"}}, "tags"),
        ({"metrics": {"serviceMonitor": {"enable": True}}}, "enable"),
        ({"watch": {"namespace": ["dr"]}}, "namespace"),
        ({"leaderElection": {"enabled": True, "leaseDuration": 15}}, "leaseDuration"),
        ({"replicaCount": 0}, "minimum"),
        ({"azureLogLevel": "trace"}, "trace"),
    ],
)
def test_values_schema_refuses_typos(overrides: dict[str, Any], names: str) -> None:
    errors = schema_errors(merged(overrides))
    assert errors and names in " ".join(errors), errors


def test_values_schema_accepts_every_documented_key_and_free_maps() -> None:
    """Including the keys of the high-availability and alerting values."""
    full = merged(
        {
            "replicaCount": 2,
            "leaderElection": {
                "enabled": True,
                "leaseDurationSeconds": 15,
                "renewDeadlineSeconds": 10,
                "retryPeriodSeconds": 2,
            },
            "azureLogLevel": "info",
            "metrics": {
                "prometheusRule": {
                    "enabled": True,
                    "labels": {"release": "kube-prometheus-stack"},
                    "rpoThresholdSeconds": 900,
                    "approvalWaitHours": 0.5,
                    "drillMaxAgeDays": 90,
                },
                "grafanaDashboard": {"enabled": True, "labels": {"grafana_dashboard": "1"}},
            },
            "podLabels": {"team": "dr", "anything.example/goes": "x"},
            "nodeSelector": {"kubernetes.io/arch": "amd64"},
            "resources": {"limits": {"cpu": None, "ephemeral-storage": "1Gi"}},
            "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.corp.example:3128"}],
            "tolerations": [{"key": "dr", "operator": "Exists", "effect": "NoSchedule"}],
            "global": {"imageRegistry": "registry.corp.example"},
        }
    )
    assert schema_errors(full) == []


def test_chart_version_matches_the_kustomize_image() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert values()["image"]["repository"] + ":" + chart["appVersion"] == IMAGE


# -- rendering (optional) ---------------------------------------------------------------


@functools.cache
def _render(overrides: str) -> tuple[Manifest, ...]:
    helm = pytest.importorskip("helm_python")
    chart = helm.Chart.load(str(CHART))
    rendered = chart.render(
        json.loads(overrides), name="asr-operator", namespace="asr-operator", is_install=True
    )
    docs: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return tuple(docs)


def render(**overrides: Any) -> list[Manifest]:
    return copy.deepcopy(list(_render(json.dumps(overrides, sort_keys=True))))


def test_helm_refuses_a_misspelt_value() -> None:
    """Helm's own engine validates values against values.schema.json."""
    helm = pytest.importorskip("helm_python")
    report = helm.lint(str(CHART), {"instalCRDs": False}, strict=True, kube_version="v1.32.0")
    assert any("instalCRDs" in e and "not allowed" in e for e in report["errors"]), report


def test_lint_is_clean() -> None:
    helm = pytest.importorskip("helm_python")
    for overrides in ({}, {"watch": {"allNamespaces": False, "namespaces": ["dr"]}}):
        report = helm.lint(str(CHART), overrides, strict=True, kube_version="v1.32.0")
        assert report["errors"] == [], report


def test_defaults_render_the_kustomize_install() -> None:
    docs = render()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["CustomResourceDefinition"] * 3
        + ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"]
        + ["Role", "RoleBinding"]
    )
    deployment = one(docs, "Deployment")
    assert_restricted_pod(deployment)
    assert_leader_election(docs)
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    lease_flags = ["--lease-duration", "15", "--renew-deadline", "10", "--retry-period", "2"]
    assert container["command"] == [*COMMAND, *lease_flags]
    assert assert_command_parses(COMMAND).all_namespaces
    assert {"name": "AZURE_TOKEN_CREDENTIALS", "value": "WorkloadIdentityCredential"} in (
        container["env"]
    )
    assert rules_of(one(docs, "ClusterRole")) == {**RESOURCE_RULES, **SCAN_RULES}
    subject = one(docs, "ClusterRoleBinding")["subjects"][0]
    assert subject == {
        "kind": "ServiceAccount",
        "name": "asr-operator",
        "namespace": "asr-operator",
    }


def test_crds_are_the_committed_ones_and_kept_on_uninstall() -> None:
    rendered = {d["metadata"]["name"]: d for d in render() if d["kind"].startswith("Custom")}
    for path in (ROOT / "crds").glob("*.yaml"):
        committed = yaml.safe_load(path.read_text(encoding="utf-8"))
        got = rendered[committed["metadata"]["name"]]
        assert got["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
        assert got == committed
    assert not [d for d in render(installCRDs=False) if d["kind"].startswith("Custom")]


def test_watch_namespaces_uses_roles() -> None:
    docs = render(
        watch={"allNamespaces": False, "namespaces": ["dr", "dr-east"]},
        rbac={"secretNames": ["hv-winrm", "asr-sp"]},
    )
    assert rules_of(one(docs, "ClusterRole")) == SCAN_RULES
    roles = [d for d in docs if d["kind"] == "Role" and d["metadata"]["namespace"] != NS]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["dr", "dr-east"]
    for role in roles:
        assert rules_of(role) == RESOURCE_RULES
        (secrets,) = [r for r in role["rules"] if r["resources"] == ["secrets"]]
        assert secrets["resourceNames"] == ["hv-winrm", "asr-sp"]
    bindings = [d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] != NS]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["dr", "dr-east"]
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "--all-namespaces" not in container["command"]
    assert assert_command_parses(container["command"]).namespace == ["dr", "dr-east"]


def test_watch_namespaces_must_not_be_empty() -> None:
    helm = pytest.importorskip("helm_python")
    with pytest.raises(helm.HelmError, match=r"watch\.namespaces"):
        render(watch={"allNamespaces": False, "namespaces": []})


def test_workload_identity_and_extras() -> None:
    docs = render(
        workloadIdentity={"clientId": CLIENT_ID},
        extraEnv=[{"name": "HTTPS_PROXY", "value": "http://proxy.corp.example:3128"}],
        extraArgs=["--log-level=debug"],
        metrics={"enabled": False},
        # Helm merges maps with the defaults; null removes a default key.
        resources={"requests": {"cpu": "50m"}, "limits": {"cpu": None, "memory": "1Gi"}},
    )
    annotations = one(docs, "ServiceAccount")["metadata"]["annotations"]
    assert annotations == {"azure.workload.identity/client-id": CLIENT_ID}
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert {"name": "HTTPS_PROXY", "value": "http://proxy.corp.example:3128"} in container["env"]
    assert assert_command_parses(container["command"]).log_level == "debug"
    assert "--metrics-port" not in container["command"]
    assert [p["name"] for p in container["ports"]] == ["health"]
    assert not [d for d in docs if d["kind"] == "Service"]
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "512Mi"},
        "limits": {"memory": "1Gi"},
    }


def test_workload_identity_disabled() -> None:
    pod = one(render(workloadIdentity={"enabled": False}), "Deployment")["spec"]["template"]
    assert "azure.workload.identity/use" not in pod["metadata"]["labels"]
    (container,) = pod["spec"]["containers"]
    assert "AZURE_TOKEN_CREDENTIALS" not in {e["name"] for e in container["env"]}


def test_service_monitor() -> None:
    docs = render(metrics={"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}})
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    service = one(docs, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )


def test_leader_election_disabled_runs_one_replica_with_recreate() -> None:
    docs = render(leaderElection={"enabled": False}, replicaCount=1)
    spec = one(docs, "Deployment")["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    (container,) = spec["template"]["spec"]["containers"]
    assert not assert_command_parses(container["command"]).leader_election
    assert not [d for d in docs if d["kind"] == "Role"]


def test_two_replicas_without_leader_election_are_refused() -> None:
    helm = pytest.importorskip("helm_python")
    with pytest.raises(helm.HelmError, match="leaderElection"):
        render(leaderElection={"enabled": False})


def test_prometheus_rule_and_dashboard() -> None:
    from asr_operator import monitoring

    thresholds = {"rpoThresholdSeconds": 600, "approvalWaitHours": 2, "drillMaxAgeDays": 30}
    docs = render(
        metrics={
            "prometheusRule": {"enabled": True, "labels": {"release": "prom"}, **thresholds},
            "grafanaDashboard": {"enabled": True},
        }
    )
    rule = one(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prom"
    values = {k: str(v) for k, v in thresholds.items()}
    assert rule["spec"]["groups"][0]["rules"] == monitoring.alert_rules(values)
    board = one(docs, "ConfigMap")
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["asr-operator.json"]) == monitoring.dashboard()
    assert not [d for d in render() if d["kind"] in ("PrometheusRule", "ConfigMap")]
