"""What the lifecycle asks the controller to do next, and what came of it.

A step is one of: call ASR (`Submit`), probe the Azure VM (`Probe`), turn the source VM
off (`ShutdownSourceVM`), come back later (`Wait`), stop and explain (`Stall`), nothing
to do (`Done`), or let a deleted object go (`Release`). There is no step that cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from asr_operator.api.conditions import Reason
from asr_operator.lifecycle.observed import TargetSettings

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
)


# --- Steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Submit:
    """Call ASR. The returned status already holds the intent: persist it first."""

    action: Action


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


# --- Outcomes the controller reports back ---------------------------------------------


class Refusal(StrEnum):
    """How a gateway classified a failed call."""

    THROTTLED = "Throttled"
    TRANSIENT = "Transient"  # 5xx, timeout, dropped connection: a job may exist
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
