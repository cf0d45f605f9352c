"""Server-side Table printing, fault injection, the request log and the `sim kube` CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from kubernetes.client import ApiException, CustomObjectsApi

from asr_operator.sim.kube import KubeStandInThread
from asr_operator.sim.kube.tables import human_duration, jsonpath

from .conftest import GROUP, NAMESPACE, PLURAL, VERSION, http, replica

ARGS = (GROUP, VERSION, NAMESPACE, PLURAL)
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_jsonpath_subset() -> None:
    obj = {
        "status": {
            "phase": "Protected",
            "conditions": [
                {"type": "Synced", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
        }
    }
    assert jsonpath(obj, ".status.phase") == ["Protected"]
    assert jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert jsonpath(obj, ".status.conditions[*].type") == ["Synced", "Ready"]
    assert jsonpath(obj, ".status.conditions[-1].type") == ["Ready"]
    assert jsonpath(obj, "{.status.missing}") == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400, "3d"),
        (800 * 86400, "2y70d"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_table_from_printer_columns(custom: CustomObjectsApi, kube: KubeStandInThread) -> None:
    custom.create_namespaced_custom_object(*ARGS, replica("r1", size=3))
    custom.patch_namespaced_custom_object_status(
        *ARGS,
        "r1",
        {"status": {"phase": "Protected", "conditions": [{"type": "Ready", "status": "True"}]}},
    )
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
    code, table, _ = http(kube.url, "GET", path, headers={"Accept": TABLE})
    assert code == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", "string", 0),
        ("VM", "string", 0),
        ("Phase", "string", 0),
        ("Ready", "string", 0),
        ("Size", "integer", 1),
        ("Age", "date", 0),
    ]
    (row,) = table["rows"]
    assert row["cells"][:5] == ["r1", "vm-1", "Protected", "True", 3]
    assert row["cells"][5].endswith("s")
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "r1"
    code, single, _ = http(
        kube.url, "GET", path + "/r1?includeObject=None", headers={"Accept": TABLE}
    )
    assert len(single["rows"]) == 1 and "object" not in single["rows"][0]


def test_faults_fire_before_the_write(custom: CustomObjectsApi, kube: KubeStandInThread) -> None:
    fault = kube.faults.fail(PLURAL, code=503, times=2, verbs={"create"})
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            custom.create_namespaced_custom_object(*ARGS, replica("r1"))
        assert exc.value.status == 503
    assert kube.get(PLURAL, "r1", NAMESPACE) is None  # nothing was stored
    custom.create_namespaced_custom_object(*ARGS, replica("r1"))
    assert fault.hits == 2

    kube.faults.fail("Replica", code=409, name="r1", subresource="status", times=1)
    with pytest.raises(ApiException) as exc:
        custom.patch_namespaced_custom_object_status(*ARGS, "r1", {"status": {"phase": "Pending"}})
    assert exc.value.status == 409 and "Operation cannot be fulfilled" in exc.value.body
    custom.patch_namespaced_custom_object_status(*ARGS, "r1", {"status": {"phase": "Pending"}})

    # (urllib3 under the kubernetes client silently retries a 429 that has Retry-After.)
    kube.faults.fail(code=429, verbs={"get"}, times=1, retry_after=1)
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}/r1"
    code, status, headers = http(kube.url, "GET", path)
    assert code == 429 and status["reason"] == "TooManyRequests" and headers["Retry-After"] == "1"

    kube.faults.add_hook(lambda r: None)
    kube.faults.clear()
    assert custom.get_namespaced_custom_object(*ARGS, "r1")["status"]["phase"] == "Pending"


def test_request_log_records_what_clients_did(
    custom: CustomObjectsApi, kube: KubeStandInThread
) -> None:
    custom.create_namespaced_custom_object(*ARGS, replica("r1"))
    entry = kube.wait_for_request(lambda r: r.verb == "create" and r.resource == PLURAL)
    assert (entry.group, entry.version, entry.namespace, entry.status) == (
        GROUP,
        VERSION,
        NAMESPACE,
        201,
    )
    assert entry.body["metadata"]["name"] == "r1"
    with pytest.raises(TimeoutError):
        kube.wait_for_request(lambda r: r.verb == "delete", timeout=0.05)


def test_cli_serves_and_writes_a_kubeconfig(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    kubeconfig = tmp_path / "kubeconfig"
    crds = Path(__file__).parent / "crds"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asr_operator.sim.kube",
            "--crds",
            str(crds),
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            "demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "Kubernetes API stand-in at http://127.0.0.1:" in banner
        server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        code, namespaces, _ = http(server, "GET", "/api/v1/namespaces")
        assert code == 200 and "demo" in {n["metadata"]["name"] for n in namespaces["items"]}
        code, _, _ = http(server, "GET", f"/apis/{GROUP}/{VERSION}/namespaces/demo/{PLURAL}")
        assert code == 200
        # Test control from another process: arm a fault, read the request log.
        fault = {"resource": "configmaps", "code": 500, "times": 1, "verbs": ["create"]}
        assert http(server, "POST", "/_standin/faults", fault)[0] == 201
        configmap = {"metadata": {"name": "c"}}
        assert http(server, "POST", "/api/v1/namespaces/demo/configmaps", configmap)[0] == 500
        assert http(server, "POST", "/api/v1/namespaces/demo/configmaps", configmap)[0] == 201
        code, log, _ = http(server, "GET", "/_standin/requests")
        assert [r["status"] for r in log if r["verb"] == "create"] == [500, 201]
        assert http(server, "POST", "/_standin/faults", {"bogus": 1})[0] == 400
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
