"""The one home of the alert rules and the Grafana dashboard built on `metrics`.

`python -m asr_operator.monitoring` (or `make monitoring`) writes them where they ship:
deploy/monitoring/ (kustomize, default thresholds) and the Helm chart (a PrometheusRule
template whose thresholds are chart values, and the dashboard JSON the chart's ConfigMap
reads). tests/manifests/test_monitoring.py fails when a committed copy differs.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Thresholds: chart value name -> default (also the defaults in values.yaml).
THRESHOLDS: dict[str, int] = {
    "rpoThresholdSeconds": 1800,
    "approvalWaitHours": 4,
    "drillMaxAgeDays": 90,
}
OBJECT = "{{ $labels.kind }} {{ $labels.namespace }}/{{ $labels.name }}"
DOCS = "https://github.com/asr-operator/asr-operator/blob/main/docs/metrics.md"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str  # may name thresholds as {rpoThresholdSeconds}
    for_: str
    severity: str
    summary: str
    description: str


ALERTS: tuple[Alert, ...] = (
    Alert(
        "AsrOperatorRpoHigh",
        "asr_operator_rpo_seconds > {rpoThresholdSeconds}",
        "15m",
        "warning",
        "Replication lags behind its RPO target",
        f"ASR reports an RPO of {{{{ $value }}}}s for {OBJECT}: a failover now would lose "
        "that much data.",
    ),
    Alert(
        "AsrOperatorReplicationCritical",
        "asr_operator_replication_health >= 2",
        "15m",
        "warning",
        "ASR reports replication health Critical",
        f"ASR reports replicationHealth Critical for {OBJECT}; see its status.asr health errors.",
    ),
    Alert(
        "AsrOperatorStalled",
        "asr_operator_stalled == 1",
        "5m",
        "critical",
        "An ASR operation is Stalled and needs a human",
        f"{OBJECT} is Stalled with reason {{{{ $labels.reason }}}}; its Stalled condition "
        "says what to do.",
    ),
    Alert(
        "AsrOperatorApprovalWaiting",
        "time() - asr_operator_awaiting_approval_since_timestamp_seconds"
        " > {approvalWaitHours} * 3600",
        "0m",
        "warning",
        "An approval gate has waited too long",
        f"{OBJECT} has waited more than {{approvalWaitHours}} hours for approval of "
        "{{ $labels.action }} (status.awaitingApproval).",
    ),
    Alert(
        "AsrOperatorNoRecentDrill",
        "time() - asr_operator_last_successful_drill_timestamp_seconds > {drillMaxAgeDays} * 86400",
        "1h",
        "info",
        "No successful DR drill recently",
        f"{OBJECT} has had no successful test failover in {{drillMaxAgeDays}} days "
        "(or none in its history).",
    ),
    Alert(
        "AsrOperatorVaultUnreachable",
        "asr_operator_vault_ready == 0",
        "10m",
        "critical",
        "A Site Recovery vault cannot be reached",
        "SiteRecoveryVault {{ $labels.namespace }}/{{ $labels.name }} fails its ARM check; "
        "no operation of its VMs can run. Its Ready condition says why.",
    ),
    Alert(
        "AsrOperatorArmThrottled",
        'sum by (vault) (rate(asr_operator_arm_requests_total{{code="429"}}[5m])) > 0',
        "15m",
        "warning",
        "ARM throttles the operator's requests (429) for a sustained time",
        "ARM has answered 429 to requests for vault {{ $labels.vault }} for 15 minutes; "
        "operations run slower. Look for other clients of the same principal.",
    ),
)


def alert_rules(values: dict[str, str]) -> list[dict[str, Any]]:
    """The rules with each threshold replaced by `values[name]`."""
    rules = []
    for a in ALERTS:
        rules.append(
            {
                "alert": a.name,
                "expr": a.expr.format(**values),
                "for": a.for_,
                "labels": {"severity": a.severity},
                "annotations": {
                    "summary": a.summary,
                    "description": _fill(a.description, values),
                    "runbook_url": f"{DOCS}#{a.name.lower()}",
                },
            }
        )
    return rules


def _fill(text: str, values: dict[str, str]) -> str:
    """Threshold fields in an annotation, leaving Prometheus' own {{ }} templates alone."""
    for name, value in values.items():
        text = re.sub(r"(?<!\{)\{" + name + r"\}(?!\})", value, text)
    return text


def _groups(values: dict[str, str]) -> dict[str, Any]:
    return {"groups": [{"name": "asr-operator", "rules": alert_rules(values)}]}


def prometheus_rule() -> str:
    """deploy/monitoring/prometheusrule.yaml: the rules at their default thresholds."""
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "asr-operator",
            "namespace": "asr-operator",
            "labels": {"app.kubernetes.io/name": "asr-operator"},
        },
        "spec": _groups({k: str(v) for k, v in THRESHOLDS.items()}),
    }
    return _HEADER + yaml.safe_dump(doc, sort_keys=False, width=_NO_WRAP)


_NO_WRAP = 1 << 20  # a line break inside a {{ }} template would break it
_HEADER = "# Generated by `make monitoring` from operator/asr_operator/monitoring.py.\n"
_HELM_VALUE = "{{{{ .Values.metrics.prometheusRule.{name} }}}}"


def chart_template() -> str:
    """The chart's PrometheusRule template: thresholds from values, gated by enabled."""
    marks = {k: f"@@{k}@@" for k in THRESHOLDS}
    body = yaml.safe_dump(_groups(marks), sort_keys=False, width=_NO_WRAP)
    # Prometheus' own templates must reach Prometheus untouched by Helm.
    body = re.sub(r"(\{\{[^}]*\}\})", r"{{`\1`}}", body)
    for name, mark in marks.items():
        body = body.replace(mark, _HELM_VALUE.format(name=name))
    spec = "\n".join(("  " + line) if line else line for line in body.splitlines())
    return (
        _HEADER.replace("#", "{{- /*", 1).rstrip() + " */}}\n"
        "{{- if .Values.metrics.prometheusRule.enabled }}\n"
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata:\n"
        '  name: {{ include "asr-operator.fullname" . }}\n'
        "  namespace: {{ .Release.Namespace }}\n"
        "  labels:\n"
        '    {{- include "asr-operator.labels" . | nindent 4 }}\n'
        "    {{- with .Values.metrics.prometheusRule.labels }}\n"
        "    {{- toYaml . | nindent 4 }}\n"
        "    {{- end }}\n"
        "spec:\n" + spec + "\n{{- end }}\n"
    )


# -- the dashboard ----------------------------------------------------------------------


def _panel(
    title: str, kind: str, exprs: Sequence[tuple[str, str]], x: int, y: int, w: int = 12
) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": w, "h": 8},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }
    if kind == "table":
        panel["targets"] = [dict(t, format="table", instant=True) for t in panel["targets"]]
    return panel


OBJ_LEGEND = "{{kind}} {{namespace}}/{{name}}"


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard: objects at a glance, then ASR, then ARM and the operator."""
    panels = [
        _panel(
            "Objects by phase",
            "bargauge",
            [("count by (phase) (asr_operator_phase == 1)", "{{phase}}")],
            0,
            0,
        ),
        _panel(
            "Stalled (needs a human)",
            "table",
            [("asr_operator_stalled == 1", "")],
            12,
            0,
        ),
        _panel("RPO (seconds)", "timeseries", [("asr_operator_rpo_seconds", OBJ_LEGEND)], 0, 8),
        _panel(
            "Replication health (0 Normal, 1 Warning, 2 Critical)",
            "timeseries",
            [("asr_operator_replication_health", OBJ_LEGEND)],
            12,
            8,
        ),
        _panel(
            "Waiting for approval (hours)",
            "table",
            [("(time() - asr_operator_awaiting_approval_since_timestamp_seconds) / 3600", "")],
            0,
            16,
        ),
        _panel(
            "Days since the last successful drill",
            "table",
            [("(time() - asr_operator_last_successful_drill_timestamp_seconds) / 86400", "")],
            12,
            16,
        ),
        _panel(
            "Last operation duration (seconds)",
            "table",
            [("asr_operator_last_operation_duration_seconds", "")],
            0,
            24,
        ),
        _panel(
            "Operation duration p90 (failover: the RTO)",
            "timeseries",
            [
                (
                    "histogram_quantile(0.9, sum by (type, le) "
                    "(rate(asr_operator_operation_duration_seconds_bucket[1h])))",
                    "{{type}}",
                )
            ],
            12,
            24,
        ),
        _panel(
            "Vaults ready",
            "stat",
            [("asr_operator_vault_ready", "{{namespace}}/{{name}}")],
            0,
            32,
        ),
        _panel(
            "ARM requests per second by operation and code",
            "timeseries",
            [
                (
                    "sum by (vault, operation, code) (rate(asr_operator_arm_requests_total[5m]))",
                    "{{vault}} {{operation}} {{code}}",
                )
            ],
            12,
            32,
        ),
        _panel(
            "Throttling: 429s per second and seconds waited per second",
            "timeseries",
            [
                (
                    'sum by (vault) (rate(asr_operator_arm_requests_total{code="429"}[5m]))',
                    "{{vault}} 429/s",
                ),
                (
                    "sum by (vault) (rate(asr_operator_arm_throttle_wait_seconds_total[5m]))",
                    "{{vault}} waited s/s",
                ),
            ],
            0,
            40,
        ),
        _panel(
            "Job polls and ASR actions per second",
            "timeseries",
            [
                ("sum by (vault) (rate(asr_operator_job_polls_total[5m]))", "{{vault}} polls"),
                (
                    "sum by (action, outcome) (rate(asr_operator_asr_calls_total[5m]))",
                    "{{action}} {{outcome}}",
                ),
            ],
            12,
            40,
        ),
        _panel(
            "Reconcile cycle p90 (seconds)",
            "timeseries",
            [
                (
                    "histogram_quantile(0.9, sum by (kind, le) "
                    "(rate(asr_operator_reconcile_duration_seconds_bucket[5m])))",
                    "{{kind}}",
                )
            ],
            0,
            48,
            24,
        ),
    ]
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": "asr-operator",
        "title": "ASR operator",
        "tags": ["asr-operator", "disaster-recovery"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                }
            ]
        },
        "panels": panels,
    }


def dashboard_json() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


# -- where they ship --------------------------------------------------------------------

CHART = Path("charts/asr-operator")
OUTPUTS = {
    Path("deploy/monitoring/prometheusrule.yaml"): prometheus_rule,
    Path("deploy/monitoring/grafana-dashboard.json"): dashboard_json,
    CHART / "templates/prometheusrule.yaml": chart_template,
    CHART / "files/grafana-dashboard.json": dashboard_json,
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m asr_operator.monitoring", description=__doc__)
    p.add_argument("--root", type=Path, default=Path("."), help="the repository's root")
    args = p.parse_args(argv)
    for path, render in OUTPUTS.items():
        target = args.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
