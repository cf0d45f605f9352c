"""The resource types the stand-in serves: built-ins, and those registered by CRDs.

A CRD object is the single source for a custom resource: its names, scope, status
subresource, printer columns and structural schema all come from the CRD body, so the
project's generated CRDs plug in unchanged.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .admission import StructuralSchema

JSON = dict[str, Any]

CRD_GROUP = "apiextensions.k8s.io"


@dataclass(frozen=True)
class Column:
    """One printer column: a CRD `additionalPrinterColumns` entry or a built-in's column."""

    name: str
    type: str = "string"
    json_path: str = ""
    description: str = ""
    priority: int = 0
    format: str = ""
    compute: Callable[[JSON], Any] | None = None


NAME_COLUMN = Column("Name", "string", ".metadata.name", "Name must be unique", format="name")
AGE_COLUMN = Column("Age", "date", ".metadata.creationTimestamp", "Time since creation")

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUB_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    custom: bool = False
    schema: StructuralSchema | None = None
    columns: tuple[Column, ...] = (NAME_COLUMN, AGE_COLUMN)
    list_kind: str = ""
    # Built-ins like ConfigMap have no metadata.generation; CRs and CRDs do.
    tracks_generation: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> tuple[str, str]:
        return (self.group, self.version)

    @property
    def group_resource(self) -> tuple[str, str]:
        """Identifies the storage: all versions of one resource share objects."""
        return (self.group, self.plural)

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _count(key: str) -> Callable[[JSON], Any]:
    return lambda obj: len(obj.get(key) or {})


def _involved(obj: JSON) -> str:
    ref = obj.get("involvedObject") or obj.get("regarding") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def builtin_types() -> list[ResourceType]:
    core = "", "v1"
    event_columns = (
        Column("Last Seen", "date", ".lastTimestamp"),
        Column("Type", "string", ".type"),
        Column("Reason", "string", ".reason"),
        Column("Object", "string", compute=_involved),
        Column("Message", "string", ".message"),
    )
    return [
        ResourceType(
            *core,
            "namespaces",
            "namespace",
            "Namespace",
            False,
            ("ns",),
            has_status=True,
            columns=(NAME_COLUMN, Column("Status", "string", ".status.phase"), AGE_COLUMN),
        ),
        ResourceType(
            *core,
            "secrets",
            "secret",
            "Secret",
            True,
            columns=(
                NAME_COLUMN,
                Column("Type", "string", ".type"),
                Column("Data", "integer", compute=_count("data")),
                AGE_COLUMN,
            ),
        ),
        ResourceType(
            *core,
            "configmaps",
            "configmap",
            "ConfigMap",
            True,
            ("cm",),
            columns=(NAME_COLUMN, Column("Data", "integer", compute=_count("data")), AGE_COLUMN),
        ),
        ResourceType(*core, "events", "event", "Event", True, ("ev",), columns=event_columns),
        ResourceType(
            "events.k8s.io",
            "v1",
            "events",
            "event",
            "Event",
            True,
            ("ev",),
            columns=(
                Column("Last Seen", "date", ".deprecatedLastTimestamp"),
                Column("Type", "string", ".type"),
                Column("Reason", "string", ".reason"),
                Column("Object", "string", compute=_involved),
                Column("Message", "string", ".note"),
            ),
        ),
        # Leader election (asr-operator run --leader-election): a replace must carry the
        # resourceVersion it read, or be refused with 409, as in the real API server.
        ResourceType(
            "coordination.k8s.io",
            "v1",
            "leases",
            "lease",
            "Lease",
            True,
            columns=(NAME_COLUMN, Column("Holder", "string", ".spec.holderIdentity"), AGE_COLUMN),
        ),
        ResourceType(
            CRD_GROUP,
            "v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            False,
            ("crd", "crds"),
            ("api-extensions",),
            has_status=True,
            columns=(NAME_COLUMN, Column("Created At", "date", ".metadata.creationTimestamp")),
            tracks_generation=True,
        ),
    ]


def types_from_crd(crd: JSON) -> list[ResourceType]:
    """One ResourceType per served version of a CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    kind = names.get("kind", "")
    if not (group and plural and kind):
        raise ValueError("a CRD needs spec.group, spec.names.plural and spec.names.kind")
    result = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        raw_schema = (version.get("schema") or {}).get("openAPIV3Schema")
        printer = version.get("additionalPrinterColumns")
        if printer is None:
            columns: tuple[Column, ...] = (NAME_COLUMN, AGE_COLUMN)
        else:
            columns = (
                NAME_COLUMN,
                *(
                    Column(
                        name=c["name"],
                        type=c.get("type", "string"),
                        json_path=c.get("jsonPath", ""),
                        description=c.get("description", ""),
                        priority=int(c.get("priority", 0)),
                        format=c.get("format", ""),
                    )
                    for c in printer
                ),
            )
        result.append(
            ResourceType(
                group=group,
                version=version["name"],
                plural=plural,
                singular=names.get("singular") or kind.lower(),
                kind=kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                has_status="status" in (version.get("subresources") or {}),
                custom=True,
                schema=StructuralSchema(raw_schema, kind=kind, group=group, version=version["name"])
                if raw_schema
                else None,
                columns=columns,
                list_kind=names.get("listKind") or f"{kind}List",
                tracks_generation=True,
            )
        )
    return result


def crd_status(crd: JSON) -> JSON:
    """What the apiextensions controller reports once a CRD is accepted."""
    names = copy.deepcopy((crd.get("spec") or {}).get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    now = crd.get("metadata", {}).get("creationTimestamp")
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": t,
                "status": "True",
                "reason": r,
                "message": m,
                "lastTransitionTime": now,
            }
            for t, r, m in (
                ("NamesAccepted", "NoConflicts", "no conflicts found"),
                ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            )
        ],
        "storedVersions": [
            v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")
        ],
    }


class Registry:
    """Resource types by group/version/plural, and the lookups discovery and routing need."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._by_crd: dict[str, list[ResourceType]] = {}
        for rt in builtin_types():
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt

    def register_crd(self, crd: JSON) -> list[ResourceType]:
        name = crd["metadata"]["name"]
        self.unregister_crd(name)
        types = types_from_crd(crd)
        for rt in types:
            self.add(rt)
        self._by_crd[name] = types
        return types

    def unregister_crd(self, name: str) -> list[ResourceType]:
        types = self._by_crd.pop(name, [])
        for rt in types:
            self._types.pop((rt.group, rt.version, rt.plural), None)
        return types

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def find(self, resource: str) -> ResourceType:
        """By `plural`, `plural.group`, kind or short name: for direct (non-HTTP) access."""
        for rt in self._types.values():
            names = {rt.plural, rt.qualified, rt.kind, rt.kind.lower(), *rt.short_names}
            if resource in names:
                return rt
        raise KeyError(resource)

    def for_kind(self, api_version: str, kind: str) -> ResourceType:
        for rt in self._types.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        raise KeyError(f"{api_version}/{kind}")

    def group_versions(self) -> dict[str, list[str]]:
        """Group -> served versions (preferred first); the core group is ''."""
        result: dict[str, list[str]] = {}
        for group, version, _ in self._types:
            versions = result.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        for versions in result.values():
            versions.sort(key=_version_priority)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for (g, v, _), rt in self._types.items() if (g, v) == (group, version)]

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major, stage, minor = int(m[1]), m[2], int(m[3] or 0)
    rank = {"alpha": 2, "beta": 1, None: 0}[stage]
    return (rank, -major, -minor)


CrdSource = str | Path | JSON


def load_crds(sources: Iterable[CrdSource]) -> list[JSON]:
    """CRD dicts from dicts, YAML files (multi-document) or directories of YAML files."""
    result: list[JSON] = []
    for source in sources:
        if isinstance(source, dict):
            docs: list[Any] = [source]
        else:
            path = Path(source)
            files = (
                sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
                if path.is_dir()
                else [path]
            )
            docs = [d for f in files for d in yaml.safe_load_all(f.read_text())]
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                result.append(copy.deepcopy(doc))
            elif isinstance(doc, dict) and doc.get("kind") == "List":
                result.extend(load_crds(doc.get("items") or []))
    return result


__all__ = [
    "CRD_GROUP",
    "Column",
    "CrdSource",
    "Registry",
    "ResourceType",
    "builtin_types",
    "crd_status",
    "load_crds",
    "types_from_crd",
]
