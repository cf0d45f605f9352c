"""Turning `failover.recoveryPoint` into the recovery point ASR should use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from asr_operator.api.common import RecoveryPointKind
from asr_operator.lifecycle.observed import RecoveryPoint


@dataclass(frozen=True)
class Resolved:
    """`point` None means "latest": ASR is sent no recoveryPointId."""

    point: RecoveryPoint | None


@dataclass(frozen=True)
class Unresolved:
    message: str


def resolve(
    choice: str, points: Sequence[RecoveryPoint], known: Mapping[str, datetime] | None = None
) -> Resolved | Unresolved:
    """`known`: times of points listed earlier (by lower-case name), to name the closest
    retained point when the chosen one is gone."""
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
    return Unresolved(_not_retained(choice, ordered, (known or {}).get(choice.lower())))


def describe(point: RecoveryPoint) -> str:
    return f"{point.name} ({point.time:%Y-%m-%d %H:%M:%S} UTC, {point.type or 'type unknown'})"


def _not_retained(choice: str, ordered: Sequence[RecoveryPoint], was: datetime | None) -> str:
    """Why `choice` cannot be used, and what can: the closest and the newest retained."""
    head = (
        f"recovery point {choice!r} is not among the {len(ordered)} points ASR retains "
        "(ASR deletes points past the retention window, and all others at commit)"
    )
    keywords = "Latest, LatestProcessed or LatestApplicationConsistent"
    if not ordered:
        return f"{head}. Set the recovery point to {keywords}."
    offers = []
    if was is not None:
        closest = min(ordered, key=lambda p: abs((p.time - was).total_seconds()))
        offers.append(f"closest to its time ({was:%Y-%m-%d %H:%M:%S} UTC): {describe(closest)}")
    offers.append(f"newest: {describe(ordered[0])}")
    if was is None and len(ordered) > 1:
        offers.append(f"oldest: {describe(ordered[-1])}")
    retained = "; ".join(offers)
    return f"{head}. Retained, {retained}. Set the recovery point to one of them or to {keywords}."


def latest(points: Sequence[RecoveryPoint]) -> RecoveryPoint | None:
    return max(points, key=lambda p: p.time, default=None)
