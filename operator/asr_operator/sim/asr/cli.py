"""`asr-operator sim asr`: run the ASR simulator standalone until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from asr_operator.sim.asr.server import AsrSimulator
from asr_operator.sim.scenario import Scenario


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asr-operator sim asr", description=__doc__)
    p.add_argument("--scenario", required=True, help="scenario YAML file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplies task and RP times")
    p.add_argument("--retry-after", type=int, default=30, help="Retry-After on 202 answers")
    p.add_argument(
        "--vm-port",
        type=int,
        action="append",
        dest="vm_ports",
        help="TCP port the failed-over VMs answer on (repeatable; default 3389)",
    )
    p.add_argument("--no-throttling", action="store_true")
    p.add_argument(
        "--test-failover-succeeds",
        action="store_false",
        dest="test_failover_suspends",
        help="test failover jobs end Succeeded instead of staying Suspended until cleanup",
    )
    return p


async def _serve(args: argparse.Namespace) -> None:
    sim = AsrSimulator(
        Scenario.load(args.scenario),
        time_scale=args.time_scale,
        host=args.host,
        port=args.port,
        retry_after=args.retry_after,
        vm_ports=tuple(args.vm_ports or (3389,)),
        throttling=not args.no_throttling,
        test_failover_suspends=args.test_failover_suspends,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await sim.start()
    print(f"ASR simulator: {sim.url}  (ARM endpoint and AAD authority host)", flush=True)
    print(f"CA bundle:     {sim.ca_path}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(_serve(args))
    return 0
