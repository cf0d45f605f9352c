"""`asr-operator sim asr` runs standalone from a scenario file until SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.component.asr.conftest import make_scenario


def test_sim_asr_cli_serves_until_terminated(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(make_scenario().model_dump(by_alias=True)))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from asr_operator.sim.asr.cli import main; sys.exit(main(sys.argv[1:]))",
            "--scenario",
            str(scenario),
            "--time-scale",
            "0.5",
            "--retry-after",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url_line = proc.stdout.readline()
        ca_line = proc.stdout.readline()
        assert url_line.startswith("ASR simulator: https://127.0.0.1:")
        assert Path(ca_line.split(":", 1)[1].strip()).is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
