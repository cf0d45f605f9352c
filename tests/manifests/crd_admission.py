"""Admit manifests against the committed CRDs, as a real apiserver would on `kubectl apply`.

A thin adapter over the Kubernetes API stand-in's admission (`sim.kube.admission`): it
builds one `StructuralSchema` per kind from `crds/` and admits with strict field
validation, the default of `kubectl apply` since 1.27.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from asr_operator.sim.kube.admission import ApiError, StructuralSchema

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"

Manifest = dict[str, Any]


@functools.cache
def schemas() -> dict[tuple[str, str], StructuralSchema]:
    """(apiVersion, kind) -> the served version's schema, for every committed CRD."""
    out: dict[tuple[str, str], StructuralSchema] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            out[(f"{group}/{version['name']}", kind)] = StructuralSchema(
                version["schema"]["openAPIV3Schema"],
                kind=kind,
                group=group,
                version=version["name"],
            )
    return out


def is_custom_resource(manifest: Manifest) -> bool:
    return (manifest.get("apiVersion"), manifest.get("kind")) in schemas()


def admit(manifest: Manifest) -> Manifest:
    """The object as stored (defaults applied); raises `ApiError` as the apiserver refuses."""
    key = (str(manifest.get("apiVersion")), str(manifest.get("kind")))
    schema = schemas().get(key)
    if schema is None:
        raise KeyError(f"no CRD serves {key}")
    stored = copy.deepcopy(manifest)
    schema.admit(stored, None, field_validation="Strict")
    return stored


def load_all(path: Path) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


__all__ = ["ROOT", "ApiError", "Manifest", "admit", "is_custom_resource", "load_all", "schemas"]
