"""The typed API: CRDs generated from it, committed CRDs in sync, CEL rules, conditions."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cel
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from asr_operator import cli
from asr_operator.api import common, crds, vault
from asr_operator.api import protectedvm as pvm
from asr_operator.api.cel import FieldRule
from asr_operator.api.common import ApiModel, parse_duration
from asr_operator.api.conditions import (
    ConditionStatus,
    ConditionType,
    Reason,
    get_condition,
    set_condition,
)
from asr_operator.api.protectedvm import ProtectedVMSpec, ProtectedVMStatus
from asr_operator.sim.kube.cel_library import FUNCTIONS

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


def evaluate(rule: str, value: Any) -> Any:
    """A rule as the API stand-in runs it: the cel module plus Kubernetes' CEL library."""
    return cel.compile(rule).execute(cel.Context(variables={"self": value}, functions=FUNCTIONS))


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
    # the plan's drill keeps the rules of the ProtectedVM's drill
    ("RecoveryPlan", ".spec.testFailover", {"requestId": "q3"}, False),
    ("ProtectedVM", ".spec.protectedItem", {"name": "WEB01"}, True),
    ("ProtectedVM", ".spec.protectedItem", {"fabric": "f", "container": "c"}, False),
    ("ProtectedVM", ".spec.protectedItem", {"fabric": "f", "container": "c", "id": "i"}, True),
    (
        "ProtectedVM",
        ".spec.protectedItem",
        {"name": "WEB01", "fabric": "f", "container": "c", "id": "i"},
        False,
    ),
    (
        "ProtectedVM",
        ".spec.target",
        {"availabilitySetId": "/subscriptions/a", "availabilityZone": "1"},
        False,
    ),
    (
        "ProtectedVM",
        ".spec.target",
        {"nics": [{"nicId": "a", "staticIP": "10.0.0.1"}, {"nicId": "b", "staticIP": ""}]},
        True,
    ),
    (
        "ProtectedVM",
        ".spec.target",
        {"nics": [{"nicId": "a", "staticIP": "10.0.0.1"}, {"nicId": "b", "staticIP": "10.0.0.1"}]},
        False,
    ),
    ("ProtectedVM", ".spec.failover", {"type": "Planned", "shutdownSourceVM": True}, True),
    ("ProtectedVM", ".spec.failover", {"type": "Planned", "shutdownSourceVM": False}, False),
    ("ProtectedVM", ".spec.failover", {"type": "Unplanned", "shutdownSourceVM": False}, True),
    ("RecoveryPlan", ".spec.failover", {"type": "Planned", "shutdownSourceVM": False}, False),
    (
        "RecoveryPlan",
        ".spec.failover",
        {"type": "Planned", "shutdownSourceVM": True, "recoveryPoint": "LatestProcessed"},
        False,
    ),
    (
        "RecoveryPlan",
        ".spec.failover",
        {"type": "Unplanned", "shutdownSourceVM": True, "recoveryPoint": "LatestProcessed"},
        True,
    ),
    ("SiteRecoveryVault", ".spec", {"endpoint": "https://127.0.0.1:8443"}, True),
    ("SiteRecoveryVault", ".spec", {"endpoint": "http://127.0.0.1:8080"}, False),
    ("SiteRecoveryVault", ".spec", {"endpoint": "https://"}, False),
    *[
        ("SiteRecoveryVault", ".spec.hyperVHosts[]", host, passes)
        for host, passes in [
            ({"transport": "basic", "scheme": "https", "insecureSkipTlsVerify": False}, True),
            ({"transport": "basic", "scheme": "http", "insecureSkipTlsVerify": False}, False),
            ({"transport": "basic", "scheme": "https", "insecureSkipTlsVerify": True}, False),
            ({"transport": "ntlm", "scheme": "https", "insecureSkipTlsVerify": True}, True),
            (
                {
                    "transport": "ntlm",
                    "scheme": "https",
                    "insecureSkipTlsVerify": True,
                    "caSecretRef": {"name": "ca"},
                },
                False,
            ),
            ({"transport": "ntlm", "scheme": "http", "insecureSkipTlsVerify": True}, False),
        ]
    ],
    ("SiteRecoveryVault", ".spec.authentication", {"type": "ClientSecret", "tenantId": "t"}, False),
    ("SiteRecoveryVault", ".spec.authentication", {"type": "ManagedIdentity"}, True),
    ("SiteRecoveryVault", ".spec.authentication", {"type": "WorkloadIdentity"}, True),
    (
        "SiteRecoveryVault",
        ".spec.authentication",
        {"type": "ManagedIdentity", "secretRef": {"name": "sp"}},
        False,
    ),
]


@pytest.mark.parametrize(("kind", "path", "node", "passes"), CEL_CASES)
def test_cel_rules(kind: str, path: str, node: dict[str, Any], passes: bool) -> None:
    rules = rule_at(kind, path)
    assert rules, f"no CEL rule at {kind}{path}"
    results = [bool(evaluate(r["rule"], node)) for r in rules]
    assert all(results) == passes


def _models(base: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for sub in base.__subclasses__():
        yield sub
        yield from _models(sub)


def _own_rules(model: type[BaseModel]) -> list[dict[str, str]]:
    rules: list[dict[str, str]] = model.model_json_schema().get("x-kubernetes-validations", [])
    return rules


@pytest.mark.parametrize("model", [m for m in _models(ApiModel) if m.__module__.startswith("asr")])
def test_models_add_to_the_rules_they_inherit(model: type[BaseModel]) -> None:
    for base in model.__mro__[1:]:
        if isinstance(base, type) and issubclass(base, ApiModel) and base is not ApiModel:
            missing = [r for r in _own_rules(base) if r not in _own_rules(model)]
            assert not missing, f"{model.__name__} drops {base.__name__}'s rules: {missing}"


# Every field rule, with values on both sides of it: CEL (what the API server runs) and
# Python (what the operator's models run) must agree on each.
_NET = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-net/providers/"
    "Microsoft.Network/virtualNetworks/vnet-1"
)
_RG = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-app"
_AVSET = _RG + "/providers/Microsoft.Compute/availabilitySets/as-web"
_NIC = base64.b64encode(b"Microsoft:4BC89BB8-1761\\F277F58E-67EC").decode()
FIELD_RULES: dict[str, tuple[FieldRule, list[str]]] = {
    "recovery point": (
        common.RECOVERY_POINT,
        [
            "Latest",
            "LatestProcessed",
            "LatestApplicationConsistent",
            "latest",
            "LatestProccessed",
            "LatestAppConsistent",
            "0689d0d0-3518-4793-8c98-c26bf94526f6",
            "0689D0D0-3518-4793-8C98-C26BF94526F6",
            "0689d0d0-3518-4793-8c98",
            "Latest\n",
            "",
        ],
    ),
    "plan recovery point": (
        common.RECOVERY_POINT_KEYWORD,
        ["Latest", "LatestProcessed", "0689d0d0-3518-4793-8c98-c26bf94526f6", "Latest "],
    ),
    "duration": (
        common.DURATION_SYNTAX,
        [
            "90s",
            "15m",
            "2h",
            "1h30m",
            "1h30m15s",
            "",
            "15",
            "1d",
            "-1h",
            "99999999h",
            "1m1h",
            "9999h999999m9999999s",
            "2h\n",
        ],
    ),
    "resource group id": (
        common.RESOURCE_GROUP_ID,
        [
            _RG,
            _RG.replace("/subscriptions/", "/Subscriptions/"),
            _NET,
            "/subscriptions/",
            _RG + "/",
            _RG + ".",
            "/subscriptions/x/resourceGroups/rg",
        ],
    ),
    "virtual network id": (
        common.VIRTUAL_NETWORK_ID,
        [_NET, _NET.lower(), _RG, _AVSET, _NET + "/subnets/app", _NET.replace("vnet-1", "v")],
    ),
    "availability set id": (common.AVAILABILITY_SET_ID, ["", _AVSET, _RG, "/subscriptions/"]),
    "NIC id": (
        pvm.ASR_NIC_ID,
        [
            _NIC,
            "nic-0",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic",
            "AAAA",
            "AAA",
            "AA==",
            "A===",
        ],
    ),
    "static IP": (
        pvm.STATIC_IP,
        ["", "10.20.1.10", "999.20.1.10", "10.0.0", "010.0.0.1", "::1", "10.0.0.1 ", "1.2.3.4/24"],
    ),
    "host address": (
        vault.HOST_ADDRESS,
        [
            "hv-01",
            "hv-01.corp.example",
            "10.0.0.5",
            "fe80::1",
            "host:5986",
            "https://hv-01",
            "hv-01/wsman",
            "999.20.1.10",
            "-hv",
            "hv_01",
            "[fe80::1]",
            "",
        ],
    ),
}
_DURATION_BOUNDS = common.duration_rules("5m", "336h").rules


@pytest.mark.parametrize("name", sorted(FIELD_RULES))
def test_field_rules_agree_in_cel_and_python(name: str) -> None:
    rule, values = FIELD_RULES[name]
    for value in values:
        assert bool(evaluate(rule.rule, value)) == rule.holds(value), (name, value)
    assert any(rule.holds(v) for v in values) and not all(rule.holds(v) for v in values)


@given(st.text(alphabet="0123456789hms-:./abcdefABCDEF ", max_size=24))
@settings(max_examples=300, deadline=None)
def test_duration_rules_agree_on_any_text(text: str) -> None:
    for rule in (common.DURATION_SYNTAX, *_DURATION_BOUNDS):
        assert bool(evaluate(rule.rule, text)) == rule.holds(text), (rule.message, text)


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ("4m59s", False),
        ("5m", True),
        ("300s", True),
        ("336h", True),
        ("335h60m", True),
        ("336h1s", False),
        ("0s", False),
        ("99999999h", False),
    ],
)
def test_duration_bounds(text: str, inside: bool) -> None:
    assert all(r.holds(text) for r in _DURATION_BOUNDS) == inside
    assert all(bool(evaluate(r.rule, text)) for r in _DURATION_BOUNDS) == inside


def test_tag_names_rule_agrees() -> None:
    for tags, ok in [({"app": "web"}, True), ({"": "x"}, False), ({"k" * 513: "x"}, False)]:
        assert pvm.TAG_NAMES.holds(tags) == ok == bool(evaluate(pvm.TAG_NAMES.rule, tags))


def _bounded(node: Any, path: str = "") -> Iterator[str]:
    """Paths of strings, lists and maps in a schema with no bound on their size (a
    date-time's format bounds it: the API server's cost estimate knows its length)."""
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "string" and not ({"maxLength", "enum", "format"} & set(node)):
        yield path
    if kind == "array" and "maxItems" not in node:
        yield path
    if kind == "object" and "additionalProperties" in node and "maxProperties" not in node:
        yield path
    for name, sub in node.get("properties", {}).items():
        yield from _bounded(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _bounded(node[key], f"{path}[]")


@pytest.mark.parametrize("kind", ["ProtectedVM", "RecoveryPlan", "SiteRecoveryVault"])
@pytest.mark.parametrize("part", ["spec", "status"])
def test_every_string_and_list_is_bounded(kind: str, part: str) -> None:
    """A real API server estimates the cost of CEL rules from these bounds."""
    schema = committed()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert list(_bounded(schema["properties"][part], f".{part}")) == []


def _undescribed(node: dict[str, Any], path: str) -> Iterator[str]:
    """Paths of fields (and of the objects lists and maps hold) without a description."""
    if not node.get("description", "").strip():
        yield path
    for name, sub in node.get("properties", {}).items():
        yield from _undescribed(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        sub = node.get(key)
        if isinstance(sub, dict) and sub.get("type") == "object":
            yield from _undescribed(sub, f"{path}[]")


@pytest.mark.parametrize("kind", ["ProtectedVM", "RecoveryPlan", "SiteRecoveryVault"])
def test_every_field_is_described(kind: str) -> None:
    """What `kubectl explain` shows: every spec and status field says what it is."""
    schema = committed()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert list(_undescribed(schema, kind.lower())) == []


def test_status_text_from_outside_is_clipped_not_refused() -> None:
    """An over-long ASR message or list never stops a status write: it is cut to its bound."""
    from asr_operator.api.common import MESSAGE_MAX_LENGTH
    from asr_operator.api.operation import AzureVM

    vm = AzureVM(message="x" * 10_000, ips=[f"10.0.0.{i}" for i in range(100)])
    assert len(vm.message) == MESSAGE_MAX_LENGTH
    assert len(vm.ips) == 64 and vm.ips[0] == "10.0.0.0"


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


def test_a_refused_spec_names_each_field_as_admission_does() -> None:
    """What the operator writes in Stalled (InvalidSpec) for an object an older CRD let in."""
    with pytest.raises(ValidationError) as refused:
        ProtectedVMSpec.model_validate(
            {
                "vaultRef": {"name": "v"},
                "protectedItem": {"name": "W"},
                "target": {"nics": [{"nicId": "AAAA", "staticIP": "999.1.1.1"}]},
                "testFailover": {"cleanupAfter": "99999999h"},
            }
        )
    message = common.refusal(refused.value)
    assert "spec.target.nics[0].staticIP: must be empty or an IPv4 address" in message
    assert "spec.testFailover.cleanupAfter: must be a duration from 10s to 336h" in message
