"""The vault's sweep over resting objects: one shared read, then every check; a change,
a failed check or a failed read wakes the object, and nothing else does."""

from __future__ import annotations

import asyncio

import pytest

from asr_operator.controllers.resting import Check, Resting


class Reads:
    def __init__(self) -> None:
        self.count = 0
        self.fail = False

    async def __call__(self) -> None:
        self.count += 1
        if self.fail:
            raise ConnectionError("ARM unreachable")


def answering(*answers: bool | Exception) -> Check:
    left = list(answers)

    async def check() -> bool:
        answer = left.pop(0) if len(left) > 1 else left[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return check


async def test_one_read_serves_every_check_and_only_changes_wake() -> None:
    reads = Reads()
    resting = Resting(reads, interval=60)
    same, changed, broken = asyncio.Event(), asyncio.Event(), asyncio.Event()
    resting.rest(same, answering(True))
    resting.rest(changed, answering(False))
    resting.rest(broken, answering(LookupError("gone")))
    await resting.sweep()
    assert reads.count == 1
    assert (same.is_set(), changed.is_set(), broken.is_set()) == (False, True, True)
    assert len(resting) == 1  # a woken object rests again only after its own cycle
    await resting.sweep()
    assert reads.count == 2 and not same.is_set()
    await resting.close()


async def test_a_failed_shared_read_wakes_everyone_to_report_it() -> None:
    reads = Reads()
    resting = Resting(reads, interval=60)
    wakes = [asyncio.Event() for _ in range(3)]
    for w in wakes:
        resting.rest(w, answering(True))
    reads.fail = True
    await resting.sweep()
    assert all(w.is_set() for w in wakes) and len(resting) == 0


async def test_leaving_and_waking_by_other_means_take_the_check_out() -> None:
    reads = Reads()
    resting = Resting(reads, interval=60)
    left, woken = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    def recording(name: str) -> Check:
        async def check() -> bool:
            calls.append(name)
            return True

        return check

    resting.rest(left, recording("left"))
    resting.rest(woken, recording("woken"))
    resting.leave(left)
    woken.set()  # a spec change woke it: its own cycle decides, not the sweep
    await resting.sweep()
    assert calls == [] and len(resting) == 0


async def test_the_sweep_runs_on_its_own_and_closing_wakes_everyone() -> None:
    reads = Reads()
    resting = Resting(reads, interval=0.01)
    changes = asyncio.Event()
    resting.rest(changes, answering(True, True, False))
    await asyncio.wait_for(changes.wait(), timeout=5)
    assert reads.count >= 3
    stays = asyncio.Event()
    resting.rest(stays, answering(True))
    await resting.close()
    assert stays.is_set() and len(resting) == 0


@pytest.mark.parametrize("rests", [0, 1, 2])
async def test_resting_again_replaces_the_check(rests: int) -> None:
    resting = Resting(Reads(), interval=60)
    wake = asyncio.Event()
    for _ in range(rests):
        resting.rest(wake, answering(False))
    resting.rest(wake, answering(True))
    await resting.sweep()
    assert not wake.is_set() and len(resting) == 1
    await resting.close()
