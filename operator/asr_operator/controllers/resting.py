"""Objects at rest sleep until what they rest on changes.

An object whose cycle found nothing to do (a `Done` step) hands the vault a check, "is
what I decided on still the same?", and sleeps up to REST_MAX. One sweep per vault and
poll interval reads the vault-wide lists once for everyone and runs every check: a check
that finds a change, or fails, wakes its object, which then runs a full cycle. A check
that finds nothing changed may refresh what is live outside status (the RPO metric) and
costs no Kubernetes request and no status write. At 1000 idle objects this replaced a
thousand cycles per poll interval (each waking a kopf daemon to decide, compare and find
nothing) with one sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

# The longest an object at rest sleeps without a check finding a change: it then runs a
# full cycle anyway (status refreshes the RPO every 10 minutes; see lifecycle).
REST_MAX = 600.0

# True while nothing the object decided on changed; False, or an error, wakes it.
Check = Callable[[], Awaitable[bool]]

log = logging.getLogger(__name__)


class Resting:
    """The objects at rest on one vault, each with its check and its wake-up."""

    def __init__(self, refresh: Callable[[], Awaitable[Any]], interval: float) -> None:
        self._refresh = refresh
        self._interval = interval
        self._checks: dict[asyncio.Event, Check] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._checks)

    def rest(self, wake: asyncio.Event, check: Check) -> None:
        """Sleep on `check`: the next sweep that finds a change sets `wake`."""
        self._checks[wake] = check
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_forever())

    def leave(self, wake: asyncio.Event) -> None:
        """The object runs a cycle (or is gone): its check no longer holds."""
        self._checks.pop(wake, None)

    async def close(self) -> None:
        """The vault's clients are replaced or gone: every resting object cycles now."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None and sweeper is not asyncio.current_task():
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        self._wake(list(self._checks))

    async def _sweep_forever(self) -> None:
        while self._checks:
            await asyncio.sleep(self._interval)
            await self.sweep()

    async def sweep(self) -> None:
        """Read the shared lists once, then run every check against them."""
        try:
            await self._refresh()
        except Exception as e:  # the objects' own cycles report the error
            log.info("the vault-wide read for resting objects failed (%s); waking them", e)
            self._wake(list(self._checks))
            return
        changed = []
        for wake, check in list(self._checks.items()):
            if wake.is_set():  # woken meanwhile (a spec change): its cycle decides now
                changed.append(wake)
                continue
            try:
                same = await check()
            except Exception:  # unknown is not "unchanged": let the cycle find out
                same = False
            if not same:
                changed.append(wake)
        self._wake(changed)

    def _wake(self, wakes: list[asyncio.Event]) -> None:
        for wake in wakes:
            self._checks.pop(wake, None)
            wake.set()
