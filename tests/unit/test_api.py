"""The typed API: CRDs generated from it, committed CRDs in sync, CEL rules, conditions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cel
import pytest
import yaml
from pydantic import ValidationError

from asr_operator import cli
from asr_operator.api import crds
from asr_operator.api.common import parse_duration
from asr_operator.api.conditions import (
    ConditionStatus,
    ConditionType,
    Reason,
    get_condition,
    set_condition,
)
from asr_operator.api.protectedvm import ProtectedVMSpec, ProtectedVMStatus

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def committed() -> dict[str, dict[str, Any]]:
    docs = {}
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs[doc["spec"]["names"]["kind"]] = doc
    return docs


def test_committed_crds_match_the_generator() -> None:
    for resource in crds.RESOURCES:
        path = ROOT / "crds" / resource.file_name
        assert path.read_text(encoding="utf-8") == crds.render(resource), (
            f"{path.name} drifted from the models: run `make crds`"
        )
    assert len(list((ROOT / "crds").glob("*.yaml"))) == len(crds.RESOURCES)


def test_cli_prints_what_is_committed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crds"]) == 0
    out = capsys.readouterr().out
    on_disk = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "crds").glob("*.yaml")))
    assert out == on_disk


@pytest.mark.parametrize("kind", ["ProtectedVM", "RecoveryPlan", "SiteRecoveryVault"])
def test_crd_shape(kind: str) -> None:
    doc = committed()[kind]
    version = doc["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert doc["spec"]["names"]["shortNames"] and doc["spec"]["names"]["categories"] == ["asr"]
    schema = version["schema"]["openAPIV3Schema"]
    status = schema["properties"]["status"]
    assert "conditions" in status["properties"]
    assert "x-kubernetes-preserve-unknown-fields" not in status  # every status field declared
    _assert_structural(schema)


def _assert_structural(node: Any, path: str = "") -> None:
    if not isinstance(node, dict):
        return
    for bad in ("$ref", "anyOf", "allOf", "oneOf", "$defs", "title", "const"):
        assert bad not in node, f"{path}: {bad}"
    if "properties" in node:
        assert node.get("type") == "object", path
        assert "additionalProperties" not in node, path
        for name, sub in node["properties"].items():
            _assert_structural(sub, f"{path}.{name}")
    elif node.get("type") == "object" and path.endswith(("spec", "status")):
        pytest.fail(f"{path} has no declared properties")
    if "items" in node:
        _assert_structural(node["items"], f"{path}[]")
    assert "type" in node or path in ("",), f"{path} has no type"


def test_protectedvm_printer_columns() -> None:
    cols = committed()["ProtectedVM"]["spec"]["versions"][0]["additionalPrinterColumns"]
    names = [c["name"].upper() for c in cols if not c.get("priority")]
    assert names == ["DESIRED", "ACTIVE", "PHASE", "READY", "JOB", "RPO", "AGE"]
    plan = committed()["RecoveryPlan"]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"].upper() for c in plan][:5] == ["DESIRED", "ACTIVE", "PHASE", "READY", "JOB"]


def _rules(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, str]]]:
    if isinstance(node, dict):
        for rule in node.get("x-kubernetes-validations", []):
            yield path, rule
        for name, sub in node.get("properties", {}).items():
            yield from _rules(sub, f"{path}.{name}")
        if "items" in node:
            yield from _rules(node["items"], f"{path}[]")


def rule_at(kind: str, path: str) -> list[dict[str, str]]:
    schema = committed()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return [r for p, r in _rules(schema) if p == path]


CEL_CASES = [
    # (kind, path to the node, the node, passes)
    (
        "ProtectedVM",
        ".spec.testFailover",
        {"requestId": "q3", "networkId": "/subscriptions/x"},
        True,
    ),
    ("ProtectedVM", ".spec.testFailover", {"requestId": "q3"}, False),
    ("ProtectedVM", ".spec.testFailover", {"requestId": ""}, True),
    ("ProtectedVM", ".spec.protectedItem", {"name": "WEB01"}, True),
    ("ProtectedVM", ".spec.protectedItem", {"fabric": "f", "container": "c"}, False),
    (
        "ProtectedVM",
        ".spec.target",
        {"availabilitySetId": "/subscriptions/a", "availabilityZone": "1"},
        False,
    ),
    ("RecoveryPlan", ".spec.failover", {"recoveryPoint": "Latest"}, True),
    ("RecoveryPlan", ".spec.failover", {"recoveryPoint": "4f1c2b"}, False),
    ("SiteRecoveryVault", ".spec", {"endpoint": "https://127.0.0.1:8443"}, True),
    ("SiteRecoveryVault", ".spec", {"endpoint": "http://127.0.0.1:8080"}, False),
    ("SiteRecoveryVault", ".spec.hyperVHosts[]", {"transport": "basic", "scheme": "https"}, True),
    ("SiteRecoveryVault", ".spec.hyperVHosts[]", {"transport": "basic", "scheme": "http"}, False),
    ("SiteRecoveryVault", ".spec.authentication", {"type": "ClientSecret", "tenantId": "t"}, False),
    ("SiteRecoveryVault", ".spec.authentication", {"type": "ManagedIdentity"}, True),
    ("SiteRecoveryVault", ".spec.authentication", {"type": "WorkloadIdentity"}, True),
]


@pytest.mark.parametrize(("kind", "path", "node", "passes"), CEL_CASES)
def test_cel_rules(kind: str, path: str, node: dict[str, Any], passes: bool) -> None:
    rules = rule_at(kind, path)
    assert rules, f"no CEL rule at {kind}{path}"
    results = [bool(cel.evaluate(r["rule"], {"self": node})) for r in rules]
    assert all(results) == passes


def test_spec_defaults_and_rejections() -> None:
    spec = ProtectedVMSpec.model_validate(
        {"vaultRef": {"name": "v"}, "protectedItem": {"name": "WEB01"}}
    )
    assert spec.active_site == "OnPremises" and spec.failover.commit == "Manual"
    assert spec.failback.data_sync.asr_value == "ForDownTime"
    with pytest.raises(ValidationError, match=r"recoveryPoint|recovery_point"):
        ProtectedVMSpec.model_validate(
            {
                "vaultRef": {"name": "v"},
                "protectedItem": {"name": "W"},
                "failover": {"recoveryPoint": "not a point!"},
            }
        )
    with pytest.raises(ValidationError):
        ProtectedVMSpec.model_validate(
            {"vaultRef": {"name": "v"}, "protectedItem": {"name": "W"}, "typo": 1}
        )


def test_status_round_trips_through_the_wire_form() -> None:
    status = ProtectedVMStatus(observed_generation=3)
    wire = status.to_wire()
    assert wire["observedGeneration"] == 3
    assert ProtectedVMStatus.model_validate(wire) == status


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "m", "1d", "-1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_condition_transition_time_moves_only_on_flip() -> None:
    conds = set_condition(
        [], ConditionType.READY, ConditionStatus.FALSE, Reason.PROGRESSING, "a", 1, T0
    )
    later = T0 + timedelta(minutes=1)
    same = set_condition(
        conds, ConditionType.READY, ConditionStatus.FALSE, Reason.WAITING, "b", 2, later
    )
    c = get_condition(same, ConditionType.READY)
    assert c is not None
    assert c.last_transition_time == T0 and c.reason == Reason.WAITING
    assert c.observed_generation == 2
    flipped = set_condition(
        same, ConditionType.READY, ConditionStatus.TRUE, Reason.RECONCILED, "", 2, later
    )
    c2 = get_condition(flipped, ConditionType.READY)
    assert c2 is not None and c2.last_transition_time == later
    assert len(flipped) == 1
