"""The `asr-operator` command: run the operator, print CRDs, run simulators, run the demo,
and the verbs a person uses on ProtectedVMs and RecoveryPlans (status, approve, failover,
failback, drill, points). Installed as `kubectl-asr` too, it is the `kubectl asr` plugin."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from asr_operator import __version__

# Sub-commands whose implementation lives elsewhere: name -> module with main(argv) -> int.
_DELEGATED = {
    ("sim", "asr"): "asr_operator.sim.asr.cli",
    ("sim", "hyperv"): "asr_operator.sim.hyperv.cli",
    ("sim", "kube"): "asr_operator.sim.kube.cli",
    ("sim", "datacenter"): "asr_operator.sim.standalone",
}
_TOP_DELEGATED = {
    "run": "asr_operator.controllers.run",
    "demo": "asr_operator.sim.demo",
}
# The top-level modules of the `sim` extra (pyproject.toml): the simulators import them,
# the operator never does, and its container image does not carry them.
SIM_ONLY_MODULES = frozenset({"trustme", "jsonschema", "cel", "rich"})
SIM_EXTRA_INSTALL = "pip install 'asr-operator[sim]'"


def _delegate(module: str, argv: Sequence[str]) -> int:
    """Run a sub-command's module; a simulator without the `sim` extra says how to add it."""
    try:
        entry = importlib.import_module(module)
    except ModuleNotFoundError as e:
        missing = (e.name or "").partition(".")[0]
        if missing not in SIM_ONLY_MODULES:
            raise
        sys.stderr.write(
            f"error: the simulators need the 'sim' extra, which is not installed "
            f"(no module {missing!r}): {SIM_EXTRA_INSTALL}\n"
        )
        return 2
    return int(entry.main(list(argv)))


def _crds(args: argparse.Namespace) -> int:
    from asr_operator.api import crds

    if args.output_dir is None:
        sys.stdout.write(crds.render_all())
        return 0
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for resource in crds.RESOURCES:
        (out / resource.file_name).write_text(crds.render(resource), encoding="utf-8")
    return 0


def _verbs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The people-facing verbs; their logic lives in asr_operator.commands."""
    cluster = argparse.ArgumentParser(add_help=False)
    group = cluster.add_argument_group("cluster (as kubectl)")
    group.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    group.add_argument("--context", help="kubeconfig context (default: the current one)")
    group.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    follow = argparse.ArgumentParser(add_help=False)
    follow.add_argument(
        "--wait",
        action="store_true",
        help="follow until Ready, Stalled (exit 1) or an approval gate (exit 0)",
    )
    follow.add_argument("--timeout", type=float, default=3600.0, help="seconds (exit 2)")
    ref = "NAME, or protectedvm/NAME, recoveryplan/NAME"

    p = sub.add_parser("status", parents=[cluster], help="what is desired, runs and waits")
    p.add_argument("name", nargs="?", metavar="NAME", help=ref + " (default: all)")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p = sub.add_parser(
        "approve", parents=[cluster, follow], help="set spec.approve to the token now waiting"
    )
    p.add_argument("name", metavar="NAME", help=ref)
    p = sub.add_parser("failover", parents=[cluster, follow], help="fail over to Azure")
    p.add_argument("name", metavar="NAME", help=ref)
    p.add_argument(
        "--recovery-point",
        help="Latest, LatestProcessed, LatestApplicationConsistent or a recovery point's name",
    )
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--planned", dest="type", action="store_const", const="Planned")
    kind.add_argument("--unplanned", dest="type", action="store_const", const="Unplanned")
    p = sub.add_parser("failback", parents=[cluster, follow], help="fail back to on-premises")
    p.add_argument("name", metavar="NAME", help=ref)
    p.add_argument(
        "--data-sync",
        choices=["BeforeFailover", "DuringFailover"],
        help="ForDownTime (BeforeFailover) or ForSynchronization (DuringFailover)",
    )
    p = sub.add_parser("drill", parents=[cluster, follow], help="start a test failover")
    p.add_argument("name", metavar="NAME", help=ref)
    p.add_argument("--request-id", help="names the drill (default: drill-<UTC time>)")
    p.add_argument("--network-id", help="isolated virtual network (default: the spec's)")
    p.add_argument("--cleanup-after", help="e.g. 2h (default: the spec's)")
    p.add_argument("--recovery-point", help="default: the spec's")
    p = sub.add_parser("points", parents=[cluster], help="retained recovery points, newest first")
    p.add_argument("name", metavar="NAME", help=ref)
    p.add_argument(
        "--no-refresh",
        dest="refresh",
        action="store_false",
        help="show what status last listed; do not ask the operator to list them now",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the list")


def _run_verb(args: argparse.Namespace, prog: str) -> int:
    from asr_operator.commands import verbs
    from asr_operator.commands.cluster import Cluster, CommandError

    out, err = sys.stdout, sys.stderr
    try:
        cluster = Cluster(args.kubeconfig, args.context, args.namespace)
        if args.command == "status":
            return verbs.status(cluster, args.name, args.all_namespaces, out, prog)
        if args.command == "points":
            return verbs.points(cluster, args.name, out, err, args.refresh, args.timeout)
        if args.command == "approve":
            code, kind, obj = verbs.approve(cluster, args.name, out, err)
            if code != verbs.OK or not args.wait:
                return code
        elif args.command == "failover":
            kind, obj = verbs.failover(
                cluster, args.name, args.recovery_point, args.type, out, prog
            )
        elif args.command == "failback":
            kind, obj = verbs.failback(cluster, args.name, args.data_sync, out, prog)
        else:
            kind, obj = verbs.drill(
                cluster,
                args.name,
                args.request_id,
                args.network_id,
                args.cleanup_after,
                args.recovery_point,
                out,
                prog,
            )
        if not args.wait:
            return verbs.OK
        return verbs.follow(cluster, kind, obj, out, prog, args.timeout)
    except CommandError as e:
        err.write(f"error: {e}\n")
        return verbs.REFUSED


_VERBS = ("status", "approve", "failover", "failback", "drill", "points")


def kubectl_plugin() -> int:
    """`kubectl asr ...`: kubectl runs the `kubectl-asr` executable found on PATH."""
    return main(prog="kubectl asr")


def main(argv: Sequence[str] | None = None, prog: str = "asr-operator") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _TOP_DELEGATED:
        return _delegate(_TOP_DELEGATED[argv[0]], argv[1:])
    if len(argv) >= 2 and (argv[0], argv[1]) in _DELEGATED:
        return _delegate(_DELEGATED[(argv[0], argv[1])], argv[2:])

    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _verbs(sub)
    p_crds = sub.add_parser("crds", help="print the CustomResourceDefinitions")
    p_crds.add_argument("--output-dir", help="write one file per CRD here instead of printing")
    p_crds.set_defaults(func=_crds)
    sub.add_parser("run", help="run the operator (see asr-operator run --help)")
    sub.add_parser("demo", help="run the simulated datacenter demo")
    p_sim = sub.add_parser("sim", help="run one simulator standalone")
    p_sim.add_argument("which", choices=["datacenter", "asr", "hyperv", "kube"])
    args = parser.parse_args(argv)
    if args.command in _VERBS:
        return _run_verb(args, prog)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
