"""End-to-end harness: the simulated datacenter, the operator as a separate process, and
a small client to drive ProtectedVMs and read their status and Events.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from asr_operator.sim.stack import SimulatedDatacenter, bundled_scenario

GROUP, VERSION, PLURAL = "asr-operator.io", "v1alpha1", "protectedvms"
NS = "demo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """`asr-operator run` as a child process, the way a Deployment runs it."""

    def __init__(self, dc: SimulatedDatacenter, workdir: Path) -> None:
        self.dc = dc
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"operator-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        port = free_port()
        env = dict(os.environ, KUBECONFIG=str(self.dc.kubeconfig))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asr_operator.cli",
                "run",
                "--namespace",
                NS,
                "--liveness",
                f"http://127.0.0.1:{port}/healthz",
                "--log-level",
                "debug",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("operator did not become healthy")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last status write, exactly as a node failure."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self._log.close()

    def logs(self) -> str:
        return "".join(
            (self.workdir / f"operator-{i}.log").read_text(errors="replace")
            for i in range(1, self.starts + 1)
        )


class Cluster:
    """What a human does with kubectl, through the kubernetes client."""

    def __init__(self, dc: SimulatedDatacenter) -> None:
        self.client = dc.api_client()
        self.custom = kubernetes.client.CustomObjectsApi(self.client)
        self.core = kubernetes.client.CoreV1Api(self.client)

    def create_pvm(self, name: str, **spec: Any) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ProtectedVM",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "vaultRef": {"name": "vault-dr"},
                "protectedItem": {"name": name},
                "hyperV": {"host": "hv-01", "vmName": name},
                **spec,
            },
        }
        return dict(self.custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, body))

    def get(self, name: str, plural: str = PLURAL) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, NS, plural, name))

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.get(name).get("status") or {})

    def condition(self, name: str, type_: str) -> dict[str, Any]:
        for c in self.status(name).get("conditions", []):
            if c["type"] == type_:
                return dict(c)
        return {}

    def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name, {"spec": spec})

    def annotate(self, name: str, annotations: dict[str, str]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, PLURAL, name, {"metadata": {"annotations": annotations}}
        )

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except kubernetes.client.ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about one object, oldest first."""
        items = self.core.list_namespaced_event(NS).items
        mine = [e for e in items if e.involved_object and e.involved_object.name == name]
        mine.sort(key=lambda e: (e.metadata.creation_timestamp or 0, e.metadata.name))
        return [(e.type or "", e.reason or "", e.message or "") for e in mine]

    def approve_pending(self, name: str) -> str:
        gate = self.wait_for(name, lambda s: s.get("awaitingApproval"), what="an approval gate")
        token = str(gate["awaitingApproval"]["token"])
        self.patch_spec(name, {"approve": token})
        return token

    def wait_for(
        self,
        name: str,
        predicate: Callable[[dict[str, Any]], Any],
        timeout: float = 60.0,
        what: str = "the condition",
    ) -> dict[str, Any]:
        """Poll status until `predicate(status)` is truthy; fail with the last status."""
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.status(name)
            if predicate(status):
                return status
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} on {name}; last status: {status}")

    def wait_phase(self, name: str, phase: str, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_for(name, lambda s: s.get("phase") == phase, timeout, f"phase {phase}")

    def wait_ready(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        def ready(s: dict[str, Any]) -> bool:
            return (
                any(c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions", []))
                and s.get("observedGeneration") == self.get(name)["metadata"]["generation"]
            )

        return self.wait_for(name, ready, timeout, "Ready=True")

    def wait_stalled(self, name: str, reason: str, timeout: float = 60.0) -> dict[str, Any]:
        def stalled(s: dict[str, Any]) -> bool:
            return any(
                c["type"] == "Stalled" and c["status"] == "True" and c["reason"] == reason
                for c in s.get("conditions", [])
            )

        return self.wait_for(name, stalled, timeout, f"Stalled={reason}")


@pytest.fixture()
def dc(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SimulatedDatacenter]:
    """A fresh simulated datacenter; `@pytest.mark.time_scale(x)` slows or speeds jobs."""
    marker = request.node.get_closest_marker("time_scale")
    scale = float(marker.args[0]) if marker else 0.05
    with SimulatedDatacenter(
        bundled_scenario(), tmp_path / "dc", time_scale=scale, poll_interval=1
    ) as datacenter:
        datacenter.apply(datacenter.vault_manifests())
        yield datacenter


@pytest.fixture()
def cluster(dc: SimulatedDatacenter) -> Iterator[Cluster]:
    c = Cluster(dc)
    yield c
    c.client.close()


@pytest.fixture()
def operator(dc: SimulatedDatacenter, tmp_path: Path) -> Iterator[Operator]:
    op = Operator(dc, tmp_path)
    op.start()
    yield op
    op.stop()
