"""`asr-operator sim hyperv` as a process: serves the scenario, writes endpoints, stops on TERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from asr_operator.hyperv import HyperVGateway, WinRMConfig
from tests.component.hyperv.conftest import PASSWORD, USER, hyperv_scenario

SRC = Path(__file__).resolve().parents[3] / "operator"


def _wait_for(path: Path, proc: subprocess.Popen[bytes], deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while not (path.exists() and path.stat().st_size):
        assert proc.poll() is None, "simulator exited early"
        assert time.monotonic() < deadline, "simulator did not write its endpoints"
        time.sleep(0.02)


async def test_cli_serves_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(hyperv_scenario()), encoding="utf-8")
    endpoints, ca = tmp_path / "endpoints.json", tmp_path / "ca.pem"
    code = "import sys; from asr_operator.sim.hyperv.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    args = ["--scenario", str(scenario), "--endpoints-out", str(endpoints), "--ca-out", str(ca)]
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        _wait_for(endpoints, proc)
        urls = json.loads(endpoints.read_text(encoding="utf-8"))
        assert set(urls) == {"hv-01", "hv-02", "caPath"}
        assert urls["caPath"] == str(ca.resolve())
        port = int(urls["hv-01"].rsplit(":", 1)[1].split("/")[0])
        cfg = WinRMConfig(address="127.0.0.1", port=port, username=USER, password=PASSWORD,
                          transport="basic", ca_path=str(ca))  # fmt: skip
        assert (await HyperVGateway(cfg).get_vm("WEB01")).generation == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert b"hv-01\thttps://127.0.0.1:" in out
    assert PASSWORD.encode() not in out
