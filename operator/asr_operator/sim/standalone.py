"""`asr-operator sim datacenter`: the ASR and Hyper-V simulators in one process, sharing
one datacenter (a failover powers the Hyper-V VM off, as ASR does), plus the manifests
that point an operator at them. With `--kube`, the Kubernetes API stand-in as well, so
the whole recipe runs on one machine without a cluster.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import yaml

from asr_operator.sim.scenario import Scenario
from asr_operator.sim.stack import SCENARIOS, SimulatedDatacenter


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asr-operator sim datacenter", description=__doc__)
    p.add_argument(
        "--scenario",
        default=str(SCENARIOS / "demo.yaml"),
        help="scenario YAML (default: the demo's, shipped with the package)",
    )
    p.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on; the certificates and vault.yaml name it (default 127.0.0.1)",
    )
    p.add_argument("--out-dir", default="asr-sim", help="where vault.yaml (and kubeconfig) go")
    p.add_argument("--namespace", default="demo", help="namespace of the manifests")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplies task times")
    p.add_argument("--poll-interval", type=int, default=5, help="the vault's pollIntervalSeconds")
    p.add_argument("--kube", action="store_true", help="also run the Kubernetes API stand-in")
    return p


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    out = Path(args.out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    dc = SimulatedDatacenter(
        Scenario.load(args.scenario),
        out,
        namespace=args.namespace,
        time_scale=args.time_scale,
        poll_interval=args.poll_interval,
        address=args.address,
        with_kube=args.kube,
    )
    with dc:
        manifests = out / "vault.yaml"
        manifests.write_text(yaml.safe_dump_all(dc.vault_manifests(), sort_keys=False))
        print(f"ASR simulator:   {dc.asr.url}  (ARM endpoint and Entra ID authority)")
        for host in dc.hyperv.hosts:
            print(f"Hyper-V host:    {host}  {dc.hyperv.url(host)}")
        print(f"Vault manifests: {manifests}  (Secrets with the CAs, and SiteRecoveryVault)")
        kubectl = "kubectl"
        if args.kube:
            print(f"Kubernetes API:  {dc.kube.url}  (kubeconfig {dc.kubeconfig})")
            kubectl = f"KUBECONFIG={dc.kubeconfig} kubectl"
            print(
                f"Operator:        KUBECONFIG={dc.kubeconfig} asr-operator run -n {args.namespace}"
            )
        print(
            f"Then:            {kubectl} -n {args.namespace} apply -f {manifests} "
            "-f <a ProtectedVM of the scenario, e.g. deploy/examples/demo/web01.yaml>",
            flush=True,
        )
        done.wait()
    return 0
