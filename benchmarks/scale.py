"""Benchmark of the operator at scale on the simulated datacenter; prints numbers, asserts nothing.

    .venv/bin/python -m benchmarks.scale --vms 1000 --failover 1000
    .venv/bin/python -m benchmarks.scale --vms 5000 --failover 0      # idle only

The operator runs as its own process (as a Deployment runs it, at log level info); the
simulators run in this one, and the failover patches are sent from a third process, so
neither the patch loop nor the simulators share the operator's CPU budget or this
process's interpreter lock with what is measured. At the end one table gives every
figure next to its goal (DESIGN.md section 6 and the performance issue):

- idle: CPU share of one core, RSS, Kubernetes requests per minute by verb, ASR requests;
- a mass failover: first and last failover accepted by ASR after the first patch, against
  the ARM write bucket's minimum; read and write 429s; item GETs per VM; CPU seconds
  per VM; job end to status (p95) against the poll interval; RSS after it settled.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config

from asr_operator.sim.scenario import Scenario
from asr_operator.sim.stack import OperatorProcess, SimulatedDatacenter, bundled_scenario

GROUP, VERSION, PLURAL = "asr-operator.io", "v1alpha1", "protectedvms"
ARM_WRITE_BURST, ARM_WRITES_PER_S = 200, 10
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def scenario(vms: int) -> Scenario:
    base = bundled_scenario().model_dump(by_alias=True)
    host = base["sites"][0]["hosts"][0]
    host["vms"] = [
        {"name": f"vm{n:04d}", "disks": [{"path": f"C:\\VMs\\vm{n:04d}.vhdx", "os": True}]}
        for n in range(vms)
    ]
    base["plans"] = []
    base["taskSeconds"] = 1.0
    return Scenario.model_validate(base)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def _patch_all(kubeconfig: str, namespace: str, names: list[str]) -> dict[str, float]:
    """In a separate process: patch every object's spec, 32 at a time; when each was sent."""
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, client_configuration=config
    )
    config.connection_pool_maxsize = 32
    custom = kubernetes.client.CustomObjectsApi(kubernetes.client.ApiClient(config))

    def one(name: str) -> tuple[str, float]:
        sent = time.time()
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": {"activeSite": "Azure"}}
        )
        return name, sent

    with ThreadPoolExecutor(32) as pool:
        return dict(pool.map(one, names))


def _changed_keys(body: Any, prefix: str = "") -> list[str]:
    """The leaf paths a patch body sets, for the idle-write line."""
    if not isinstance(body, dict):
        return [prefix or "(body)"]
    return [k for key, v in body.items() for k in _changed_keys(v, f"{prefix}.{key}".lstrip("."))]


class Report:
    """The table printed at the end: what, goal, measured."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, what: str, goal: str, measured: str) -> None:
        self.rows.append((what, goal, measured))
        print(f"{what}: {measured} (goal: {goal})", flush=True)

    def print(self) -> None:
        print("\n| what | goal | measured |\n| --- | --- | --- |")
        for row in self.rows:
            print(f"| {' | '.join(row)} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vms", type=int, default=200)
    p.add_argument("--failover", type=int, default=50, help="how many to fail over at once")
    p.add_argument("--poll", type=int, default=30, help="vault pollIntervalSeconds")
    p.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    p.add_argument("--settle", type=float, default=60.0, help="idle seconds after the failovers")
    p.add_argument("--time-scale", type=float, default=0.05)
    args = p.parse_args()
    report = Report()
    n = args.vms

    workdir = Path(tempfile.mkdtemp(prefix="asr-bench-"))
    with SimulatedDatacenter(
        scenario(n), workdir, time_scale=args.time_scale, poll_interval=args.poll
    ) as dc:
        dc.apply(dc.vault_manifests())
        client = dc.api_client()
        custom = kubernetes.client.CustomObjectsApi(client)
        names = [f"vm{i:04d}" for i in range(n)]
        for name in names:
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                dc.namespace,
                PLURAL,
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "ProtectedVM",
                    "metadata": {"name": name, "namespace": dc.namespace},
                    "spec": {
                        "vaultRef": {"name": "vault-dr"},
                        "protectedItem": {"name": name},
                        "failover": {"commit": "Automatic"},
                    },
                },
            )
        op = OperatorProcess(dc.kubeconfig, dc.namespace, workdir, log_level="info")
        t0 = time.monotonic()
        op.start(timeout=120)
        assert op.proc is not None
        pid = op.proc.pid

        def listed() -> list[dict[str, Any]]:
            out: Any = custom.list_namespaced_custom_object(GROUP, VERSION, dc.namespace, PLURAL)
            return list(out["items"])

        def count(phase: str) -> int:
            return sum(1 for o in listed() if (o.get("status") or {}).get("phase") == phase)

        while count("Protected") < n:
            time.sleep(2)
        print(f"{n} ProtectedVMs Protected {time.monotonic() - t0:.1f}s after start", flush=True)
        # One poll interval for the start-up writes' echoes to pass, then measure.
        time.sleep(args.poll)
        asr_before = sum(v for k, v in dc.asr.calls.items() if not k.startswith("throttled"))
        kube_from = len(dc.kube.requests)
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        time.sleep(args.idle)
        idle_cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
        asr_after = sum(v for k, v in dc.asr.calls.items() if not k.startswith("throttled"))
        idle_requests = dc.kube.requests[kube_from:]
        idle_rss = rss_mb(pid)
        per_min = 60 / args.idle
        verbs = Counter(r.verb or r.method for r in idle_requests)
        writes = sum(v for k, v in verbs.items() if k in WRITE_VERBS)
        report.add(f"idle CPU, {n} ProtectedVMs", "< 2% of a core", f"{idle_cpu * 100:.1f}%")
        report.add(
            f"Kubernetes requests at idle, {n}",
            "no writes",
            f"{writes * per_min:.0f} writes/min; "
            + ", ".join(f"{k} {v * per_min:.0f}/min" for k, v in sorted(verbs.items())),
        )
        for r in idle_requests:  # a write at rest: say which object and what changed
            if (r.verb or r.method) in WRITE_VERBS:
                print(f"idle write: {r.verb} {r.path} {_changed_keys(r.body)}", flush=True)
        rss_goal = "< 150 MB" if n <= 1000 else "< 300 MB" if n <= 5000 else "-"
        report.add(f"idle RSS, {n}", rss_goal, f"{idle_rss:.0f} MB")
        report.add(
            f"ASR requests at idle, {n}",
            "one vault-wide list per poll",
            f"{(asr_after - asr_before) * per_min:.0f}/min",
        )

        chosen = names[: args.failover]
        if chosen:
            _mass_failover(args, dc, op, chosen, listed, count, report, idle_rss)
        op.stop()
        client.close()
    report.print()


def _mass_failover(
    args: argparse.Namespace,
    dc: SimulatedDatacenter,
    op: OperatorProcess,
    chosen: list[str],
    listed: Any,
    count: Any,
    report: Report,
    idle_rss: float,
) -> None:
    assert op.proc is not None
    pid = op.proc.pid
    calls_before = dict(dc.asr.calls)
    cpu_before = cpu_seconds(pid)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        patched = pool.apply(_patch_all, (str(dc.kubeconfig), dc.namespace, chosen))
    first_patch, last_patch = min(patched.values()), max(patched.values())
    print(f"{len(patched)} patches sent in {last_patch - first_patch:.1f}s", flush=True)
    # When ASR accepted each failover: the simulator's job start, by VM name.
    deadline = time.monotonic() + 900
    accepted: dict[str, float] = {}
    while len(accepted) < len(chosen) and time.monotonic() < deadline:
        for job in list(dc.asr.sim.vault.jobs.values()):
            if job.action == "plannedFailover" and job.target_object_name in patched:
                accepted.setdefault(job.target_object_name, job.start.timestamp())
        time.sleep(0.2)
    minimum = max(0, len(chosen) - ARM_WRITE_BURST) / ARM_WRITES_PER_S
    first = min(accepted.values(), default=float("nan")) - first_patch
    last = max(accepted.values(), default=float("nan")) - first_patch
    ratio = f" = {last / minimum:.2f}x" if minimum else ""
    report.add("first failover accepted after the first patch", "<= 1 s", f"{first:.2f}s")
    report.add(
        f"mass failover {len(chosen)}, last accepted vs ARM minimum {minimum:.0f}s",
        "<= 1.1x",
        f"{last:.1f}s{ratio} ({len(accepted)} accepted)",
    )
    while time.monotonic() < deadline and count("FailedOver") < len(chosen):
        time.sleep(2)
    cpu = cpu_seconds(pid) - cpu_before
    calls = {k: v - calls_before.get(k, 0) for k, v in dc.asr.calls.items()}
    lags: list[float] = []
    jobs = dc.asr.sim.vault.jobs
    for o in listed():
        for h in (o.get("status") or {}).get("history", []):
            job = jobs.get(h.get("jobName", "").lower())
            if job is not None and job.end is not None and h.get("endedAt"):
                lags.append(parse(h["endedAt"]).timestamp() - job.end.timestamp())
    report.add(
        f"job end -> status, {len(chosen)} running",
        f"p95 <= 1 poll ({args.poll}s)",
        f"p50 {pct(lags, 0.5):.1f}s, p95 {pct(lags, 0.95):.1f}s (n={len(lags)})",
    )
    report.add(
        "ASR 429s during the failovers",
        "no read 429s",
        f"reads {calls.get('throttled.reads', 0)}, writes {calls.get('throttled.writes', 0)}",
    )
    ended = sum(1 for j in jobs.values() if j.end is not None and j.target_object_name in patched)
    gets = calls.get("items.get", 0) / len(chosen)
    report.add(
        "item GETs per VM during the operation",
        "<= 1 per job end",
        f"{gets:.2f} ({ended / len(chosen):.1f} job ends per VM)",
    )
    report.add("CPU seconds per VM (failover and commit)", "-", f"{cpu / len(chosen):.3f}s")
    report.add(f"RSS after the failovers of {len(chosen)}", "-", f"{rss_mb(pid):.0f} MB")
    time.sleep(args.settle)
    report.add(
        f"RSS {args.settle:.0f}s later",
        f"within 10% of idle ({idle_rss * 1.1:.0f} MB)",
        f"{rss_mb(pid):.0f} MB",
    )


if __name__ == "__main__":
    main()
