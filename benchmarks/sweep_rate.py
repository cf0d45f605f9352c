"""When the resting objects' sweep lists the vault's items; prints times, asserts nothing.

    .venv/bin/python -m benchmarks.sweep_rate --vms 150 --poll 30 --watch 125

Creates the ProtectedVMs, starts the operator as its own process, waits until all are
Protected and then prints, for each vault-wide item list the simulator served (its first
page), the seconds since the operator started.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import kubernetes.client

from asr_operator.sim.stack import OperatorProcess, SimulatedDatacenter
from benchmarks.scale import GROUP, PLURAL, VERSION, scenario


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vms", type=int, default=150)
    p.add_argument("--poll", type=int, default=30)
    p.add_argument("--watch", type=float, default=125.0, help="seconds to watch after start")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="asr-sweep-"))
    with SimulatedDatacenter(
        scenario(args.vms), workdir, time_scale=0.05, poll_interval=args.poll
    ) as dc:
        dc.apply(dc.vault_manifests())
        custom = kubernetes.client.CustomObjectsApi(dc.api_client())
        for n in range(args.vms):
            name = f"vm{n:04d}"
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "ProtectedVM",
                "metadata": {"name": name, "namespace": dc.namespace},
                "spec": {"vaultRef": {"name": "vault-dr"}, "protectedItem": {"name": name}},
            }
            custom.create_namespaced_custom_object(GROUP, VERSION, dc.namespace, PLURAL, body)
        op = OperatorProcess(dc.kubeconfig, dc.namespace, workdir, log_level="info")
        started = time.monotonic()
        op.start(timeout=120)
        pages = max(1, -(-args.vms // 100))  # 100 items per page
        lists: list[float] = []
        seen = 0
        while time.monotonic() - started < args.watch:
            served = dc.asr.calls.get("items.list", 0)
            while served >= seen + pages:  # a whole list more than before
                seen += pages
                lists.append(time.monotonic() - started)
            time.sleep(0.05)
        op.stop()
    print(f"{args.vms} VMs, poll {args.poll} s: lists at " + ", ".join(f"{t:.1f}" for t in lists))


if __name__ == "__main__":
    main()
