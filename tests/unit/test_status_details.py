"""What `kubectl describe` shows before anyone asks for a failover: disks, pre-checks and
retained recovery points in status, written only when they change or are asked for."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from asr_operator.api.conditions import Reason
from asr_operator.api.operation import OperationType
from asr_operator.api.protectedvm import (
    RECOVERY_POINTS_SHOWN,
    ProtectedVMStatus,
    RecoveryPointShown,
    RecoveryPointsStatus,
)
from asr_operator.lifecycle import protectedvm as machine
from asr_operator.lifecycle.observation import Context, Observation, ObservationError
from asr_operator.lifecycle.observed import AsrDisk, JobState, PowerState, RecoveryPoint
from asr_operator.lifecycle.steps import Refusal, Stall, StartFailover, Submit
from tests.unit.lifecycle_world import P1, P2, POINTS, T0, item, spec, vm
from tests.unit.test_lifecycle_table import job, obs

CTX = Context(generation=1, now=T0)
LATER = Context(generation=1, now=T0 + timedelta(minutes=5))


def settle(s, o, ctx=CTX, status=None):  # type: ignore[no-untyped-def]
    return machine.decide(s, status or ProtectedVMStatus(), o, ctx).status


def test_disks_are_shown_as_asr_reports_them() -> None:
    disks = (
        AsrDisk("web01-os.vhdx", True, 130048, 0, "Premium_LRS"),
        AsrDisk("web01-data.vhdx", False, 512000, 1, ""),
    )
    status = settle(spec(), obs(item=replace(item(), disks=disks)))
    assert status.disks is not None
    shown = [d.to_wire() for d in status.disks]
    assert shown[0] == {
        "name": "web01-os.vhdx",
        "role": "OperatingSystem",
        "sizeGB": 127.0,
        "lun": 0,
        "targetDiskType": "Premium_LRS",
    }
    assert shown[1]["role"] == "DataDisk" and shown[1]["sizeGB"] == 500.0


def test_prechecks_are_taken_when_first_seen_and_kept_without_a_write() -> None:
    s = spec()
    assert machine.wants(s, ProtectedVMStatus()).hyperv  # first seen: read the VM
    first = settle(s, obs(recovery_points=None))
    checks = first.prechecks
    assert checks is not None and checks.passed and checks.vm == "hv-01/WEB01"
    assert checks.checked_at == T0
    assert [r.rule for r in checks.results][:2] == ["NoCheckpoints", "Generation"]
    assert all(r.passed for r in checks.results)
    # At rest, nothing is read again, and a read that finds the same keeps the same status.
    assert not machine.wants(s, first).hyperv
    again = settle(s, obs(recovery_points=None), LATER, first)
    assert again.prechecks == checks


def test_a_changed_result_is_written_with_its_time() -> None:
    s = spec()
    first = settle(s, obs(recovery_points=None))
    snap = obs(recovery_points=None, hyperv=vm(PowerState.OFF, checkpoints=("before-patch",)))
    after = settle(s, snap, LATER, first)
    assert after.prechecks is not None and not after.prechecks.passed
    assert after.prechecks.checked_at == LATER.now
    failed = [r for r in after.prechecks.results if not r.passed]
    assert [r.rule for r in failed] == ["NoCheckpoints"]
    assert "before-patch" in failed[0].seen


def test_an_unreadable_host_is_shown_and_tried_again() -> None:
    s = spec()
    down = ObservationError(Refusal.TRANSIENT, "WinRM: connection refused")
    status = settle(s, obs(recovery_points=None, hyperv=None, hyperv_error=down))
    assert status.prechecks is not None and not status.prechecks.passed
    assert status.prechecks.error == "WinRM: connection refused"
    assert machine.wants(s, status).hyperv


def test_the_refresh_annotation_reads_again_once() -> None:
    s = spec()
    rested = settle(s, obs(recovery_points=None))
    assert not machine.wants(s, rested).recovery_points
    asked = machine.wants(s, rested, "2026-01-10T09:05:00Z")
    assert asked.hyperv and asked.recovery_points
    ctx = replace(LATER, refresh="2026-01-10T09:05:00Z")
    done = settle(s, obs(), ctx, rested)
    assert done.last_handled_refresh == "2026-01-10T09:05:00Z"
    assert done.prechecks is not None and done.prechecks.checked_at == LATER.now
    assert done.recovery_points is not None and done.recovery_points.retained == len(POINTS)
    handled = machine.wants(s, done, "2026-01-10T09:05:00Z")
    assert not handled.hyperv and not handled.recovery_points
    # A refresh whose reads failed stays open: the next cycle reads again.
    failed = settle(s, obs(recovery_points=None), ctx, rested)
    assert failed.last_handled_refresh == ""


def test_retained_points_newest_first_and_bounded() -> None:
    many = tuple(
        RecoveryPoint(f"/rp/{n}", f"p{n:02}", T0 - timedelta(minutes=5 * n), "CrashConsistent")
        for n in range(30)
    )
    status = settle(spec(), obs(recovery_points=many), replace(CTX, refresh="now"))
    listed = status.recovery_points
    assert listed is not None and listed.retained == 30
    assert len(listed.newest) == RECOVERY_POINTS_SHOWN
    assert [p.name for p in listed.newest[:2]] == ["p00", "p01"]
    # Read again with nothing new: the same status (no write), listedAt unchanged.
    again = settle(spec(), obs(recovery_points=many), LATER, status)
    assert again.recovery_points == listed


def test_a_point_no_longer_retained_names_the_closest_and_the_newest() -> None:
    gone = "0689d0d0-3518-4793-8c98-c26bf94526ff"
    earlier = RecoveryPointsStatus(
        listed_at=T0 - timedelta(hours=1),
        retained=1,
        newest=[RecoveryPointShown(name=gone, time=T0 - timedelta(minutes=28), type="X")],
    )
    status = ProtectedVMStatus(recovery_points=earlier)
    s = spec(activeSite="Azure", failover={"recoveryPoint": gone})
    d = machine.decide(s, status, obs(), CTX)
    assert isinstance(d.step, Stall)
    assert d.step.reason == Reason.RECOVERY_POINT_NOT_FOUND
    assert f"closest to its time (2026-01-10 08:32:00 UTC): {P1}" in d.step.message
    assert "newest: " + POINTS[2].name in d.step.message
    # Without an earlier listing there is no time to be close to: newest and oldest.
    d = machine.decide(s, ProtectedVMStatus(), obs(), CTX)
    assert isinstance(d.step, Stall)
    assert "oldest: " + P1 in d.step.message and "closest" not in d.step.message


def test_history_records_the_points_time_and_type() -> None:
    s = spec(activeSite="Azure", failover={"recoveryPoint": P2})
    d = machine.decide(s, ProtectedVMStatus(), obs(), CTX)
    assert isinstance(d.step, Submit) and isinstance(d.step.action, StartFailover)
    op = d.status.operation
    assert op is not None and op.type == OperationType.FAILOVER
    assert (op.recovery_point_time, op.recovery_point_type) == (POINTS[1].time, "CrashConsistent")
    running = d.status.model_copy(
        update={"operation": op.model_copy(update={"submitted": True, "job_name": "job-1"})}
    )
    done = machine.decide(
        s,
        running,
        Observation(**{**obs("CommitPending").__dict__, "job": job(JobState.SUCCEEDED)}),
        LATER,
    )
    entry = done.status.history[0]
    assert entry.recovery_point == P2
    assert (entry.recovery_point_time, entry.recovery_point_type) == (
        POINTS[1].time,
        "CrashConsistent",
    )
