"""ARM request throttling: token buckets per principal and operation kind.

Numbers default to ARM's published per-principal limits (reads 250 burst, 25/s;
writes 200 burst, 10/s; deletes 200 burst, 10/s).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BucketSpec:
    burst: float
    per_second: float


@dataclass(frozen=True)
class ThrottleLimits:
    reads: BucketSpec = BucketSpec(250, 25)
    writes: BucketSpec = BucketSpec(200, 10)
    deletes: BucketSpec = BucketSpec(200, 10)

    def for_kind(self, kind: str) -> BucketSpec:
        return {"reads": self.reads, "writes": self.writes, "deletes": self.deletes}[kind]


@dataclass
class _Bucket:
    spec: BucketSpec
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.spec.burst, self.tokens + (now - self.stamp) * self.spec.per_second)
        self.stamp = now


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int  # seconds, only meaningful when not allowed


@dataclass
class Throttler:
    """Token buckets keyed by (principal, kind); thread-safe."""

    limits: ThrottleLimits = field(default_factory=ThrottleLimits)
    enabled: bool = True
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def kind_of(method: str) -> str:
        m = method.upper()
        if m in ("GET", "HEAD"):
            return "reads"
        if m == "DELETE":
            return "deletes"
        return "writes"

    def take(self, principal: str, kind: str) -> Decision:
        spec = self.limits.for_kind(kind)
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get((principal, kind))
            if bucket is None:
                bucket = self._buckets[(principal, kind)] = _Bucket(spec, spec.burst, now)
            bucket.refill(now)
            if not self.enabled:
                return Decision(True, int(bucket.tokens), 0)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return Decision(True, int(bucket.tokens), 0)
            wait = (1 - bucket.tokens) / spec.per_second if spec.per_second > 0 else 60.0
            return Decision(False, 0, max(1, math.ceil(wait)))

    def set_limits(self, limits: ThrottleLimits) -> None:
        """Replace the limits; buckets start full again."""
        with self._lock:
            self.limits = limits
            self._buckets.clear()
