"""RecoveryPlan: kopf glue; the cycle is `cycle.py`, the decisions `lifecycle/recoveryplan.py`."""

from __future__ import annotations

from asr_operator.api.recoveryplan import KIND, PLURAL, RecoveryPlanSpec, RecoveryPlanStatus
from asr_operator.controllers import cycle
from asr_operator.controllers.observe import observe_plan, rest_plan
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
    rest=rest_plan,
)


cycle.register(PLAN, "recoveryplan")
