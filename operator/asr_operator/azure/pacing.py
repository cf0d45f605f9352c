"""Client-side pacing of ARM requests, so a burst of actions waits instead of meeting 429s.

ARM throttles per principal with token buckets (reads 250 burst / 25 per s, writes
200 / 10 per s, deletes 200 / 10 per s). The gateway keeps its own buckets a little
under those numbers and takes a token before every HTTP attempt; a 429 that still
arrives (other clients share the principal) empties the bucket until its Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy, CustomHookPolicy


@dataclass(frozen=True)
class RateLimit:
    burst: float
    per_second: float


class TokenBucket:
    """An asyncio token bucket; `acquire()` waits for a token."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._stamp = clock()
        self._not_before = 0.0
        self._lock = asyncio.Lock()
        self.waited = 0.0  # total seconds spent waiting (for benchmarks and metrics)

    def _refill(self, now: float) -> None:
        rate = self.limit.per_second
        self._tokens = min(self.limit.burst, self._tokens + (now - self._stamp) * rate)
        self._stamp = now

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._refill(now)
                wait = self._not_before - now
                if wait <= 0 and self._tokens >= 1:
                    self._tokens -= 1
                    return
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


class PacingPolicy(AsyncHTTPPolicy[Any, Any]):
    """Takes a read or write token before each attempt; also runs azure-core's hooks.

    Installed in place of the client's `custom_hook_policy` (after the retry policy,
    so retries are paced too), it keeps `raw_request_hook`/`raw_response_hook` working.
    A 429 means ARM did not process the request, so it is re-sent after Retry-After,
    at most `throttle_retries` times, for every method (POSTs included); the last
    429 is returned to the caller.
    """

    def __init__(
        self, reads: RateLimit | None, writes: RateLimit | None, throttle_retries: int = 3
    ) -> None:
        super().__init__()
        self.reads = TokenBucket(reads) if reads else None
        self.writes = TokenBucket(writes) if writes else None
        self.throttle_retries = throttle_retries
        self.throttled_responses = 0
        self._hooks = CustomHookPolicy()

    def bucket_for(self, method: str) -> TokenBucket | None:
        return self.reads if method.upper() in ("GET", "HEAD") else self.writes

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        self._hooks.on_request(request)
        bucket = self.bucket_for(request.http_request.method)
        attempt = 0
        while True:
            if bucket is not None:
                await bucket.acquire()
            response = await self.next.send(request)
            if response.http_response.status_code != 429:
                break
            self.throttled_responses += 1
            retry_after = _retry_after(response)
            if bucket is not None:
                bucket.throttled(retry_after)
            if attempt >= self.throttle_retries:
                break
            attempt += 1
            if bucket is None:
                await asyncio.sleep(retry_after)
        self._hooks.on_response(request, response)
        return response


def _retry_after(response: PipelineResponse[Any, Any]) -> float:
    try:
        return max(0.0, float(response.http_response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0
