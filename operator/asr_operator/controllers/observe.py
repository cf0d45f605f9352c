"""Gather what the lifecycle asked for (`Wants`) from ASR and Hyper-V."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from asr_operator.api.common import ManagementPolicy
from asr_operator.api.protectedvm import ProtectedVMSpec, ProtectedVMStatus
from asr_operator.api.recoveryplan import PLURAL as PLAN_PLURAL
from asr_operator.api.recoveryplan import RecoveryPlanSpec, RecoveryPlanStatus
from asr_operator.azure.compute import AzureVms
from asr_operator.azure.errors import AsrError
from asr_operator.azure.observe import arm_segment
from asr_operator.controllers import kube
from asr_operator.controllers.clients import VaultClients
from asr_operator.controllers.refusals import asr_refusal, hyperv_refusal
from asr_operator.hyperv.errors import HyperVError
from asr_operator.lifecycle import protectedvm as lifecycle
from asr_operator.lifecycle import recoveryplan as plan_lifecycle
from asr_operator.lifecycle.observation import Observation, ObservationError
from asr_operator.lifecycle.observed import AsrItem, AsrPlan, HyperVVM, JobTarget
from asr_operator.lifecycle.steps import Refusal


async def resolve_item(
    clients: VaultClients,
    spec: ProtectedVMSpec,
    status: ProtectedVMStatus,
    fresh: bool,
    job_ended: bool = False,
) -> AsrItem:
    """The item by the id remembered in status, by exact id, or by friendly name.

    Not `fresh`: from the vault-wide list, so idle objects cost no read of their own.
    `job_ended`: the operation's job is over, so a read from before now may predate its
    effect: read again.
    """
    ref = spec.protected_item
    known = status.asr.item_id if status.asr else ""
    key = ref.id or arm_segment(known, "replicationProtectedItems")
    if job_ended:
        clients.items.changed(key)
    if not fresh:
        cached = await listed_item(clients, ref.id, ref.name)
        if cached is not None:
            return cached
    else:
        lately = clients.items.lately(key)
        if lately is not None and (
            ref.name is None or lately.friendly_name.lower() == ref.name.lower()
        ):
            return lately
    if ref.fabric and ref.container and ref.id:
        return await clients.items.fresh(ref.fabric, ref.container, ref.id)
    if known:
        fabric = arm_segment(known, "replicationFabrics")
        container = arm_segment(known, "replicationProtectionContainers")
        name = arm_segment(known, "replicationProtectedItems")
        item = await clients.items.fresh(fabric, container, name)
        if ref.name is None or item.friendly_name.lower() == ref.name.lower():
            return item
    assert ref.name is not None
    found = await clients.items.find(ref.name)
    if found is None:
        raise LookupError(
            f"ASR vault {clients.asr.config.vault_name} has no protected item named {ref.name!r}"
        )
    return found


async def observe_vm(
    clients: VaultClients,
    spec: ProtectedVMSpec,
    status: ProtectedVMStatus,
    namespace: str,
    name: str,
    refresh: str = "",
) -> Observation:
    wants = lifecycle.wants(spec, status, refresh)
    obs = Observation()
    if wants.job_name:
        with contextlib.suppress(AsrError, LookupError):
            obs = replace(obs, job=await clients.jobs.get(wants.job_name))
    try:
        fresh = lifecycle.needs_fresh_item(wants, obs.job)
        ended = obs.job is not None and obs.job.state.terminal
        item = await resolve_item(clients, spec, status, fresh, ended)
    except LookupError as e:
        return replace(obs, item_error=ObservationError(Refusal.NOT_FOUND, str(e)))
    except AsrError as e:
        kind, message, _ = asr_refusal(e)
        return replace(obs, item_error=ObservationError(kind, message))
    obs = replace(obs, item=item)
    try:
        if status.operation is None:  # one that may act must know who owns its item
            owner = await owning_plan(clients, namespace, spec.vault_ref.name, item)
            obs = replace(obs, owning_plan=owner)
        if wants.job_lookup_since is not None:
            target = JobTarget.item(item.name, item.friendly_name)
            jobs = await clients.asr.find_jobs_since(target, wants.job_lookup_since)
            obs = replace(obs, intent_jobs=tuple(jobs))
        if wants.recovery_points:
            obs = replace(obs, recovery_points=tuple(await clients.asr.list_recovery_points(item)))
        if wants.compute_sizes:
            obs = replace(obs, compute_sizes=tuple(await clients.asr.list_compute_sizes(item)))
    except (AsrError, LookupError, kube.KubeError):
        pass  # what could not be read stays None; the lifecycle waits for it
    recovery, test = lifecycle.azure_vm_reads(status, item, obs.job)
    if recovery or test:
        vms = AzureVms(clients.asr)
        if recovery:
            obs = replace(obs, azure_vm=await vms.recovery_vm(item))
        if test:
            obs = replace(obs, test_vm=await vms.test_vm(item))
    if wants.hyperv and spec.hyper_v is not None:
        obs = await _observe_hyperv(clients, spec, obs)
    return obs


# What a resting object hands the vault's sweep: None once what it decided on changed,
# else the observation as now listed (for the live metrics).
RestCheck = Callable[[], Awaitable[Observation | None]]


def rest_vm(
    clients: VaultClients,
    spec: ProtectedVMSpec,
    status: ProtectedVMStatus,
    obs: Observation,
    namespace: str,
    refresh: str,
) -> RestCheck | None:
    """How the vault's sweep tells that a resting ProtectedVM must cycle again: its item
    changed (`still_at_rest`) or the RecoveryPlan that owns it did."""
    item = obs.item
    if item is None or not lifecycle.at_rest(spec, status, item, refresh):
        return None
    # The check outlives the cycle: it holds what it compares, not the parsed spec and
    # status (a resting object keeps no model; see `Seen.rest`).
    ref_id, ref_name, vault = spec.protected_item.id, spec.protected_item.name, spec.vault_ref.name
    shown, owner = status.asr, obs.owning_plan

    async def check() -> Observation | None:
        now = await listed_item(clients, ref_id, ref_name)
        if now is None or not lifecycle.still_at_rest(shown, item, now):
            return None
        found = await owning_plan(clients, namespace, vault, now)
        return Observation(item=now) if found == owner else None

    return check


async def _observe_hyperv(
    clients: VaultClients, spec: ProtectedVMSpec, obs: Observation
) -> Observation:
    assert spec.hyper_v is not None
    found = await read_vm(clients, spec.hyper_v.host, spec.hyper_v.vm_name, "spec.hyperV.host")
    if isinstance(found, ObservationError):
        return replace(obs, hyperv_error=found)
    return replace(obs, hyperv=found)


async def read_vm(
    clients: VaultClients, host: str, vm_name: str, field: str
) -> HyperVVM | ObservationError:
    """One VM from its Hyper-V host, or why it cannot be read."""
    if host in clients.host_errors:
        return ObservationError(Refusal.PERMANENT, clients.host_errors[host])
    gateway = clients.hosts.get(host)
    if gateway is None:
        return ObservationError(
            Refusal.NOT_FOUND, f"{field} {host!r} is not one of the vault's hyperVHosts"
        )
    try:
        return await gateway.get_vm(vm_name)
    except HyperVError as e:
        return ObservationError(hyperv_refusal(e), str(e))


# --- RecoveryPlan ------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagedPlan:
    """A RecoveryPlan object under Full management, with its plan's items as ASR lists them."""

    name: str
    status: RecoveryPlanStatus
    item_ids: frozenset[str]  # lower case


async def listed_item(
    clients: VaultClients, item_id: str | None, name: str | None
) -> AsrItem | None:
    """The item as the vault-wide list shows it, by id or else by name."""
    return await (clients.items.get(item_id) if item_id else clients.items.find(name or ""))


async def owning_plan(
    clients: VaultClients, namespace: str, vault: str, item: AsrItem
) -> str | None:
    """The RecoveryPlan object under Full management whose plan holds `item`, if any."""
    plans = await managed_plans(clients, namespace, vault, cached=True)
    return next((p.name for p in plans if item.id.lower() in p.item_ids), None)


async def managed_plans(
    clients: VaultClients, namespace: str, vault: str, cached: bool = False
) -> list[ManagedPlan]:
    """Read from the RecoveryPlan objects of the namespace and ASR's own plan list, so the
    answer holds from the first cycle after a restart, before any plan was reconciled.

    `cached`: the namespace's list of plans as read for everyone up to half a poll ago.
    """
    if not cached:
        bodies = await kube.list_objects(PLAN_PLURAL, namespace)
        return _managed(bodies, await clients.plans.items() if bodies else [], vault)
    bodies = await clients.plan_objects_in(namespace).items()
    listed = await clients.plans.items() if bodies else []
    # Every idle object asks each cycle: parse the plans once per refresh of either list.
    key = (namespace, vault)
    memo = clients.owners_memo.get(key)
    if memo is not None and memo[0] is bodies and memo[1] is listed:
        found: list[ManagedPlan] = memo[2]
        return found
    found = _managed(bodies, listed, vault)
    clients.owners_memo[key] = (bodies, listed, found)
    return found


def _managed(bodies: list[dict[str, Any]], listed: list[AsrPlan], vault: str) -> list[ManagedPlan]:
    plans = {p.name.lower(): p for p in listed}
    found = []
    for body in bodies:
        try:
            spec = RecoveryPlanSpec.model_validate(body.get("spec") or {})
        except ValidationError:
            continue
        if spec.vault_ref.name != vault or spec.management_policy != ManagementPolicy.FULL:
            continue
        plan = plans.get(spec.plan_name.lower())
        if plan is None:
            continue
        try:
            status = RecoveryPlanStatus.model_validate(body.get("status") or {})
        except ValidationError:
            status = RecoveryPlanStatus()
        ids = frozenset(i.lower() for i in plan.item_ids)
        found.append(ManagedPlan(body["metadata"]["name"], status, ids))
    return found


async def observe_plan(
    clients: VaultClients,
    spec: RecoveryPlanSpec,
    status: RecoveryPlanStatus,
    namespace: str,
    name: str,
    refresh: str = "",
) -> Observation:
    """The plan, its members (fresh only when the plan may act) and their Hyper-V VMs."""
    wants = plan_lifecycle.wants(spec, status)
    obs = Observation()
    if wants.job_name:
        with contextlib.suppress(AsrError, LookupError):
            obs = replace(obs, job=await clients.jobs.get(wants.job_name))
    try:
        fresh = wants.fresh_item and (obs.job is None or obs.job.state.terminal)
        if fresh:
            plan = await clients.asr.get_plan(spec.plan_name)
        else:
            plan = next(
                (
                    p
                    for p in await clients.plans.items()
                    if p.name.lower() == spec.plan_name.lower()
                ),
                None,
            ) or await clients.asr.get_plan(spec.plan_name)
        ids = {i.lower() for i in plan.item_ids}
        listed = await (clients.asr.list_items(plan.name) if fresh else clients.items.items())
        members = tuple(i for i in listed if i.id.lower() in ids)
    except AsrError as e:
        kind, message, _ = asr_refusal(e)
        return replace(obs, item_error=ObservationError(kind, message))
    obs = replace(obs, plan=plan, members=members)
    try:
        if wants.job_lookup_since is not None:
            jobs = await clients.asr.find_jobs_since(
                JobTarget.plan(plan.name), wants.job_lookup_since
            )
            obs = replace(obs, intent_jobs=tuple(jobs))
        if fresh and status.operation is None:
            conflicts = await _conflicts(clients, spec, name, namespace, ids)
            obs = replace(obs, plan_conflicts=conflicts)
    except (AsrError, LookupError, kube.KubeError):
        pass  # what could not be read stays None; the lifecycle waits for it
    if wants.hyperv and spec.hyper_v:
        obs = await _observe_members(clients, spec, obs)
    on_azure = plan_lifecycle.member_azure_vm_reads(status, obs.members, obs.job)
    if on_azure:
        vms = AzureVms(clients.asr)
        read = await asyncio.gather(*(vms.recovery_vm(m) for m in on_azure))
        found = {m.friendly_name.lower(): vm for m, vm in zip(on_azure, read, strict=True)}
        obs = replace(obs, member_azure_vms=found)
    return obs


def rest_plan(
    clients: VaultClients,
    spec: RecoveryPlanSpec,
    status: RecoveryPlanStatus,
    obs: Observation,
    namespace: str,
    refresh: str,
) -> RestCheck | None:
    """How the vault's sweep tells that a resting RecoveryPlan must cycle again: the plan
    as listed, or a member (as `resting_mark` sees it), changed."""
    plan = obs.plan
    if plan is None or not plan_lifecycle.at_rest(spec, status, obs.members):
        return None
    marks = [lifecycle.resting_mark(m) for m in obs.members]
    ids = {i.lower() for i in plan.item_ids}

    async def check() -> Observation | None:
        name = plan.name.lower()
        now = next((p for p in await clients.plans.items() if p.name.lower() == name), None)
        if now != plan:
            return None
        members = tuple(i for i in await clients.items.items() if i.id.lower() in ids)
        if [lifecycle.resting_mark(m) for m in members] != marks:
            return None
        return Observation(plan=now, members=members)

    return check


async def _conflicts(
    clients: VaultClients, spec: RecoveryPlanSpec, name: str, namespace: str, members: set[str]
) -> tuple[str, ...]:
    """Other plans with an operation in flight that share a VM with this one."""
    return tuple(
        sorted(
            p.name
            for p in await managed_plans(clients, namespace, spec.vault_ref.name)
            if p.name != name and p.status.operation is not None and p.item_ids & members
        )
    )


async def _observe_members(
    clients: VaultClients, spec: RecoveryPlanSpec, obs: Observation
) -> Observation:
    hosts = {h.vm.lower(): h for h in spec.hyper_v or []}
    wanted = [
        (m.friendly_name.lower(), hosts[m.friendly_name.lower()])
        for m in obs.members
        if m.friendly_name.lower() in hosts
    ]
    found = await asyncio.gather(
        *(read_vm(clients, h.host, h.vm_name or h.vm, "spec.hyperV[].host") for _, h in wanted)
    )
    vms = {
        key: f
        for (key, _), f in zip(wanted, found, strict=True)
        if not isinstance(f, ObservationError)
    }
    errors = {
        key: f.message
        for (key, _), f in zip(wanted, found, strict=True)
        if isinstance(f, ObservationError)
    }
    return replace(obs, member_vms=vms, member_vm_errors=errors)
