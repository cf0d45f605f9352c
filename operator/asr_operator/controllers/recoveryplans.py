"""RecoveryPlan: kopf glue that reports what ASR says about the plan (observe only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from asr_operator.api.common import GROUP, VERSION
from asr_operator.api.recoveryplan import PLURAL, RecoveryPlanSpec, RecoveryPlanStatus
from asr_operator.azure.errors import AsrError
from asr_operator.controllers import kube
from asr_operator.controllers.clients import VaultUnavailable
from asr_operator.controllers.protectedvms import REGISTRY
from asr_operator.controllers.status import merge_patch
from asr_operator.lifecycle import recoveryplan as lifecycle
from asr_operator.lifecycle.observation import Context

CHECK_INTERVAL = 30.0


async def refresh(namespace: str, name: str, body: Any) -> None:
    raw = body.get("status") or {}
    try:
        spec = RecoveryPlanSpec.model_validate(body.get("spec") or {})
        status = RecoveryPlanStatus.model_validate(raw)
    except ValidationError as e:
        kopf.event(body, type="Warning", reason="InvalidSpec", message=str(e)[:1000])
        return
    try:
        clients = await REGISTRY.get(namespace, spec.vault_ref.name)
        plan = await clients.asr.get_plan(spec.plan_name)
        items = await clients.items.items()
    except (VaultUnavailable, AsrError) as e:
        kopf.event(body, type="Warning", reason="PlanUnreadable", message=str(e)[:1000])
        return
    ctx = Context(generation=int(body["metadata"].get("generation") or 1), now=datetime.now(UTC))
    new = lifecycle.report(spec, status, plan, items, ctx)
    patch = merge_patch(raw, new.to_wire())
    if patch is not None:
        await kube.patch_status(PLURAL, namespace, name, patch)


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def plan_changed(namespace: str | None, name: str, body: Any, **_: Any) -> None:
    await refresh(str(namespace), name, dict(body))


@kopf.timer(GROUP, VERSION, PLURAL, interval=CHECK_INTERVAL, initial_delay=CHECK_INTERVAL)
async def plan_timer(namespace: str | None, name: str, body: Any, **_: Any) -> None:
    await refresh(str(namespace), name, dict(body))
