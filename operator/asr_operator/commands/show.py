"""What a person reads: one object's desired state, what runs, what waits, RPO and recent
operations, from its spec and status alone (plain functions over the API's JSON)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

HISTORY_SHOWN = 5


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def duration(seconds: float) -> str:
    """4m12s, 1h03m, 45s: short and exact enough for an RTO."""
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def moment(value: object, now: datetime) -> str:
    """An API timestamp and how long ago it was."""
    at = parse_time(value)
    if at is None:
        return "-"
    ago = max(0.0, (now - at).total_seconds())
    return f"{at.strftime('%Y-%m-%d %H:%M:%SZ')} ({duration(ago)} ago)"


def condition(obj: JSON, type_: str) -> JSON | None:
    conds = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conds if c.get("type") == type_), None)


def is_true(obj: JSON, type_: str) -> bool:
    c = condition(obj, type_)
    return c is not None and c.get("status") == "True"


def current(obj: JSON) -> bool:
    """Status was written for the spec as it is now (not for an earlier generation)."""
    generation = (obj.get("metadata") or {}).get("generation")
    seen = (obj.get("status") or {}).get("observedGeneration")
    return generation is None or (seen is not None and seen >= generation)


def desired(kind: str, spec: JSON) -> str:
    site = spec.get("activeSite", "OnPremises")
    if spec.get("managementPolicy") == "ObserveOnly":
        return f"{site} (ObserveOnly: the operator watches and never acts)"
    if site == "Azure":
        fo = spec.get("failover") or {}
        words = [
            f"{fo.get('type', 'Planned')} failover",
            f"recovery point {fo.get('recoveryPoint', 'Latest')}",
            f"commit {fo.get('commit', 'Manual')}",
        ]
    else:
        fb = spec.get("failback") or {}
        words = [
            f"failback dataSync {fb.get('dataSync', 'BeforeFailover')}",
            f"commit {fb.get('commit', 'Manual')}",
            f"reverse replication {spec.get('reverseReplication', 'Automatic')}",
        ]
    text = f"{site} ({', '.join(words)})"
    tf = spec.get("testFailover") or {}
    if tf.get("requestId"):
        text += f"; drill {tf['requestId']!r}"
    return text


def running(status: JSON) -> str:
    op = status.get("operation")
    if not op:
        return "nothing"
    text = str(op.get("type", "?"))
    job = op.get("jobName")
    if job:
        text += f": ASR job {job}"
        if op.get("jobState"):
            text += f" {op['jobState']}"
        text += f", task {op.get('tasksDone', 0)}/{op.get('tasksTotal', 0)}"
        if op.get("currentTask"):
            text += f" {op['currentTask']}"
    elif not op.get("submitted"):
        text += ": request being sent to ASR"
    if op.get("recoveryPoint"):
        text += f" (recovery point {op['recoveryPoint']})"
    return text


def rpo(status: JSON, now: datetime) -> str | None:
    asr = status.get("asr") or {}
    if asr.get("rpoSeconds") is None and not asr.get("lastReplicatedTime"):
        return None
    text = duration(asr["rpoSeconds"]) if asr.get("rpoSeconds") is not None else "-"
    if asr.get("lastReplicatedTime"):
        text += f", last replicated {moment(asr['lastReplicatedTime'], now)}"
    if asr.get("replicationHealth"):
        text += f", health {asr['replicationHealth']}"
    return text


def history_lines(status: JSON) -> Iterator[str]:
    entries = list(status.get("history") or [])
    last = status.get("lastOperation")
    if last and not any(e.get("runId") == last.get("runId") for e in entries):
        entries.append(last)
    entries.sort(key=lambda e: str(e.get("endedAt", "")), reverse=True)
    for e in entries[:HISTORY_SHOWN]:
        line = (
            f"{e.get('type', '?'):<20} {e.get('result', '?'):<10} "
            f"{str(e.get('endedAt', '-'))[:19].replace('T', ' ')}  "
            f"took {duration(float(e.get('durationSeconds', 0)))}"
        )
        if e.get("recoveryPoint"):
            line += f"  point {e['recoveryPoint']}"
        if e.get("jobName"):
            line += f"  job {e['jobName']}"
        if e.get("error"):
            line += f"  error: {e['error']}"
        yield line


def state_line(obj: JSON) -> str:
    status = obj.get("status") or {}
    phase = status.get("phase") or "Pending"
    stalled = condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return f"{phase}, STALLED {stalled.get('reason')}: {stalled.get('message', '')}"
    ready = condition(obj, "Ready")
    if ready is None:
        return f"{phase} (the operator has not reported yet)"
    if ready.get("status") == "True":
        return f"{phase}, Ready: {ready.get('message', '')}"
    busy = condition(obj, "Reconciling") or ready
    return f"{phase}, not Ready ({busy.get('reason')}): {busy.get('message', '')}"


def render(kind: str, obj: JSON, now: datetime, command: str = "asr-operator") -> str:
    """The whole picture of one object, in the order a person asks the questions."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    name = meta.get("name", "?")
    rows: list[tuple[str, str]] = [
        ("Desired", desired(kind, spec)),
        ("Active", str(status.get("activeSite") or "unknown")),
        ("State", state_line(obj)),
        ("Running", running(status)),
    ]
    if kind == "RecoveryPlan":
        if status.get("progress"):
            rows.append(("Progress", str(status["progress"])))
        for g in status.get("groups") or []:
            rows.append(
                (
                    "  group",
                    f"{g.get('name')}: {g.get('state') or '-'} "
                    f"{g.get('vmsDone', 0)}/{g.get('vmsTotal', 0)} VMs",
                )
            )
    waiting = status.get("awaitingApproval")
    if waiting:
        rows.append(
            (
                "Waiting",
                f"{waiting.get('action')} since {moment(waiting.get('since'), now)}, "
                f"token {waiting.get('token')}",
            )
        )
        rows.append(("", str(waiting.get("message", ""))))
        rows.append(("", f"approve with: {command} approve {name}"))
    else:
        rows.append(("Waiting", "no approval is waiting"))
    if not current(obj):
        rows.append(
            (
                "Note",
                f"status is for generation {status.get('observedGeneration')}, spec is "
                f"generation {meta.get('generation')}: the operator has not caught up yet",
            )
        )
    point = rpo(status, now)
    if point is not None:
        rows.append(("RPO", point))
    vm = status.get("azureVM") or {}
    if vm.get("name"):
        rows.append(("Azure VM", azure_vm(vm)))
    for member in status.get("vms") or []:  # a RecoveryPlan's members running in Azure
        if (member.get("azureVM") or {}).get("name"):
            rows.append(("  in Azure", f"{member.get('name')}: {azure_vm(member['azureVM'])}"))
    checks = prechecks(status, now)
    if checks:
        rows.append(("Checks", checks))
    if status.get("disks"):
        rows.append(("Disks", disks(status["disks"])))
    lines = [f"{kind} {meta.get('namespace', '')}/{name}"]
    lines += [f"  {label + ':' if label else '':<10} {text}" for label, text in rows]
    history = list(history_lines(status))
    lines.append("  Last operations:" if history else "  Last operations: none yet")
    lines += [f"    {line}" for line in history]
    return "\n".join(lines)


def azure_vm(vm: JSON) -> str:
    """Name, power state and IPs, and how to connect."""
    words = [str(vm.get("name")), str(vm.get("powerState") or ""), *(vm.get("ips") or [])]
    text = " ".join(w for w in words if w)
    return f"{text} ({vm['connect']})" if vm.get("connect") else text


def prechecks(status: JSON, now: datetime) -> str:
    """One line: passed, or which Azure requirement fails and with what."""
    checks = status.get("prechecks")
    if not checks:
        return ""
    when = f"checked {moment(checks.get('checkedAt'), now)}"
    if checks.get("error"):
        return f"could not read the VM ({when}): {checks['error']}"
    failed = [r for r in checks.get("results") or [] if not r.get("passed")]
    if not failed:
        count = len(checks.get("results") or [])
        return f"{checks.get('vm')} meets Azure's requirements ({count} rules, {when})"
    named = "; ".join(f"{r.get('rule')}: {r.get('seen')} (Azure: {r.get('limit')})" for r in failed)
    return f"{checks.get('vm')} FAILS {named} ({when})"


def disks(listed: list[JSON]) -> str:
    return ", ".join(
        f"{'OS' if d.get('role') == 'OperatingSystem' else 'data'} {d.get('name')} "
        f"{d.get('sizeGB', 0):g} GB"
        + (f" {d['targetDiskType']}" if d.get("targetDiskType") else "")
        for d in listed
    )


def summary_header() -> str:
    return (
        f"{'NAMESPACE':<12} {'KIND':<13} {'NAME':<20} {'DESIRED':<11} {'ACTIVE':<11} "
        f"{'PHASE':<24} {'JOB':<28} WAITING"
    )


def summary(kind: str, obj: JSON) -> str:
    """One line per object, for `status` without a name."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    stalled = condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        phase = f"Stalled/{stalled.get('reason')}"
    waiting = status.get("awaitingApproval") or {}
    return (
        f"{meta.get('namespace', ''):<12} {kind:<13} {meta.get('name', ''):<20} "
        f"{spec.get('activeSite', 'OnPremises'):<11} {status.get('activeSite') or '-':<11} "
        f"{phase:<24} {status.get('job') or '-':<28} {waiting.get('token') or '-'}"
    )


def points(obj: JSON) -> JSON | None:
    """status.recoveryPoints (listedAt, retained, newest first); None when status has none."""
    listed = (obj.get("status") or {}).get("recoveryPoints")
    return listed if isinstance(listed, dict) else None
