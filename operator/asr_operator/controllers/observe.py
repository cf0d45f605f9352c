"""Gather what the lifecycle asked for (`Wants`) from ASR and Hyper-V."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from asr_operator.api.protectedvm import ProtectedVMSpec, ProtectedVMStatus
from asr_operator.azure.errors import AsrError
from asr_operator.azure.observe import arm_segment
from asr_operator.controllers.clients import VaultClients
from asr_operator.controllers.refusals import asr_refusal, hyperv_refusal
from asr_operator.hyperv.errors import HyperVError
from asr_operator.lifecycle import protectedvm as lifecycle
from asr_operator.lifecycle.observation import Observation, ObservationError, Wants
from asr_operator.lifecycle.observed import AsrItem
from asr_operator.lifecycle.steps import Refusal


async def resolve_item(
    clients: VaultClients, spec: ProtectedVMSpec, status: ProtectedVMStatus, fresh: bool
) -> AsrItem:
    """The item by the id remembered in status, by exact id, or by friendly name.

    Not `fresh`: from the vault-wide list, so idle objects cost no read of their own.
    """
    ref = spec.protected_item
    if not fresh:
        cached = await (clients.items.get(ref.id) if ref.id else clients.items.find(ref.name or ""))
        if cached is not None:
            return cached
    if ref.fabric and ref.container and ref.id:
        return await clients.asr.get_item(ref.fabric, ref.container, ref.id)
    known = status.asr.item_id if status.asr else ""
    if known:
        fabric = arm_segment(known, "replicationFabrics")
        container = arm_segment(known, "replicationProtectionContainers")
        name = arm_segment(known, "replicationProtectedItems")
        item = await clients.asr.get_item(fabric, container, name)
        if ref.name is None or item.friendly_name.lower() == ref.name.lower():
            return item
    assert ref.name is not None
    found = await clients.items.find(ref.name)
    if found is None:
        raise LookupError(
            f"ASR vault {clients.asr.config.vault_name} has no protected item named {ref.name!r}"
        )
    return found


async def observe(
    clients: VaultClients, spec: ProtectedVMSpec, status: ProtectedVMStatus, wants: Wants
) -> Observation:
    obs = Observation()
    if wants.job_name:
        with contextlib.suppress(AsrError, LookupError):
            obs = replace(obs, job=await clients.jobs.get(wants.job_name))
    try:
        fresh = lifecycle.needs_fresh_item(wants, obs.job)
        item = await resolve_item(clients, spec, status, fresh)
    except LookupError as e:
        return replace(obs, item_error=ObservationError(Refusal.NOT_FOUND, str(e)))
    except AsrError as e:
        kind, message, _ = asr_refusal(e)
        return replace(obs, item_error=ObservationError(kind, message))
    obs = replace(obs, item=item)
    try:
        if wants.job_lookup_since is not None:
            jobs = await clients.asr.find_jobs_since(
                item.name, wants.job_lookup_since, item.friendly_name
            )
            obs = replace(obs, intent_jobs=tuple(jobs))
        if wants.recovery_points:
            obs = replace(obs, recovery_points=tuple(await clients.asr.list_recovery_points(item)))
        if wants.compute_sizes:
            obs = replace(obs, compute_sizes=tuple(await clients.asr.list_compute_sizes(item)))
    except (AsrError, LookupError):
        pass  # what could not be read stays None; the lifecycle waits for it
    if wants.hyperv and spec.hyper_v is not None:
        obs = await _observe_hyperv(clients, spec, obs)
    return obs


async def _observe_hyperv(
    clients: VaultClients, spec: ProtectedVMSpec, obs: Observation
) -> Observation:
    assert spec.hyper_v is not None
    host = spec.hyper_v.host
    if host in clients.host_errors:
        error = ObservationError(Refusal.PERMANENT, clients.host_errors[host])
        return replace(obs, hyperv_error=error)
    gateway = clients.hosts.get(host)
    if gateway is None:
        error = ObservationError(
            Refusal.NOT_FOUND,
            f"spec.hyperV.host {host!r} is not one of the vault's hyperVHosts",
        )
        return replace(obs, hyperv_error=error)
    try:
        return replace(obs, hyperv=await gateway.get_vm(spec.hyper_v.vm_name))
    except HyperVError as e:
        return replace(obs, hyperv_error=ObservationError(hyperv_refusal(e), str(e)))
