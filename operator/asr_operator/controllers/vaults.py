"""SiteRecoveryVault: build the vault's clients, check ARM and the Hyper-V hosts, report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import kopf

from asr_operator.api.common import GROUP, VERSION
from asr_operator.api.conditions import (
    Condition,
    ConditionStatus,
    ConditionType,
    Reason,
    get_condition,
    is_true,
    set_condition,
    set_readiness,
)
from asr_operator.api.vault import PLURAL, HostStatus, SiteRecoveryVaultStatus
from asr_operator.azure.errors import AsrError
from asr_operator.controllers import kube
from asr_operator.controllers.clients import Registry, VaultClients, VaultUnavailable
from asr_operator.controllers.cycle import REGISTRY_KEY, registry
from asr_operator.controllers.status import merge_patch
from asr_operator.hyperv.errors import HyperVError

CHECK_INTERVAL = 60.0
STATUS_REFRESH = timedelta(minutes=10)


async def _hosts(clients: VaultClients) -> list[HostStatus]:
    async def one(name: str) -> HostStatus:
        try:
            await clients.hosts[name].ping()
        except HyperVError as e:
            return HostStatus(name=name, reachable=False, message=str(e))
        return HostStatus(name=name, reachable=True, message="WinRM answered")

    checked = await asyncio.gather(*(one(n) for n in clients.hosts))
    broken = [
        HostStatus(name=n, reachable=False, message=m) for n, m in clients.host_errors.items()
    ]
    return [*checked, *broken]


def _reach(error: AsrError) -> tuple[Reason, bool, str]:
    """(reason, stalled, message) of an ARM failure: refused credentials need a human."""
    if error.status in (401, 403):
        return (
            Reason.AUTHENTICATION_FAILED,
            True,
            f"ARM refused the vault's credentials: {error}. Fix spec.authentication or the "
            "Secret it references; the operator checks again every minute.",
        )
    return Reason.ARM_UNREACHABLE, False, f"ASR vault check failed: {error}"


async def check(vaults: Registry, namespace: str, name: str, body: dict[str, Any]) -> None:
    """Ready when ARM answers; Stalled when only a person can fix it (credentials, a
    missing Secret, a refused spec); the Hyper-V hosts are checked either way."""
    now = datetime.now(UTC)
    generation = int(body["metadata"].get("generation") or 1)
    raw = body.get("status") or {}
    try:
        status = SiteRecoveryVaultStatus.model_validate(raw)
    except ValueError:
        status = SiteRecoveryVaultStatus()
    hosts: list[HostStatus] = []
    count: int | None = None
    try:
        clients = await vaults.get(namespace, name)
    except VaultUnavailable as e:
        reason, stalled, message = Reason.VAULT_NOT_READY, True, str(e)
    else:
        try:
            count = len(await clients.items.items())  # the list idle ProtectedVMs share
            reason, stalled, message = (
                Reason.ARM_REACHABLE,
                False,
                f"ASR vault answers; {count} items",
            )
        except AsrError as e:
            reason, stalled, message = _reach(e)
        hosts = await _hosts(clients)
    ready = reason == Reason.ARM_REACHABLE
    conds = set_readiness(
        status.conditions, reason, message, generation, now, ready=ready, stalled=stalled
    )
    if ready:  # Ready says why it is ready (set_readiness would say only Reconciled)
        conds = set_condition(
            conds, ConditionType.READY, ConditionStatus.TRUE, reason, message, generation, now
        )
    if not hosts:
        h = (ConditionStatus.TRUE, Reason.NO_HOSTS, "No Hyper-V hosts to check.")
    elif all(x.reachable for x in hosts):
        h = (ConditionStatus.TRUE, Reason.HOSTS_OK, f"{len(hosts)} host(s) answer over WinRM.")
    else:
        bad = "; ".join(f"{x.name}: {x.message}" for x in hosts if not x.reachable)
        h = (ConditionStatus.FALSE, Reason.HOSTS_UNREACHABLE, bad)
    conds = set_condition(conds, ConditionType.HOSTS_REACHABLE, *h, generation, now)
    new = SiteRecoveryVaultStatus(
        observed_generation=generation,
        protected_item_count=count,
        last_checked_time=status.last_checked_time,
        hosts=hosts,
        conditions=conds,
    )
    # A check that found what status already says moves lastCheckedTime only every
    # STATUS_REFRESH: a write per check would be a write a minute that changes nothing.
    last = status.last_checked_time
    if merge_patch(raw, new.to_wire()) is not None or last is None or now - last >= STATUS_REFRESH:
        new = new.model_copy(update={"last_checked_time": now})
    patch = merge_patch(raw, new.to_wire())
    if patch is not None:
        await kube.patch_status(PLURAL, namespace, name, patch)
    _announce(body, status.conditions, conds)


def _announce(body: dict[str, Any], before: list[Condition], after: list[Condition]) -> None:
    """One Event per change: Warning when the vault stalls (or stalls for another reason),
    Normal when it is Ready again."""
    was = get_condition(before, ConditionType.STALLED)
    now = get_condition(after, ConditionType.STALLED)
    was_ready = is_true(before, ConditionType.READY)
    ref = cast(Any, body)
    if now is not None and now.status == ConditionStatus.TRUE:
        if was is None or was.status != ConditionStatus.TRUE or was.reason != now.reason:
            kopf.event(ref, type="Warning", reason=now.reason.value, message=now.message)
    elif is_true(after, ConditionType.READY) and not was_ready and before:
        ready = get_condition(after, ConditionType.READY)
        kopf.event(ref, type="Normal", reason="VaultReady", message=ready.message if ready else "")


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def vault_changed(
    namespace: str | None, name: str, body: Any, memo: kopf.Memo, **_: Any
) -> None:
    await registry(memo).forget(str(namespace), name)
    await check(registry(memo), str(namespace), name, dict(body))


@kopf.timer(GROUP, VERSION, PLURAL, interval=CHECK_INTERVAL, initial_delay=CHECK_INTERVAL)
async def vault_timer(
    namespace: str | None, name: str, body: Any, memo: kopf.Memo, **_: Any
) -> None:
    await check(registry(memo), str(namespace), name, dict(body))


# Where `asr-operator run` leaves its CallLimits in kopf's memo.
LIMITS_KEY = "call_limits"


@kopf.on.startup()
async def make_clients(memo: kopf.Memo, **_: Any) -> None:
    """One registry of vault clients for every controller; each object's memo shares it."""
    memo[REGISTRY_KEY] = Registry(memo.get(LIMITS_KEY))


@kopf.on.cleanup()
async def close_clients(memo: kopf.Memo, **_: Any) -> None:
    await registry(memo).close()
