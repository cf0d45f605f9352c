"""Check what the operator recorded against what the simulated vault actually ran.

ASR's side is the truth: the simulator keeps every job it created (its action, its
target and the caller's request id). An operator that runs each operation exactly once
records each of those jobs in exactly one history entry of its own kind of operation,
and records no job ASR did not run for it. Used by the end-to-end tests and the chaos
benchmark; the findings are sentences a person can check in the vault.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from asr_operator.sim.asr.app import WriteRecord
from asr_operator.sim.asr.jobs import SimJob

# The ASR actions (REST verbs) whose jobs can carry each operation of status.history.
ACTIONS_OF: Mapping[str, frozenset[str]] = {
    "Failover": frozenset({"plannedFailover", "unplannedFailover"}),
    "ChangeRecoveryPoint": frozenset({"applyRecoveryPoint"}),
    "Commit": frozenset({"failoverCommit"}),
    "Failback": frozenset({"plannedFailover"}),
    "FailbackCommit": frozenset({"failoverCommit"}),
    "ReverseReplication": frozenset({"reProtect"}),
    "TestFailover": frozenset({"testFailover"}),
    "TestFailoverCleanup": frozenset({"testFailoverCleanup"}),
    "UpdateTarget": frozenset({"update"}),
}


@dataclass(frozen=True)
class JobRecord:
    """One job as the vault ran it (a copy, safe to read outside the simulator's loop)."""

    name: str
    action: str
    target: str
    state: str
    client_request_id: str

    @classmethod
    def of(cls, job: SimJob) -> JobRecord:
        return cls(job.name, job.action, job.target_object_name, job.state, job.client_request_id)


def records(jobs: Iterable[SimJob]) -> list[JobRecord]:
    return [JobRecord.of(j) for j in jobs]


def audit(
    target: str,
    history: Iterable[Mapping[str, Any]],
    jobs: Iterable[JobRecord],
    in_flight: Iterable[str] = (),
) -> list[str]:
    """Findings for one item or plan (`target` is its name in ASR's jobs).

    `history` holds every entry the object ever recorded (oldest first, deduplicated by
    runId); `in_flight` the jobs its current operations follow. Returns nothing when every
    entry names a job of its own operation that no other entry claimed, and every job of
    the target is claimed (a job nobody claims was sent twice, or behind the operator's
    back).
    """
    mine = {j.name.lower(): j for j in jobs if j.target.lower() == target.lower()}
    findings: list[str] = []
    claimed: dict[str, str] = {}
    for h in history:
        what = f"{target}: {h.get('type')} {h.get('runId')} ({h.get('result')})"
        name = str(h.get("jobName") or "").lower()
        if not name:
            if h.get("result") != "Abandoned":
                findings.append(f"{what} names no ASR job")
            continue
        job = mine.get(name)
        if job is None:
            findings.append(f"{what} names job {name}, which ASR never ran for {target}")
            continue
        if job.action not in ACTIONS_OF.get(str(h.get("type")), frozenset()):
            findings.append(f"{what} names job {name}, a {job.action} job")
        if name in claimed:
            findings.append(f"{what} names job {name}, already recorded by {claimed[name]}")
        claimed[name] = str(h.get("runId"))
    running = {n.lower() for n in in_flight if n}
    for name, job in mine.items():
        if name not in claimed and name not in running:
            findings.append(
                f"{target}: ASR ran {job.action} job {name} ({job.state}) that no operation "
                "recorded"
            )
    return findings


def resends(
    target: str, operations: Iterable[Mapping[str, Any]], writes: Iterable[WriteRecord]
) -> list[str]:
    """Requests sent after ASR took an earlier request of the same operation.

    `operations` are history entries (and the operation in flight) with their `requestIds`
    in the order sent; `writes` what ASR received. Once a request of an operation created a
    job, no later request of it may reach ASR, nor the same one twice.
    """
    by_id: dict[str, list[WriteRecord]] = {}
    for w in writes:
        if w.client_request_id and not w.path.endswith("/resume"):
            by_id.setdefault(w.client_request_id.lower(), []).append(w)
    findings: list[str] = []
    for op in operations:
        taken = ""
        for rid in [str(r).lower() for r in op.get("requestIds") or []]:
            arrived = sorted(by_id.get(rid, []), key=lambda w: w.time)
            for w in arrived:
                if taken:
                    findings.append(
                        f"{target}: {op.get('type')} {op.get('runId')} sent request {rid} "
                        f"(answered {w.status}) after ASR took {taken}"
                    )
                if w.job:
                    taken = taken or f"{rid} (job {w.job})"
    return findings
