"""Alerts and dashboard (deploy/monitoring and the Helm chart): one source, valid PromQL
over metrics the operator exports, documented in docs/metrics.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

from asr_operator import metrics, monitoring
from tests.manifests.crd_admission import ROOT

RULES = ROOT / "deploy" / "monitoring" / "prometheusrule.yaml"


def exported_samples() -> set[str]:
    """Every sample name the operator's metrics can have (counters' _total, histograms')."""
    assert metrics.ARM_REQUESTS  # the operator's metrics are registered
    names: set[str] = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("asr_operator_"):
            continue
        suffixes = {
            "counter": ("_total", "_created"),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
        }.get(family.type, ("",))
        names |= {family.name + s for s in suffixes}
    return names


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return list(doc["spec"]["groups"][0]["rules"])


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in monitoring.dashboard()["panels"] for t in p["targets"]]


def test_committed_files_are_generated_from_the_one_source() -> None:
    for path, render in monitoring.OUTPUTS.items():
        committed = (ROOT / path).read_text(encoding="utf-8")
        assert committed == render(), f"{path} differs: run `make monitoring`"


def test_the_chart_template_is_the_deploy_file_with_thresholds_from_values() -> None:
    """What Helm makes of the template at the default values (its two substitutions)."""
    text = (ROOT / monitoring.CHART / "templates" / "prometheusrule.yaml").read_text("utf-8")
    values = yaml.safe_load((ROOT / monitoring.CHART / "values.yaml").read_text("utf-8"))
    defaults = values["metrics"]["prometheusRule"]
    assert {k: defaults[k] for k in monitoring.THRESHOLDS} == monitoring.THRESHOLDS
    text = re.sub(r"\{\{`(.*?)`\}\}", r"\1", text)
    text = re.sub(
        r"\{\{ \.Values\.metrics\.prometheusRule\.(\w+) \}\}", lambda m: str(defaults[m[1]]), text
    )
    spec = text[text.index("spec:\n") + len("spec:\n") : text.rindex("{{- end }}")]
    assert yaml.safe_load(spec) == yaml.safe_load(RULES.read_text("utf-8"))["spec"]


@pytest.mark.parametrize("expr", [r["expr"] for r in rules()] + dashboard_exprs())
def test_expressions_parse_as_promql_over_exported_metrics(expr: str) -> None:
    promql_parser.parse(expr)
    used = set(re.findall(r"\basr_operator_\w+", expr))
    assert used and used <= exported_samples(), used - exported_samples()


def test_the_required_alerts_exist() -> None:
    names = {r["alert"] for r in rules()}
    assert {
        "AsrOperatorRpoHigh",
        "AsrOperatorStalled",
        "AsrOperatorApprovalWaiting",
        "AsrOperatorNoRecentDrill",
        "AsrOperatorVaultUnreachable",
        "AsrOperatorArmThrottled",
    } <= names
    for r in rules():
        assert r["labels"]["severity"] in ("critical", "warning", "info")
        assert r["annotations"]["runbook_url"].endswith("#" + r["alert"].lower())


def test_docs_list_every_metric_and_alert() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    families = {f.name for f in REGISTRY.collect() if f.name.startswith("asr_operator_")}
    missing = [n for n in sorted(families) if f"`{n}" not in text]
    assert not missing, missing
    headings = set(re.findall(r"^### (\w+)", text, flags=re.M))
    assert {r["alert"] for r in rules()} <= headings


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_builds_the_rule_and_the_dashboard_config_map() -> None:
    done = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy" / "monitoring")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    docs = {d["kind"]: d for d in yaml.safe_load_all(done.stdout) if d}
    assert set(docs) == {"PrometheusRule", "ConfigMap"}
    board = docs["ConfigMap"]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["asr-operator.json"]) == monitoring.dashboard()
