"""ProtectedVM: kopf glue; the cycle is `cycle.py`, the decisions `lifecycle/protectedvm.py`."""

from __future__ import annotations

from typing import Any

import kopf

from asr_operator.api.common import GROUP, VERSION
from asr_operator.api.protectedvm import KIND, PLURAL, ProtectedVMSpec, ProtectedVMStatus
from asr_operator.controllers import cycle
from asr_operator.controllers.observe import observe_vm
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
)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_backoff=1.0, cancellation_timeout=30.0)
async def protectedvm_daemon(
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    logger: Any,
    **_: Any,
) -> None:
    assert namespace is not None  # the CRD is namespaced
    await cycle.run_daemon(VM, namespace, name, memo, stopped, logger)


@kopf.on.update(GROUP, VERSION, PLURAL)
async def protectedvm_changed(memo: kopf.Memo, **_: Any) -> None:
    cycle.wake(memo)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def protectedvm_deleted(memo: kopf.Memo, body: Any, **_: Any) -> None:
    await cycle.deleted(VM, memo, body)
