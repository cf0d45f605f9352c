"""RPO in ProtectedVM status: refreshed on a slow cadence or a band change, not every read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asr_operator.api.protectedvm import AsrObserved
from asr_operator.lifecycle.protectedvm import reported_rpo, rpo_band, still_at_rest
from tests.unit.lifecycle_world import item

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stored(rpo: int | None, at: datetime | None) -> AsrObserved:
    return AsrObserved(rpo_seconds=rpo, last_replicated_time=at)


def test_a_read_that_only_moves_rpo_keeps_the_stored_pair() -> None:
    fresh = item(rpo_seconds=41, last_replicated_time=T0 + timedelta(minutes=9))
    assert reported_rpo(stored(30, T0), fresh) == (30, T0)


def test_replication_ten_minutes_on_refreshes_the_pair() -> None:
    later = T0 + timedelta(minutes=10)
    assert reported_rpo(stored(30, T0), item(rpo_seconds=35, last_replicated_time=later)) == (
        35,
        later,
    )


def test_entering_another_band_refreshes_at_once() -> None:
    stuck = item(rpo_seconds=901, last_replicated_time=T0)
    assert reported_rpo(stored(600, T0), stuck) == (901, T0)
    assert [rpo_band(r) for r in (None, 0, 899, 900, 1799, 1800, 3600)] == [-1, 0, 0, 1, 1, 2, 3]


def test_first_observation_and_end_of_replication_are_written() -> None:
    fresh = item(rpo_seconds=30, last_replicated_time=T0)
    assert reported_rpo(None, fresh) == (30, T0)
    assert reported_rpo(stored(30, T0), item(rpo_seconds=None, last_replicated_time=None)) == (
        None,
        None,
    )


def test_a_resting_vm_wakes_for_a_change_of_its_item_or_an_rpo_due_in_status() -> None:
    """`still_at_rest`: the vault's sweep wakes a resting ProtectedVM only for a change the
    next cycle would act on or write."""
    rested_on = item(rpo_seconds=30, last_replicated_time=T0)
    shown = stored(30, T0)
    moved = item(rpo_seconds=95, last_replicated_time=T0 + timedelta(minutes=9))
    assert still_at_rest(shown, rested_on, moved)
    later = item(rpo_seconds=40, last_replicated_time=T0 + timedelta(minutes=10))
    assert not still_at_rest(shown, rested_on, later)  # due in status
    stuck = item(rpo_seconds=900, last_replicated_time=T0)
    assert not still_at_rest(shown, rested_on, stuck)  # another band
    assert not still_at_rest(shown, rested_on, item("CommitPending", last_replicated_time=T0))
    assert not still_at_rest(
        shown, rested_on, item(replication_health="Critical", last_replicated_time=T0)
    )
