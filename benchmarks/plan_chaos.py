"""Random SIGKILLs (and ASR faults) across whole RecoveryPlan lifecycles; prints what ASR
ran, asserts nothing.

    .venv/bin/python -m benchmarks.plan_chaos --cycles 6 --kill-every 4 --fault-every 5

Each cycle drives plan-web of the bundled scenario (three groups, a manual action) through
failover, manual action, commit, failback (ForDownTime, resumed), failback commit and
reverse replication, approving each gate through spec as a person would, while the
operator is killed at random moments (on average every `--kill-every` seconds) and
started again. Afterwards it counts, from the ASR simulator's own job list, how many
jobs ASR ran per operation against how many the cycles asked for: any surplus is a
double submit; and it checks that every history entry names a job of its operation.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes.client

from asr_operator.sim.asr import FaultRule
from asr_operator.sim.chaos import Settings
from asr_operator.sim.stack import OperatorProcess, SimulatedDatacenter, bundled_scenario

GROUP, VERSION, NS, PLANS = "asr-operator.io", "v1alpha1", "demo", "recoveryplans"
HOSTS = [{"vm": vm, "host": "hv-01"} for vm in ("db01", "app01", "web01")]
FAULTS = [
    ("lost202", "plans.plannedFailover"),
    ("lost202", "plans.failoverCommit"),
    ("lost202", "plans.reProtect"),
    ("lost202", "jobs.resume"),
    ("drop", "plans.plannedFailover"),
    ("drop", "plans.failoverCommit"),
    ("status", "plans.get"),
    ("status", "jobs.list"),
]
# ASR job action per operation type in the plan's history.
ACTION = {
    "Failover": "plannedFailover",
    "Commit": "failoverCommit",
    "Failback": "plannedFailover",
    "FailbackCommit": "failoverCommit",
    "ReverseReplication": "reProtect",
}


class Driver:
    def __init__(self, dc: SimulatedDatacenter) -> None:
        self.api = kubernetes.client.CustomObjectsApi(dc.api_client())

    def status(self) -> dict[str, Any]:
        body = self.api.get_namespaced_custom_object(GROUP, VERSION, NS, PLANS, "plan-web")
        return dict(body.get("status") or {})

    def patch(self, spec: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(
            GROUP, VERSION, NS, PLANS, "plan-web", {"spec": spec}
        )

    def drive_to(self, site: str, phase: str, deadline: float) -> None:
        """Approve whatever gate shows until the plan rests in `phase` at `site`."""
        self.patch({"activeSite": site})
        while time.monotonic() < deadline:
            try:
                s = self.status()
            except kubernetes.client.ApiException:
                time.sleep(0.5)
                continue
            gate = s.get("awaitingApproval") or {}
            if gate.get("token"):
                self.patch({"approve": gate["token"]})
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions", [])
            )
            if ready and s.get("phase") == phase and s.get("activeSite") == site:
                return
            time.sleep(0.2)
        raise TimeoutError(f"plan-web did not reach {phase} at {site}: {self.status()}")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--cycles", type=int, default=6)
    args.add_argument("--kill-every", type=float, default=4.0, help="mean seconds between kills")
    args.add_argument("--time-scale", type=float, default=0.3)
    args.add_argument("--seed", type=int, default=1)
    args.add_argument(
        "--fault-every",
        type=float,
        default=0.0,
        help="mean seconds between injected ASR faults (0: none): a lost 202 after ASR took "
        "the action, a dropped connection before it did, a 503 on a read",
    )
    opts = args.parse_args()
    rng = random.Random(opts.seed)
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimulatedDatacenter(
            bundled_scenario(), Path(tmp) / "dc", time_scale=opts.time_scale, poll_interval=1
        ) as dc,
    ):
        dc.apply(dc.vault_manifests())
        state = dc.datacenter.vm_on_host("hv-01", "db01")
        assert state is not None
        with dc.datacenter.lock:
            state.checkpoints.clear()
        # The chaos benchmark's short request lifetime: with the default 5 minutes, every
        # kill between an intent and its answer held the plan that long.
        operator = OperatorProcess(dc.kubeconfig, NS, Path(tmp), Settings().operator_flags())
        operator.start()
        driver = Driver(dc)
        driver.api.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            PLANS,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "RecoveryPlan",
                "metadata": {"name": "plan-web", "namespace": NS},
                "spec": {"vaultRef": {"name": "vault-dr"}, "planName": "plan-web", "hyperV": HOSTS},
            },
        )
        kills = 0
        done = threading.Event()
        lock = threading.Lock()

        def killer() -> None:
            nonlocal kills
            while not done.wait(rng.expovariate(1 / opts.kill_every)):
                with lock:
                    operator.kill()
                    kills += 1
                    operator.start()

        faults: Counter[str] = Counter()

        def injector() -> None:
            while opts.fault_every and not done.wait(rng.expovariate(1 / opts.fault_every)):
                kind, operation = rng.choice(FAULTS)
                # One pending fault at a time: unfired rules would pile up on a rare call
                # and fail every retry of it, which is an outage, not a fault.
                dc.asr.clear_faults()
                dc.asr.inject(FaultRule(kind=kind, operation=operation, status=503))
                faults[f"{kind} {operation}"] += 1

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        faulter = threading.Thread(target=injector, daemon=True)
        faulter.start()
        started = time.monotonic()
        history: list[dict[str, Any]] = []
        for _ in range(opts.cycles):
            driver.drive_to("Azure", "FailedOver", time.monotonic() + 300)
            history.extend(driver.status().get("history", [])[:2])
            driver.drive_to("OnPremises", "Protected", time.monotonic() + 300)
            history.extend(driver.status().get("history", [])[:3])
        done.set()
        thread.join()
        faulter.join()
        with lock:
            operator.stop()
        took = time.monotonic() - started
        jobs = dc.asr.call(
            lambda: [
                (j.name, j.action, j.state)
                for j in dc.asr.sim.vault.jobs.values()
                if j.target_object_name == "plan-web"
            ]
        )
        ran = Counter(action for _, action, state in jobs if state == "Succeeded")
        wanted = Counter({"plannedFailover": 2, "failoverCommit": 2, "reProtect": 1})
        wanted = Counter({k: v * opts.cycles for k, v in wanted.items()})
        by_name = {name: action for name, action, _ in jobs}
        mismatched = [
            h for h in history if by_name.get(h.get("jobName", "")) != ACTION.get(h["type"])
        ]
        calls = {k: v for k, v in dc.asr.calls.items() if k.startswith(("plans.", "jobs.resume"))}
        print(f"cycles {opts.cycles}, kills {kills}, faults {sum(faults.values())}, {took:.0f}s")
        if faults:
            print(f"faults: {dict(faults)}")
        print(f"ASR plan jobs succeeded: {dict(ran)} (asked for {dict(wanted)})")
        print(f"ASR plan calls: {calls}")
        print(f"history entries naming another operation's job: {len(mismatched)}")
        for h in mismatched[:5]:
            print("  ", h)


if __name__ == "__main__":
    main()
