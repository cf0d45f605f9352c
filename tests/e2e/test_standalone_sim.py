"""The standalone simulator recipe of docs/simulator.md, as a person runs it: one
`asr-operator sim datacenter --kube` process, the operator as another, the vault
manifests it writes applied through the API, and a planned failover that powers the
Hyper-V VM off because both simulators share one datacenter."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config
import pytest
import yaml

from asr_operator.hyperv.config import WinRMConfig
from asr_operator.hyperv.gateway import HyperVGateway
from asr_operator.lifecycle.observed import PowerState
from asr_operator.sim.stack import OperatorProcess
from tests.e2e.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
NS = "demo"


@pytest.fixture()
def simulators(tmp_path: Path) -> Iterator[Path]:
    out = tmp_path / "sim"
    log = (tmp_path / "sim.log").open("wb")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "asr_operator.cli", "sim", "datacenter", "--kube"),
            *("--out-dir", str(out), "--time-scale", "0.05", "--poll-interval", "1"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )
    try:
        wait_until(lambda: (out / "vault.yaml").exists(), 30, "vault.yaml")
        yield out
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, (tmp_path / "sim.log").read_text()
        log.close()


def test_the_standalone_recipe_fails_over_and_powers_the_source_off(
    simulators: Path, tmp_path: Path
) -> None:
    kubeconfig = simulators / "kubeconfig"
    operator = OperatorProcess(kubeconfig, NS, tmp_path)
    operator.start()
    try:
        config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=config
        )
        docs = list(yaml.safe_load_all((simulators / "vault.yaml").read_text()))
        pvm = yaml.safe_load((ROOT / "deploy/examples/demo/web01.yaml").read_text())
        pvm["spec"].update(activeSite="Azure", failover={"type": "Planned", "commit": "Automatic"})
        with kubernetes.client.ApiClient(config) as client:
            core = kubernetes.client.CoreV1Api(client)
            custom = kubernetes.client.CustomObjectsApi(client)
            for doc in docs:
                if doc["kind"] == "Secret":
                    core.create_namespaced_secret(NS, doc)
                else:
                    group, version = doc["apiVersion"].split("/")
                    custom.create_namespaced_custom_object(
                        group, version, NS, "siterecoveryvaults", doc
                    )
            group, version = pvm["apiVersion"].split("/")
            custom.create_namespaced_custom_object(group, version, NS, "protectedvms", pvm)

            def failed_over() -> dict[str, Any] | None:
                obj = custom.get_namespaced_custom_object(
                    group, version, NS, "protectedvms", "web01"
                )
                status = obj.get("status") or {}
                done = status.get("phase") == "FailedOver" and status.get("activeSite") == "Azure"
                return status if done else None

            wait_until(failed_over, 120, "web01 failed over and committed")
        vault = next(d for d in docs if d["kind"] == "SiteRecoveryVault")
        host = vault["spec"]["hyperVHosts"][0]
        secrets = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "Secret"}
        creds = secrets[host["credentialsSecretRef"]["name"]]
        ca = tmp_path / "hv-ca.pem"
        ca.write_bytes(_b64(secrets[host["caSecretRef"]["name"]]["ca.crt"]))
        gateway = HyperVGateway(
            WinRMConfig(
                address=host["address"],
                port=host["port"],
                username=_b64(creds["username"]).decode(),
                password=_b64(creds["password"]).decode(),
                name=host["name"],
                ca_path=str(ca),
            )
        )
        vm = _run(gateway.get_vm("web01"))
        assert vm.state == PowerState.OFF  # the failover shut the source down, over WinRM too
    finally:
        operator.stop()


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)
