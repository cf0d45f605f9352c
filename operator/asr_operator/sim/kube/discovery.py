"""Discovery and OpenAPI documents, derived from the registry on every request.

Only what clients read is served: kubectl and kopf build their REST mappings from the
legacy discovery lists, and kubectl checks OpenAPI v3 for the `fieldValidation` query
parameter before choosing server-side field validation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import ALL_VERBS, SUB_VERBS, Registry, ResourceType

JSON = dict[str, Any]

KUBE_VERSION = {"major": "1", "minor": "32"}
GIT_VERSION = "v1.32.0-asr-operator-standin"


def version_info() -> JSON:
    return {
        **KUBE_VERSION,
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(address: str) -> JSON:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group(group: str, versions: list[str]) -> JSON:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> JSON:
    groups = [
        _group(group, versions)
        for group, versions in sorted(registry.group_versions().items())
        if group
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> JSON | None:
    versions = registry.group_versions().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def _resource(rt: ResourceType) -> list[JSON]:
    main: JSON = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(ALL_VERBS),
        "storageVersionHash": hashlib.sha256(rt.qualified.encode()).hexdigest()[:11],
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    result = [main]
    if rt.has_status:
        # No shortNames here: kubectl warns when two entries share one.
        result.append(
            {
                "name": f"{rt.plural}/status",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(SUB_VERBS),
            }
        )
    return result


def resource_list(registry: Registry, group: str, version: str) -> JSON | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [
            entry for rt in sorted(types, key=lambda t: t.plural) for entry in _resource(rt)
        ],
    }


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _query_parameter(name: str) -> JSON:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def openapi_v3_document(registry: Registry, group: str, version: str) -> JSON | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: JSON = {}
    schemas: JSON = {}
    for rt in types:
        gvk = {"group": group, "version": version, "kind": rt.kind}
        scope = "namespaces/{namespace}/" if rt.namespaced else ""
        item = f"/{_gv_path(group, version)}/{scope}{rt.plural}/{{name}}"
        schema_name = ".".join(p for p in (group or "io.k8s.api.core", version, rt.kind) if p)
        operation = {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [
                _query_parameter(n) for n in ("dryRun", "fieldManager", "fieldValidation")
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{schema_name}"}
                        }
                    },
                }
            },
        }
        paths[item] = {"patch": operation}
        schema: JSON = dict(rt.schema.raw) if rt.schema else {"type": "object"}
        schema["x-kubernetes-group-version-kind"] = [gvk]
        schemas[schema_name] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v3_index(registry: Registry) -> JSON:
    paths = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            doc = openapi_v3_document(registry, group, version)
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]
            gv = _gv_path(group, version)
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}
