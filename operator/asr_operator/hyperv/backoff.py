"""A pause for a host that stopped answering, so a site outage does not slow the failover.

When a site is down, each of its VMs would spend a whole connect or read timeout on its
pre-checks, `max_concurrency` at a time per host, before it could report the host
unreachable and go on with an unplanned failover: 50 VMs on a silent host, 4 at a time,
30 s each, is more than six minutes before the last failover is sent. Each timed-out
call also keeps a worker thread until pywinrm gives up. After a host-level failure the
host is not called for a while; calls in that pause fail at once with the error as
first seen. A rejected login pauses the host too: retried logins lock accounts out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from asr_operator.hyperv.errors import AuthFailed, HyperVError, Timeout, Unreachable

FIRST_PAUSE, LONGEST_PAUSE = 10.0, 120.0  # seconds; doubling after each failure in a row
HOST_LEVEL = (Unreachable, Timeout, AuthFailed)  # not the VM's or the script's own errors


class HostBackoff:
    """The failures in a row of one host; `clock` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures = 0
        self._until = 0.0
        self._error: HyperVError | None = None

    def paused(self) -> HyperVError | None:
        """The error to fail a call with, while the host is paused."""
        if self._error is None or self._clock() >= self._until:
            return None
        return self._error

    def failed(self, error: HyperVError) -> HyperVError:
        """Record a failure; the error to report, which stays the same for the whole
        outage (a status message that changed with each try would be a write per try)."""
        if not isinstance(error, HOST_LEVEL):  # the host answered
            self.succeeded()
            return error
        shown = self._error
        if type(shown) is type(error) and shown is not None and self._clock() < self._until:
            return shown  # a call sent before the pause began: no longer pause
        self._failures += 1
        self._until = self._clock() + min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** (self._failures - 1))
        if self._error is None or type(self._error) is not type(error):
            since = datetime.now(UTC)
            self._error = type(error)(
                error.host,
                f"{error.detail} (since {since:%H:%M:%S}Z; tried again after a pause of "
                f"{FIRST_PAUSE:g} s, doubling up to {LONGEST_PAUSE:g} s)",
            )
        return self._error

    def succeeded(self) -> None:
        self._failures, self._error = 0, None
