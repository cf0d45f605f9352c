"""Fixtures for the Kubernetes API stand-in's component tests.

Reusable elsewhere: `kube` runs a stand-in in a thread with the test CRDs and namespace
`ns1`; `api_client` is a `kubernetes` ApiClient pointed at it; `kubeconfig` writes a
kubeconfig for kubectl and kopf. Pass the project's real CRDs via `KubeStandInThread(crds=[...])`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import requests

from asr_operator.sim.kube import KubeStandInThread

CRD_DIR = Path(__file__).parent / "crds"
GROUP = "example.asr-operator.io"
VERSION = "v1alpha1"
PLURAL = "replicas"
NAMESPACE = "ns1"
KUBECTL = shutil.which("kubectl")

JSON = dict[str, Any]


def replica(name: str = "r1", **spec: Any) -> JSON:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Replica",
        "metadata": {"name": name},
        "spec": {"vmName": "vm-1", **spec},
    }


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
    """Poll a condition until a deadline (for state behind a client, not the request log)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met within the deadline")
        time.sleep(interval)


def http(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """A raw request, for what the typed client cannot express (content types, Accept)."""
    data = None if body is None else json.dumps(body)
    response = requests.request(
        method,
        url + path,
        data=data,
        headers={"Content-Type": content_type, **(headers or {})},
        timeout=10,
    )
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    return response.status_code, payload, dict(response.headers)


@pytest.fixture()
def kube() -> Iterator[KubeStandInThread]:
    with KubeStandInThread(crds=[CRD_DIR], namespaces=[NAMESPACE], bookmark_interval=0.2) as k:
        yield k


@pytest.fixture()
def api_client(kube: KubeStandInThread) -> Iterator[kubernetes.client.ApiClient]:
    config = kubernetes.client.Configuration()
    config.host = kube.url
    with kubernetes.client.ApiClient(config) as client:
        yield client


@pytest.fixture()
def custom(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api_client)


@pytest.fixture()
def core(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api_client)


@pytest.fixture()
def kubeconfig(kube: KubeStandInThread, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)


@pytest.fixture()
def kubectl(kubeconfig: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run /usr/bin/kubectl against the stand-in; skips when kubectl is not installed."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}

    def run(
        *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        result = subprocess.run(
            [KUBECTL, "--cache-dir", str(tmp_path / "cache"), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run
