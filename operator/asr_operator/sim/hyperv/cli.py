"""`asr-operator sim hyperv`: serve a scenario's Hyper-V hosts over WinRM until interrupted."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from asr_operator.sim.datacenter import Datacenter
from asr_operator.sim.hyperv.server import HyperVSimulator
from asr_operator.sim.scenario import Scenario


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asr-operator sim hyperv",
        description="Simulated Hyper-V hosts behind WinRM: one port per host of the scenario.",
    )
    p.add_argument("--scenario", required=True, help="scenario YAML (hosts, users, VMs)")
    p.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--http", action="store_true", help="plain http with NTLM sealing (no TLS)")
    p.add_argument(
        "--allow-unencrypted",
        action="store_true",
        help="accept basic auth and unsealed NTLM over http (WinRM AllowUnencrypted=true)",
    )
    p.add_argument("--ca-out", help="copy the CA certificate (PEM) that signs the listeners here")
    p.add_argument("--endpoints-out", help="write {host: url, ..., caPath} as JSON here")
    return p


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    datacenter = Datacenter.from_scenario(Scenario.load(args.scenario))
    sim = HyperVSimulator(
        datacenter,
        tls=not args.http,
        address=args.address,
        allow_unencrypted=args.allow_unencrypted,
    )
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    with sim:
        ca_path = sim.ca_path
        if args.ca_out and ca_path:
            shutil.copyfile(ca_path, args.ca_out)
            ca_path = str(Path(args.ca_out).resolve())
        endpoints: dict[str, str | None] = {h: sim.url(h) for h in sim.hosts}
        for host, url in endpoints.items():
            print(f"{host}\t{url}", flush=True)
        if ca_path:
            print(f"CA certificate: {ca_path}", flush=True)
        if args.endpoints_out:
            endpoints["caPath"] = ca_path
            Path(args.endpoints_out).write_text(json.dumps(endpoints, indent=2), encoding="utf-8")
        print("Serving; Ctrl-C to stop.", file=sys.stderr, flush=True)
        done.wait()
    return 0
