"""Carry out one lifecycle step through the gateways and report its outcome."""

from __future__ import annotations

import asyncio
from typing import cast

from asr_operator.azure.gateway import AsrGateway, DataSync, PlanRecoveryPoint
from asr_operator.controllers.clients import VaultClients
from asr_operator.controllers.refusals import asr_refusal
from asr_operator.hyperv.errors import HyperVError
from asr_operator.lifecycle.observed import AsrItem, AsrPlan
from asr_operator.lifecycle.steps import (
    Accepted,
    Action,
    Outcome,
    Probe,
    ProbeResult,
    Refusal,
    Refused,
    ResumeJob,
    ShutdownResult,
    ShutdownSourceVM,
    StartApplyRecoveryPoint,
    StartCommit,
    StartFailback,
    StartFailover,
    StartPlanCommit,
    StartPlanFailback,
    StartPlanFailover,
    StartPlanReprotect,
    StartPlanTestFailover,
    StartPlanTestFailoverCleanup,
    StartReprotect,
    StartTestFailover,
    StartTestFailoverCleanup,
    StartUpdateTarget,
)

PROBE_TIMEOUT = 3.0


async def submit(
    clients: VaultClients,
    target: AsrItem | AsrPlan,
    intended: str,
    action: Action,
    request_id: str = "",
) -> Outcome:
    """Send the intent's request, with its request id, to what the intent names, only."""
    if target.id.lower() != intended.lower():
        return Refused(
            Refusal.PERMANENT,
            f"the intent names {intended}, but the object now resolves to {target.id}; "
            "nothing was sent",
        )
    if isinstance(target, AsrItem):
        clients.items.changed(target.name)  # a read from before the action is not fresh
    try:
        if isinstance(action, ResumeJob):  # a job's action, whatever the job acts on
            job = await clients.asr.resume_job(action.job_name, action.comments)
        elif isinstance(target, AsrPlan):
            job = await _plan_call(clients.asr, target.name, action, request_id)
        else:
            job = await _item_call(clients.asr, target, action, request_id)
    except Exception as e:  # every gateway failure is classified, none escapes
        kind, message, retry_after = asr_refusal(e)
        return Refused(kind, message, retry_after)
    finally:
        if isinstance(target, AsrItem):  # nor is one that started while ASR took it
            clients.items.changed(target.name)
    return Accepted(job)


async def _item_call(asr: AsrGateway, item: AsrItem, action: Action, rid: str) -> str:
    match action:
        case StartFailover(planned=True, recovery_point_id=rp):
            return await asr.start_planned_failover(item, rp, request_id=rid)
        case StartFailover(planned=False, recovery_point_id=rp, shutdown_source=shut):
            return await asr.start_unplanned_failover(item, rp, shut, request_id=rid)
        case StartTestFailover(network_id=net, recovery_point_id=rp):
            return await asr.start_test_failover(item, net, rp, request_id=rid)
        case StartTestFailoverCleanup(comments=comments):
            return await asr.start_test_failover_cleanup(item, comments, request_id=rid)
        case StartCommit():
            return await asr.start_commit(item, request_id=rid)
        case StartApplyRecoveryPoint(recovery_point_id=rp):
            return await asr.start_apply_recovery_point(item, rp, request_id=rid)
        case StartFailback(data_sync=sync, create_vm_if_not_found=create):
            mode = cast(DataSync, sync)
            return await asr.start_failback(item, mode, create, request_id=rid)
        case StartReprotect():
            return await asr.start_reprotect(item, request_id=rid)
        case StartUpdateTarget(settings=settings):
            return await asr.start_update_target(item, settings, request_id=rid)
        case _:
            raise ValueError(f"{type(action).__name__} is not an action on a protected item")


async def _plan_call(asr: AsrGateway, plan: str, action: Action, rid: str) -> str:
    match action:
        case StartPlanFailover(planned=True):
            return await asr.start_plan_planned_failover(plan, request_id=rid)
        case StartPlanFailover(recovery_point_type=rp, shutdown_source=shut):
            return await asr.start_plan_unplanned_failover(
                plan, _point_type(rp), shut, request_id=rid
            )
        case StartPlanTestFailover(network_id=net, recovery_point_type=rp):
            return await asr.start_plan_test_failover(plan, net, _point_type(rp), request_id=rid)
        case StartPlanTestFailoverCleanup(comments=comments):
            return await asr.start_plan_test_failover_cleanup(plan, comments, request_id=rid)
        case StartPlanCommit():
            return await asr.start_plan_commit(plan, request_id=rid)
        case StartPlanFailback(data_sync=sync, create_vm_if_not_found=create):
            mode = cast(DataSync, sync)
            return await asr.start_plan_failback(plan, mode, create, request_id=rid)
        case StartPlanReprotect():
            return await asr.start_plan_reprotect(plan, request_id=rid)
        case _:
            raise ValueError(f"{type(action).__name__} is not an action on a recovery plan")


def _point_type(value: str) -> PlanRecoveryPoint:
    return cast(PlanRecoveryPoint, value)


async def probe(step: Probe) -> ProbeResult:
    """Reachable when every probed port answers on at least one of the VM's addresses."""

    async def one(host: str, port: int) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROBE_TIMEOUT)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    results = await asyncio.gather(*(one(h, p) for h, p in step.targets))
    by_port: dict[int, bool] = {}
    for (_, port), ok in zip(step.targets, results, strict=True):
        by_port[port] = by_port.get(port, False) or ok
    closed = sorted(p for p, ok in by_port.items() if not ok)
    if closed:
        return ProbeResult(False, f"no answer on TCP {closed}")
    return ProbeResult(True, f"TCP {sorted(by_port)} answered")


async def shutdown(clients: VaultClients, step: ShutdownSourceVM) -> ShutdownResult:
    gateway = clients.hosts.get(step.host)
    if gateway is None:
        return ShutdownResult(False, f"no Hyper-V host {step.host!r} in the vault")
    try:
        state = await gateway.stop_vm(step.vm_name, turn_off=True)
    except HyperVError as e:
        return ShutdownResult(False, f"could not turn {step.vm_name} off: {e}")
    return ShutdownResult(True, f"{step.vm_name} on {step.host} is now {state.value}")
