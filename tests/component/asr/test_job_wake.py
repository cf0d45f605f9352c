"""A daemon following a job is woken by the vault's job poll when the job changes state,
so a job's end reaches status at the poll's pace, not at the end of each object's sleep."""

from __future__ import annotations

import asyncio

from asr_operator.azure.gateway import AsrGateway
from asr_operator.controllers.clients import JobPoller
from tests.component.asr.conftest import item


async def test_a_job_end_wakes_whoever_follows_it(gateway: AsrGateway) -> None:
    poller = JobPoller(gateway, min_interval=0.2)
    name = await gateway.start_planned_failover(await item(gateway, "spare01"))
    job = await poller.get(name)
    assert not job.state.terminal
    woken = asyncio.Event()
    poller.wake_on_change(name, woken)

    async def someone_polls() -> None:  # other objects' cycles drive the shared poll
        while not woken.is_set():
            await poller.get(name)
            await asyncio.sleep(0.1)

    await asyncio.wait_for(asyncio.gather(someone_polls(), woken.wait()), timeout=20)
    state = (await poller.get(name)).state
    assert woken.is_set()
    assert state != job.state  # woken by a change, not by a poll that saw the same
