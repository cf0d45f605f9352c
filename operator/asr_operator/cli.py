"""The `asr-operator` command: run the operator, print CRDs, run simulators, run the demo."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

# Sub-commands whose implementation lives elsewhere: name -> module with main(argv) -> int.
_DELEGATED = {
    ("sim", "asr"): "asr_operator.sim.asr.cli",
    ("sim", "hyperv"): "asr_operator.sim.hyperv.cli",
    ("sim", "kube"): "asr_operator.sim.kube.cli",
}
_TOP_DELEGATED = {
    "run": "asr_operator.controllers.run",
    "demo": "asr_operator.sim.demo",
}


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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _TOP_DELEGATED:
        return int(importlib.import_module(_TOP_DELEGATED[argv[0]]).main(argv[1:]))
    if len(argv) >= 2 and (argv[0], argv[1]) in _DELEGATED:
        return int(importlib.import_module(_DELEGATED[(argv[0], argv[1])]).main(argv[2:]))

    parser = argparse.ArgumentParser(prog="asr-operator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_crds = sub.add_parser("crds", help="print the CustomResourceDefinitions")
    p_crds.add_argument("--output-dir", help="write one file per CRD here instead of printing")
    p_crds.set_defaults(func=_crds)
    sub.add_parser("run", help="run the operator (see asr-operator run --help)")
    sub.add_parser("demo", help="run the simulated datacenter demo")
    p_sim = sub.add_parser("sim", help="run one simulator standalone")
    p_sim.add_argument("which", choices=["asr", "hyperv", "kube"])
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
