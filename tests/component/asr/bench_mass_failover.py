"""Benchmark: a mass failover through the gateway's pacing (not part of pytest).

Run: .venv/bin/python -m tests.component.asr.bench_mass_failover [N] [refill-per-second]
N planned failovers start at once; the simulator throttles writes at ARM's burst
(200) with the given refill (default 100/s, ten times ARM's 10/s, to keep the run
short; the ratio is what DESIGN.md's goal is about). Prints the time until every
failover was accepted, the theoretical minimum, and the 429s seen.
"""

from __future__ import annotations

import asyncio
import sys
import time

from asr_operator.azure import AsrGateway
from asr_operator.sim.asr import AsrSimulatorThread, BucketSpec, ThrottleLimits
from tests.component.asr.conftest import make_config, make_scenario

BURST = 200


async def mass_failover(sim: AsrSimulatorThread, n: int, refill: float) -> tuple[float, int]:
    config = make_config(
        sim, write_pace=(BURST * 0.95, refill * 0.95), throttle_retries=3, read_timeout=60
    )
    async with AsrGateway(config) as gw:
        items = [i for i in await gw.list_items() if i.friendly_name.startswith("vm")][:n]
        sim.sim.set_throttle_limits(ThrottleLimits(writes=BucketSpec(BURST, refill)))
        t = time.perf_counter()
        jobs = await asyncio.gather(*(gw.start_planned_failover(i) for i in items))
        elapsed = time.perf_counter() - t
        assert len(set(jobs)) == n
        resent = gw.pacing.throttled_responses
    return elapsed, resent


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 1000
    refill = float(argv[1]) if len(argv) > 1 else 100.0
    scenario = make_scenario(vm_count=n, task_seconds=3600)
    with AsrSimulatorThread(scenario) as sim:
        elapsed, throttled = asyncio.run(mass_failover(sim, n, refill))
    minimum = max(0.0, (n - BURST) / refill)
    print(f"failovers: {n}   write limit: {BURST} burst, {refill:g}/s refill")
    ratio = elapsed / minimum if minimum else float("nan")
    print(f"all accepted after {elapsed:.2f} s; minimum {minimum:.2f} s; ratio {ratio:.3f}")
    print(f"429 answers (re-sent after Retry-After): {throttled}; failovers lost: 0")


if __name__ == "__main__":
    main(sys.argv[1:])
