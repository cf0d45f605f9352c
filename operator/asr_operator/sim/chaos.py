"""Chaos: many objects through whole lifecycles while the operator is killed and ASR fails.

The harness runs the simulated datacenter and `asr-operator run` as its own process. One
driver thread per object plays a person with kubectl: it picks a lifecycle at random
(seeded), writes the spec, approves each gate through `spec.approve` and waits for the
object to rest. Meanwhile the operator is SIGKILLed at random moments and started again,
and faults are injected one at a time: 5xx and 504 answers, connections dropped before
ASR took a request, 202s lost after it did, answers slower than the client waits, jobs
failing at a task, 429 storms, the Hyper-V host down or refusing logins.

Afterwards `check()` reads the simulator's own record (the jobs it ran, every write as
it arrived) against what the operator recorded, and returns violations:
- a history entry that names no job, another operation's job, or a job an earlier entry
  claimed; a job ASR ran that no operation recorded (a double submit);
- a request re-sent after ASR took the same operation's earlier request;
- any cancel; an object neither at rest where its spec says nor Stalled with a reason;
- a secret (client secret, WinRM password, raw or base64) in logs, Events or resources.

`benchmarks/chaos.py` runs it long; a short seeded run is part of the test suite.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import kubernetes.client

from asr_operator.sim.asr import FaultRule, JobFailure
from asr_operator.sim.asr.audit import audit, records, resends
from asr_operator.sim.asr.throttle import BucketSpec, ThrottleLimits
from asr_operator.sim.scenario import Scenario
from asr_operator.sim.stack import OperatorProcess, SimulatedDatacenter, bundled_scenario

GROUP, VERSION = "asr-operator.io", "v1alpha1"
HOST = "hv-01"
NETWORK = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-dr-net"
    "/providers/Microsoft.Network/virtualNetworks/vnet-drill"
)
# A stall that lasts this long (seconds) is not one that passes by itself (a host back up).
STALL_PATIENCE = 90.0
KEYWORDS = ("Latest", "LatestProcessed", "LatestApplicationConsistent")
# The ASR actions a ProtectedVM sends, as the simulator names its operations.
ITEM_ACTIONS = (
    "plannedFailover",
    "unplannedFailover",
    "testFailover",
    "testFailoverCleanup",
    "failoverCommit",
    "applyRecoveryPoint",
    "reProtect",
)
PLAN_ACTIONS = ("plannedFailover", "failoverCommit", "reProtect", "testFailover")


@dataclass(frozen=True)
class Settings:
    vms: int = 8
    plan_members: int = 3  # the last N VMs form one RecoveryPlan (0: no plan)
    lifecycles: int = 40
    seed: int = 1
    kill_every: float = 20.0  # mean seconds between operator kills (0: none)
    fault_every: float = 8.0  # mean seconds between injected faults (0: none)
    time_scale: float = 0.3  # simulated job speed
    arm_timeout: float = 4.0
    request_lifetime: float = 15.0
    deadline: float = 3600.0  # seconds for the whole run
    rest_timeout: float = 240.0  # seconds an object may take to reach a resting state

    def operator_flags(self) -> tuple[str, ...]:
        """Short ARM timeout and request lifetime: a kill between an intent and its answer
        then costs seconds, not the 5 minutes a real vault's lifetime asks for."""
        return (
            "--arm-timeout",
            str(self.arm_timeout),
            "--request-lifetime",
            str(self.request_lifetime),
        )


@dataclass
class Report:
    settings: Settings
    lifecycles: Counter[str] = field(default_factory=Counter)
    choices: Counter[str] = field(default_factory=Counter)  # how often each choice was made
    kills: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    stalls: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    jobs: int = 0
    writes: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        s = self.settings
        out = [
            f"seed {s.seed}: {sum(self.lifecycles.values())} lifecycles in {self.seconds:.0f} s "
            f"({s.vms} VMs, plan of {s.plan_members}), {self.kills} kills, "
            f"{sum(self.faults.values())} faults, ASR ran {self.jobs} jobs for {self.writes} "
            "writes",
            f"lifecycles: {dict(sorted(self.lifecycles.items()))}",
            f"choices: {dict(sorted(self.choices.items()))}",
            f"faults: {dict(sorted(self.faults.items()))}",
            f"stalls (left at rest with a reason): {dict(sorted(self.stalls.items()))}",
            f"violations: {len(self.violations)}",
        ]
        out += [f"  {v}" for v in self.violations[:50]]
        return out


def scenario(settings: Settings) -> Scenario:
    """The bundled datacenter with `vms` plain VMs on one host, and one plan of the last few."""
    base = bundled_scenario().model_dump(by_alias=True)
    host = base["sites"][0]["hosts"][0]
    names = [f"vm{n:02d}" for n in range(settings.vms)]
    host["vms"] = [
        {"name": n, "disks": [{"path": f"C:\\VMs\\{n}.vhdx", "os": True}]} for n in names
    ]
    members = names[len(names) - settings.plan_members :] if settings.plan_members else []
    base["plans"] = [{"name": "plan-chaos", "groups": [{"vms": [m]} for m in members]}]
    if not members:
        base["plans"] = []
    return Scenario.model_validate(base)


class Stop(Exception):
    """The run is over (deadline, or enough lifecycles)."""


class Subject:
    """One object and the person driving it."""

    plural = ""

    def __init__(self, run: Run, name: str, rng: random.Random) -> None:
        self.run, self.name, self.rng = run, name, rng
        self.api = kubernetes.client.CustomObjectsApi(run.dc.api_client())
        self.history: dict[str, dict[str, Any]] = {}  # every entry ever seen, by runId
        self.stalled = ""
        self.drills = 0

    # -- kubectl ----------------------------------------------------------------------

    def body(self) -> dict[str, Any]:
        body = self.api.get_namespaced_custom_object(
            GROUP, VERSION, self.run.dc.namespace, self.plural, self.name
        )
        return cast(dict[str, Any], body)

    def patch(self, spec: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.run.dc.namespace, self.plural, self.name, {"spec": spec}
        )

    def create(self, kind: str, spec: dict[str, Any]) -> None:
        self.api.create_namespaced_custom_object(
            GROUP,
            VERSION,
            self.run.dc.namespace,
            self.plural,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": kind,
                "metadata": {"name": self.name, "namespace": self.run.dc.namespace},
                "spec": spec,
            },
        )

    # -- waiting as a person does -------------------------------------------------------

    def rest(
        self,
        phase: str,
        done: Callable[[dict[str, Any]], bool] = lambda s: True,
        on_gate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> bool:
        """Approve gates until the object rests in `phase` (True), or stalls (False)."""
        deadline = time.monotonic() + self.run.settings.rest_timeout
        since, answered = 0.0, ""  # stalled since; the stall answered
        while time.monotonic() < deadline:
            self.run.check_over()
            try:
                body = self.body()
            except kubernetes.client.ApiException:
                time.sleep(0.5)
                continue
            status = dict(body.get("status") or {})
            for h in status.get("history") or []:
                self.history.setdefault(h["runId"], h)
            gate = status.get("awaitingApproval") or {}
            fresh = gate.get("token") and body["spec"].get("approve") != gate["token"]
            if fresh and (on_gate is None or on_gate(gate)):
                self.patch({"approve": gate["token"]})
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            settled = status.get("observedGeneration") == body["metadata"]["generation"]
            stalled = conditions.get("Stalled", {})
            if settled and stalled.get("status") == "True":
                reason = str(stalled.get("reason"))
                if answered != reason and self.answer(reason, stalled.get("message", "")):
                    answered = reason  # once per stall: the operator looks again in 30 s
                    with self.run.lock:
                        self.run.report.stalls[f"{reason} (answered)"] += 1
                    continue
                since = since or time.monotonic()
                if time.monotonic() - since > STALL_PATIENCE:  # not one that passes
                    self.stalled = f"{reason}: {stalled.get('message')}"
                    with self.run.lock:
                        self.run.report.stalls[reason] += 1
                    return False
            else:
                since, answered = 0.0, ""
            ready = conditions.get("Ready", {}).get("status") == "True"
            resting = ready and status.get("phase") == phase and not status.get("operation")
            if settled and resting and done(status):
                return True
            time.sleep(0.3)
        last = self.body().get("status") or {}
        stall: dict[str, Any] = next(
            (c for c in last.get("conditions") or [] if c["type"] == "Stalled"), {}
        )
        if stall.get("status") == "True" and stall.get("reason") and stall.get("message"):
            self.stalled = f"{stall['reason']}: {stall['message']}"  # at rest, with a reason
            with self.run.lock:
                self.run.report.stalls[str(stall["reason"])] += 1
            return False
        self.run.violation(f"{self.name}: did not reach {phase} in time: {last}")
        return False

    def answer(self, reason: str, message: str) -> bool:
        """Do what a stall's message asks of a person, where a person would; True if done."""
        if reason == "SourceVMPoweredOn":  # after an unplanned failover that left it on
            dc = self.run.dc
            for vm in self.vm_names():
                state = dc.datacenter.vm_on_host(HOST, vm)
                if state is not None and state.state == "Running":
                    dc.datacenter.set_power(state.vm_id, "Off")
            return True
        if reason == "RecoveryPointNotFound":  # the named point aged out of retention
            self.patch({"failover": {"recoveryPoint": "Latest"}})
            return True
        return False

    def vm_names(self) -> list[str]:
        return [self.name]

    def drill(self) -> bool:
        self.drills += 1
        rid = f"drill-{self.drills}"
        cleanup = self.rng.choice(["10s", None])
        drill: dict[str, Any] = {"requestId": rid, "networkId": NETWORK, "cleanupAfter": cleanup}
        self.patch({"testFailover": drill})
        self.tally("drill", [f"cleanup {'after 10s' if cleanup else 'approved'}"])
        return self.rest(
            "Protected",
            lambda s: (
                (s.get("testFailover") or {}).get("lastRequestId") == rid
                and not (s.get("testFailover") or {}).get("testVM")
            ),
        )

    def start(self) -> None:
        raise NotImplementedError

    def lifecycle(self) -> bool:
        raise NotImplementedError

    def tally(self, kind: str, choices: list[str]) -> None:
        report = self.run.report
        with self.run.lock:
            report.lifecycles[f"{self.plural} {kind}"] += 1
            report.choices.update(f"{self.plural}: {c}" for c in choices)

    def drive(self) -> None:
        try:
            while not self.stalled and self.run.take_lifecycle():
                if not self.lifecycle():
                    return
        except Stop:
            return


class VM(Subject):
    plural = "protectedvms"

    def start(self) -> None:
        self.create(
            "ProtectedVM",
            {
                "vaultRef": {"name": "vault-dr"},
                "protectedItem": {"name": self.name},
                "hyperV": {"host": HOST, "vmName": self.name},
            },
        )

    def lifecycle(self) -> bool:
        return self.drill() if self.rng.random() < 0.3 else self.round_trip()

    def named_point(self, back: int = 1) -> str:
        dc = self.run.dc

        def read() -> list[str]:
            item = dc.asr.sim.item(self.name)
            dc.asr.sim.vault.advance(item)
            return [rp.name for rp in item.rps]

        names = dc.asr.call(read)
        return names[-1 - min(back, len(names) - 1)] if names else "Latest"

    def round_trip(self) -> bool:
        rng = self.rng
        kind = rng.choice(["Planned", "Unplanned"])
        point = rng.choice([*KEYWORDS, "named"])
        failover: dict[str, Any] = {
            "type": kind,
            "recoveryPoint": self.named_point() if point == "named" else point,
            "commit": rng.choice(["Manual", "Automatic"]),
            "shutdownSourceVM": kind == "Planned" or rng.random() < 0.7,
            "validation": {"tcpPorts": [3389], "timeout": "2m"} if rng.random() < 0.4 else None,
        }
        change = failover["commit"] == "Manual" and rng.random() < 0.4
        back = {
            "dataSync": rng.choice(["BeforeFailover", "DuringFailover"]),
            "commit": rng.choice(["Manual", "Automatic"]),
        }
        reverse = rng.choice(["Automatic", "Manual"])
        self.tally(
            "round trip",
            [
                f"failover {kind}",
                f"recovery point {point}",
                f"commit {failover['commit']}",
                *(["validation"] if failover["validation"] else []),
                *(["change of recovery point"] if change else []),
                *(["source left on"] if not failover["shutdownSourceVM"] else []),
                f"failback {back['dataSync']}, commit {back['commit']}",
                f"reverse replication {reverse}",
            ],
        )
        changed: list[str] = []

        def commit_gate(gate: dict[str, Any]) -> bool:
            if change and not changed and gate.get("action") == "Commit":
                changed.append(self.named_point(2))
                self.patch({"failover": {"recoveryPoint": changed[0]}})
                return False
            return True

        self.patch(
            {
                "activeSite": "Azure",
                "failover": failover,
                "failback": back,
                "reverseReplication": reverse,
            }
        )
        if not self.rest("FailedOver", on_gate=commit_gate):
            return False
        self.patch({"activeSite": "OnPremises"})
        return self.rest("Protected")


class Plan(Subject):
    plural = "recoveryplans"

    def vm_names(self) -> list[str]:
        return list(self.run.members)

    def start(self) -> None:
        members = [{"vm": m, "host": HOST} for m in self.run.members]
        self.create(
            "RecoveryPlan",
            {"vaultRef": {"name": "vault-dr"}, "planName": self.name, "hyperV": members},
        )

    def lifecycle(self) -> bool:
        return self.drill() if self.rng.random() < 0.3 else self.round_trip()

    def round_trip(self) -> bool:
        rng = self.rng
        kind = rng.choice(["Planned", "Unplanned"])
        failover = {
            "type": kind,
            # A planned plan failover synchronizes and takes the latest point (admission).
            "recoveryPoint": rng.choice(KEYWORDS) if kind == "Unplanned" else "Latest",
            "commit": rng.choice(["Manual", "Automatic"]),
        }
        back = {"dataSync": rng.choice(["BeforeFailover", "DuringFailover"])}
        self.tally(
            "round trip",
            [
                f"failover {kind}",
                f"recovery point {failover['recoveryPoint']}",
                f"commit {failover['commit']}",
                f"failback {back['dataSync']}",
            ],
        )
        self.patch({"activeSite": "Azure", "failover": failover, "failback": back})
        if not self.rest("FailedOver"):
            return False
        self.patch({"activeSite": "OnPremises"})
        return self.rest("Protected")


class Run:
    """One chaos run; `report` fills in as it goes."""

    def __init__(self, settings: Settings, dc: SimulatedDatacenter, workdir: Path) -> None:
        self.settings, self.dc = settings, dc
        self.report = Report(settings)
        self.rng = random.Random(settings.seed)
        names = [f"vm{n:02d}" for n in range(settings.vms)]
        self.members = names[len(names) - settings.plan_members :] if settings.plan_members else []
        self.operator = OperatorProcess(
            dc.kubeconfig, dc.namespace, workdir, settings.operator_flags()
        )
        self.lock = threading.Lock()
        self._taken = 0
        self._over = threading.Event()
        self._ends = time.monotonic() + settings.deadline

    def violation(self, text: str) -> None:
        with self.lock:
            self.report.violations.append(text)

    def check_over(self) -> None:
        if self._over.is_set() or time.monotonic() > self._ends:
            raise Stop

    def take_lifecycle(self) -> bool:
        with self.lock:
            if self._taken >= self.settings.lifecycles or time.monotonic() > self._ends:
                return False
            self._taken += 1
            return True

    # -- chaos --------------------------------------------------------------------------

    def killer(self) -> None:
        every = self.settings.kill_every
        while every and not self._over.wait(self.rng.expovariate(1 / every)):
            with self.lock:
                self.operator.kill()
                self.report.kills += 1
            self.operator.start()

    def faulter(self) -> None:
        every = self.settings.fault_every
        while every and not self._over.wait(self.rng.expovariate(1 / every)):
            self.inject(self.rng)

    def inject(self, rng: random.Random) -> None:
        """One fault at a time: rules left unfired on a rare call would pile up into an
        outage of that call, which is not what is tested here."""
        dc, s = self.dc, self.settings
        dc.asr.clear_faults()
        item_op = f"items.{rng.choice(ITEM_ACTIONS)}"
        action_op = rng.choice([item_op, f"plans.{rng.choice(PLAN_ACTIONS)}"])
        kind = rng.choice(
            ["503", "504", "drop", "lost202", "slow", "read503", "slowread", "job", "429", "winrm"]
        )
        self.report.faults[kind] += 1
        if kind in ("503", "504"):
            dc.asr.inject(FaultRule(kind="status", operation=action_op, status=int(kind)))
        elif kind in ("drop", "lost202"):
            dc.asr.inject(FaultRule(kind=kind, operation=action_op))  # type: ignore[arg-type]
        elif kind == "slow":  # answered after the client gave up, within the request's life
            delay = rng.uniform(s.arm_timeout + 1, s.request_lifetime - 2)
            dc.asr.inject(FaultRule(kind="slow", operation=action_op, delay=delay))
        elif kind == "read503":
            op = rng.choice(["items.list", "items.get", "jobs.list", "jobs.get", "plans.get"])
            dc.asr.inject(FaultRule(kind="status", operation=op, status=503, count=3))
        elif kind == "slowread":
            op = rng.choice(["items.list", "jobs.list", "jobs.get"])
            dc.asr.inject(FaultRule(kind="slow", operation=op, delay=s.arm_timeout + 1))
        elif kind == "job":
            operation = item_op.removeprefix("items.")
            dc.asr.fail_job(JobFailure(operation=operation, task=rng.choice([1, 2])))
        elif kind == "429":
            dc.asr.sim.set_throttle_limits(ThrottleLimits(writes=BucketSpec(0, 1)))
            self._over.wait(rng.uniform(3, 12))
            dc.asr.sim.set_throttle_limits(ThrottleLimits())
        else:
            mode = rng.choice(["down", "auth"])
            if mode == "down":
                dc.hyperv.set_host_down(HOST)
            else:
                dc.hyperv.set_auth_failure(HOST)
            self._over.wait(rng.uniform(3, 12))
            dc.hyperv.reset_faults()

    # -- the run ------------------------------------------------------------------------

    def execute(self) -> Report:
        started = time.monotonic()
        dc = self.dc
        dc.apply(dc.vault_manifests())
        self.operator.start()
        member_set = set(self.members)
        subjects: list[Subject] = [
            VM(self, f"vm{n:02d}", random.Random(self.rng.random()))
            for n in range(self.settings.vms)
            if f"vm{n:02d}" not in member_set
        ]
        if self.members:
            subjects.append(Plan(self, "plan-chaos", random.Random(self.rng.random())))
        for subject in subjects:
            subject.start()
        chaos = [threading.Thread(target=self.killer), threading.Thread(target=self.faulter)]
        drivers = [threading.Thread(target=s.drive) for s in subjects]
        for t in chaos + drivers:
            t.start()
        for t in drivers:
            t.join()
        self._over.set()
        for t in chaos:
            t.join()
        dc.asr.clear_faults()
        dc.asr.sim.set_throttle_limits(ThrottleLimits())
        dc.hyperv.reset_faults()
        self.settle(subjects)
        self.operator.stop()
        self.check(subjects)
        self.report.seconds = time.monotonic() - started
        return self.report

    def settle(self, subjects: list[Subject]) -> None:
        """With the chaos over, every object comes to rest where its spec says, or stalls."""
        self._over.clear()
        self._ends = time.monotonic() + self.settings.rest_timeout
        for s in subjects:
            if s.stalled:
                continue
            site = s.body()["spec"].get("activeSite", "OnPremises")
            try:
                s.rest("FailedOver" if site == "Azure" else "Protected")
            except Stop:
                self.violation(f"{s.name}: did not come to rest after the run")

    def check(self, subjects: list[Subject]) -> None:
        dc = self.dc
        jobs = dc.asr.call(lambda: records(dc.asr.sim.vault.jobs.values()))
        writes = dc.asr.writes
        self.report.jobs, self.report.writes = len(jobs), len(writes)
        for s in subjects:
            status = dict(s.body().get("status") or {})
            for h in status.get("history") or []:
                s.history.setdefault(h["runId"], h)
            entries = sorted(s.history.values(), key=lambda h: str(h["startedAt"]))
            op = status.get("operation") or {}
            for finding in audit(s.name, entries, jobs, [op.get("jobName", "")]):
                self.violation(finding)
            for finding in resends(s.name, [*entries, op], writes):
                self.violation(finding)
        cancels = {k: v for k, v in dc.asr.calls.items() if "cancel" in k.lower() and v}
        if cancels:
            self.violation(f"cancels sent: {cancels}")
        self.check_secrets(subjects)

    def check_secrets(self, subjects: list[Subject]) -> None:
        sc = self.dc.scenario
        secrets = [c.secret for c in sc.credentials if c.secret]
        secrets += [u.password for site in sc.sites for h in site.hosts for u in h.users]
        needles = {s for s in secrets if s}
        needles |= {base64.b64encode(s.encode()).decode() for s in list(needles)}
        texts: list[tuple[str, str]] = []
        for path in sorted(self.operator.logdir.glob("operator-*.log")):
            texts.append((path.name, path.read_text(errors="replace")))
        core = kubernetes.client.CoreV1Api(self.dc.api_client())
        events = core.list_namespaced_event(self.dc.namespace)
        texts.append(("events", str([e.to_dict() for e in events.items])))
        texts += [(s.name, str(s.body())) for s in subjects]
        for where, text in texts:
            for needle in needles:
                if needle in text:
                    self.violation(f"a secret appears in {where}")


def run(settings: Settings, workdir: Path) -> Report:
    with SimulatedDatacenter(
        scenario(settings), workdir / "dc", time_scale=settings.time_scale, poll_interval=1
    ) as dc:
        return Run(settings, dc, workdir).execute()
