"""CRUD semantics through the real `kubernetes` client: what the operator relies on."""

from __future__ import annotations

import json

import pytest
from kubernetes.client import ApiException, CoreV1Api, CustomObjectsApi

from asr_operator.sim.kube import KubeStandInThread

from .conftest import GROUP, NAMESPACE, PLURAL, VERSION, http, replica

JSON_PATCH = "application/json-patch+json"

ARGS = (GROUP, VERSION, NAMESPACE, PLURAL)


def create(custom: CustomObjectsApi, body: dict, **kwargs: object) -> dict:
    return custom.create_namespaced_custom_object(*ARGS, body, **kwargs)


def error(exc: pytest.ExceptionInfo[ApiException]) -> dict:
    return json.loads(exc.value.body)


def test_create_stamps_metadata_and_drops_status(custom: CustomObjectsApi) -> None:
    obj = create(custom, {**replica(), "status": {"phase": "Failed"}})
    meta = obj["metadata"]
    assert meta["namespace"] == NAMESPACE
    assert meta["generation"] == 1
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert "status" not in obj


def test_create_conflicts_and_generate_name(custom: CustomObjectsApi) -> None:
    create(custom, replica("r1"))
    with pytest.raises(ApiException) as exc:
        create(custom, replica("r1"))
    assert exc.value.status == 409 and error(exc)["reason"] == "AlreadyExists"
    body = replica()
    body["metadata"] = {"generateName": "r-"}
    names = {create(custom, body)["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3 and all(n.startswith("r-") for n in names)


def test_create_in_missing_namespace_is_404(custom: CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(GROUP, VERSION, "nope", PLURAL, replica())
    assert exc.value.status == 404


def test_resource_version_is_global_and_put_needs_current_one(custom: CustomObjectsApi) -> None:
    a = create(custom, replica("a"))
    b = create(custom, replica("b"))
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    stale = json.loads(json.dumps(a))
    a["spec"]["size"] = 2
    updated = custom.replace_namespaced_custom_object(*ARGS, "a", a)
    assert updated["metadata"]["generation"] == 2
    stale["spec"]["size"] = 3
    with pytest.raises(ApiException) as exc:
        custom.replace_namespaced_custom_object(*ARGS, "a", stale)
    assert exc.value.status == 409 and error(exc)["reason"] == "Conflict"
    del stale["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as exc:
        custom.replace_namespaced_custom_object(*ARGS, "a", stale)
    assert exc.value.status == 422 and "metadata.resourceVersion" in error(exc)["message"]


def test_generation_moves_only_on_spec_and_noop_keeps_version(custom: CustomObjectsApi) -> None:
    obj = create(custom, replica())
    rv = obj["metadata"]["resourceVersion"]
    same = custom.patch_namespaced_custom_object(*ARGS, "r1", {"spec": {"size": 1}})
    assert same["metadata"]["resourceVersion"] == rv  # no-op patch: no new version
    labelled = custom.patch_namespaced_custom_object(
        *ARGS, "r1", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    assert labelled["metadata"]["resourceVersion"] != rv
    status = custom.patch_namespaced_custom_object_status(
        *ARGS, "r1", {"status": {"phase": "Pending"}}
    )
    assert status["metadata"]["generation"] == 1
    spec = custom.patch_namespaced_custom_object(*ARGS, "r1", {"spec": {"size": 2}})
    assert spec["metadata"]["generation"] == 2


def test_status_subresource_split(custom: CustomObjectsApi) -> None:
    create(custom, replica())
    main = custom.patch_namespaced_custom_object(
        *ARGS, "r1", {"spec": {"size": 3}, "status": {"phase": "Failed"}}
    )
    assert "status" not in main and main["spec"]["size"] == 3
    status = custom.patch_namespaced_custom_object_status(
        *ARGS, "r1", {"spec": {"size": 9}, "status": {"phase": "Protected"}}
    )
    assert status["spec"]["size"] == 3 and status["status"] == {"phase": "Protected"}
    again = custom.patch_namespaced_custom_object(*ARGS, "r1", {"spec": {"size": 4}})
    assert again["status"] == {"phase": "Protected"}
    got = custom.get_namespaced_custom_object_status(*ARGS, "r1")
    assert got["status"]["phase"] == "Protected"


def test_system_fields_cannot_be_changed(custom: CustomObjectsApi) -> None:
    obj = create(custom, replica())
    patched = custom.patch_namespaced_custom_object(
        *ARGS,
        "r1",
        {"metadata": {"uid": "x", "generation": 99, "creationTimestamp": "2000-01-01T00:00:00Z"}},
    )
    for field in ("uid", "generation", "creationTimestamp"):
        assert patched["metadata"][field] == obj["metadata"][field]


def test_json_patch_test_failure_is_422(custom: CustomObjectsApi, kube: KubeStandInThread) -> None:
    obj = create(custom, replica())
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}/r1"
    rv = obj["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
    ]
    code, ok, _ = http(kube.url, "PATCH", path, ops, JSON_PATCH)
    assert code == 200 and ok["metadata"]["finalizers"] == ["x/y"]
    code, failed, _ = http(kube.url, "PATCH", path, ops, JSON_PATCH)  # rv is stale now
    assert code == 422 and failed["kind"] == "Status"


def test_finalizers_delay_deletion(custom: CustomObjectsApi, kube: KubeStandInThread) -> None:
    body = replica()
    body["metadata"]["finalizers"] = ["example/cleanup"]
    create(custom, body)
    deleting = custom.delete_namespaced_custom_object(*ARGS, "r1")
    assert deleting["metadata"]["deletionTimestamp"]
    assert custom.get_namespaced_custom_object(*ARGS, "r1")["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as exc:  # no new finalizers while deleting
        custom.patch_namespaced_custom_object(
            *ARGS, "r1", {"metadata": {"finalizers": ["example/cleanup", "other"]}}
        )
    assert exc.value.status == 422
    custom.patch_namespaced_custom_object(*ARGS, "r1", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as exc:
        custom.get_namespaced_custom_object(*ARGS, "r1")
    assert exc.value.status == 404
    assert kube.get("replicas", "r1", NAMESPACE) is None


def test_dry_run_persists_nothing(custom: CustomObjectsApi, kube: KubeStandInThread) -> None:
    create(custom, replica("dry"), dry_run="All")
    assert kube.get("replicas", "dry", NAMESPACE) is None
    create(custom, replica("r1"))
    custom.patch_namespaced_custom_object(*ARGS, "r1", {"spec": {"size": 5}}, dry_run="All")
    custom.delete_namespaced_custom_object(*ARGS, "r1", dry_run="All")
    stored = kube.get("replicas", "r1", NAMESPACE)
    assert stored is not None and stored["spec"]["size"] == 1


def test_list_with_selectors(custom: CustomObjectsApi) -> None:
    for name, env in (("a", "prod"), ("b", "test"), ("c", None)):
        body = replica(name)
        if env:
            body["metadata"]["labels"] = {"env": env}
        create(custom, body)

    def names(**kwargs: str) -> list[str]:
        listed = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, **kwargs)
        assert listed["kind"] == "ReplicaList" and listed["metadata"]["resourceVersion"]
        return sorted(i["metadata"]["name"] for i in listed["items"])

    assert names() == ["a", "b", "c"]
    assert names(label_selector="env=prod") == ["a"]
    assert names(label_selector="env!=prod") == ["b", "c"]
    assert names(label_selector="env in (prod,test)") == ["a", "b"]
    assert names(label_selector="!env") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector=f"metadata.namespace={NAMESPACE},metadata.name!=b") == ["a", "c"]
    everywhere = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert len(everywhere["items"]) == 3


def test_cluster_scoped_resource(custom: CustomObjectsApi) -> None:
    site = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Site",
        "metadata": {"name": "s1"},
        "anything": {"x": 1},
    }
    created = custom.create_cluster_custom_object(GROUP, VERSION, "sites", site)
    assert "namespace" not in created["metadata"] and created["anything"] == {"x": 1}
    custom.delete_cluster_custom_object(GROUP, VERSION, "sites", "s1")
    assert custom.list_cluster_custom_object(GROUP, VERSION, "sites")["items"] == []


def test_secrets_configmaps_namespaces_events(core: CoreV1Api) -> None:
    core.create_namespaced_secret(
        NAMESPACE, {"metadata": {"name": "creds"}, "stringData": {"k": "v"}}
    )
    secret = core.read_namespaced_secret("creds", NAMESPACE)
    assert secret.data == {"k": "dg=="} and secret.type == "Opaque"
    core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "cm"}, "data": {"a": "b"}})
    assert core.read_namespaced_config_map("cm", NAMESPACE).data == {"a": "b"}
    core.create_namespace({"metadata": {"name": "extra"}})
    assert core.read_namespace("extra").status.phase == "Active"
    event = {
        "metadata": {"generateName": "kopf-event-"},
        "involvedObject": {"kind": "Replica", "name": "r1", "namespace": NAMESPACE},
        "reason": "Created",
        "message": "hello",
        "type": "Normal",
    }
    core.create_namespaced_event(NAMESPACE, event)
    core.create_namespaced_event(NAMESPACE, event)
    listed = core.list_namespaced_event(NAMESPACE, field_selector="involvedObject.name=r1")
    assert [e.reason for e in listed.items] == ["Created", "Created"]


def test_namespace_deletion_removes_content(core: CoreV1Api, custom: CustomObjectsApi) -> None:
    core.create_namespace({"metadata": {"name": "gone"}})
    core.create_namespaced_config_map("gone", {"metadata": {"name": "cm"}})
    custom.create_namespaced_custom_object(GROUP, VERSION, "gone", PLURAL, replica())
    core.delete_namespace("gone")
    with pytest.raises(ApiException) as exc:
        core.read_namespace("gone")
    assert exc.value.status == 404


def test_crd_created_through_the_api_registers_the_resource(
    api_client: object, custom: CustomObjectsApi
) -> None:
    from kubernetes.client import ApiextensionsV1Api

    ext = ApiextensionsV1Api(api_client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.dyn.example.io"},
        "spec": {
            "group": "dyn.example.io",
            "scope": "Namespaced",
            "names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    created = ext.create_custom_resource_definition(crd)
    assert {c.type for c in created.status.conditions} >= {"Established"}
    gadget = {"apiVersion": "dyn.example.io/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    custom.create_namespaced_custom_object("dyn.example.io", "v1", NAMESPACE, "gadgets", gadget)
    ext.delete_custom_resource_definition("gadgets.dyn.example.io")
    with pytest.raises(ApiException) as exc:
        custom.list_namespaced_custom_object("dyn.example.io", "v1", NAMESPACE, "gadgets")
    assert exc.value.status == 404


def test_server_side_apply_is_415(custom: CustomObjectsApi, kube: KubeStandInThread) -> None:
    create(custom, replica())
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}/r1"
    code, _, _ = http(kube.url, "PATCH", path, {"spec": {}}, "application/apply-patch+yaml")
    assert code == 415
    code, _, _ = http(
        kube.url, "PATCH", path, {"spec": {}}, "application/strategic-merge-patch+json"
    )
    assert code == 415  # as on a real cluster: no strategic merge for custom resources


def test_discovery(api_client: object, kube: KubeStandInThread) -> None:
    from kubernetes.client import ApisApi, CoreApi

    assert CoreApi(api_client).get_api_versions().versions == ["v1"]
    groups = {g.name for g in ApisApi(api_client).get_api_versions().groups}
    assert {GROUP, "apiextensions.k8s.io", "events.k8s.io"} <= groups
    resources = CustomObjectsApi(api_client).get_api_resources(GROUP, VERSION).resources
    by_name = {r.name: r for r in resources}
    assert by_name["replicas"].short_names == ["rep"]
    assert by_name["replicas"].categories == ["asr"]
    assert by_name["replicas/status"].short_names is None
    assert by_name["replicas/status"].verbs == ["get", "patch", "update"]
    assert by_name["sites"].namespaced is False


def test_events_k8s_io_and_strategic_merge_on_builtins(
    api_client: object, kube: KubeStandInThread
) -> None:
    from kubernetes.client import EventsV1Api

    events = EventsV1Api(api_client)
    events.create_namespaced_event(
        NAMESPACE,
        {
            "metadata": {"generateName": "r1-"},
            "regarding": {"kind": "Replica", "name": "r1", "namespace": NAMESPACE},
            "reason": "Failover",
            "note": "started",
            "type": "Normal",
            "action": "Failover",
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "asr-operator",
            "reportingInstance": "asr-operator-0",
        },
    )
    assert [e.note for e in events.list_namespaced_event(NAMESPACE).items] == ["started"]
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": NAMESPACE},
            "data": {"a": "1"},
        }
    )
    code, patched, _ = http(
        kube.url,
        "PATCH",
        f"/api/v1/namespaces/{NAMESPACE}/configmaps/cm",
        {"data": {"b": "2"}},
        "application/strategic-merge-patch+json",
    )
    assert code == 200 and patched["data"] == {"a": "1", "b": "2"}
