"""Generate the CustomResourceDefinitions from the pydantic models.

The models are the single source of truth: the structural openAPIV3Schema, the CEL
rules and the printer columns all come from here, and a test fails when `crds/`
drifts from this output.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from asr_operator.api import protectedvm, recoveryplan, vault
from asr_operator.api.common import GROUP, VERSION

Schema = dict[str, Any]

# Keys of pydantic's JSON Schema that a structural schema does not carry.
_DROPPED = {"title", "additionalProperties", "$defs", "discriminator"}
_ALLOWED_MAP_VALUE = "additionalProperties"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    path: str
    description: str = ""
    priority: int = 0

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.path}
        if self.description:
            out["description"] = self.description
        if self.priority:
            out["priority"] = self.priority
        return out


@dataclass(frozen=True)
class Resource:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: tuple[Column, ...]

    @property
    def description(self) -> str:
        """What `kubectl explain <kind>` says: the docstring of the module defining it."""
        return " ".join((sys.modules[self.spec.__module__].__doc__ or "").split())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def file_name(self) -> str:
        return f"{GROUP}_{self.plural}.yaml"


_READY = Column("Ready", "string", '.status.conditions[?(@.type=="Ready")].status')
_AGE = Column("Age", "date", ".metadata.creationTimestamp")
_DESIRED = Column("Desired", "string", ".spec.activeSite", "Where the VM should run")
_ACTIVE = Column("Active", "string", ".status.activeSite", "Where ASR says it runs")
_PHASE = Column("Phase", "string", ".status.phase")
_REASON = Column(
    "Reason", "string", ".status.reason", "What it is doing now (or why it is stalled)", 1
)
_JOB = Column("Job", "string", ".status.job", "The running ASR job and its progress")

RESOURCES: tuple[Resource, ...] = (
    Resource(
        kind=protectedvm.KIND,
        plural=protectedvm.PLURAL,
        short_names=("pvm",),
        spec=protectedvm.ProtectedVMSpec,
        status=protectedvm.ProtectedVMStatus,
        columns=(
            _DESIRED,
            _ACTIVE,
            _PHASE,
            _READY,
            _JOB,
            Column("RPO", "integer", ".status.asr.rpoSeconds", "Recovery point objective (s)"),
            _AGE,
            _REASON,
        ),
    ),
    Resource(
        kind=recoveryplan.KIND,
        plural=recoveryplan.PLURAL,
        short_names=("rplan",),
        spec=recoveryplan.RecoveryPlanSpec,
        status=recoveryplan.RecoveryPlanStatus,
        columns=(
            _DESIRED,
            _ACTIVE,
            _PHASE,
            _READY,
            _JOB,
            Column("Progress", "string", ".status.progress", "The plan job's current step"),
            Column("VMs", "integer", ".status.itemCount", "Protected items in the plan"),
            _AGE,
            _REASON,
        ),
    ),
    Resource(
        kind=vault.KIND,
        plural=vault.PLURAL,
        short_names=("srv",),
        spec=vault.SiteRecoveryVaultSpec,
        status=vault.SiteRecoveryVaultStatus,
        columns=(
            Column("Vault", "string", ".spec.vaultName"),
            _READY,
            Column(
                "Hosts",
                "string",
                '.status.conditions[?(@.type=="HostsReachable")].status',
                "Hyper-V hosts reachable over WinRM",
            ),
            Column("Items", "integer", ".status.protectedItemCount"),
            _AGE,
        ),
    ),
)


def structural_schema(model: type[BaseModel]) -> Schema:
    """The model's JSON Schema, made structural: refs inlined, nullables folded."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Schema] = raw.get("$defs", {})
    return _convert(raw, defs)


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(merged, defs)
    any_of = node.get("anyOf")
    if any_of is not None:
        non_null = [s for s in any_of if s.get("type") != "null"]
        if len(non_null) != 1:
            raise ValueError(f"unions other than Optional are not structural: {node}")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return {**_convert({**non_null[0], **rest}, defs), "nullable": True}
    out: Schema = {}
    for key, value in node.items():
        if key in _DROPPED and not (key == _ALLOWED_MAP_VALUE and "properties" not in node):
            continue
        if key == "properties":
            out[key] = {name: _convert(sub, defs) for name, sub in value.items()}
        elif key == "items" or (key == _ALLOWED_MAP_VALUE and isinstance(value, dict)):
            out[key] = _convert(value, defs)
        elif key == _ALLOWED_MAP_VALUE:
            continue
        else:
            out[key] = value
    if "properties" in out:
        out.setdefault("type", "object")
    if out.get("default") is None:
        out.pop("default", None)
    return out


# What `kubectl explain` says of the fields every object has (Kubernetes' own wording).
_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values."
)
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. In CamelCase."
)
_METADATA_DOC = "Standard object's metadata: name, namespace, labels, annotations."


def crd(resource: Resource) -> dict[str, Any]:
    spec = structural_schema(resource.spec)
    status = structural_schema(resource.status)
    spec["description"] = f"Desired state of the {resource.kind}."
    status["description"] = f"Observed state of the {resource.kind}; written by the operator."
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": resource.crd_name,
            "labels": {"app.kubernetes.io/name": "asr-operator"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": resource.kind,
                "listKind": f"{resource.kind}List",
                "plural": resource.plural,
                "singular": resource.singular,
                "shortNames": list(resource.short_names),
                "categories": ["asr"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.to_wire() for c in resource.columns],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": resource.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": _API_VERSION_DOC,
                                },
                                "kind": {"type": "string", "description": _KIND_DOC},
                                "metadata": {"type": "object", "description": _METADATA_DOC},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def render(resource: Resource) -> str:
    """One CRD as a YAML document, as committed in crds/."""
    return "---\n" + yaml.safe_dump(crd(resource), sort_keys=False, width=100)


def render_all() -> str:
    return "".join(render(r) for r in sorted(RESOURCES, key=lambda r: r.file_name))
