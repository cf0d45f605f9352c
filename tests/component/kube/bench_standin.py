"""Benchmark of the Kubernetes API stand-in; prints numbers, asserts nothing.

Run: `python -m tests.component.kube.bench_standin [objects]` from the repository root.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes
import requests
from kubernetes.client import CoreV1Api, CustomObjectsApi

from asr_operator.sim.kube import KubeStandInThread

from .conftest import CRD_DIR, GROUP, NAMESPACE, PLURAL, VERSION, replica

ARGS = (GROUP, VERSION, NAMESPACE, PLURAL)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def timed(label: str, count: int, action: Any) -> None:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - start)
    total = sum(samples)
    print(f"{label:<42} {count / total:8.0f}/s  {percentiles(samples)}")


def watch_latency(kube: KubeStandInThread, custom: CustomObjectsApi, count: int) -> None:
    """Time from a client's write returning to a watcher reading the event."""
    rv = custom.list_namespaced_custom_object(*ARGS)["metadata"]["resourceVersion"]
    sent: dict[str, float] = {}
    received: dict[str, float] = {}
    done = threading.Event()
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"

    def reader() -> None:
        response = requests.get(
            kube.url + path, params={"watch": "1", "resourceVersion": rv}, stream=True, timeout=60
        )
        for line in response.iter_lines():
            name = json.loads(line)["object"]["metadata"]["name"]
            received[name] = time.perf_counter()
            if len(received) == count:
                done.set()
                response.close()
                return

    threading.Thread(target=reader, daemon=True).start()
    kube.wait_for_watch(PLURAL, NAMESPACE)
    for i in range(count):
        custom.create_namespaced_custom_object(*ARGS, replica(f"w{i}"))
        sent[f"w{i}"] = time.perf_counter()
    done.wait(60)
    print(
        f"{'watch delivery after write':<42} {'':>10}  "
        f"{percentiles([max(0.0, received[n] - sent[n]) for n in sent])}"
    )


def kopf_latency(kube: KubeStandInThread, custom: CustomObjectsApi, count: int) -> None:
    """kopf in a namespace of its own, so the objects above do not load its timers."""
    from kopf.testing import KopfRunner

    kube.ensure_namespace("bench")
    args = (GROUP, VERSION, "bench", PLURAL)
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = kube.write_kubeconfig(Path(tmp) / "kubeconfig")
        os.environ["KUBECONFIG"] = str(kubeconfig)
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(kubeconfig)
        operator = str(Path(__file__).with_name("kopf_operator.py"))
        spawned = time.monotonic()
        with KopfRunner(["run", "--standalone", "--namespace", "bench", operator], timeout=120):
            kube.wait_for_request(
                lambda r: (
                    r.verb == "watch"
                    and r.resource == PLURAL
                    and r.namespace == "bench"
                    and r.status == 200
                ),
                timeout=60,
            )
            ready = time.monotonic() - spawned
            samples = []
            for i in range(count):
                name = f"k{i}"
                start = time.perf_counter()
                custom.create_namespaced_custom_object(*args, replica(name))
                while (kube.get(PLURAL, name, "bench") or {}).get("status", {}).get(
                    "phase"
                ) != "Pending":
                    time.sleep(0.001)
                samples.append(time.perf_counter() - start)
    print(f"{'kopf: start to watch established':<42} {'':>10}  {ready * 1000:.0f} ms")
    print(f"{'kopf: create to status written':<42} {'':>10}  {percentiles(samples)}")


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 500
    with KubeStandInThread(crds=[CRD_DIR], namespaces=[NAMESPACE]) as kube:
        config = kubernetes.client.Configuration()
        config.host = kube.url
        client = kubernetes.client.ApiClient(config)
        custom, core = CustomObjectsApi(client), CoreV1Api(client)
        print(f"stand-in at {kube.url}, {count} objects, kubernetes client, one thread")
        timed(
            "create CR (schema + CEL admission)",
            count,
            lambda i: custom.create_namespaced_custom_object(*ARGS, replica(f"r{i}", size=2)),
        )
        timed(
            "create ConfigMap (no admission)",
            count,
            lambda i: core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": f"c{i}"}}),
        )
        timed("get CR", count, lambda i: custom.get_namespaced_custom_object(*ARGS, f"r{i}"))
        timed(
            "merge-patch CR spec",
            count,
            lambda i: custom.patch_namespaced_custom_object(*ARGS, f"r{i}", {"spec": {"size": 3}}),
        )
        timed(
            "merge-patch CR /status",
            count,
            lambda i: custom.patch_namespaced_custom_object_status(
                *ARGS, f"r{i}", {"status": {"phase": "Pending"}}
            ),
        )
        timed(f"list {count} CRs", 20, lambda i: custom.list_namespaced_custom_object(*ARGS))
        table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
        path = f"{kube.url}/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
        timed(
            f"Table of {count} CRs (kubectl get)",
            20,
            lambda i: requests.get(path, headers=table, timeout=30),
        )
        watch_latency(kube, custom, min(count, 200))
        kopf_latency(kube, custom, 20)


if __name__ == "__main__":
    main(sys.argv[1:])
