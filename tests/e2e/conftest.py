"""End-to-end harness: the simulated datacenter, the operator as a separate process, and
a small client to drive ProtectedVMs and read their status and Events.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from asr_operator.sim.stack import OperatorProcess, SimulatedDatacenter, bundled_scenario

GROUP, VERSION, PLURAL = "asr-operator.io", "v1alpha1", "protectedvms"
NS = "demo"
# ARM answers within milliseconds here: give up on one after 15 s, and take an unanswered
# request as dead 30 s after it was sent (production: 60 s and 300 s).
ARM_TIMEOUT, REQUEST_LIFETIME = 15.0, 30.0
OPERATOR_ARGS = ("--arm-timeout", str(ARM_TIMEOUT), "--request-lifetime", str(REQUEST_LIFETIME))


class Operator(OperatorProcess):
    """The operator process of one test, with the datacenter it runs against."""

    def __init__(
        self, dc: SimulatedDatacenter, workdir: Path, args: tuple[str, ...] = OPERATOR_ARGS
    ) -> None:
        super().__init__(dc.kubeconfig, NS, workdir, args)
        self.dc = dc


class Cluster:
    """What a human does with kubectl, through the kubernetes client."""

    def __init__(self, dc: SimulatedDatacenter, plural: str = PLURAL) -> None:
        self.client = dc.api_client()
        self.custom = kubernetes.client.CustomObjectsApi(self.client)
        self.core = kubernetes.client.CoreV1Api(self.client)
        self.plural = plural

    def of(self, plural: str) -> Cluster:
        """The same cluster, reading and patching objects of another kind."""
        other = copy.copy(self)
        other.plural = plural
        return other

    def create(self, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        }
        return dict(
            self.custom.create_namespaced_custom_object(GROUP, VERSION, NS, self.plural, body)
        )

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

    def get(self, name: str, plural: str = "") -> dict[str, Any]:
        return dict(
            self.custom.get_namespaced_custom_object(
                GROUP, VERSION, NS, plural or self.plural, name
            )
        )

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.get(name).get("status") or {})

    def condition(self, name: str, type_: str) -> dict[str, Any]:
        for c in self.status(name).get("conditions", []):
            if c["type"] == type_:
                return dict(c)
        return {}

    def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, self.plural, name, {"spec": spec}
        )

    def annotate(self, name: str, annotations: dict[str, str]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, self.plural, name, {"metadata": {"annotations": annotations}}
        )

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, NS, self.plural, name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except kubernetes.client.ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    def events(self, name: str, settle: float = 0.5) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about one object, oldest first.

        kopf posts Events from a queue, so they can trail the status they describe: read
        until the list has not changed for `settle` seconds (at most 5 s).
        """
        deadline = time.monotonic() + 5
        seen = self._events(name)
        stable_since = time.monotonic()
        while time.monotonic() - stable_since < settle and time.monotonic() < deadline:
            time.sleep(0.1)
            now = self._events(name)
            if now != seen:
                seen, stable_since = now, time.monotonic()
        return seen

    def _events(self, name: str) -> list[tuple[str, str, str]]:
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


# -- reading the simulators' side (what ASR and Hyper-V hold), for assertions ------------


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "it") -> Any:
    """Poll any predicate with a deadline (simulator state, call counters)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def recovery_points(dc: SimulatedDatacenter, vm: str) -> list[tuple[str, str]]:
    """(name, type) of the item's recovery points as ASR lists them now, oldest first."""

    def read() -> list[tuple[str, str]]:
        item = dc.asr.sim.item(vm)
        dc.asr.sim.vault.advance(item)
        return [(rp.name, rp.type) for rp in item.rps]

    return dc.asr.call(read)


def failover_point(dc: SimulatedDatacenter, vm: str) -> str:
    """The name of the recovery point ASR failed the item over to ('' if none)."""
    rp_id = dc.asr.call(lambda: dc.asr.sim.item(vm).failover_rp_id) or ""
    return rp_id.rstrip("/").rsplit("/", 1)[-1]


def power_state(dc: SimulatedDatacenter, vm: str, host: str = "hv-01") -> str:
    state = dc.datacenter.vm_on_host(host, vm)
    assert state is not None, vm
    return state.state


# -- refusals, faults, restarts: what the operator sent ASR, and ASR-side state ----------

_READS = {"get", "list", "listByContainer"}


def action_calls(dc: SimulatedDatacenter) -> dict[str, int]:
    """The calls that make ASR act (item, plan and job actions, item updates), by name."""
    out: dict[str, int] = {}
    for name, count in dc.asr.calls.items():
        group, _, verb = name.partition(".")
        if group in ("items", "plans", "jobs") and verb not in _READS and count:
            out[name] = count
    return out


def audit_findings(dc: SimulatedDatacenter, cluster: Cluster, name: str, target: str) -> list[str]:
    """What the object's history claims against the jobs ASR ran for `target`."""
    from asr_operator.sim.asr.audit import audit, records

    status = cluster.status(name)
    jobs = dc.asr.call(lambda: records(dc.asr.sim.vault.jobs.values()))
    running = [(status.get("operation") or {}).get("jobName", "")]
    return audit(target, reversed(status.get("history") or []), jobs, running)


def asr_jobs(dc: SimulatedDatacenter, vm: str, action: str = "") -> list[tuple[str, str]]:
    """(action, state) of the ASR jobs created for item `vm`, oldest first."""

    def read() -> list[tuple[str, str]]:
        jobs = sorted(dc.asr.sim.vault.jobs.values(), key=lambda j: j.start)
        return [
            (j.action, j.state)
            for j in jobs
            if j.target_object_name.lower() == vm.lower() and action in ("", j.action)
        ]

    return dc.asr.call(read)


def set_item_phase(dc: SimulatedDatacenter, vm: str, phase: str) -> None:
    """Put the simulated item in another phase of the state table (what ASR allows)."""

    def put() -> None:
        dc.asr.sim.item(vm).phase = phase

    dc.asr.call(put)


def only_allowing(monkeypatch: pytest.MonkeyPatch, *operations: str) -> str:
    """Register a Protected-at-Primary phase in which ASR allows just `operations`."""
    from asr_operator.sim.asr import states

    name = "Only" + "".join(operations)
    spec = states.PhaseSpec("Protected", "Protected", "Primary", operations)
    monkeypatch.setitem(states.PHASES, name, spec)
    return name


def stalled(status: dict[str, Any]) -> dict[str, Any]:
    """The Stalled condition of a status ({} when absent)."""
    return next((c for c in status.get("conditions", []) if c["type"] == "Stalled"), {})
