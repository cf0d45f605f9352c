"""The `asr-operator` verbs against the Kubernetes API stand-in, without the operator:
each test writes the status the operator would show and checks what a person reads, the
spec the verb writes, and the exit code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from asr_operator.api.conditions import Reason, set_readiness
from asr_operator.api.operation import (
    REFRESH_ANNOTATION,
    ApprovalAction,
    AwaitingApproval,
    HistoryEntry,
    OperationResult,
    OperationStatus,
    OperationType,
    Phase,
)
from asr_operator.api.protectedvm import (
    AsrObserved,
    DiskObserved,
    PrecheckResult,
    PrechecksStatus,
    ProtectedVMStatus,
    RecoveryPointShown,
    RecoveryPointsStatus,
)
from asr_operator.api.recoveryplan import GroupProgress, RecoveryPlanStatus
from asr_operator.cli import main
from asr_operator.sim.kube import KubeStandInThread

ROOT = Path(__file__).resolve().parents[3]
CRDS = ROOT / "crds"
EXAMPLES = ROOT / "deploy" / "examples"
NS = "dr"
NOW = datetime.now(UTC).replace(microsecond=0)
NETWORK = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-dr-net"
    "/providers/Microsoft.Network/virtualNetworks/vnet-drill"
)

JSON = dict[str, Any]


def example(name: str, namespace: str = NS) -> JSON:
    doc: JSON = yaml.safe_load((EXAMPLES / name).read_text())
    doc["metadata"]["namespace"] = namespace
    return doc


@pytest.fixture()
def kube(tmp_path: Path) -> Iterator[KubeStandInThread]:
    with KubeStandInThread(crds=[CRDS], namespaces=[NS, "other"]) as k:
        k.create(example("protectedvm-web01.yaml"))
        yield k


@pytest.fixture()
def kubeconfig(kube: KubeStandInThread, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)


def asr(kubeconfig: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--kubeconfig", str(kubeconfig)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_status(
    kube: KubeStandInThread,
    status: ProtectedVMStatus | RecoveryPlanStatus,
    name: str = "web01",
    plural: str = "protectedvms",
    namespace: str = NS,
    *,
    ready: bool = False,
    stalled: bool = False,
    reason: Reason = Reason.WAITING,
    message: str = "",
) -> None:
    """Status as the operator writes it, for the object's current generation."""
    obj = kube.get(plural, name, namespace)
    assert obj is not None
    generation = obj["metadata"]["generation"]
    conds = set_readiness([], reason, message, generation, NOW, ready=ready, stalled=stalled)
    status = status.model_copy(update={"observed_generation": generation, "conditions": conds})
    cleared: JSON = dict.fromkeys(obj.get("status") or {})  # what the new status drops
    patch = {"status": {**cleared, **status.to_wire()}}
    kube.patch(plural, name, patch, namespace, "status")


def awaiting_commit() -> ProtectedVMStatus:
    now = datetime.now(UTC).replace(microsecond=0)  # "ago" is read against the clock
    return ProtectedVMStatus(
        phase=Phase.AWAITING_COMMIT,
        active_site="Azure",
        awaiting_approval=AwaitingApproval(
            action=ApprovalAction.COMMIT,
            token="commit-1a2b3c4d",
            message="web01 runs in Azure; commit the failover.",
            since=now - timedelta(minutes=5),
        ),
        asr=AsrObserved(rpo_seconds=42, replication_health="Normal"),
        history=[
            HistoryEntry(
                run_id="r1",
                type=OperationType.FAILOVER,
                result=OperationResult.SUCCEEDED,
                started_at=now - timedelta(minutes=9),
                ended_at=now - timedelta(minutes=5),
                duration_seconds=252,
                job_name="job-fo-1",
                recovery_point="Latest",
            )
        ],
    )


def test_status_shows_what_runs_waits_rpo_and_measured_durations(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_status(kube, awaiting_commit(), message="Waiting for commit approval.")
    code, out, _ = asr(kubeconfig, capsys, "status", "web01")
    assert code == 0
    assert f"ProtectedVM {NS}/web01" in out
    assert "OnPremises (failback dataSync BeforeFailover" in out  # desired, from spec
    assert "Commit since" in out and re.search(r"\(5m\d\ds ago\)", out)
    assert "token commit-1a2b3c4d" in out
    assert "approve with: asr-operator approve web01" in out
    assert "RPO:" in out and "42s" in out
    assert "Failover" in out and "Succeeded" in out and "took 4m12s" in out

    running = awaiting_commit().model_copy(
        update={
            "phase": Phase.FAILING_OVER,
            "awaiting_approval": None,
            "operation": OperationStatus(
                run_id="r2",
                type=OperationType.FAILOVER,
                requested_at=NOW,
                submitted=True,
                job_name="job-fo-2",
                job_state="InProgress",
                tasks_done=3,
                tasks_total=7,
                current_task="Starting the replica virtual machine",
            ),
        }
    )
    write_status(kube, running, reason=Reason.OPERATION_IN_PROGRESS, message="Following.")
    code, out, _ = asr(kubeconfig, capsys, "status", "pvm/web01")
    assert code == 0
    assert "ASR job job-fo-2 InProgress, task 3/7 Starting the replica virtual machine" in out
    assert "no approval is waiting" in out


def test_status_lists_every_kind_in_all_namespaces(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.create(example("protectedvm-app01.yaml", "other"))
    kube.create(example("recoveryplan-web.yaml"))
    plan = RecoveryPlanStatus(
        phase=Phase.FAILING_OVER,
        progress="Boot 1: 2/3 VMs",
        groups=[GroupProgress(name="Boot 1", state="InProgress", vms_done=2, vms_total=3)],
    )
    write_status(kube, plan, "plan-web", "recoveryplans")
    code, out, _ = asr(kubeconfig, capsys, "status")
    assert code == 0
    assert "web01" in out and "plan-web" in out and "app01" not in out
    code, out, _ = asr(kubeconfig, capsys, "status", "-A")
    assert code == 0
    assert all(name in out for name in ("web01", "plan-web", "app01"))
    code, out, _ = asr(kubeconfig, capsys, "status", "recoveryplan/plan-web")
    assert "RecoveryPlan dr/plan-web" in out and "Boot 1: InProgress 2/3 VMs" in out


def test_approve_sets_the_token_status_shows(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_status(kube, awaiting_commit())
    code, out, _ = asr(kubeconfig, capsys, "approve", "web01")
    assert code == 0
    assert "Approved Commit" in out and "commit-1a2b3c4d" in out
    assert kube.get("protectedvms", "web01", NS)["spec"]["approve"] == "commit-1a2b3c4d"


def test_approve_refuses_when_nothing_waits(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_status(
        kube,
        ProtectedVMStatus(phase=Phase.PROTECTED, active_site="OnPremises"),
        ready=True,
        reason=Reason.RECONCILED,
        message="OnPremises is active, as desired.",
    )
    code, _, err = asr(kubeconfig, capsys, "approve", "web01")
    assert code == 1
    assert "nothing waits for approval" in err and "OnPremises is active" in err
    assert kube.get("protectedvms", "web01", NS)["spec"]["approve"] == ""


def test_approve_refuses_a_token_from_before_a_spec_change(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_status(kube, awaiting_commit())
    kube.patch(
        "protectedvms", "web01", {"spec": {"failover": {"recoveryPoint": "LatestProcessed"}}}, NS
    )
    code, _, err = asr(kubeconfig, capsys, "approve", "web01")
    assert code == 1 and "catches up" in err and "generation 2" in err
    assert kube.get("protectedvms", "web01", NS)["spec"]["approve"] == ""


def test_failover_patches_spec_and_says_what_will_happen(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = asr(
        kubeconfig,
        capsys,
        "failover",
        "web01",
        "--recovery-point",
        "LatestProcessed",
        "--unplanned",
    )
    assert code == 0
    assert "activeSite OnPremises -> Azure" in out
    assert "Unplanned failover of web01 to recovery point LatestProcessed" in out
    assert "waits at AwaitingCommit for `asr-operator approve web01`" in out
    spec = kube.get("protectedvms", "web01", NS)["spec"]
    assert spec["activeSite"] == "Azure"
    assert spec["failover"]["type"] == "Unplanned"
    assert spec["failover"]["recoveryPoint"] == "LatestProcessed"
    assert spec["failover"]["commit"] == "Manual"  # the rest of spec is left alone


def test_a_bad_recovery_point_is_refused_by_admission_with_its_reason(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = asr(
        kubeconfig, capsys, "failover", "web01", "--recovery-point", "LatestProccessed"
    )
    assert code == 1
    assert "error: the API server answered 422" in err and "LatestProcessed" in err
    assert kube.get("protectedvms", "web01", NS)["spec"]["activeSite"] == "OnPremises"


def operator_answers(kube: KubeStandInThread, **outcome: Any) -> threading.Thread:
    """Stand in for the operator: once the spec moves, write the outcome for it."""

    def run() -> None:
        for _ in range(500):
            obj = kube.get("protectedvms", "web01", NS)
            if obj is not None and obj["metadata"]["generation"] > 1:
                break
            threading.Event().wait(0.02)
        write_status(kube, outcome.pop("status"), **outcome)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_failover_wait_ends_non_zero_on_stalled_with_reason_and_message(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ready for the old generation must not be taken as the answer to the new spec.
    write_status(
        kube, ProtectedVMStatus(phase=Phase.PROTECTED), ready=True, reason=Reason.RECONCILED
    )
    thread = operator_answers(
        kube,
        status=ProtectedVMStatus(phase=Phase.STALLED, active_site="OnPremises"),
        stalled=True,
        reason=Reason.CHECKPOINTS_PRESENT,
        message="web01 has checkpoints: before-patch. Remove them (Remove-VMSnapshot).",
    )
    code, out, _ = asr(kubeconfig, capsys, "failover", "web01", "--wait", "--timeout", "20")
    thread.join()
    assert code == 1
    assert "Stalled: CheckpointsPresent: web01 has checkpoints: before-patch." in out


def test_failover_wait_ends_at_the_commit_gate_and_approve_wait_at_ready(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thread = operator_answers(kube, status=awaiting_commit())
    code, out, _ = asr(kubeconfig, capsys, "failover", "web01", "--wait", "--timeout", "20")
    thread.join()
    assert code == 0
    assert "Waiting for approval (Commit, token commit-1a2b3c4d): asr-operator approve web01" in out

    def commit_done() -> None:
        for _ in range(500):
            if kube.get("protectedvms", "web01", NS)["spec"]["approve"]:
                break
            threading.Event().wait(0.02)
        write_status(
            kube,
            ProtectedVMStatus(phase=Phase.FAILED_OVER, active_site="Azure"),
            ready=True,
            reason=Reason.RECONCILED,
            message="Azure is active, as desired.",
        )

    thread = threading.Thread(target=commit_done, daemon=True)
    thread.start()
    code, out, _ = asr(kubeconfig, capsys, "approve", "web01", "--wait", "--timeout", "20")
    thread.join()
    assert code == 0
    assert out.rstrip().endswith(f"Ready: ProtectedVM {NS}/web01.")


def test_wait_gives_up_with_exit_2(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = asr(kubeconfig, capsys, "failback", "web01", "--wait", "--timeout", "0")
    assert code == 2 and "Gave up waiting" in out


def test_failback_and_drill_are_spec_patches(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.patch("protectedvms", "web01", {"spec": {"activeSite": "Azure"}}, NS)
    write_status(kube, ProtectedVMStatus(phase=Phase.FAILED_OVER, active_site="Azure"), ready=True)
    code, out, _ = asr(kubeconfig, capsys, "failback", "web01", "--data-sync", "DuringFailover")
    assert code == 0 and "Azure -> OnPremises" in out and "ForSynchronization" in out
    spec = kube.get("protectedvms", "web01", NS)["spec"]
    assert spec["activeSite"] == "OnPremises" and spec["failback"]["dataSync"] == "DuringFailover"

    code, _, err = asr(kubeconfig, capsys, "drill", "web01")
    assert code == 1 and "--network-id" in err
    code, out, _ = asr(
        kubeconfig,
        capsys,
        "drill",
        "web01",
        "--network-id",
        NETWORK,
        "--request-id",
        "q3",
        "--cleanup-after",
        "2h",
    )
    assert code == 0 and "drill 'q3'" in out and "cleans it up 2h after it is up" in out
    tf = kube.get("protectedvms", "web01", NS)["spec"]["testFailover"]
    assert tf == {
        "requestId": "q3",
        "networkId": NETWORK,
        "cleanupAfter": "2h",
        "recoveryPoint": "Latest",
    }
    code, _, err = asr(kubeconfig, capsys, "drill", "web01", "--request-id", "q3")
    assert code == 1 and "new --request-id" in err


def test_points_says_when_status_lists_none(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = asr(kubeconfig, capsys, "points", "web01", "--no-refresh")
    assert code == 1 and "lists no recovery points yet" in err
    code, _, err = asr(kubeconfig, capsys, "points", "nosuch")
    assert code == 1 and "no ProtectedVM or RecoveryPlan named 'nosuch' in namespace 'dr'" in err


def listed(newest: int, retained: int) -> RecoveryPointsStatus:
    return RecoveryPointsStatus(
        listed_at=NOW,
        retained=retained,
        newest=[
            RecoveryPointShown(
                name=f"0689d0d0-3518-4793-8c98-c26bf94526{n:02}",
                time=NOW - timedelta(minutes=5 * n),
                type="ApplicationConsistent" if n % 4 == 0 else "CrashConsistent",
            )
            for n in range(newest)
        ],
    )


def test_points_asks_the_operator_to_list_them_now_and_prints_the_answer(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verb sets the refresh annotation; the operator answers in lastHandledRefresh."""

    def operator() -> None:
        for _ in range(500):
            obj = kube.get("protectedvms", "web01", NS)
            asked = (obj["metadata"].get("annotations") or {}).get(REFRESH_ANNOTATION)
            if asked:
                status = ProtectedVMStatus(
                    recovery_points=listed(3, 40), last_handled_refresh=asked
                )
                write_status(kube, status)
                return
            threading.Event().wait(0.02)

    thread = threading.Thread(target=operator, daemon=True)
    thread.start()
    code, out, err = asr(kubeconfig, capsys, "points", "web01")
    thread.join(5)
    assert code == 0, err
    lines = out.splitlines()
    assert "the newest 3 of 40 retained points" in lines[0]
    assert lines[1].split() == ["NAME", "TIME", "(UTC)", "TYPE"]
    assert lines[2].split()[0] == "0689d0d0-3518-4793-8c98-c26bf9452600"
    assert lines[2].split()[-1] == "ApplicationConsistent"
    assert lines[3].split()[-1] == "CrashConsistent"


def test_points_without_an_operator_says_so_and_shows_the_last_list(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_status(kube, ProtectedVMStatus(recovery_points=listed(2, 2)))
    code, out, err = asr(kubeconfig, capsys, "points", "web01", "--timeout", "1")
    assert code == 0 and "did not list the points within 1s" in err
    assert "the newest 2 of 2 retained points" in out
    annotations = kube.get("protectedvms", "web01", NS)["metadata"]["annotations"]
    assert REFRESH_ANNOTATION in annotations
    code, out, _ = asr(kubeconfig, capsys, "points", "web01", "--no-refresh")
    assert code == 0 and len(out.splitlines()) == 4


def test_context_and_namespace_are_chosen_as_kubectl_does(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load(kubeconfig.read_text())
    good = config["contexts"][0]
    config["contexts"].append(
        {"name": "elsewhere", "context": {**good["context"], "namespace": "other"}}
    )
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "http://127.0.0.1:9"}})
    config["contexts"].append(
        {"name": "broken", "context": {"cluster": "nowhere", "user": good["context"]["user"]}}
    )
    config["current-context"] = "broken"
    kubeconfig.write_text(yaml.safe_dump(config))
    kube.create(example("protectedvm-app01.yaml", "other"))
    code, out, _ = asr(kubeconfig, capsys, "status", "app01", "--context", "elsewhere")
    assert code == 0 and "ProtectedVM other/app01" in out
    code, out, _ = asr(kubeconfig, capsys, "status", "web01", "--context", "elsewhere", "-n", NS)
    assert code == 0 and f"ProtectedVM {NS}/web01" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("asr-operator 0.")


KUBECTL = shutil.which("kubectl")
PLUGIN = Path(sys.executable).parent / "kubectl-asr"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is absent")
def test_wide_reason_column_reads_what_the_object_does_now(
    kube: KubeStandInThread, kubeconfig: Path
) -> None:
    gate = awaiting_commit().model_copy(update={"reason": "CommitApproval"})
    write_status(kube, gate)  # Stalled=False (reason Reconciled) must not be what shows
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    done = subprocess.run(
        [str(KUBECTL), "get", "pvm", "-o", "wide"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()[:2]
    assert header.split()[-1] == "REASON" and row.split()[-1] == "CommitApproval"


@pytest.mark.skipif(KUBECTL is None or not PLUGIN.exists(), reason="kubectl or the plugin absent")
def test_kubectl_asr_plugin(kube: KubeStandInThread, kubeconfig: Path) -> None:
    write_status(kube, awaiting_commit())
    env = {
        **os.environ,
        "PATH": f"{PLUGIN.parent}{os.pathsep}{os.environ['PATH']}",
        "KUBECONFIG": str(kubeconfig),
    }
    done = subprocess.run(
        [str(KUBECTL), "asr", "status", "web01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "approve with: kubectl asr approve web01" in done.stdout


def test_status_shows_the_prechecks_and_disks(
    kube: KubeStandInThread, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = PrechecksStatus(
        checked_at=NOW - timedelta(minutes=3),
        vm="hv-01/WEB01",
        passed=False,
        results=[
            PrecheckResult(
                rule="NoCheckpoints",
                seen="1 checkpoint(s): 'before-patch'",
                limit="none",
                passed=False,
            ),
            PrecheckResult(rule="DataDiskCount", seen="1", limit="at most 16", passed=True),
        ],
    )
    listed = [
        DiskObserved(
            name="os.vhdx",
            role="OperatingSystem",
            size_gb=127,
            lun=0,
            target_disk_type="Premium_LRS",
        ),
        DiskObserved(name="data.vhdx", role="DataDisk", size_gb=500, lun=1),
    ]
    write_status(kube, ProtectedVMStatus(prechecks=checks, disks=listed))
    code, out, _ = asr(kubeconfig, capsys, "status", "web01")
    assert code == 0
    assert (
        "Checks:    hv-01/WEB01 FAILS NoCheckpoints: 1 checkpoint(s): 'before-patch' "
        "(Azure: none) (checked " in out
    )
    assert "Disks:     OS os.vhdx 127 GB Premium_LRS, data data.vhdx 500 GB" in out
