"""Client-side pacing of ARM requests, so a burst of actions waits instead of meeting 429s.

ARM throttles per principal with token buckets (reads 250 burst / 25 per s, writes
200 / 10 per s, deletes 200 / 10 per s). The gateway keeps its own buckets a little
under those numbers and takes a token before every HTTP attempt; a 429 that still
arrives (other clients share the principal) empties the bucket until its Retry-After.

A token is worth its time only if the request goes out when it is taken. A request
first takes one of a few slots of its kind (reads and writes apart), then its token:
with more requests in flight than the HTTP connection pool holds, tokens taken early
waited in the pool and went out later in a burst that met 429s, and a thousand reads
could hold every connection while failovers waited behind them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy, CustomHookPolicy

from asr_operator import metrics
from asr_operator.azure.errors import retry_after_seconds

# Per-call keyword (SDK kwargs reach the pipeline context): a higher value is paced first.
PRIORITY_OPTION = "asr_operator_priority"


@dataclass(frozen=True)
class RateLimit:
    burst: float
    per_second: float


class TokenBucket:
    """An asyncio token bucket; `acquire()` waits for a token, higher priority first.

    Waiters are served by priority, then in arrival order, so in a mass failover the
    failovers that are still waiting go out before the commits of those already done.
    """

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._stamp = clock()
        self._not_before = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._pump: asyncio.Task[None] | None = None
        self.waited = 0.0  # total seconds spent waiting (for benchmarks and metrics)

    def _refill(self, now: float) -> None:
        rate = self.limit.per_second
        self._tokens = min(self.limit.burst, self._tokens + (now - self._stamp) * rate)
        self._stamp = now

    async def acquire(self, priority: int = 0) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._seq), future))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._serve())
        await future

    async def _serve(self) -> None:
        while self._waiters:
            if self._waiters[0][2].done():  # its caller gave up
                heapq.heappop(self._waiters)
                continue
            now = self._clock()
            self._refill(now)
            wait = self._not_before - now
            if wait <= 0 and self._tokens >= 1:
                self._tokens -= 1
                heapq.heappop(self._waiters)[2].set_result(None)
                continue
            if wait <= 0:
                wait = (1 - self._tokens) / max(self.limit.per_second, 1e-9)
            self.waited += wait
            await asyncio.sleep(wait)

    def throttled(self, retry_after: float) -> None:
        """ARM said 429: send nothing of this kind before Retry-After has passed."""
        now = self._clock()
        self._tokens = 0.0
        self._stamp = now
        self._not_before = max(self._not_before, now + retry_after)


class Slots:
    """At most `size` holders at a time; waiters are served by priority, then in order."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def acquire(self, priority: int = 0) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._seq), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot just as its caller gave up
            raise

    def release(self) -> None:
        while self._waiters:
            future = heapq.heappop(self._waiters)[2]
            if not future.done():
                future.set_result(None)
                return
        self._free += 1


# Requests of one kind on the wire at once; both together stay under aiohttp's pool (100).
IN_FLIGHT = 32


class PacingPolicy(AsyncHTTPPolicy[Any, Any]):
    """Takes a read or write token before each attempt; also runs azure-core's hooks.

    Installed in place of the client's `custom_hook_policy` (after the retry policy,
    so retries are paced too), it keeps `raw_request_hook`/`raw_response_hook` working.
    A 429 means ARM did not process the request, so it is re-sent after Retry-After,
    at most `throttle_retries` times, for every method (POSTs included); the last
    429 is returned to the caller.
    """

    def __init__(
        self,
        reads: RateLimit | None,
        writes: RateLimit | None,
        throttle_retries: int = 3,
        vault: str = "",
    ) -> None:
        super().__init__()
        self.vault = vault  # the label of this policy's requests in the metrics
        self.reads = TokenBucket(reads) if reads else None
        self.writes = TokenBucket(writes) if writes else None
        self.throttle_retries = throttle_retries
        self.throttled_responses = 0
        self._hooks = CustomHookPolicy()
        self._read_slots = Slots(IN_FLIGHT)
        self._write_slots = Slots(IN_FLIGHT)

    def bucket_for(self, method: str) -> TokenBucket | None:
        return self.reads if method.upper() in ("GET", "HEAD") else self.writes

    def slots_for(self, method: str) -> Slots:
        return self._read_slots if method.upper() in ("GET", "HEAD") else self._write_slots

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        self._hooks.on_request(request)
        # Must leave the options before the transport, which passes them on to aiohttp.
        priority = int(request.context.options.pop(PRIORITY_OPTION, 0))
        bucket = self.bucket_for(request.http_request.method)
        slots = self.slots_for(request.http_request.method)
        method = request.http_request.method.upper()
        operation = operation_of(request.http_request.url)
        attempt = 0
        while True:
            await slots.acquire(priority)
            try:
                if bucket is not None:
                    waiting = time.monotonic()
                    await bucket.acquire(priority)
                    self._waited(time.monotonic() - waiting)
                try:
                    response = await self.next.send(request)
                except BaseException:
                    self._count(method, operation, 0)
                    raise
            finally:
                slots.release()
            code = response.http_response.status_code
            self._count(method, operation, code)
            if code != 429:
                break
            self.throttled_responses += 1
            retry_after = retry_after_seconds(response.http_response, 1.0)
            if bucket is not None:
                bucket.throttled(retry_after)
            if attempt >= self.throttle_retries:
                break
            attempt += 1
            if bucket is None:
                await asyncio.sleep(retry_after)
                self._waited(retry_after)
        self._hooks.on_response(request, response)
        return response

    def _count(self, method: str, operation: str, code: int) -> None:
        metrics.ARM_REQUESTS.labels(self.vault, method, operation, str(code)).inc()

    def _waited(self, seconds: float) -> None:
        if seconds > 0:
            metrics.THROTTLE_WAIT_SECONDS.labels(self.vault).inc(seconds)


def operation_of(url: str) -> str:
    """A bounded label for an ARM request: the resource type or action its path ends in.

    ARM paths alternate type and name after the provider namespace: an even count ends
    in a name (one resource: its type), an odd count in a collection or an action.
    """
    parts = [p for p in urlsplit(url).path.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" in lowered:
        parts = parts[len(lowered) - lowered[::-1].index("providers") + 1 :]
    if not parts:
        return ""
    return parts[-2] if len(parts) % 2 == 0 else parts[-1]
