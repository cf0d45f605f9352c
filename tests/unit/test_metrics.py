"""Per-object series: one phase series per object, set from status alone, gone on forget;
ARM request labels stay bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from asr_operator import metrics
from asr_operator.api.conditions import (
    ConditionStatus,
    ConditionType,
    Reason,
    set_condition,
)
from asr_operator.api.operation import (
    ApprovalAction,
    AwaitingApproval,
    HistoryEntry,
    OperationalStatus,
    OperationResult,
    OperationType,
    Phase,
)
from asr_operator.azure.pacing import operation_of

OBJ = ("ProtectedVM", "unit-metrics", "web01")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ARM = "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers"
VAULT = f"{ARM}/Microsoft.RecoveryServices/vaults/v"


def series(obj: tuple[str, str, str] = OBJ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample that names the object, by metric and its other labels."""
    out = {}
    for family in REGISTRY.collect():
        for s in family.samples:
            if (s.labels.get("kind"), s.labels.get("namespace"), s.labels.get("name")) == obj:
                rest = tuple(
                    sorted((k, v) for k, v in s.labels.items() if k not in metrics.PER_OBJECT)
                )
                out[(s.name, rest)] = s.value
    return out


def entry(type_: OperationType, result: OperationResult, ended: datetime) -> HistoryEntry:
    return HistoryEntry(
        run_id=f"{type_}-{ended:%j}",
        type=type_,
        result=result,
        started_at=ended - timedelta(minutes=5),
        ended_at=ended,
        duration_seconds=300.0,
    )


def test_status_sets_one_series_per_changing_label_and_forget_removes_all() -> None:
    drill = entry(OperationType.TEST_FAILOVER, OperationResult.SUCCEEDED, T0)
    failed_drill = entry(OperationType.TEST_FAILOVER, OperationResult.FAILED, T0 + timedelta(1))
    failover = entry(OperationType.FAILOVER, OperationResult.SUCCEEDED, T0 + timedelta(2))
    gate = AwaitingApproval(
        action=ApprovalAction.COMMIT, token="commit-1", message="m", since=T0 + timedelta(2)
    )
    status = OperationalStatus(
        phase=Phase.AWAITING_COMMIT,
        awaiting_approval=gate,
        history=[failover, failed_drill, drill],
        last_operation=failover,
    )
    metrics.export_status(*OBJ, OperationalStatus(phase=Phase.FAILING_OVER))
    metrics.export_status(*OBJ, status)
    got = series()
    assert got[("asr_operator_phase", (("phase", "AwaitingCommit"),))] == 1
    assert not [
        k for k in got if k[0] == "asr_operator_phase" and k[1] != (("phase", "AwaitingCommit"),)
    ]
    assert got[("asr_operator_awaiting_approval", ())] == 1
    since = ("asr_operator_awaiting_approval_since_timestamp_seconds", (("action", "Commit"),))
    assert got[since] == gate.since.timestamp()
    assert got[("asr_operator_last_successful_drill_timestamp_seconds", ())] == T0.timestamp()
    last = (("result", "Succeeded"), ("type", "Failover"))
    assert got[("asr_operator_last_operation_duration_seconds", last)] == 300.0
    assert not [k for k in got if k[0] == "asr_operator_stalled"]

    conds = set_condition(
        [], ConditionType.STALLED, ConditionStatus.TRUE, Reason.ITEM_NOT_FOUND, "x", 1, T0
    )
    metrics.export_status(*OBJ, OperationalStatus(phase=Phase.STALLED, conditions=conds))
    got = series()
    assert got[("asr_operator_stalled", (("reason", "ItemNotFound"),))] == 1
    assert got[("asr_operator_awaiting_approval", ())] == 0
    assert since not in got
    assert got[("asr_operator_last_successful_drill_timestamp_seconds", ())] == 0

    metrics.forget(*OBJ)
    assert series() == {}


def test_arm_operation_labels_are_the_resource_type_or_action() -> None:
    container = f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c"
    item = f"{container}/replicationProtectedItems/i"
    assert operation_of(f"{item}/plannedFailover?api-version=2025-01-01") == "plannedFailover"
    assert operation_of(item) == "replicationProtectedItems"
    assert operation_of(f"{VAULT}/replicationJobs?$filter=x") == "replicationJobs"
    assert operation_of(f"{VAULT}/replicationJobs/job-1") == "replicationJobs"
    vm = f"{ARM}/Microsoft.Compute/virtualMachines/vm1/instanceView"
    assert operation_of(vm) == "instanceView"
