"""What `asr-operator status` and `points` print, from status alone (no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime

from asr_operator.commands import show

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_durations_read_as_rto() -> None:
    assert [show.duration(s) for s in (0.4, 45, 252, 3600 + 185)] == ["0s", "45s", "4m12s", "1h03m"]


def test_points_are_status_recovery_points_or_none() -> None:
    assert show.points({"status": {}}) is None
    assert show.points({"status": {"recoveryPoints": ["not", "the", "shape"]}}) is None
    listed = {"listedAt": "2026-12-02T06:00:00Z", "retained": 3, "newest": []}
    assert show.points({"status": {"recoveryPoints": listed}}) == listed


def test_a_stalled_object_leads_with_its_reason_and_a_stale_status_is_flagged() -> None:
    obj = {
        "metadata": {"name": "db01", "namespace": "dr", "generation": 3},
        "spec": {"activeSite": "Azure"},
        "status": {
            "observedGeneration": 2,
            "phase": "Stalled",
            "conditions": [
                {
                    "type": "Stalled",
                    "status": "True",
                    "reason": "CheckpointsPresent",
                    "message": "db01 has checkpoints.",
                },
            ],
        },
    }
    text = show.render("ProtectedVM", obj, NOW)
    assert "Stalled, STALLED CheckpointsPresent: db01 has checkpoints." in text
    assert "status is for generation 2, spec is generation 3" in text
    assert "Stalled/CheckpointsPresent" in show.summary("ProtectedVM", obj)


def test_the_azure_vms_are_shown_with_how_to_connect() -> None:
    vm = {"name": "web01-dr", "powerState": "running", "ips": ["10.20.1.15"]}
    plan = {
        "metadata": {"name": "plan-web", "namespace": "dr"},
        "spec": {"activeSite": "Azure"},
        "status": {
            "vms": [
                {"name": "web01", "azureVM": {**vm, "connect": "mstsc /v:10.20.1.15"}},
                {"name": "db01", "state": "Protected"},
            ]
        },
    }
    text = show.render("RecoveryPlan", plan, NOW)
    assert "in Azure: web01: web01-dr running 10.20.1.15 (mstsc /v:10.20.1.15)" in text
    assert "db01:" not in text
    pvm = {"metadata": {"name": "web01"}, "spec": {}, "status": {"azureVM": vm}}
    assert "Azure VM:  web01-dr running 10.20.1.15\n" in show.render("ProtectedVM", pvm, NOW)
