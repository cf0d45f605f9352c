"""Watch semantics: replay after a resourceVersion, ADDED snapshots, bookmarks, 410, timeouts."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from kubernetes import watch
from kubernetes.client import ApiException, CustomObjectsApi

from asr_operator.sim.kube import KubeStandInThread

from .conftest import GROUP, NAMESPACE, PLURAL, VERSION, replica

ARGS = (GROUP, VERSION, NAMESPACE, PLURAL)
PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"


def stream(kube: KubeStandInThread, **params: str) -> list[dict[str, Any]]:
    """Every event of one watch request, until the server ends it (timeoutSeconds)."""
    response = requests.get(
        kube.url + PATH, params={"watch": "true", **params}, stream=True, timeout=10
    )
    assert response.status_code == 200
    return [json.loads(line) for line in response.iter_lines() if line]


def test_watch_without_version_lists_current_objects_as_added(
    custom: CustomObjectsApi, kube: KubeStandInThread
) -> None:
    custom.create_namespaced_custom_object(*ARGS, replica("a"))
    custom.create_namespaced_custom_object(*ARGS, replica("b"))
    events = stream(kube, timeoutSeconds="1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]


def test_watch_resumes_after_resource_version(
    custom: CustomObjectsApi, kube: KubeStandInThread
) -> None:
    first = custom.create_namespaced_custom_object(*ARGS, replica("a"))
    since = first["metadata"]["resourceVersion"]
    custom.patch_namespaced_custom_object(*ARGS, "a", {"spec": {"size": 2}})
    custom.create_namespaced_custom_object(*ARGS, replica("b"))
    custom.delete_namespaced_custom_object(*ARGS, "a")
    events = stream(kube, resourceVersion=since, timeoutSeconds="1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a"),
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(since)
    last = str(versions[-1])
    assert stream(kube, resourceVersion=last, timeoutSeconds="1") == []


def test_live_events_with_the_kubernetes_watch(
    custom: CustomObjectsApi, kube: KubeStandInThread
) -> None:
    listed = custom.list_namespaced_custom_object(*ARGS)
    rv = listed["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(*ARGS, replica("a"))
    seen = []
    w = watch.Watch()
    for event in w.stream(
        custom.list_namespaced_custom_object, *ARGS, resource_version=rv, timeout_seconds=5
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if len(seen) == 1:
            custom.patch_namespaced_custom_object_status(
                *ARGS, "a", {"status": {"phase": "Pending"}}
            )
        else:
            w.stop()
    assert seen == [("ADDED", "a"), ("MODIFIED", "a")]


def test_bookmarks_carry_the_current_version(
    custom: CustomObjectsApi, kube: KubeStandInThread
) -> None:
    created = custom.create_namespaced_custom_object(*ARGS, replica("a"))
    rv = created["metadata"]["resourceVersion"]
    events = stream(kube, resourceVersion=rv, allowWatchBookmarks="true", timeoutSeconds="1")
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks and all(e["object"]["metadata"]["resourceVersion"] == rv for e in bookmarks)
    assert {e["type"] for e in events} == {"BOOKMARK"}


def test_too_old_version_gets_410(custom: CustomObjectsApi, kube: KubeStandInThread) -> None:
    first = custom.create_namespaced_custom_object(*ARGS, replica("a"))
    custom.patch_namespaced_custom_object(*ARGS, "a", {"spec": {"size": 2}})
    kube.compact()
    events = stream(kube, resourceVersion=first["metadata"]["resourceVersion"])
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
    with pytest.raises(ApiException) as exc:  # the kubernetes client raises it as an ApiException
        for _ in watch.Watch().stream(
            custom.list_namespaced_custom_object,
            *ARGS,
            resource_version=first["metadata"]["resourceVersion"],
            timeout_seconds=1,
        ):
            pass
    assert exc.value.status == 410


def test_bounded_history_expires_old_versions(tmp_path: object) -> None:
    with KubeStandInThread(namespaces=["ns1"], history_limit=3) as kube:
        start = kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c0", "namespace": "ns1"},
            }
        )
        for i in range(1, 5):
            kube.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"c{i}", "namespace": "ns1"},
                }
            )
        response = requests.get(
            kube.url + "/api/v1/namespaces/ns1/configmaps",
            params={"watch": "1", "resourceVersion": start["metadata"]["resourceVersion"]},
            timeout=10,
        )
        assert json.loads(response.text.splitlines()[0])["object"]["code"] == 410


def test_watch_filters_by_namespace_and_field_selector(
    custom: CustomObjectsApi, kube: KubeStandInThread
) -> None:
    kube.ensure_namespace("other")
    rv = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(GROUP, VERSION, "other", PLURAL, replica("a"))
    custom.create_namespaced_custom_object(*ARGS, replica("a"))
    custom.create_namespaced_custom_object(*ARGS, replica("b"))
    events = stream(kube, resourceVersion=rv, fieldSelector="metadata.name=a", timeoutSeconds="1")
    assert [
        (e["object"]["metadata"]["namespace"], e["object"]["metadata"]["name"]) for e in events
    ] == [(NAMESPACE, "a")]
    response = requests.get(
        kube.url + f"/apis/{GROUP}/{VERSION}/{PLURAL}",
        params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"},
        timeout=10,
    )
    assert len([line for line in response.text.splitlines() if line]) == 3
