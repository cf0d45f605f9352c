"""Chaos run: objects through random lifecycles, the operator killed, ASR failing; prints
what it found (see asr_operator/sim/chaos.py for what is checked).

    .venv/bin/python -m benchmarks.chaos --lifecycles 500 --seed 1

Exit status 1 when there is any violation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from asr_operator.sim.chaos import Settings, run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    d = Settings()
    p.add_argument("--vms", type=int, default=d.vms)
    p.add_argument("--plan-members", type=int, default=d.plan_members)
    p.add_argument("--lifecycles", type=int, default=d.lifecycles)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--kill-every", type=float, default=d.kill_every)
    p.add_argument("--fault-every", type=float, default=d.fault_every)
    p.add_argument("--time-scale", type=float, default=d.time_scale)
    p.add_argument("--deadline", type=float, default=d.deadline)
    p.add_argument("--keep", help="keep the work directory (logs) here")
    a = p.parse_args()
    settings = Settings(
        vms=a.vms,
        plan_members=a.plan_members,
        lifecycles=a.lifecycles,
        seed=a.seed,
        kill_every=a.kill_every,
        fault_every=a.fault_every,
        time_scale=a.time_scale,
        deadline=a.deadline,
    )
    if a.keep:
        report = run(settings, Path(a.keep))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(settings, Path(tmp))
    print("\n".join(report.lines()))
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
