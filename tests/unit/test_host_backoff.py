"""A host that stopped answering is paused, doubling up to a bound, with one message."""

from __future__ import annotations

from asr_operator.hyperv.backoff import FIRST_PAUSE, LONGEST_PAUSE, HostBackoff
from asr_operator.hyperv.errors import AuthFailed, ScriptError, Timeout, Unreachable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def pause_after(backoff: HostBackoff, clock: Clock) -> float:
    """Seconds until the host is called again."""
    start = clock.now
    while backoff.paused() is not None:
        clock.now += 1.0
    waited, clock.now = clock.now - start, start
    return waited


def test_the_pause_doubles_up_to_its_bound_and_a_success_ends_it() -> None:
    clock = Clock()
    backoff = HostBackoff(clock)
    assert backoff.paused() is None
    pauses = []
    for n in range(6):
        backoff.failed(Unreachable("hv-01", f"cannot connect (attempt {n})"))
        pauses.append(pause_after(backoff, clock))
        clock.now += pauses[-1]
    assert (
        pauses
        == [FIRST_PAUSE, 2 * FIRST_PAUSE, 4 * FIRST_PAUSE, 8 * FIRST_PAUSE] + [LONGEST_PAUSE] * 2
    )
    backoff.succeeded()
    backoff.failed(Unreachable("hv-01", "cannot connect"))
    assert pause_after(backoff, clock) == FIRST_PAUSE


def test_one_message_for_the_whole_outage_until_the_error_changes_kind() -> None:
    backoff = HostBackoff(Clock())
    first = backoff.failed(Unreachable("hv-01", "cannot connect (<object at 0x1>)"))
    again = backoff.failed(Unreachable("hv-01", "cannot connect (<object at 0x2>)"))
    assert again is first and "0x1" in str(first) and "since" in str(first)
    assert backoff.paused() is first
    login = backoff.failed(AuthFailed("hv-01", "rejected the credentials"))
    assert isinstance(login, AuthFailed) and "rejected" in str(login)
    slow = backoff.failed(Timeout("hv-01", "no answer"))
    assert isinstance(slow, Timeout) and str(slow).startswith("Hyper-V host hv-01: no answer")


def test_an_error_of_the_vm_or_the_script_is_not_the_host_s() -> None:
    clock = Clock()
    backoff = HostBackoff(clock)
    backoff.failed(Unreachable("hv-01", "cannot connect"))
    error = ScriptError("hv-01", "get-vm", "boom", 1)
    assert backoff.failed(error) is error
    assert backoff.paused() is None  # the host answered
