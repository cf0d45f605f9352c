"""The gateway's client-side pacing: priorities within a token bucket."""

from __future__ import annotations

import asyncio

from asr_operator.azure.pacing import RateLimit, Slots, TokenBucket


async def test_higher_priority_waiters_go_first_fifo_within_a_priority() -> None:
    bucket = TokenBucket(RateLimit(burst=1, per_second=50))
    await bucket.acquire()  # spends the burst: everyone below has to wait
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        await bucket.acquire(priority)
        order.append(name)

    await asyncio.gather(take("commit-1", 0), take("commit-2", 0), take("failover", 1))
    assert order == ["failover", "commit-1", "commit-2"]


async def test_a_waiter_that_gives_up_costs_no_token() -> None:
    bucket = TokenBucket(RateLimit(burst=1, per_second=20))
    await bucket.acquire()
    gave_up = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    gave_up.cancel()
    await asyncio.wait_for(bucket.acquire(), timeout=1)  # served with the next token
    assert gave_up.cancelled()


async def test_slots_bound_what_is_in_flight_and_serve_priority_first() -> None:
    slots = Slots(2)
    await slots.acquire()
    await slots.acquire()
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        await slots.acquire(priority)
        order.append(name)

    waiting = [
        asyncio.create_task(take("read", 0)),
        asyncio.create_task(take("failover", 1)),
    ]
    await asyncio.sleep(0)
    assert order == []  # both slots are held: nobody else is on the wire
    slots.release()
    await asyncio.sleep(0)
    assert order == ["failover"]
    slots.release()
    await asyncio.gather(*waiting)
    assert order == ["failover", "read"]
