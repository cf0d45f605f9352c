"""The operator runs without the `sim` extra: its entry points import none of its libraries,
and the simulators, without them, say which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from asr_operator.cli import SIM_EXTRA_INSTALL, SIM_ONLY_MODULES

ROOT = Path(__file__).resolve().parents[2]

# What `asr-operator run` loads (controllers/run.py registers these), the people-facing
# verbs, and `asr-operator crds`.
OPERATOR_MODULES = (
    "asr_operator.cli",
    "asr_operator.controllers.run",
    "asr_operator.controllers.memory",
    "asr_operator.controllers.protectedvms",
    "asr_operator.controllers.recoveryplans",
    "asr_operator.controllers.vaults",
    "asr_operator.metrics",
    "asr_operator.commands.verbs",
    "asr_operator.commands.show",
    "asr_operator.commands.cluster",
    "asr_operator.api.crds",
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_operator_entry_points_import_no_simulator_library() -> None:
    done = _python(
        f"""
        import contextlib, importlib, io, sys
        for name in {OPERATOR_MODULES!r}:
            importlib.import_module(name)
        from asr_operator.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["crds"]) == 0
        sim_only = set({sorted(SIM_ONLY_MODULES)!r})
        print(",".join(sorted({{m.partition(".")[0] for m in sys.modules}} & sim_only)))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_simulators_without_the_extra_name_it() -> None:
    for argv in (
        ["demo"],
        ["sim", "datacenter"],
        ["sim", "asr"],
        ["sim", "hyperv"],
        ["sim", "kube"],
    ):
        done = _python(
            f"""
            import sys
            for name in {sorted(SIM_ONLY_MODULES)!r}:
                sys.modules[name] = None  # as if not installed
            from asr_operator.cli import main
            sys.exit(main({argv!r}))
            """
        )
        assert done.returncode == 2, (argv, done.stderr)
        assert SIM_EXTRA_INSTALL in done.stderr, done.stderr


def test_the_sim_extra_holds_the_simulator_libraries_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {r.partition("==")[0] for r in project["optional-dependencies"]["sim"]}
    core = {r.partition("==")[0] for r in project["dependencies"]}
    assert names == {
        "trustme",
        "jsonschema",
        "common-expression-language",
        "rich",
    }
    assert not names & core
