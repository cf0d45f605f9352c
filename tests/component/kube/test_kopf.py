"""kopf against the stand-in: handlers, finalizers, /status patches, Events, timers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import kopf
import kubernetes
import pytest
from kopf.testing import KopfRunner
from kubernetes.client import ApiException, CoreV1Api, CustomObjectsApi

from asr_operator.sim.kube import KubeStandIn, KubeStandInThread

from .conftest import CRD_DIR, GROUP, NAMESPACE, PLURAL, VERSION, replica, wait_until

OPERATOR = str(Path(__file__).with_name("kopf_operator.py"))
ARGS = (GROUP, VERSION, NAMESPACE, PLURAL)


@pytest.fixture()
def kopf_login(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # kopf logs in through the kubernetes client, which froze $KUBECONFIG at import time.
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(
        kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig)
    )


def reasons(core: CoreV1Api) -> set[str]:
    events = core.list_namespaced_event(NAMESPACE, field_selector="involvedObject.name=r1")
    return {e.reason for e in events.items}


@pytest.mark.parametrize(
    "scope", [["--namespace", NAMESPACE], ["--all-namespaces"]], ids=["namespaced", "cluster-wide"]
)
@pytest.mark.usefixtures("kopf_login")
def test_kopf_operator_lifecycle(
    kube: KubeStandInThread, custom: CustomObjectsApi, core: CoreV1Api, scope: list[str]
) -> None:
    with KopfRunner(["run", "--standalone", *scope, OPERATOR], timeout=60) as runner:
        kube.wait_for_watch(PLURAL, NAMESPACE if scope[0] == "--namespace" else None, timeout=30)
        custom.create_namespaced_custom_object(*ARGS, replica("r1"))

        def get() -> dict[str, Any]:
            return custom.get_namespaced_custom_object(*ARGS, "r1")  # type: ignore[no-any-return]

        obj = wait_until(lambda: (o := get()).get("status", {}).get("created") and o)
        assert obj["status"]["phase"] == "Pending"
        assert obj["status"]["created"] == {"message": "created"}
        assert obj["metadata"]["finalizers"] == ["example.asr-operator.io/finalizer"]
        assert obj["metadata"]["generation"] == 1  # finalizer and status writes kept it at 1

        custom.patch_namespaced_custom_object(*ARGS, "r1", {"spec": {"size": 2}})
        obj = wait_until(lambda: (o := get()).get("status", {}).get("phase") == "Protected" and o)
        assert obj["metadata"]["generation"] == 2
        assert obj["status"]["conditions"][0]["status"] == "True"
        wait_until(lambda: get().get("status", {}).get("ticks", 0) >= 2)
        wait_until(lambda: {"Created", "Resized"} <= reasons(core))

        custom.delete_namespaced_custom_object(*ARGS, "r1")

        def gone() -> bool:
            try:
                get()
            except ApiException as exc:
                return exc.status == 404
            return False

        wait_until(gone)
        wait_until(lambda: "Deleting" in reasons(core))
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output

    assert "inconsistencies" not in runner.output  # every patch kopf made was stored as sent
    requests = kube.requests
    assert not [r for r in requests if (r.status or 0) >= 500]
    finalizer_patches = [
        r for r in requests if r.verb == "patch" and r.content_type == "application/json-patch+json"
    ]
    assert finalizer_patches and all(r.status == 200 for r in finalizer_patches)
    status_patches = [r for r in requests if r.verb == "patch" and r.subresource == "status"]
    assert status_patches and all(r.status == 200 for r in status_patches)
    event_posts = [r for r in requests if r.verb == "create" and r.resource == "events"]
    assert event_posts and all(r.status == 201 for r in event_posts)
    # Reconnects after server_timeout resume from a version, never from scratch.
    resumed = [r for r in requests if r.verb == "watch" and r.resource == PLURAL]
    assert all(r.query.get("resourceVersion") for r in resumed)


async def test_kopf_operator_in_the_same_loop() -> None:
    registry = kopf.OperatorRegistry()
    async with KubeStandIn(crds=[CRD_DIR], namespaces=[NAMESPACE]) as kube:

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=kube.url)

        @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
        def created(patch: kopf.Patch, **_: Any) -> None:
            patch.status["phase"] = "Pending"

        stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        operator = asyncio.create_task(
            kopf.operator(
                registry=registry, standalone=True, namespaces=[NAMESPACE], stop_flag=stop
            )
        )
        await kube.log.wait_for_async(
            lambda r: r.verb == "watch" and r.resource == PLURAL and r.status == 200, timeout=30
        )
        started = time.monotonic()
        kube.create({**replica("r1"), "metadata": {"name": "r1", "namespace": NAMESPACE}})
        while (kube.get(PLURAL, "r1", NAMESPACE) or {}).get("status", {}).get("phase") != "Pending":
            assert time.monotonic() - started < 10, "the create handler did not run"
            await asyncio.sleep(0.005)
        stop.set_result(None)
        await asyncio.wait_for(operator, 30)
