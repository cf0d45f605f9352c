"""Carry out one lifecycle step through the gateways and report its outcome."""

from __future__ import annotations

import asyncio
from typing import Literal, cast

from asr_operator.controllers.clients import VaultClients
from asr_operator.controllers.refusals import asr_refusal
from asr_operator.hyperv.errors import HyperVError
from asr_operator.lifecycle.observed import AsrItem
from asr_operator.lifecycle.steps import (
    Accepted,
    Action,
    Outcome,
    Probe,
    ProbeResult,
    Refused,
    ResumeJob,
    ShutdownResult,
    ShutdownSourceVM,
    StartApplyRecoveryPoint,
    StartCommit,
    StartFailback,
    StartFailover,
    StartReprotect,
    StartTestFailover,
    StartTestFailoverCleanup,
    StartUpdateTarget,
)

PROBE_TIMEOUT = 3.0


async def submit(clients: VaultClients, item: AsrItem, action: Action) -> Outcome:
    asr = clients.asr
    try:
        match action:
            case StartFailover(planned=True, recovery_point_id=rp):
                job = await asr.start_planned_failover(item, rp)
            case StartFailover(planned=False, recovery_point_id=rp, shutdown_source=shut):
                job = await asr.start_unplanned_failover(item, rp, shut)
            case StartTestFailover(network_id=net, recovery_point_id=rp):
                job = await asr.start_test_failover(item, net, rp)
            case StartTestFailoverCleanup(comments=comments):
                job = await asr.start_test_failover_cleanup(item, comments)
            case StartCommit():
                job = await asr.start_commit(item)
            case StartApplyRecoveryPoint(recovery_point_id=rp):
                job = await asr.start_apply_recovery_point(item, rp)
            case StartFailback(data_sync=sync, create_vm_if_not_found=create):
                mode = cast(Literal["ForDownTime", "ForSynchronization"], sync)
                job = await asr.start_failback(item, mode, create)
            case StartReprotect():
                job = await asr.start_reprotect(item)
            case StartUpdateTarget(settings=settings):
                job = await asr.start_update_target(item, settings)
            case ResumeJob(job_name=name, comments=comments):
                job = await asr.resume_job(name, comments)
    except Exception as e:  # every gateway failure is classified, none escapes
        kind, message, retry_after = asr_refusal(e)
        return Refused(kind, message, retry_after)
    return Accepted(job)


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
