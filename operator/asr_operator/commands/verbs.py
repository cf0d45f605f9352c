"""The verbs: read status, or patch spec and say what the operator will do with it.

Each verb is a function over a `Cluster` that writes to `out` and returns the exit code;
nothing here decides what ASR does (the operator does, from the spec written here).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from asr_operator.api.operation import REFRESH_ANNOTATION
from asr_operator.commands import show
from asr_operator.commands.cluster import KINDS, RECOVERY_PLAN, Cluster, CommandError, Kind

JSON = dict[str, Any]

# Exit codes: 1 refused or Stalled, 2 gave up waiting.
OK, REFUSED, TIMED_OUT = 0, 1, 2


def now() -> datetime:
    return datetime.now(UTC)


def label(kind: Kind, obj: JSON) -> str:
    meta = obj.get("metadata") or {}
    return f"{kind.kind} {meta.get('namespace', '')}/{meta.get('name', '')}"


# -- reading -------------------------------------------------------------------------


def status(
    cluster: Cluster, ref: str | None, all_namespaces: bool, out: TextIO, command: str
) -> int:
    if ref is not None:
        kind, obj = cluster.find(ref)
        out.write(show.render(kind.kind, obj, now(), command) + "\n")
        return OK
    rows = [(k, o) for k in KINDS for o in cluster.list(k, all_namespaces)]
    if not rows:
        where = "any namespace" if all_namespaces else f"namespace {cluster.namespace!r}"
        out.write(f"No ProtectedVM or RecoveryPlan in {where}.\n")
        return OK
    out.write(show.summary_header() + "\n")
    for kind, obj in sorted(
        rows, key=lambda r: (r[1]["metadata"].get("namespace", ""), r[0].kind, _name(r[1]))
    ):
        out.write(show.summary(kind.kind, obj) + "\n")
    return OK


def points(
    cluster: Cluster,
    ref: str,
    out: TextIO,
    err: TextIO,
    refresh: bool = True,
    timeout: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """The retained points from status, after asking the operator to list them now.

    The operator lists points only when an operation needs them; the refresh annotation
    asks for one listing (and new pre-checks), answered in status.lastHandledRefresh.
    """
    kind, obj = cluster.find(ref)
    if kind is RECOVERY_PLAN:
        err.write(
            f"{label(kind, obj)} fails over to a keyword (Latest, LatestProcessed or "
            "LatestApplicationConsistent) for every VM; a VM's own points: "
            "points <ProtectedVM name>.\n"
        )
        return REFUSED
    name = obj["metadata"]["name"]
    if refresh:
        asked = now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        cluster.annotate(kind, name, REFRESH_ANNOTATION, asked)
        deadline = clock() + timeout
        while (obj.get("status") or {}).get("lastHandledRefresh") != asked:
            if clock() >= deadline:
                err.write(
                    f"The operator did not list the points within {timeout:.0f}s (is it "
                    "running? see `status`); showing what status last listed.\n"
                )
                break
            sleep(1.0)
            obj = cluster.get(kind, name) or obj
    listed = show.points(obj)
    if listed is None:
        err.write(
            f"The status of {label(kind, obj)} lists no recovery points yet. "
            "spec.failover.recoveryPoint takes Latest, LatestProcessed, "
            "LatestApplicationConsistent, or the name of one retained point, as the portal's "
            "Change recovery point list or Get-AzRecoveryServicesAsrRecoveryPoint shows it.\n"
        )
        return REFUSED
    newest = listed.get("newest") or []
    when = str(listed.get("listedAt") or "-")[:19].replace("T", " ")
    retained = int(listed.get("retained") or 0)
    if not newest:
        out.write(f"{label(kind, obj)}: ASR retains no recovery point (listed {when} UTC).\n")
        return OK
    out.write(
        f"{label(kind, obj)}: the newest {len(newest)} of {retained} retained points, "
        f"listed {when} UTC\n"
    )
    out.write(f"{'NAME':<38} {'TIME (UTC)':<20} TYPE\n")
    for p in newest:
        at = str(p.get("time") or "-")[:19].replace("T", " ")
        out.write(f"{p.get('name', '-'):<38} {at:<20} {p.get('type') or '-'}\n")
    return OK


# -- approving -----------------------------------------------------------------------


def approve(cluster: Cluster, ref: str, out: TextIO, err: TextIO) -> tuple[int, Kind, JSON]:
    """Set spec.approve to the token status shows; refuse when nothing waits."""
    kind, obj = cluster.find(ref)
    status = obj.get("status") or {}
    waiting = status.get("awaitingApproval")
    if not waiting:
        err.write(
            f"Not approved: nothing waits for approval on {label(kind, obj)} "
            f"({show.state_line(obj)}).\n"
        )
        return REFUSED, kind, obj
    if not show.current(obj):
        err.write(
            f"Not approved: the status of {label(kind, obj)} is for generation "
            f"{status.get('observedGeneration')} and the spec is generation "
            f"{obj['metadata'].get('generation')}; what waits may change once the operator "
            "catches up. Run again in a moment.\n"
        )
        return REFUSED, kind, obj
    token = str(waiting.get("token"))
    if (obj.get("spec") or {}).get("approve") == token:
        out.write(f"{label(kind, obj)}: {waiting.get('action')} is already approved ({token}).\n")
        return OK, kind, obj
    patched = cluster.patch_spec(kind, obj["metadata"]["name"], {"approve": token})
    out.write(f"Approved {waiting.get('action')} on {label(kind, obj)} (spec.approve: {token}).\n")
    return OK, kind, patched


# -- spec patches --------------------------------------------------------------------


def failover(
    cluster: Cluster,
    ref: str,
    recovery_point: str | None,
    failover_type: str | None,
    out: TextIO,
    command: str,
) -> tuple[Kind, JSON]:
    kind, obj = cluster.find(ref)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    fo: JSON = {}
    if recovery_point:
        fo["recoveryPoint"] = recovery_point
    if failover_type == "Planned":
        fo.update(type="Planned", shutdownSourceVM=True)
    elif failover_type == "Unplanned":
        fo["type"] = "Unplanned"
    patch: JSON = {"activeSite": "Azure"}
    if fo:
        patch["failover"] = fo
    merged = {**(spec.get("failover") or {}), **fo}
    name = obj["metadata"]["name"]
    whose = f"every VM of recovery plan {spec.get('planName')}" if kind is RECOVERY_PLAN else name
    point = merged.get("recoveryPoint", "Latest")
    if spec.get("activeSite") == "Azure" and status.get("phase") in (
        "AwaitingCommit",
        "ChangingRecoveryPoint",
    ):
        plan = (
            f"{label(kind, obj)} is failed over and not committed: ASR applies recovery "
            f"point {point} (Change recovery point), then waits for the commit again."
            if recovery_point
            else f"{label(kind, obj)} already fails over to Azure; it waits for the commit: "
            f"{command} approve {name}."
        )
    elif spec.get("activeSite") == "Azure" and status.get("activeSite") == "Azure":
        plan = f"{label(kind, obj)} already runs in Azure, as desired; nothing new happens."
    else:
        kind_of = merged.get("type", "Planned")
        shutdown = (
            "ASR shuts the source VMs down first (no data loss)"
            if kind_of == "Planned"
            else (
                "ASR shuts the source VMs down first if it can"
                if merged.get("shutdownSourceVM", True)
                else "the source VMs are left running"
            )
        )
        if merged.get("commit", "Manual") == "Automatic":
            then = "then commits by itself"
            if merged.get("validation"):
                then += " once the Azure VM answers on its validation ports"
        else:
            then = f"then waits at AwaitingCommit for `{command} approve {name}`"
        plan = (
            f"{label(kind, obj)}: activeSite {spec.get('activeSite', 'OnPremises')} -> Azure. "
            f"The operator checks that ASR allows it and that replication is healthy, then runs "
            f"a {kind_of} failover of {whose} to recovery point {point} ({shutdown}), {then}."
        )
    patched = cluster.patch_spec(kind, name, patch)
    out.write(plan + "\n")
    return kind, patched


def failback(
    cluster: Cluster, ref: str, data_sync: str | None, out: TextIO, command: str
) -> tuple[Kind, JSON]:
    kind, obj = cluster.find(ref)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    patch: JSON = {"activeSite": "OnPremises"}
    if data_sync:
        patch["failback"] = {"dataSync": data_sync}
    name = obj["metadata"]["name"]
    fb = {**(spec.get("failback") or {}), **patch.get("failback", {})}
    if spec.get("activeSite", "OnPremises") == "OnPremises" and status.get("activeSite") in (
        None,
        "OnPremises",
    ):
        plan = f"{label(kind, obj)} already runs on-premises, as desired; nothing new happens."
    else:
        sync = fb.get("dataSync", "BeforeFailover")
        vms = "VMs of the plan" if kind is RECOVERY_PLAN else "VM"
        how = (
            "synchronizes data while the Azure VM runs (ForDownTime), then its job waits "
            f"for `{command} approve {name}` before it shuts the Azure VM down"
            if sync == "BeforeFailover"
            else "shuts the Azure VM down and synchronizes data during the failback "
            "(ForSynchronization)"
        )
        commit = (
            "commits by itself"
            if fb.get("commit", "Manual") == "Automatic"
            else f"waits for `{command} approve {name}` to commit"
        )
        plan = (
            f"{label(kind, obj)}: activeSite {spec.get('activeSite')} -> OnPremises. The "
            f"on-premises {vms} must stay off; ASR {how}. The operator then {commit}, and "
            f"reverse replication is {spec.get('reverseReplication', 'Automatic')}."
        )
    patched = cluster.patch_spec(kind, name, patch)
    out.write(plan + "\n")
    return kind, patched


def drill(
    cluster: Cluster,
    ref: str,
    request_id: str | None,
    network_id: str | None,
    cleanup_after: str | None,
    recovery_point: str | None,
    out: TextIO,
    command: str,
) -> tuple[Kind, JSON]:
    kind, obj = cluster.find(ref)
    spec = obj.get("spec") or {}
    current = spec.get("testFailover") or {}
    rid = request_id or now().strftime("drill-%Y%m%d-%H%M%S")
    if rid == current.get("requestId"):
        raise CommandError(
            f"a drill {rid!r} was already requested; a new drill needs a new --request-id"
        )
    tf: JSON = {"requestId": rid}
    for key, value in (
        ("networkId", network_id),
        ("cleanupAfter", cleanup_after),
        ("recoveryPoint", recovery_point),
    ):
        if value:
            tf[key] = value
    merged = {**current, **tf}
    if not merged.get("networkId"):
        raise CommandError(
            "give --network-id: the isolated virtual network the drill's test VM joins"
        )
    name = obj["metadata"]["name"]
    cleanup = (
        f"cleans it up {merged['cleanupAfter']} after it is up, or sooner on "
        f"`{command} approve {name}`"
        if merged.get("cleanupAfter")
        else f"keeps it up until `{command} approve {name}` (Test failover cleanup)"
    )
    patched = cluster.patch_spec(kind, name, {"testFailover": tf})
    out.write(
        f"{label(kind, obj)}: drill {rid!r}. ASR runs a test failover to recovery point "
        f"{merged.get('recoveryPoint', 'Latest')} into {merged['networkId']}; replication "
        f"goes on and production is untouched. The operator {cleanup}.\n"
    )
    return kind, patched


# -- following -----------------------------------------------------------------------


def follow(
    cluster: Cluster,
    kind: Kind,
    obj: JSON,
    out: TextIO,
    command: str,
    timeout: float,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Follow the object until Ready, Stalled or an approval gate: what the operator does
    for the spec just written (status of an older generation is not taken as the answer)."""
    name = obj["metadata"]["name"]
    generation = obj["metadata"].get("generation", 0)
    deadline = clock() + timeout
    said = ""
    while True:
        seen = cluster.get(kind, name)
        if seen is None:
            out.write(f"{label(kind, obj)} is gone.\n")
            return REFUSED
        answered = show.current(seen) and all(
            c.get("observedGeneration", 0) >= generation
            for c in (seen.get("status") or {}).get("conditions") or []
        )
        line = f"{show.state_line(seen)} | {show.running(seen.get('status') or {})}"
        if answered and line != said:
            out.write(f"  {line}\n")
            said = line
        if answered:
            stalled = show.condition(seen, "Stalled")
            waiting = (seen.get("status") or {}).get("awaitingApproval")
            if stalled and stalled.get("status") == "True":
                out.write(f"Stalled: {stalled.get('reason')}: {stalled.get('message', '')}\n")
                return REFUSED
            if show.is_true(seen, "Ready"):
                out.write(f"Ready: {label(kind, seen)}.\n")
                return OK
            if waiting and (seen.get("spec") or {}).get("approve") != waiting.get("token"):
                out.write(
                    f"Waiting for approval ({waiting.get('action')}, token "
                    f"{waiting.get('token')}): {command} approve {name}\n"
                )
                return OK
        if clock() >= deadline:
            out.write(f"Gave up waiting after {timeout:.0f}s: {show.state_line(seen)}\n")
            return TIMED_OUT
        sleep(interval)


def _name(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
