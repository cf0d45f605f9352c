"""Fresh item reads, batched as job polls are: many at once cost one vault-wide list,
a few cost a GET each, and a read that started before the item changed is never
served as fresh."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from asr_operator.azure.errors import NotFound
from asr_operator.azure.gateway import AsrGateway
from asr_operator.controllers.clients import ItemCache
from asr_operator.sim.asr import AsrSimulatorThread
from asr_operator.sim.scenario import Scenario
from tests.component.asr.conftest import make_scenario


@pytest.fixture
def scenario() -> Scenario:
    return make_scenario(vm_count=145)  # 150 items: two pages of the list


@pytest.fixture
def sim(scenario: Scenario) -> Iterator[AsrSimulatorThread]:
    with AsrSimulatorThread(scenario, retry_after=0, throttling=False) as s:
        yield s


def reads(sim: AsrSimulatorThread) -> tuple[int, int]:
    calls = sim.calls
    return calls["items.get"], calls["items.list"]


async def test_many_fresh_reads_at_once_cost_one_list(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    cache = ItemCache(gateway, min_interval=30)
    listed = await gateway.list_items()
    assert len(listed) == 150
    await cache.items()  # the list idle objects share: 2 pages
    before = reads(sim)
    many = listed[:40]
    found = await asyncio.gather(*(cache.fresh(i.fabric, i.container, i.name) for i in many))
    assert [f.name for f in found] == [i.name for i in many]
    gets, lists = reads(sim)
    assert gets == before[0]  # 40 reads wanted, over a tenth of 150 items: one list
    assert lists - before[1] == 2
    # Each is fresh now: the next cycle's lookups need no read at all.
    assert all(cache.lately(i.name) is not None for i in many)


async def test_a_small_share_of_the_vault_costs_gets_not_a_list(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    """More reads than the list has pages, but a small share of the items: a list would
    parse all 150 items for 12 of them."""
    cache = ItemCache(gateway, min_interval=30)
    listed = await gateway.list_items()
    await cache.items()
    before = reads(sim)
    some = listed[:12]
    found = await asyncio.gather(*(cache.fresh(i.fabric, i.container, i.name) for i in some))
    assert [f.name for f in found] == [i.name for i in some]
    assert reads(sim) == (before[0] + 12, before[1])


async def test_a_few_fresh_reads_cost_a_get_each(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    cache = ItemCache(gateway, min_interval=30)
    listed = await gateway.list_items()
    await cache.items()
    before = reads(sim)
    one = listed[7]
    found = await cache.fresh(one.fabric, one.container, one.name)
    assert found.name == one.name
    assert reads(sim) == (before[0] + 1, before[1])


async def test_a_read_from_before_a_change_is_not_fresh(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    cache = ItemCache(gateway, min_interval=30)
    one = (await gateway.list_items())[3]
    started = time.monotonic()
    read = await gateway.get_item(one.fabric, one.container, one.name)
    cache.changed(one.name)  # an action went out while that read was in flight
    cache.remember(read, started)
    assert cache.lately(one.name) is None
    fresh = await cache.fresh(one.fabric, one.container, one.name)
    assert cache.lately(one.name) is fresh
    cache.changed(one.name)
    assert cache.lately(one.name) is None


async def test_a_failed_read_reaches_every_waiter(
    sim: AsrSimulatorThread, gateway: AsrGateway
) -> None:
    cache = ItemCache(gateway, min_interval=30)
    one = (await gateway.list_items())[0]
    with pytest.raises(NotFound):
        await cache.fresh(one.fabric, one.container, "no-such-item")
    assert (await cache.fresh(one.fabric, one.container, one.name)).name == one.name
