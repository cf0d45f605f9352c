"""Fault injection rules for the ASR simulator.

A rule matches requests by simulator operation name (e.g. `items.plannedFailover`,
`jobs.get`; see docs/simulator.md) and/or HTTP method, and fires `count` times
(-1: until cleared).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["status", "slow", "drop", "lost202"]


@dataclass
class FaultRule:
    kind: FaultKind
    operation: str = ""  # "" matches any operation
    method: str = ""  # "" matches any method
    count: int = 1  # -1 = forever
    status: int = 503  # for kind="status"
    delay: float = 0.0  # seconds, for kind="slow"
    code: str = ""  # error code in the body of kind="status"
    message: str = ""

    def matches(self, operation: str, method: str) -> bool:
        if self.count == 0:
            return False
        if self.operation and self.operation.lower() != operation.lower():
            return False
        return not (self.method and self.method.upper() != method.upper())

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultRule:
        return cls(
            kind=body["kind"],
            operation=str(body.get("operation", "")),
            method=str(body.get("method", "")),
            count=int(body.get("count", 1)),
            status=int(body.get("status", 503)),
            delay=float(body.get("delay", 0.0)),
            code=str(body.get("code", "")),
            message=str(body.get("message", "")),
        )


@dataclass
class JobFailure:
    """Make the next job of `operation` fail when it reaches task `task`.

    `operation` is the action name (`plannedFailover`, `failoverCommit`, ...) or the job's
    scenarioName; `task` is a 0-based index or a taskId / task name; `target` optionally
    limits the rule to one item (friendly name or VM id) or plan name.

    A member VM's name or id as `target` of a plan action (a failover, test failover or
    failback of a plan holding the VM) fails that VM's child task in its Boot group
    instead (`task` is not used then): the group's other VMs succeed, the job fails.
    """

    operation: str
    task: int | str = 0
    code: str = "70094"
    message: str = "Failover failed for the virtual machine."
    possible_causes: str = (
        "An internal error occurred while the virtual machine was being failed over."
    )
    recommended_action: str = "Retry the operation. If the issue persists, contact support."
    target: str = ""
    count: int = 1

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> JobFailure:
        task = body.get("task", 0)
        return cls(
            operation=str(body["operation"]),
            task=int(task) if isinstance(task, int) or str(task).isdigit() else str(task),
            code=str(body.get("code", "70094")),
            message=str(body.get("message", "Failover failed for the virtual machine.")),
            possible_causes=str(body.get("possibleCauses", cls.possible_causes)),
            recommended_action=str(body.get("recommendedAction", cls.recommended_action)),
            target=str(body.get("target", "")),
            count=int(body.get("count", 1)),
        )


@dataclass
class Faults:
    """The active rules; thread-safe so tests can inject from their own thread."""

    rules: list[FaultRule] = field(default_factory=list)
    job_failures: list[JobFailure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self.rules.append(rule)

    def add_job_failure(self, failure: JobFailure) -> None:
        with self._lock:
            self.job_failures.append(failure)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.job_failures.clear()

    def take(self, operation: str, method: str) -> FaultRule | None:
        """The first matching rule, consuming one of its shots."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(operation, method):
                    if rule.count > 0:
                        rule.count -= 1
                    return rule
        return None

    def take_job_failure(
        self, operations: tuple[str, ...], targets: tuple[str, ...], targeted: bool = False
    ) -> JobFailure | None:
        """The first failure for one of `operations` and `targets`, consuming one shot.

        `targeted`: only failures that name one of the targets (not the catch-all ones).
        """
        ops = {o.lower() for o in operations}
        tgts = {t.lower() for t in targets}
        with self._lock:
            for f in self.job_failures:
                if f.count == 0 or f.operation.lower() not in ops:
                    continue
                if (f.target or targeted) and f.target.lower() not in tgts:
                    continue
                if f.count > 0:
                    f.count -= 1
                return f
        return None
