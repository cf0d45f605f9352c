"""What `asr-operator status` and `points` print, from status alone (no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime

from asr_operator.commands import show

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_durations_read_as_rto() -> None:
    assert [show.duration(s) for s in (0.4, 45, 252, 3600 + 185)] == ["0s", "45s", "4m12s", "1h03m"]


def test_points_newest_first_and_none_when_status_lists_none() -> None:
    assert show.points({"status": {}}) is None
    listed = {
        "status": {
            "recoveryPoints": [
                {"name": "a", "time": "2026-12-02T05:00:00Z", "type": "CrashConsistent"},
                {"name": "c", "time": "2026-12-02T06:00:00Z", "type": "AppConsistent"},
                {"name": "b", "time": "2026-12-02T05:30:00Z", "type": "CrashConsistent"},
            ]
        }
    }
    assert [p["name"] for p in show.points(listed) or []] == ["c", "b", "a"]


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
