"""Admission: structural schema, defaults, pruning, CEL rules, with apiserver-like 422s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import ApiException, CustomObjectsApi

from asr_operator.sim.kube import KubeStandInThread
from asr_operator.sim.kube.admission import ApiError, StructuralSchema, to_json_schema

from .conftest import GROUP, NAMESPACE, PLURAL, VERSION, http, replica

ARGS = (GROUP, VERSION, NAMESPACE, PLURAL)
PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"


def refused(custom: CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(*ARGS, body)
    assert exc.value.status == 422, exc.value.body
    status: dict[str, Any] = json.loads(exc.value.body)
    assert status["reason"] == "Invalid" and status["code"] == 422
    return status


def test_message_reads_like_the_apiserver(custom: CustomObjectsApi) -> None:
    status = refused(custom, replica("x", failover={"type": "Foo"}))
    assert status["message"] == (
        'Replica.example.asr-operator.io "x" is invalid: spec.failover.type: '
        'Unsupported value: "Foo": supported values: "Planned", "Unplanned"'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Foo": supported values: "Planned", "Unplanned"',
            "field": "spec.failover.type",
        }
    ]
    assert status["details"]["kind"] == "Replica" and status["details"]["group"] == GROUP


# (spec overrides, field named, message fragment): a corpus of invalid manifests.
INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"vmName": None}, "spec.vmName", "Required value"),
    ({"vmName": "Bad_Name"}, "spec.vmName", "spec.vmName in body should match '^[a-z0-9-]+$'"),
    ({"vmName": "a" * 16}, "spec.vmName", "Too long: may not be more than 15 bytes"),
    (
        {"vmName": 7},
        "spec.vmName",
        'Invalid value: "integer": spec.vmName in body must be of type string',
    ),
    ({"failover": {"type": "Foo"}}, "spec.failover.type", 'Unsupported value: "Foo"'),
    ({"failover": {"type": "planned"}}, "spec.failover.type", "supported values"),
    (
        {"failover": {"shutdownSource": "yes"}},
        "spec.failover.shutdownSource",
        "must be of type boolean",
    ),
    ({"failover": "Planned"}, "spec.failover", "must be of type object"),
    ({"size": 0}, "spec.size", "spec.size in body should be greater than or equal to 1"),
    ({"size": 11}, "spec.size", "spec.size in body should be less than or equal to 10"),
    ({"size": "two"}, "spec.size", "must be of type integer"),
    ({"size": 1.5}, "spec.size", "must be of type integer"),
    ({"port": {"n": 1}}, "spec.port", "must be of type integer,string"),
    ({"port": True}, "spec.port", "must be of type integer,string"),
    ({"tags": {"a": 1}}, "spec.tags.a", "must be of type string"),
    ({"tags": ["a"]}, "spec.tags", "must be of type object"),
    ({"disks": ["a", "b", "c", "d", "e"]}, "spec.disks", "Too many: 5: must have at most 4 items"),
    ({"disks": [1]}, "spec.disks[0]", "must be of type string"),
    ({"disks": "a"}, "spec.disks", "must be of type array"),
    ({"approve": "yes"}, "spec.approve", "approve must start with ok-"),
    (
        {"size": 6, "failover": {"type": "Unplanned"}},
        "spec",
        "an unplanned failover is limited to 5 disks",
    ),
    ({"note": 5}, "spec.note", "must be of type string"),
]


@pytest.mark.parametrize(
    ("spec", "field", "fragment"), INVALID, ids=[c[1] + ":" + c[2][:24] for c in INVALID]
)
def test_invalid_manifests_are_refused_naming_the_field(
    custom: CustomObjectsApi, spec: dict[str, Any], field: str, fragment: str
) -> None:
    body = replica("bad")
    for key, value in spec.items():
        if value is None:
            body["spec"].pop(key)
        else:
            body["spec"][key] = value
    status = refused(custom, body)
    causes = status["details"]["causes"]
    assert any(c["field"] == field and fragment in c["message"] for c in causes), causes
    assert (
        f"{field}: " in status["message"]
        and 'Replica.example.asr-operator.io "bad" is invalid' in status["message"]
    )


def test_several_errors_are_listed_together(custom: CustomObjectsApi) -> None:
    status = refused(custom, replica("x", size=0, approve="no"))
    assert status["message"].startswith('Replica.example.asr-operator.io "x" is invalid: [')
    assert {c["field"] for c in status["details"]["causes"]} == {"spec.size", "spec.approve"}


def test_invalid_name_is_refused(custom: CustomObjectsApi) -> None:
    status = refused(custom, replica("Not_Valid"))
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    assert "(e.g. 'example.com', regex used for validation is" in status["message"]


def test_name_over_253_characters_is_refused_as_the_apiserver_says(
    custom: CustomObjectsApi,
) -> None:
    name = "a" * 254
    status = refused(custom, replica(name))
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "metadata.name",
            "message": f'Invalid value: "{name}": must be no more than 253 characters',
        }
    ]


LABEL_CASES = [
    ("a" * 64, "x", "name part must be no more than 63 characters"),
    ("-app", "x", "name part must consist of alphanumeric characters"),
    ("Example.com/app", "x", "prefix part a lowercase RFC 1123 subdomain"),
    ("/app", "x", "prefix part must be non-empty"),
    ("a/b/c", "x", "a qualified name must consist of"),
    ("app", "web site", "a valid label must be an empty string or consist of"),
    ("app", "v" * 64, "must be no more than 63 characters"),
]


@pytest.mark.parametrize(("key", "value", "fragment"), LABEL_CASES)
def test_label_keys_and_values_are_checked(
    custom: CustomObjectsApi, key: str, value: str, fragment: str
) -> None:
    body = replica("labelled")
    body["metadata"]["labels"] = {key: value}
    status = refused(custom, body)
    causes = status["details"]["causes"]
    assert {c["field"] for c in causes} == {"metadata.labels"}
    assert any(fragment in c["message"] for c in causes), causes


def test_label_checks_pass_what_the_apiserver_takes_and_run_on_updates(
    custom: CustomObjectsApi,
) -> None:
    body = replica("ok")
    body["metadata"]["labels"] = {
        "app.kubernetes.io/name": "asr-operator",
        "tier": "",
        "x_y": "1.0",
    }
    body["metadata"]["annotations"] = {"Example.com/Note": "any text at all"}
    custom.create_namespaced_custom_object(*ARGS, body)
    with pytest.raises(ApiException) as exc:
        custom.patch_namespaced_custom_object(
            *ARGS, "ok", {"metadata": {"labels": {"tier": "not ok"}}}
        )
    assert exc.value.status == 422
    assert json.loads(exc.value.body)["details"]["causes"][0]["field"] == "metadata.labels"


def test_annotation_keys_and_total_size_are_checked(custom: CustomObjectsApi) -> None:
    body = replica("annotated")
    body["metadata"]["annotations"] = {"not a key": "x"}
    assert refused(custom, body)["details"]["causes"][0]["field"] == "metadata.annotations"
    body["metadata"]["annotations"] = {"big": "x" * (256 * 1024)}
    status = refused(custom, body)
    assert "Too long: may not be more than 262144 bytes" in status["message"]


def test_defaults_are_applied_recursively(custom: CustomObjectsApi) -> None:
    """And a null for a field that is neither nullable nor defaulted is dropped."""
    obj = custom.create_namespaced_custom_object(*ARGS, replica("d", approve=None))
    assert obj["spec"] == {
        "vmName": "vm-1",
        "failover": {"type": "Planned", "shutdownSource": True},
        "size": 1,
        "disks": [],
    }


def test_nullable_and_int_or_string_accept_their_values(custom: CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(*ARGS, replica("a", port=8080, tags={"k": "v"}))
    body = replica("b", port="https")
    body["spec"]["note"] = None
    obj = custom.create_namespaced_custom_object(*ARGS, body)
    assert obj["spec"]["port"] == "https"


def test_unknown_fields_pruned_warned_or_refused(
    kube: KubeStandInThread, custom: CustomObjectsApi
) -> None:
    body = replica("p")
    body["spec"]["extra"] = 1
    body["spec"]["failover"] = {"nested": True}
    code, obj, headers = http(kube.url, "POST", PATH + "?fieldValidation=Warn", body)
    assert code == 201 and "extra" not in obj["spec"] and "nested" not in obj["spec"]["failover"]
    assert 'unknown field \\"spec.extra\\"' in headers["Warning"]
    body["metadata"]["name"] = "q"
    code, status, _ = http(kube.url, "POST", PATH + "?fieldValidation=Strict", body)
    assert code == 400 and status["reason"] == "BadRequest"
    assert (
        'strict decoding error: unknown field "spec.extra", unknown field "spec.failover.nested"'
        in status["message"]
    )
    code, obj, headers = http(kube.url, "POST", PATH + "?fieldValidation=Ignore", body)
    assert code == 201 and "extra" not in obj["spec"] and "Warning" not in headers


def test_status_writes_are_validated(custom: CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(*ARGS, replica("s"))
    with pytest.raises(ApiException) as exc:
        custom.patch_namespaced_custom_object_status(*ARGS, "s", {"status": {"phase": "Bogus"}})
    assert exc.value.status == 422 and "status.phase" in json.loads(exc.value.body)["message"]
    with pytest.raises(ApiException) as exc:
        custom.patch_namespaced_custom_object_status(
            *ARGS, "s", {"status": {"conditions": [{"type": "Ready"}]}}
        )
    assert "status.conditions[0].status: Required value" in json.loads(exc.value.body)["message"]
    ok = custom.patch_namespaced_custom_object_status(
        *ARGS, "s", {"status": {"phase": "Pending", "kopf": {"progress": {}}}}
    )
    assert ok["status"]["kopf"] == {"progress": {}}  # preserve-unknown-fields keeps it


def test_updates_are_validated_and_transition_rules_see_old_self(custom: CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(*ARGS, replica("t", mode="a"))  # no oldSelf on create
    with pytest.raises(ApiException) as exc:
        custom.patch_namespaced_custom_object(*ARGS, "t", {"spec": {"mode": "b"}})
    assert json.loads(exc.value.body)["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "string": mode is immutable',
            "field": "spec.mode",
        }
    ]
    with pytest.raises(ApiException) as exc:
        custom.patch_namespaced_custom_object(*ARGS, "t", {"spec": {"size": 99}})
    assert exc.value.status == 422
    assert (
        custom.patch_namespaced_custom_object(*ARGS, "t", {"spec": {"size": 2}})["spec"]["size"]
        == 2
    )


def test_a_null_value_runs_no_rule() -> None:
    schema = StructuralSchema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "id": {
                            "type": "string",
                            "nullable": True,
                            "x-kubernetes-validations": [
                                {"rule": "self.matches('^/x$')", "message": "an id"}
                            ],
                        }
                    },
                }
            },
        },
        kind="Thing",
        group="example.com",
    )
    schema.admit({"metadata": {"name": "t"}, "spec": {"id": None}}, None)
    with pytest.raises(ApiError) as exc:
        schema.admit({"metadata": {"name": "t"}, "spec": {"id": "y"}}, None)
    assert "an id" in exc.value.message


def test_schema_conversion_and_rule_reasons() -> None:
    converted = to_json_schema(
        {
            "type": "string",
            "nullable": True,
            "enum": ["a"],
            "x-kubernetes-validations": [],
            "default": "a",
        }
    )
    assert converted == {"type": ["string", "null"], "enum": ["a", None]}
    schema = StructuralSchema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                    "x-kubernetes-validations": [
                        {
                            "rule": "self.a < self.b",
                            "messageExpression": "'a must be below ' + string(self.b)",
                            "reason": "FieldValueForbidden",
                            "fieldPath": ".a",
                        },
                        {"rule": "self.a.nope()"},
                        {"rule": "not valid cel ((("},
                    ],
                }
            },
        },
        kind="Thing",
        group="g.io",
        version="v1",
    )
    schema.admit({"metadata": {"name": "ok"}, "spec": {"a": 1, "b": 2}}, None)
    with pytest.raises(Exception) as exc:
        schema.admit({"metadata": {"name": "x"}, "spec": {"a": 3, "b": 2}}, None)
    causes = exc.value.details["causes"]  # type: ignore[attr-defined]
    assert causes == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: a must be below 2",
            "field": "spec.a",
        }
    ]


def test_list_types_are_unique_and_map_items_see_their_old_self() -> None:
    schema = StructuralSchema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "tags": {
                            "type": "array",
                            "x-kubernetes-list-type": "set",
                            "items": {"type": "string"},
                        },
                        "disks": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "size": {"type": "integer"},
                                },
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.size >= oldSelf.size",
                                        "message": "disks only grow",
                                    }
                                ],
                            },
                        },
                    },
                }
            },
        },
        kind="Thing",
        group="g.io",
        version="v1",
    )
    old = {"metadata": {"name": "t"}, "spec": {"disks": [{"name": "a", "size": 2}]}}
    schema.admit(json.loads(json.dumps(old)), None)
    new = {
        "metadata": {"name": "t"},
        "spec": {
            "tags": ["x", "x"],
            "disks": [{"name": "b", "size": 1}, {"name": "a", "size": 1}, {"name": "a", "size": 3}],
        },
    }
    with pytest.raises(Exception) as exc:
        schema.admit(new, old)
    causes = exc.value.details["causes"]  # type: ignore[attr-defined]
    assert {(c["field"], c["message"]) for c in causes} == {
        ("spec.tags[1]", 'Duplicate value: "x"'),
        ("spec.disks[2]", 'Duplicate value: {"name":"a"}'),
        ("spec.disks[1]", 'Invalid value: "object": disks only grow'),
    }


def test_kubernetes_cel_library_functions() -> None:
    rules = [
        {"rule": "self.zones.isSorted()", "message": "zones must be sorted", "fieldPath": ".zones"},
        {
            "rule": "isURL(self.endpoint) && url(self.endpoint).getScheme() == 'https'",
            "message": "https URL",
        },
        {"rule": "self.name.lowerAscii() == self.name && self.name.split('-').size() <= 3"},
        {
            "rule": "!has(self.ip) || (isIP(self.ip) && ip(self.ip).family() == 4)",
            "message": "IPv4",
        },
        {"rule": "self.zones.all(z, quantity(z).isInteger())"},  # no quantity(): skipped
    ]
    schema = StructuralSchema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "x-kubernetes-validations": rules,
                    "properties": {
                        "zones": {"type": "array", "items": {"type": "string"}},
                        "endpoint": {"type": "string"},
                        "name": {"type": "string"},
                        "ip": {"type": "string"},
                    },
                }
            },
        },
        kind="Thing",
        group="g.io",
        version="v1",
    )
    good = {
        "zones": ["1", "2"],
        "endpoint": "https://vault.example",
        "name": "a-b",
        "ip": "10.0.0.1",
    }
    schema.admit({"metadata": {"name": "t"}, "spec": good}, None)
    bad = {"zones": ["2", "1"], "endpoint": "http://vault.example", "name": "A-b-c-d", "ip": "::1"}
    with pytest.raises(Exception) as exc:
        schema.admit({"metadata": {"name": "t"}, "spec": bad}, None)
    messages = {(c["field"], c["message"]) for c in exc.value.details["causes"]}  # type: ignore[attr-defined]
    assert messages == {
        ("spec.zones", 'Invalid value: "object": zones must be sorted'),
        ("spec", 'Invalid value: "object": https URL'),
        (
            "spec",
            'Invalid value: "object": failed rule: '
            "self.name.lowerAscii() == self.name && self.name.split('-').size() <= 3",
        ),
        ("spec", 'Invalid value: "object": IPv4'),
    }
