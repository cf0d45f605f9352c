"""A small kopf operator for the stand-in's tests: every kopf feature the project uses."""

from __future__ import annotations

from typing import Any

import kopf

GROUP, VERSION, PLURAL = "example.asr-operator.io", "v1alpha1", "replicas"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = "example.asr-operator.io/finalizer"
    settings.watching.server_timeout = 2  # reconnects resume from the last resourceVersion
    settings.posting.level = 20


@kopf.on.create(GROUP, VERSION, PLURAL)
def created(spec: kopf.Spec, patch: kopf.Patch, body: kopf.Body, **_: Any) -> dict[str, str]:
    patch.status["phase"] = "Pending"
    kopf.info(body, reason="Created", message=f"replica for {spec['vmName']}")
    return {"message": "created"}


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.size")
def resized(new: Any, patch: kopf.Patch, body: kopf.Body, **_: Any) -> None:
    patch.status["phase"] = "Protected"
    patch.status["conditions"] = [{"type": "Ready", "status": "True", "reason": "Resized"}]
    kopf.info(body, reason="Resized", message=f"size {new}")


@kopf.on.delete(GROUP, VERSION, PLURAL)
def deleted(body: kopf.Body, **_: Any) -> None:
    kopf.info(body, reason="Deleting", message="finalizer released")


@kopf.timer(GROUP, VERSION, PLURAL, interval=0.2)
def tick(status: kopf.Status, patch: kopf.Patch, **_: Any) -> None:
    patch.status["ticks"] = int(status.get("ticks") or 0) + 1
