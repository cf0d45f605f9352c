"""Property tests: every value the spec schema admits, extremes included, runs through the
lifecycle without raising; and the CRD and the operator's models admit the same values,
so what admission refuses never reaches the lifecycle.

(`cleanupAfter: 99999999h` once raised OverflowError in every reconcile of a drill.)
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from asr_operator.api import protectedvm as pvm
from asr_operator.api.common import DURATION_PATTERN, RecoveryPointKind
from asr_operator.api.protectedvm import ProtectedVMSpec
from asr_operator.api.recoveryplan import RecoveryPlanSpec
from tests.manifests.crd_admission import ApiError, admit
from tests.unit.lifecycle_world import DRILL_NET, POINTS, World, spec
from tests.unit.plan_world import PlanWorld, plan_spec

DURATIONS = st.one_of(
    st.from_regex(DURATION_PATTERN, fullmatch=True),
    st.integers(0, 340 * 3600).map(lambda s: f"{s // 3600}h{s % 3600 // 60}m{s % 60}s"),
    st.integers(0, 25 * 3600).map(lambda s: f"{s}s"),
    st.sampled_from(
        [
            pvm.CLEANUP_AFTER_MIN,
            pvm.CLEANUP_AFTER_MAX,
            pvm.VALIDATION_TIMEOUT_MIN,
            pvm.VALIDATION_TIMEOUT_MAX,
            "59s",
            "9s",
            "335h59m60s",
            "23h59m60s",
            "9999h999999m9999999s",  # the longest the syntax takes; out of every bound
            "0s",
        ]
    ),
    # what the syntax refuses, the operator's models too
    st.sampled_from(["99999999h", "", "1d", "1m1h", "-1h", "2h "]),
)
POINT = st.one_of(
    st.sampled_from([k.value for k in RecoveryPointKind]),
    st.sampled_from([p.name for p in POINTS]),
    st.uuids().map(str),
    st.sampled_from(["latest", "LatestProccessed", "LatestAppConsistent", "0689d0d0-3518"]),
)
# Clock jumps: none, a probe, the bounds, and far past any bound.
WAITS = st.lists(
    st.sampled_from([0.0, 1.0, 10.0, 60.0, 3600.0, 24 * 3600.0, 336 * 3600.0, 1e8]),
    min_size=5,
    max_size=30,
)


def _manifest(kind: str, spec_data: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "asr-operator.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x"},
        "spec": copy.deepcopy(spec_data),
    }


def _admitted(
    kind: str, model: type[ProtectedVMSpec | RecoveryPlanSpec], data: dict[str, Any]
) -> Any:
    """The model built from `data`, or None; the CRD must agree on admitting it."""
    try:
        admit(_manifest(kind, data))
        by_crd = True
    except ApiError:
        by_crd = False
    try:
        built = model.model_validate(data)
    except ValidationError:
        built = None
    assert by_crd == (built is not None), (data, by_crd)
    return built


def _pvm_data(cleanup: str, timeout: str, point: str) -> dict[str, Any]:
    return {
        "vaultRef": {"name": "vault"},
        "protectedItem": {"name": "WEB01"},
        "hyperV": {"host": "hv-01", "vmName": "WEB01"},
        "failover": {
            "commit": "Automatic",
            "recoveryPoint": point,
            "validation": {"tcpPorts": [3389], "timeout": timeout},
        },
        "testFailover": {
            "requestId": "d1",
            "networkId": DRILL_NET,
            "cleanupAfter": cleanup,
            "recoveryPoint": point,
        },
    }


def _run(world: Any, waits: list[float], probe_ok: bool, approve: bool = True) -> None:
    for wait in waits:
        if approve:
            world.approve_pending()
        world.cycle(probe_ok=probe_ok)
        world.tick()
        world.advance(wait)
    assert not world.violations, world.violations


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DURATIONS, DURATIONS, POINT, WAITS, st.booleans())
def test_protectedvm_lifecycle_takes_every_admitted_value(
    cleanup: str, timeout: str, point: str, waits: list[float], probe_ok: bool
) -> None:
    data = _pvm_data(cleanup, timeout, point)
    built = _admitted("ProtectedVM", ProtectedVMSpec, data)
    if built is None:
        return
    world = World(spec=built)
    _run(world, waits, probe_ok)  # the drill, with its cleanup time
    event(f"drill: {world.status.phase}")
    world.edit({"activeSite": "Azure"})
    _run(world, waits, probe_ok)  # the failover, with its validation timeout


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DURATIONS, POINT, WAITS)
def test_plan_lifecycle_takes_every_admitted_value(
    cleanup: str, point: str, waits: list[float]
) -> None:
    base = plan_spec().to_wire()
    data = {
        **base,
        "failover": {"type": "Unplanned", "recoveryPoint": point},
        "testFailover": {
            "requestId": "q3",
            "networkId": DRILL_NET,
            "cleanupAfter": cleanup,
            "recoveryPoint": point,
        },
    }
    built = _admitted("RecoveryPlan", RecoveryPlanSpec, data)
    if built is None:
        return
    world = PlanWorld(spec=built)
    _run(world, waits, probe_ok=True)


def test_past_the_bounds_the_lifecycle_still_does_not_raise() -> None:
    """A value no admission lets through (an object stored before the bounds) is still
    arithmetic the lifecycle survives: the syntax caps every part's digits."""
    admitted = spec(**_pvm_data("2h", "15m", "Latest"))
    assert admitted.test_failover is not None and admitted.failover.validation is not None
    longest = "9999h999999m9999999s"
    stored = admitted.model_copy(
        update={
            "test_failover": admitted.test_failover.model_copy(update={"cleanup_after": longest}),
            "failover": admitted.failover.model_copy(
                update={
                    "validation": admitted.failover.validation.model_copy(
                        update={"timeout": longest}
                    )
                }
            ),
        }
    )
    world = World(spec=stored)
    _run(world, [1e8] * 10, probe_ok=False, approve=False)  # (approving re-validates)
    world.spec = stored.model_copy(update={"active_site": "Azure"})
    world.generation += 1
    _run(world, [1e8] * 10, probe_ok=False, approve=False)
    assert world.status.test_failover is not None
