"""What an on-call engineer sees with the real `kubectl` against the API stand-in: the
printer columns of `kubectl get protectedvms`, and `kubectl wait --for=condition=Ready`.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from asr_operator.sim.stack import SimulatedDatacenter
from tests.e2e.conftest import NS, Cluster, Operator

KUBECTL = Path("/usr/bin/kubectl")
COLUMNS = ["NAME", "DESIRED", "ACTIVE", "PHASE", "READY", "JOB", "RPO", "AGE"]

pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl is not installed")


def _kubectl(dc: SimulatedDatacenter, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, KUBECONFIG=str(dc.kubeconfig))
    return subprocess.Popen(
        [str(KUBECTL), "-n", NS, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(dc: SimulatedDatacenter, *args: str, timeout: float = 30) -> tuple[int, str, str]:
    proc = _kubectl(dc, *args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _table(text: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Parse kubectl's aligned table by the header's column offsets (cells may hold spaces)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        cells = [
            line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line) + 1], strict=True)
        ]
        rows[cells[0]] = dict(zip(names, cells, strict=True))
    return names, rows


def _get(dc: SimulatedDatacenter) -> tuple[list[str], dict[str, dict[str, str]]]:
    code, out, err = _run(dc, "get", "protectedvms")
    assert code == 0, err
    return _table(out)


def test_kubectl_get_shows_printer_columns_and_wait_for_ready_after_failover(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    cluster.create_pvm("app01")
    cluster.create_pvm("web01", activeSite="Azure", failover={"commit": "Automatic"})
    waiter = _kubectl(dc, "wait", "--for=condition=Ready", "protectedvm/web01", "--timeout=60s")
    out, err = waiter.communicate(timeout=70)
    assert waiter.returncode == 0, err
    assert "protectedvm.asr-operator.io/web01 condition met" in out
    status: dict[str, Any] = cluster.status("web01")
    assert status["phase"] == "FailedOver"  # Ready only once the failover is committed
    assert [h["type"] for h in status["history"]] == ["Commit", "Failover"]

    cluster.wait_ready("app01")
    names, rows = _get(dc)
    assert names == COLUMNS
    web, app = rows["web01"], rows["app01"]
    assert (web["DESIRED"], web["ACTIVE"], web["PHASE"], web["READY"]) == (
        "Azure",
        "Azure",
        "FailedOver",
        "True",
    )
    assert (app["DESIRED"], app["ACTIVE"], app["PHASE"], app["READY"]) == (
        "OnPremises",
        "OnPremises",
        "Protected",
        "True",
    )
    assert app["RPO"].isdigit()  # replicating: ASR reports an RPO
    assert web["JOB"] == "" and app["JOB"] == ""
    assert re.fullmatch(r"\d+s", web["AGE"]) and re.fullmatch(r"\d+s", app["AGE"])

    # Ready already holds: kubectl wait returns at once.
    code, out, err = _run(dc, "wait", "--for=condition=Ready", "protectedvm/web01", "--timeout=60s")
    assert code == 0 and "condition met" in out, err

    # The ForDownTime failback job waits for approval: the JOB column shows it.
    cluster.patch_spec("web01", {"activeSite": "OnPremises"})
    cluster.wait_for(
        "web01",
        lambda s: (s.get("awaitingApproval") or {}).get("action") == "CompleteFailback",
        what="the suspended failback",
    )
    _, rows = _get(dc)
    web = rows["web01"]
    assert (web["DESIRED"], web["ACTIVE"], web["PHASE"], web["READY"]) == (
        "OnPremises",
        "Azure",
        "FailingBack",
        "False",
    )
    assert re.fullmatch(r"Failback \d+/\d+ .+", web["JOB"]), web["JOB"]
    code, _, err = _run(dc, "wait", "--for=condition=Ready", "protectedvm/web01", "--timeout=1s")
    assert code != 0 and "timed out" in err

    # Short name and the wide view work too; REASON says what each object does now.
    code, out, err = _run(dc, "get", "pvm", "-o", "wide")
    assert code == 0, err
    names, rows = _table(out)
    assert names == [*COLUMNS, "REASON"]
    assert rows["web01"]["REASON"] == "FailbackCompletionApproval"
    assert rows["app01"]["REASON"] == "Reconciled"


def test_kubectl_get_rplan_shows_phase_job_and_progress(
    cluster: Cluster, operator: Operator
) -> None:
    dc = operator.dc
    state = dc.datacenter.vm_on_host("hv-01", "db01")
    assert state is not None
    with dc.datacenter.lock:
        state.checkpoints.clear()
    plans = cluster.of("recoveryplans")
    plans.create(
        "RecoveryPlan",
        "plan-web",
        {"vaultRef": {"name": "vault-dr"}, "planName": "plan-web", "activeSite": "Azure"},
    )
    gate = plans.wait_for(
        "plan-web",
        lambda s: (s.get("awaitingApproval") or {}).get("action") == "ManualAction",
        what="the manual action",
    )
    code, out, err = _run(dc, "get", "rplan")
    assert code == 0, err
    names, rows = _table(out)
    assert names == ["NAME", "DESIRED", "ACTIVE", "PHASE", "READY", "JOB", "PROGRESS", "VMS", "AGE"]
    plan = rows["plan-web"]
    assert (plan["DESIRED"], plan["PHASE"], plan["READY"], plan["VMS"]) == (
        "Azure",
        "FailingOver",
        "False",
        "3",
    )
    assert plan["JOB"] == "Failover Suspended"
    assert plan["PROGRESS"] == "Boot 3: waiting at manual action 'confirm-dns'."
    plans.patch_spec("plan-web", {"approve": gate["awaitingApproval"]["token"]})
    commit = plans.wait_for(
        "plan-web",
        lambda s: (s.get("awaitingApproval") or {}).get("action") == "Commit",
        what="the commit gate",
    )
    plans.patch_spec("plan-web", {"approve": commit["awaitingApproval"]["token"]})
    code, out, err = _run(
        dc, "wait", "--for=condition=Ready", "recoveryplan/plan-web", "--timeout=60s", timeout=70
    )
    assert code == 0 and "condition met" in out, err
