"""What one `kubectl describe` answers before anyone asks for a failover: the VM's disks,
each pre-check with the value seen, and the retained recovery points on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr_operator.api.operation import REFRESH_ANNOTATION
from asr_operator.cli import main
from tests.e2e.conftest import NS, Cluster, Operator
from tests.e2e.test_recoveryplan import remove_checkpoints

GONE = "0689d0d0-3518-4793-8c98-c26bf94526ff"  # a point name ASR never retained


def test_disks_prechecks_and_points_in_status(
    cluster: Cluster, operator: Operator, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.create_pvm("db01")  # the bundled scenario gives db01 a checkpoint
    status = cluster.wait_for(
        "db01", lambda s: s.get("prechecks") and s.get("disks"), what="pre-checks and disks"
    )
    checks = status["prechecks"]
    assert checks["vm"] == "hv-01/db01" and not checks["passed"]
    failed = [r for r in checks["results"] if not r["passed"]]
    assert [r["rule"] for r in failed] == ["NoCheckpoints"]
    assert "before-patch-tuesday" in failed[0]["seen"]
    assert len(checks["results"]) == 8
    roles = [d["role"] for d in status["disks"]]
    assert roles[0] == "OperatingSystem" and all(d["sizeGB"] > 0 for d in status["disks"])
    assert all(d["targetDiskType"] for d in status["disks"])  # managed disks in the scenario
    assert "recoveryPoints" not in status  # listed only when needed or asked for

    # `points` asks the operator through the refresh annotation and prints its answer.
    kubeconfig = Path(str(operator.dc.kubeconfig))
    code = main(["points", "db01", "-n", NS, "--kubeconfig", str(kubeconfig)])
    out = capsys.readouterr().out
    assert code == 0, out
    status = cluster.status("db01")
    asked = cluster.get("db01")["metadata"]["annotations"][REFRESH_ANNOTATION]
    assert status["lastHandledRefresh"] == asked
    listed = status["recoveryPoints"]
    assert listed["retained"] >= len(listed["newest"]) > 0
    newest = listed["newest"][0]["name"]
    assert newest in out.splitlines()[2]

    # A point ASR does not retain: stalled, naming the newest retained one. (The
    # checkpoint would stall it first; remove it on the host as a person would.)
    remove_checkpoints(operator.dc, "db01")
    cluster.patch_spec("db01", {"activeSite": "Azure", "failover": {"recoveryPoint": GONE}})
    status = cluster.wait_stalled("db01", "RecoveryPointNotFound")
    message = next(c for c in status["conditions"] if c["type"] == "Stalled")["message"]
    assert GONE in message and "newest: " in message
