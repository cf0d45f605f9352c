"""Benchmark of the operator at scale on the simulated datacenter; prints numbers, asserts nothing.

    .venv/bin/python -m benchmarks.scale --vms 1000 --failover 1000

Measures (DESIGN.md section 6):
- operator RSS with N idle ProtectedVMs, and ASR reads per minute while idle;
- spec change to first ASR call: from the patch to the ASR simulator accepting the job;
- job end to status update: ASR job endTime to the history entry's endedAt;
- a mass failover: how long until every failover was issued, and 429s seen.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes.client

from asr_operator.sim.scenario import Scenario
from asr_operator.sim.stack import OperatorProcess, SimulatedDatacenter, bundled_scenario

GROUP, VERSION, PLURAL = "asr-operator.io", "v1alpha1", "protectedvms"


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


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vms", type=int, default=200)
    p.add_argument("--failover", type=int, default=50, help="how many to fail over at once")
    p.add_argument("--poll", type=int, default=30, help="vault pollIntervalSeconds")
    p.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    p.add_argument("--time-scale", type=float, default=0.05)
    args = p.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="asr-bench-"))
    with SimulatedDatacenter(
        scenario(args.vms), workdir, time_scale=args.time_scale, poll_interval=args.poll
    ) as dc:
        dc.apply(dc.vault_manifests())
        client = dc.api_client()
        custom = kubernetes.client.CustomObjectsApi(client)
        names = [f"vm{n:04d}" for n in range(args.vms)]
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
        op = OperatorProcess(dc.kubeconfig, dc.namespace, workdir)
        t0 = time.monotonic()
        op.start(timeout=120)
        assert op.proc is not None

        def listed() -> list[dict[str, Any]]:
            out: Any = custom.list_namespaced_custom_object(GROUP, VERSION, dc.namespace, PLURAL)
            return list(out["items"])

        while sum(1 for o in listed() if (o.get("status") or {}).get("phase") == "Protected") < len(
            names
        ):
            time.sleep(1)
        print(f"{args.vms} ProtectedVMs Protected {time.monotonic() - t0:.1f}s after start")
        calls_before = sum(v for k, v in dc.asr.calls.items() if not k.startswith("throttled"))
        time.sleep(args.idle)
        calls_after = sum(v for k, v in dc.asr.calls.items() if not k.startswith("throttled"))
        per_min = (calls_after - calls_before) * 60 / args.idle
        print(f"idle: operator RSS {rss_mb(op.proc.pid):.0f} MB; ASR requests {per_min:.0f}/min")

        chosen = names[: args.failover]
        patched: dict[str, float] = {}
        start = time.time()
        for name in chosen:
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, dc.namespace, PLURAL, name, {"spec": {"activeSite": "Azure"}}
            )
            patched[name] = time.time()
        # When ASR accepted each failover: the simulator's job start, by VM name.
        deadline = time.monotonic() + 900
        accepted: dict[str, float] = {}
        while len(accepted) < len(chosen) and time.monotonic() < deadline:
            for job in list(dc.asr.sim.vault.jobs.values()):
                if job.action == "plannedFailover" and job.target_object_name in patched:
                    accepted.setdefault(job.target_object_name, job.start.timestamp())
            time.sleep(0.5)
        lat = [accepted[n] - patched[n] for n in accepted]
        print(
            f"spec change -> failover accepted by ASR: n={len(lat)} p50 {pct(lat, 0.5):.2f}s "
            f"p95 {pct(lat, 0.95):.2f}s max {max(lat, default=float('nan')):.2f}s"
        )
        last = max(accepted.values(), default=start)
        print(
            f"mass failover of {len(chosen)}: last accepted {last - start:.1f}s after the first "
            f"patch; throttled writes {dc.asr.calls.get('throttled.writes', 0)}, "
            f"reads {dc.asr.calls.get('throttled.reads', 0)}; "
            f"failover calls {dc.asr.calls.get('items.plannedFailover', 0)}"
        )
        while time.monotonic() < deadline:
            done = [o for o in listed() if (o.get("status") or {}).get("phase") == "FailedOver"]
            if len(done) >= len(chosen):
                break
            time.sleep(1)
        lags: list[float] = []
        jobs = dc.asr.sim.vault.jobs
        for o in listed():
            for h in (o.get("status") or {}).get("history", []):
                job = jobs.get(h.get("jobName", "").lower())
                if job is not None and job.end is not None:
                    lags.append(parse(h["endedAt"]).timestamp() - job.end.timestamp())
        print(
            f"job end -> status: n={len(lags)} p50 {pct(lags, 0.5):.2f}s "
            f"p95 {pct(lags, 0.95):.2f}s (poll interval {args.poll}s)"
        )
        print(f"operator RSS after the failovers {rss_mb(op.proc.pid):.0f} MB")
        op.stop()
        client.close()


if __name__ == "__main__":
    main()
