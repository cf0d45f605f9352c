"""ProtectedVM: kopf glue; the cycle is `cycle.py`, the decisions `lifecycle/protectedvm.py`."""

from __future__ import annotations

from asr_operator.api.protectedvm import KIND, PLURAL, ProtectedVMSpec, ProtectedVMStatus
from asr_operator.controllers import cycle
from asr_operator.controllers.observe import observe_vm, rest_vm
from asr_operator.lifecycle import protectedvm as lifecycle

VM: cycle.Kind[ProtectedVMSpec, ProtectedVMStatus] = cycle.Kind(
    kind=KIND,
    plural=PLURAL,
    spec=ProtectedVMSpec,
    status=ProtectedVMStatus,
    vault_of=lambda spec: spec.vault_ref.name,
    observe=observe_vm,
    decide=lifecycle.decide,
    record=lifecycle.record,
    deletion=lifecycle.decide_deletion,
    rest=rest_vm,
)


cycle.register(VM, "protectedvm")
