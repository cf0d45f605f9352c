"""Which watch events wake an object's daemon beyond kopf's update handler."""

from __future__ import annotations

from typing import Any

from asr_operator.controllers.cycle import Seen, wakes


def body(generation: int, refresh: str = "", handled: str = "") -> dict[str, Any]:
    annotations = {"asr-operator.io/refresh": refresh} if refresh else {}
    return {
        "metadata": {"generation": generation, "annotations": annotations},
        "status": {"lastHandledRefresh": handled} if handled else {},
    }


def test_a_newer_spec_than_the_last_decision_wakes() -> None:
    seen = Seen(generation=1)
    assert wakes({"seen": seen}, body(2))
    assert not wakes({"seen": seen}, body(1))  # our own status writes keep the generation


def test_a_refresh_wakes_until_status_answers_it() -> None:
    seen = Seen(generation=3)
    assert wakes({"seen": seen}, body(3, refresh="t1"))
    assert not wakes({"seen": seen}, body(3, refresh="t1", handled="t1"))
    assert wakes({"seen": seen}, body(3, refresh="t2", handled="t1"))


def test_before_the_daemon_starts_only_a_refresh_wakes() -> None:
    assert not wakes({}, body(5))
    assert wakes({}, body(5, refresh="t1"))
