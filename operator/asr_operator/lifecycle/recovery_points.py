"""Turning `failover.recoveryPoint` into the recovery point ASR should use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asr_operator.api.common import RecoveryPointKind
from asr_operator.lifecycle.observed import RecoveryPoint


@dataclass(frozen=True)
class Resolved:
    """`point` None means "latest": ASR is sent no recoveryPointId."""

    point: RecoveryPoint | None


@dataclass(frozen=True)
class Unresolved:
    message: str


def resolve(choice: str, points: Sequence[RecoveryPoint]) -> Resolved | Unresolved:
    if choice == RecoveryPointKind.LATEST:
        return Resolved(None)
    ordered = sorted(points, key=lambda p: p.time, reverse=True)
    if choice == RecoveryPointKind.LATEST_PROCESSED:
        if not ordered:
            return Unresolved("ASR lists no recovery point yet for LatestProcessed")
        return Resolved(ordered[0])
    if choice == RecoveryPointKind.LATEST_APPLICATION_CONSISTENT:
        app = [p for p in ordered if p.app_consistent]
        if not app:
            return Unresolved(
                "ASR lists no application-consistent recovery point; choose Latest or "
                "LatestProcessed, or wait for the next app-consistent snapshot"
            )
        return Resolved(app[0])
    for p in ordered:
        if p.name.lower() == choice.lower():
            return Resolved(p)
    return Unresolved(
        f"recovery point {choice!r} is not in the item's {len(ordered)} retained points "
        "(ASR deletes points past the retention window and all others at commit)"
    )


def latest(points: Sequence[RecoveryPoint]) -> RecoveryPoint | None:
    return max(points, key=lambda p: p.time, default=None)
