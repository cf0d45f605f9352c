"""Benchmark: what one poll of N running ASR jobs costs (not part of pytest).

Run: .venv/bin/python -m tests.component.asr.bench_poll_cost [N ...]
Prints ARM requests and wall time per `AsrGateway.poll_jobs` call, next to the
naive one-GET-per-job cost, for N jobs running in one vault.
"""

from __future__ import annotations

import asyncio
import sys
import time

from asr_operator.azure import AsrGateway
from asr_operator.sim.asr import AsrSimulatorThread
from tests.component.asr.conftest import make_config, make_scenario


async def measure(sim: AsrSimulatorThread, n: int) -> tuple[int, float, int, float]:
    async with AsrGateway(make_config(sim)) as gw:
        items = [i for i in await gw.list_items() if i.friendly_name.startswith("vm")][:n]
        names = [await gw.start_test_failover(i, "") for i in items]
        before = sum(sim.calls.values())
        t = time.perf_counter()
        polled = await gw.poll_jobs(names)
        poll_s = time.perf_counter() - t
        poll_requests = sum(sim.calls.values()) - before
        assert len(polled) == n and all(not j.state.terminal for j in polled.values())
        before = sum(sim.calls.values())
        t = time.perf_counter()
        for name in names:
            await gw.get_job(name)
        naive_s = time.perf_counter() - t
        naive_requests = sum(sim.calls.values()) - before
        return poll_requests, poll_s, naive_requests, naive_s


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [1, 10, 100, 500]
    print(f"{'jobs':>6} {'poll req':>9} {'poll ms':>8} {'naive req':>10} {'naive ms':>9}")
    for n in sizes:
        # Jobs stay running: each task takes an hour of simulated time.
        scenario = make_scenario(vm_count=n, task_seconds=3600)
        with AsrSimulatorThread(scenario, throttling=False) as sim:
            req, secs, naive_req, naive_secs = asyncio.run(measure(sim, n))
        print(f"{n:>6} {req:>9} {secs * 1000:>8.1f} {naive_req:>10} {naive_secs * 1000:>9.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
