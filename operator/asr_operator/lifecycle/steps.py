"""What the lifecycle asks the controller to do next, and what came of it.

A step is one of: call ASR (`Submit`), probe the Azure VM (`Probe`), turn the source VM
off (`ShutdownSourceVM`), come back later (`Wait`), stop and explain (`Stall`), nothing
to do (`Done`), or let a deleted object go (`Release`). There is no step that cancels.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from asr_operator.api.conditions import Reason
from asr_operator.lifecycle.observed import NicSettings, TargetSettings

# --- ASR actions ---------------------------------------------------------------------


@dataclass(frozen=True)
class StartFailover:
    planned: bool
    recovery_point_id: str | None
    shutdown_source: bool


@dataclass(frozen=True)
class StartTestFailover:
    network_id: str
    recovery_point_id: str | None


@dataclass(frozen=True)
class StartTestFailoverCleanup:
    comments: str


@dataclass(frozen=True)
class StartCommit:
    pass


@dataclass(frozen=True)
class StartApplyRecoveryPoint:
    recovery_point_id: str


@dataclass(frozen=True)
class StartFailback:
    data_sync: str  # ASR's value: ForDownTime | ForSynchronization
    create_vm_if_not_found: bool


@dataclass(frozen=True)
class StartReprotect:
    pass


@dataclass(frozen=True)
class StartUpdateTarget:
    settings: TargetSettings


@dataclass(frozen=True)
class ResumeJob:
    job_name: str
    comments: str


# Recovery plan actions: a plan fails over to a recovery point *kind* (ASR has no named
# point for a plan) and has no change of recovery point or target settings of its own.


@dataclass(frozen=True)
class StartPlanFailover:
    planned: bool
    recovery_point_type: str  # Latest | LatestProcessed | LatestApplicationConsistent
    shutdown_source: bool


@dataclass(frozen=True)
class StartPlanTestFailover:
    network_id: str
    recovery_point_type: str


@dataclass(frozen=True)
class StartPlanTestFailoverCleanup:
    comments: str


@dataclass(frozen=True)
class StartPlanCommit:
    pass


@dataclass(frozen=True)
class StartPlanFailback:
    data_sync: str  # ASR's value: ForDownTime | ForSynchronization
    create_vm_if_not_found: bool


@dataclass(frozen=True)
class StartPlanReprotect:
    pass


Action = (
    StartFailover
    | StartTestFailover
    | StartTestFailoverCleanup
    | StartCommit
    | StartApplyRecoveryPoint
    | StartFailback
    | StartReprotect
    | StartUpdateTarget
    | ResumeJob
    | StartPlanFailover
    | StartPlanTestFailover
    | StartPlanTestFailoverCleanup
    | StartPlanCommit
    | StartPlanFailback
    | StartPlanReprotect
)

_ACTIONS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        StartFailover,
        StartTestFailover,
        StartTestFailoverCleanup,
        StartCommit,
        StartApplyRecoveryPoint,
        StartFailback,
        StartReprotect,
        StartUpdateTarget,
        ResumeJob,
        StartPlanFailover,
        StartPlanTestFailover,
        StartPlanTestFailoverCleanup,
        StartPlanCommit,
        StartPlanFailback,
        StartPlanReprotect,
    )
}


def action_to_intent(action: Action) -> tuple[str, str]:
    """The action as (kind, canonical JSON parameters), for the persisted intent."""
    return type(action).__name__, json.dumps(dataclasses.asdict(action), sort_keys=True)


def action_from_intent(kind: str, parameters: str) -> Action:
    """The action an intent recorded, exactly; `action_to_intent` in reverse."""
    cls = _ACTIONS.get(kind)
    if cls is None:
        raise ValueError(f"unknown ASR action {kind!r} in the intent")
    params: dict[str, Any] = json.loads(parameters)
    if cls is StartUpdateTarget:
        settings = dict(params["settings"])
        settings["nics"] = tuple(NicSettings(**n) for n in settings.get("nics", ()))
        settings["tags"] = tuple((str(k), str(v)) for k, v in settings.get("tags", ()))
        return StartUpdateTarget(TargetSettings(**settings))
    action: Action = cls(**params)
    return action


# --- Steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Submit:
    """Call ASR. The returned status already holds the intent: persist it first."""

    action: Action
    # Sent as x-ms-client-request-id; ASR names it in the job it creates (empty: none).
    # Bookkeeping of the send, not part of what is asked: equal steps ask the same.
    request_id: str = field(default="", compare=False)


@dataclass(frozen=True)
class Probe:
    """Try TCP connections to the failed-over VM; report with `ProbeResult`."""

    targets: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ShutdownSourceVM:
    host: str
    vm_name: str


@dataclass(frozen=True)
class Wait:
    reason: Reason
    message: str
    delay: float


@dataclass(frozen=True)
class Stall:
    reason: Reason
    message: str
    recheck: float = 60.0


@dataclass(frozen=True)
class Done:
    recheck: float = 60.0


@dataclass(frozen=True)
class Release:
    """Deletion may finish: remove the finalizer. Nothing is called in ASR or Hyper-V."""


Step = Submit | Probe | ShutdownSourceVM | Wait | Stall | Done | Release


def describe(step: Step) -> str:
    """A step in words, for the Reconciling condition's message."""
    if isinstance(step, Submit):
        return f"Calling ASR: {type(step.action).__name__}."
    if isinstance(step, Probe):
        return f"Probing the Azure VM on {', '.join(f'{h}:{p}' for h, p in step.targets)}."
    if isinstance(step, ShutdownSourceVM):
        return f"Turning off {step.vm_name} on {step.host}."
    return type(step).__name__


# --- Outcomes the controller reports back ---------------------------------------------


class Refusal(StrEnum):
    """How a gateway classified a failed call."""

    THROTTLED = "Throttled"
    TRANSIENT = "Transient"  # an error answer (5xx): no job was created by the request
    UNANSWERED = "Unanswered"  # timeout, dropped connection, 504: it may still reach ASR
    CONFLICT = "Conflict"  # another operation is running
    NOT_ALLOWED = "NotAllowed"
    PERMANENT = "Permanent"  # bad input
    AUTH_FAILED = "AuthFailed"
    NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Accepted:
    job_name: str


@dataclass(frozen=True)
class Refused:
    kind: Refusal
    message: str
    retry_after: float = 0.0


@dataclass(frozen=True)
class ProbeResult:
    reachable: bool
    detail: str


@dataclass(frozen=True)
class ShutdownResult:
    ok: bool
    detail: str


Outcome = Accepted | Refused | ProbeResult | ShutdownResult


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: str
    message: str
