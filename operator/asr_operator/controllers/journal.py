"""One log line per decision, per ASR outcome and per Event, scoped to the object.

In an incident the log must say what the operator decided for which object and why,
without the Azure SDK's HTTP dumps around it. Each line carries the object (under
`object`, as kopf's own lines do), its phase, the operation in flight and its ASR job,
as JSON fields (`--log-format json`) and, for a terminal, in the message itself.

Idle cycles (waiting, nothing changed) log at debug only, so a quiet cluster logs
nothing at info; a decision that acts or changes the phase or reason logs at info.
"""

from __future__ import annotations

import logging
from typing import Any

from asr_operator.api.common import GROUP, VERSION
from asr_operator.api.operation import OperationalStatus
from asr_operator.lifecycle.steps import (
    Accepted,
    Done,
    Outcome,
    Probe,
    ProbeResult,
    Refused,
    ShutdownResult,
    ShutdownSourceVM,
    Stall,
    Step,
    Submit,
    Wait,
)

log = logging.getLogger("asr_operator.decisions")


def scope(kind: str, namespace: str, name: str, status: OperationalStatus) -> dict[str, Any]:
    """The fields every line about one object carries (kopf puts `k8s_ref` under `object`)."""
    op = status.operation
    return {
        "k8s_ref": {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "namespace": namespace,
            "name": name,
        },
        "phase": str(status.phase or ""),
        "operation": op.type.value if op is not None else "",
        "run_id": op.run_id if op is not None else "",
        "job": (op.job_name if op is not None else "") or status.job,
    }


def _prefix(fields: dict[str, Any]) -> str:
    ref = fields["k8s_ref"]
    text = f"{ref['kind']} {ref['namespace']}/{ref['name']} [{fields['phase'] or '-'}]"
    if fields["operation"]:
        text += f" {fields['operation']}"
    if fields["job"]:
        text += f" job {fields['job']}"
    return text


def step_text(step: Step) -> tuple[str, dict[str, Any]]:
    """The step in words, and its own fields."""
    if isinstance(step, Submit):
        action = type(step.action).__name__
        return f"call ASR {action}", {"step": "Submit", "action": action}
    if isinstance(step, Probe):
        targets = ", ".join(f"{h}:{p}" for h, p in step.targets)
        return f"probe {targets}", {"step": "Probe"}
    if isinstance(step, ShutdownSourceVM):
        return f"turn off {step.vm_name} on {step.host}", {"step": "ShutdownSourceVM"}
    if isinstance(step, Wait):
        text = f"wait {step.delay:g}s ({step.reason.value}): {step.message}"
        return text, {"step": "Wait", "reason": step.reason.value}
    if isinstance(step, Stall):
        return f"stall ({step.reason.value}): {step.message}", {
            "step": "Stall",
            "reason": step.reason.value,
        }
    if isinstance(step, Done):
        return "done", {"step": "Done"}
    return type(step).__name__, {"step": type(step).__name__}


def decision(
    kind: str,
    namespace: str,
    name: str,
    before: OperationalStatus,
    after: OperationalStatus,
    step: Step,
) -> None:
    acts = isinstance(step, Submit | Probe | ShutdownSourceVM)
    changed = (before.phase, before.reason) != (after.phase, after.reason)
    level = logging.INFO if acts or changed else logging.DEBUG
    if not log.isEnabledFor(level):  # idle cycles cost no formatting
        return
    fields = scope(kind, namespace, name, after)
    text, own = step_text(step)
    log.log(level, "%s: decided to %s", _prefix(fields), text, extra={**fields, **own})


def outcome(
    kind: str, namespace: str, name: str, status: OperationalStatus, step: Step, result: Outcome
) -> None:
    fields = scope(kind, namespace, name, status)
    _, own = step_text(step)
    level = logging.INFO
    if isinstance(result, Accepted):
        text = f"ASR accepted: job {result.job_name}"
        own["job"] = result.job_name or fields["job"]
    elif isinstance(result, Refused):
        text = f"ASR refused ({result.kind.value}): {result.message}"
        own["refusal"] = result.kind.value
        level = logging.WARNING
    elif isinstance(result, ProbeResult):
        text = f"probe {'reached' if result.reachable else 'did not reach'} the VM: {result.detail}"
    elif isinstance(result, ShutdownResult):
        text = f"shutdown {'done' if result.ok else 'failed'}: {result.detail}"
    log.log(level, "%s: %s", _prefix(fields), text, extra={**fields, **own, "outcome": text})


def event(
    kind: str,
    namespace: str,
    name: str,
    status: OperationalStatus,
    type_: str,
    reason: str,
    message: str,
) -> None:
    """The line for an Event posted on the object (Warning Events log as warnings)."""
    fields = scope(kind, namespace, name, status)
    level = logging.WARNING if type_ == "Warning" else logging.INFO
    log.log(
        level,
        "%s: event %s %s: %s",
        _prefix(fields),
        type_,
        reason,
        message,
        extra={**fields, "event_type": type_, "event_reason": reason},
    )
