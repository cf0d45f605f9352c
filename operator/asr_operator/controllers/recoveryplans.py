"""RecoveryPlan: kopf glue; the cycle is `cycle.py`, the decisions `lifecycle/recoveryplan.py`."""

from __future__ import annotations

from typing import Any

import kopf

from asr_operator.api.common import GROUP, VERSION
from asr_operator.api.recoveryplan import KIND, PLURAL, RecoveryPlanSpec, RecoveryPlanStatus
from asr_operator.controllers import cycle
from asr_operator.controllers.observe import observe_plan
from asr_operator.lifecycle import recoveryplan as lifecycle

PLAN: cycle.Kind[RecoveryPlanSpec, RecoveryPlanStatus] = cycle.Kind(
    kind=KIND,
    plural=PLURAL,
    spec=RecoveryPlanSpec,
    status=RecoveryPlanStatus,
    vault_of=lambda spec: spec.vault_ref.name,
    observe=observe_plan,
    decide=lifecycle.decide,
    record=lifecycle.record,
    deletion=lifecycle.decide_deletion,
)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_backoff=1.0, cancellation_timeout=30.0)
async def recoveryplan_daemon(
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    logger: Any,
    **_: Any,
) -> None:
    assert namespace is not None  # the CRD is namespaced
    await cycle.run_daemon(PLAN, namespace, name, memo, stopped, logger)


@kopf.on.update(GROUP, VERSION, PLURAL)
async def recoveryplan_changed(memo: kopf.Memo, **_: Any) -> None:
    cycle.wake(memo)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def recoveryplan_deleted(memo: kopf.Memo, body: Any, **_: Any) -> None:
    await cycle.deleted(PLAN, memo, body)
