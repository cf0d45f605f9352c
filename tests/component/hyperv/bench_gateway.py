"""Benchmark (prints numbers, asserts nothing): gateway call latency against the simulator.

Run: .venv/bin/python -m tests.component.hyperv.bench_gateway [calls]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from asr_operator.sim.datacenter import Datacenter
from asr_operator.sim.hyperv import HyperVSimulator
from asr_operator.sim.scenario import Scenario
from tests.component.hyperv.conftest import TRANSPORTS, hyperv_scenario, make_gateway


async def _bench(calls: int) -> None:
    dc = Datacenter.from_scenario(Scenario.model_validate(hyperv_scenario()))
    print(f"{'transport':<18} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'x8 conc. calls/s':>17}")
    for t in TRANSPORTS:
        with HyperVSimulator(dc, tls=t.tls) as sim:
            gw = make_gateway(sim, transport=t.transport, max_concurrency=8)
            await gw.get_vm("WEB01")  # warm-up
            samples = []
            for _ in range(calls):
                start = time.perf_counter()
                await gw.get_vm("WEB01")
                samples.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            await asyncio.gather(*(gw.get_vm("WEB01") for _ in range(calls)))
            rate = calls / (time.perf_counter() - start)
        samples.sort()
        p95 = samples[int(0.95 * (len(samples) - 1))]
        print(
            f"{t.id:<18} {statistics.median(samples):7.1f} {p95:7.1f} {samples[-1]:7.1f}"
            f" {rate:17.0f}"
        )


if __name__ == "__main__":
    asyncio.run(_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
