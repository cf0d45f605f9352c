"""The whole simulated datacenter on 127.0.0.1: Kubernetes API stand-in, ASR simulator and
Hyper-V simulator sharing one scenario, plus the Secrets and SiteRecoveryVault that point
an operator at them. The demo and the end-to-end tests both start it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import kubernetes.client
import kubernetes.config
import yaml

from asr_operator.api import crds as api_crds
from asr_operator.api.common import API_VERSION
from asr_operator.sim.asr import AsrSimulatorThread
from asr_operator.sim.datacenter import Datacenter
from asr_operator.sim.hyperv.server import HyperVSimulator
from asr_operator.sim.kube.thread import KubeStandInThread
from asr_operator.sim.scenario import Scenario

SCENARIOS = Path(__file__).parent / "scenarios"
VAULT_NAME = "vault-dr"


def bundled_scenario(name: str = "demo") -> Scenario:
    return Scenario.load(SCENARIOS / f"{name}.yaml")


@dataclass
class SimulatedDatacenter:
    """Start with `with SimulatedDatacenter(scenario, workdir) as dc:`; `dc.kubeconfig`."""

    scenario: Scenario
    workdir: Path
    namespace: str = "demo"
    time_scale: float = 1.0
    poll_interval: int = 2
    asr_options: dict[str, Any] = field(default_factory=dict)
    # Where the simulators listen (and what their certificates and the manifests name).
    address: str = "127.0.0.1"
    # False: no Kubernetes API stand-in (the operator runs against a real cluster).
    with_kube: bool = True
    datacenter: Datacenter = field(init=False)
    asr: AsrSimulatorThread = field(init=False)
    hyperv: HyperVSimulator = field(init=False)
    kube: KubeStandInThread = field(init=False)
    kubeconfig: Path = field(init=False)
    _stack: contextlib.ExitStack = field(init=False, default_factory=contextlib.ExitStack)

    def __enter__(self) -> SimulatedDatacenter:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.datacenter = Datacenter.from_scenario(self.scenario)
        self.asr = self._stack.enter_context(
            AsrSimulatorThread(
                self.scenario,
                self.datacenter,
                time_scale=self.time_scale,
                host=self.address,
                **self.asr_options,
            )
        )
        self.hyperv = self._stack.enter_context(
            HyperVSimulator(self.datacenter, tls=True, address=self.address)
        )
        if not self.with_kube:
            return
        crd_docs = [api_crds.crd(r) for r in api_crds.RESOURCES]
        self.kube = self._stack.enter_context(
            KubeStandInThread(crds=crd_docs, namespaces=[self.namespace])
        )
        self.kubeconfig = self.kube.write_kubeconfig(
            self.workdir / "kubeconfig", namespace=self.namespace
        )

    def stop(self) -> None:
        self._stack.close()

    # -- what an operator needs to reach the simulators ---------------------------------

    def vault_manifests(self) -> list[dict[str, Any]]:
        """Secrets and the SiteRecoveryVault for this datacenter, as a user would apply them."""
        sc = self.scenario
        credential = next(c for c in sc.credentials if c.secret)
        ns = self.namespace
        asr_ca = Path(self.asr.ca_path).read_bytes()
        objs: list[dict[str, Any]] = [
            _secret(ns, "asr-sp", {"clientSecret": credential.secret.encode()}),
            _secret(ns, "asr-ca", {"ca.crt": asr_ca}),
        ]
        hosts = []
        hv_ca = self.hyperv.ca_path
        if hv_ca:
            objs.append(_secret(ns, "hv-ca", {"ca.crt": Path(hv_ca).read_bytes()}))
        for site in sc.sites:
            for host in site.hosts:
                if not host.users:
                    continue
                user = host.users[0]
                secret = f"winrm-{host.name}"
                objs.append(
                    _secret(
                        ns,
                        secret,
                        {"username": user.username.encode(), "password": user.password.encode()},
                    )
                )
                address, port = self.hyperv.endpoint(host.name)
                entry: dict[str, Any] = {
                    "name": host.name,
                    "address": address,
                    "port": port,
                    "scheme": "https",
                    "transport": "ntlm",
                    "credentialsSecretRef": {"name": secret},
                }
                if hv_ca:
                    entry["caSecretRef"] = {"name": "hv-ca"}
                hosts.append(entry)
        objs.append(
            {
                "apiVersion": API_VERSION,
                "kind": "SiteRecoveryVault",
                "metadata": {"name": VAULT_NAME, "namespace": ns},
                "spec": {
                    "subscriptionId": sc.subscription_id,
                    "resourceGroup": sc.resource_group,
                    "vaultName": sc.vault,
                    "endpoint": self.asr.url,
                    "caSecretRef": {"name": "asr-ca"},
                    "authentication": {
                        "type": "ClientSecret",
                        "tenantId": sc.tenant_id,
                        "clientId": credential.client_id,
                        "secretRef": {"name": "asr-sp"},
                        "authorityHost": self.asr.url,
                    },
                    "hyperVHosts": hosts,
                    "pollIntervalSeconds": self.poll_interval,
                },
            }
        )
        return objs

    def api_client(self) -> kubernetes.client.ApiClient:
        """A client of the stand-in, independent of the process-wide kubernetes config."""
        config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig), client_configuration=config
        )
        return kubernetes.client.ApiClient(config)

    def apply(self, objs: list[dict[str, Any]]) -> None:
        """Create objects through the API (admission included), as `kubectl create` would."""
        with self.api_client() as client:
            core = kubernetes.client.CoreV1Api(client)
            custom = kubernetes.client.CustomObjectsApi(client)
            for obj in objs:
                ns = obj["metadata"].get("namespace", self.namespace)
                if obj["kind"] == "Secret":
                    core.create_namespaced_secret(ns, cast(Any, obj))
                else:
                    group, version = obj["apiVersion"].split("/")
                    plural = _plural(obj["kind"])
                    custom.create_namespaced_custom_object(group, version, ns, plural, obj)

    def write_manifests(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump_all(self.vault_manifests(), sort_keys=False))
        return path


class OperatorProcess:
    """`asr-operator run` as a child process against a datacenter, as a Deployment runs it."""

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        logdir: Path,
        args: Sequence[str] = (),
        log_level: str = "debug",
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_level = log_level
        self.namespace = namespace
        self.logdir = logdir
        self.args = tuple(args)  # more `asr-operator run` flags
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: Any = None

    @property
    def log_path(self) -> Path:
        return self.logdir / f"operator-{self.starts}.log"

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until the liveness endpoint answers."""
        self.starts += 1
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()/kill()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asr_operator.cli",
                "run",
                "--namespace",
                self.namespace,
                "--liveness",
                f"http://127.0.0.1:{port}/healthz",
                "--log-level",
                self.log_level,
                *self.args,
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"operator exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"operator did not become healthy; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no cleanup and no last status write, as when a node dies."""
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
            (self.logdir / f"operator-{i}.log").read_text(errors="replace")
            for i in range(1, self.starts + 1)
        )


def _plural(kind: str) -> str:
    for r in api_crds.RESOURCES:
        if r.kind == kind:
            return r.plural
    raise KeyError(kind)


def _secret(namespace: str, name: str, data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }
