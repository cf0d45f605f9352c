"""Object storage with the apiserver's write semantics and a watchable event history.

Every method runs on the server's event loop and never awaits, so each write is atomic
with respect to watches: a watch registers and snapshots the history in one step.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import errors, metadata
from .errors import ApiError, cause
from .resources import CRD_GROUP, Registry, ResourceType, crd_status, types_from_crd
from .selectors import Predicate

JSON = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)
GroupResource = tuple[str, str]

NAMESPACES: GroupResource = ("", "namespaces")
CRDS: GroupResource = (CRD_GROUP, "customresourcedefinitions")

# Fields only the server sets; clients' values are ignored on create and update.
_SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
    "selfLink",
)
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    rv: int
    group_resource: GroupResource
    type: str
    obj: JSON


@dataclass(eq=False)
class Watcher:
    rt: ResourceType
    namespace: str | None
    matches: Predicate
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)

    def wants(self, event: Event) -> bool:
        if event.group_resource != self.rt.group_resource:
            return False
        ns = (event.obj.get("metadata") or {}).get("namespace")
        return (self.namespace is None or ns == self.namespace) and self.matches(event.obj)


@dataclass
class WriteResult:
    obj: JSON
    warnings: list[str] = field(default_factory=list)


class Store:
    def __init__(self, registry: Registry, *, history_limit: int = 10_000) -> None:
        self.registry = registry
        self.rv = 0
        self.history_limit = history_limit
        self._objects: dict[GroupResource, dict[Key, JSON]] = {}
        self._history: deque[Event] = deque()
        self._compacted_rv = 0
        self._watchers: set[Watcher] = set()

    # -- reads ---------------------------------------------------------------------------

    def view(self, rt: ResourceType, obj: JSON) -> JSON:
        """The stored object as served through `rt`'s version (no conversion, as CRDs' None)."""
        return (
            obj
            if obj.get("apiVersion") == rt.api_version
            else {**obj, "apiVersion": rt.api_version}
        )

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> JSON:
        obj = self._objects.get(rt.group_resource, {}).get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.group_resource, name)
        return self.view(rt, obj)

    def list_objects(
        self, rt: ResourceType, namespace: str | None, matches: Predicate
    ) -> list[JSON]:
        objects = self._objects.get(rt.group_resource, {})
        return [
            self.view(rt, obj)
            for (ns, _), obj in sorted(objects.items())
            if (namespace is None or ns == namespace) and matches(obj)
        ]

    # -- writes --------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> WriteResult:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(body)
        self._check_type(rt, obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            if namespace is None:
                raise errors.method_not_allowed("a namespaced resource is created in a namespace")
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace
            self._check_namespace_open(namespace)
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(_SUFFIX_ALPHABET, k=5))
        name = meta.get("name") or ""
        self._check_name(rt, name)
        self._check_metadata(rt, name, meta)
        key = self._key(rt, namespace, name)
        if key in self._objects.get(rt.group_resource, {}):
            raise errors.already_exists(rt.group_resource, name)
        for item in (*_SYSTEM_META, "managedFields"):
            meta.pop(item, None)
        if rt.has_status:
            obj.pop("status", None)
        meta["creationTimestamp"] = now()
        self._prepare(rt, obj, None)
        warnings = self._admit(rt, obj, None, field_validation)
        meta["uid"] = str(uuid.uuid4())
        if rt.tracks_generation:
            meta["generation"] = 1
        _drop_empty(meta)
        if rt.group_resource == CRDS:
            try:
                types_from_crd(obj)
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.invalid(
                    rt.kind, rt.group, name, [cause("FieldValueInvalid", "spec", str(exc))]
                ) from exc
            obj["status"] = crd_status(obj)
        if dry_run:
            return WriteResult(obj, warnings)
        self._commit(rt, key, obj, "ADDED")
        if rt.group_resource == CRDS:
            self.registry.register_crd(obj)
        return WriteResult(self.view(rt, obj), warnings)

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        change: Callable[[JSON], Any],
        *,
        subresource: str | None = None,
        replace: bool = False,
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> WriteResult:
        """PUT and PATCH: `change` maps the current object to the requested one."""
        key = self._key(rt, namespace, name)
        old = self._objects.get(rt.group_resource, {}).get(key)
        if old is None:
            raise errors.not_found(rt.group_resource, name)
        old_view = self.view(rt, old)
        new = change(copy.deepcopy(old_view))
        if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
            raise errors.bad_request("the object must be a JSON object with object metadata")
        self._check_type(rt, new)
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name "
                f"on the URL ({name})"
            )
        given = meta.get("resourceVersion")
        if given:
            if str(given) != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.group_resource, name)
        elif replace and rt.custom:
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    cause(
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old_view)
            new.pop("status", None)
            if status is not None:
                new["status"] = status
            meta = new["metadata"]
        elif rt.has_status:
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
        old_meta = old["metadata"]
        for item in (*_SYSTEM_META, "name", "namespace"):
            meta.pop(item, None)
            if item in old_meta:
                meta[item] = old_meta[item]
        meta.pop("managedFields", None)
        _drop_empty(meta)
        self._check_metadata(rt, name, meta)
        if old_meta.get("deletionTimestamp"):
            added = sorted(set(meta.get("finalizers", [])) - set(old_meta.get("finalizers", [])))
            if added:
                listed = ", ".join(f'"{f}"' for f in added)
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [
                        cause(
                            "FieldValueForbidden",
                            "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being "
                            f"deleted, found new finalizers []string{{{listed}}}",
                        )
                    ],
                )
        self._prepare(rt, new, old)
        warnings = self._admit(rt, new, old_view, field_validation)
        if new == old_view:
            return WriteResult(old_view, warnings)  # a no-op: no new version, no event
        if rt.tracks_generation and _spec(rt, new) != _spec(rt, old_view):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if dry_run:
            return WriteResult(new, warnings)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(rt, key, new)
        else:
            self._commit(rt, key, new, "MODIFIED")
            if rt.group_resource == CRDS and subresource is None:
                self.registry.register_crd(new)
        return WriteResult(self.view(rt, new), warnings)

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: JSON | None = None,
        *,
        dry_run: bool = False,
    ) -> JSON:
        key = self._key(rt, namespace, name)
        old = self._objects.get(rt.group_resource, {}).get(key)
        if old is None:
            raise errors.not_found(rt.group_resource, name)
        preconditions = (options or {}).get("preconditions") or {}
        for item in ("uid", "resourceVersion"):
            wanted = preconditions.get(item)
            actual = old["metadata"].get(item)
            if wanted and wanted != actual:
                raise errors.conflict(
                    rt.group_resource,
                    name,
                    f"Precondition failed: {item.upper() if item == 'uid' else 'ResourceVersion'} "
                    f"in precondition: {wanted}, {item} in object meta: {actual}",
                )
        if dry_run:
            return self.view(rt, old)
        blocked = old["metadata"].get("finalizers") or (
            rt.group_resource == NAMESPACES and self._namespace_has_content(name)
        )
        if not blocked:
            self._remove(rt, key, copy.deepcopy(old))
            return self.view(rt, old)
        if old["metadata"].get("deletionTimestamp"):
            return self.view(rt, old)
        new = copy.deepcopy(old)
        new["metadata"]["deletionTimestamp"] = now()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        if rt.group_resource == NAMESPACES:
            new.setdefault("status", {})["phase"] = "Terminating"
        self._commit(rt, key, new, "MODIFIED")
        if rt.group_resource == NAMESPACES:
            self._empty_namespace(name)
        return self.view(rt, new)

    # -- watches -------------------------------------------------------------------------

    def watch(
        self, rt: ResourceType, namespace: str | None, matches: Predicate, since: str | None
    ) -> Watcher:
        """A registered watcher, its queue pre-filled with the replay; 410 if too old."""
        watcher = Watcher(rt, namespace, matches)
        if since in (None, "", "0"):
            for obj in self.list_objects(rt, namespace, matches):
                watcher.queue.put_nowait(Event(self.rv, rt.group_resource, "ADDED", obj))
        else:
            try:
                since_rv = int(str(since))
            except ValueError as exc:
                raise errors.bad_request(f"invalid resource version: {since}") from exc
            if since_rv < self._compacted_rv:
                raise errors.gone(f"too old resource version: {since_rv} ({self._compacted_rv})")
            for event in self._history:
                if event.rv > since_rv and watcher.wants(event):
                    watcher.queue.put_nowait(event)
        self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def close_watchers(self) -> None:
        for watcher in list(self._watchers):
            watcher.queue.put_nowait(None)
        self._watchers.clear()

    def compact(self) -> None:
        """Forget the whole event history, as etcd compaction does: older RVs get 410."""
        self._history.clear()
        self._compacted_rv = self.rv

    # -- internals -----------------------------------------------------------------------

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return ((namespace or "") if rt.namespaced else "", name)

    def _check_type(self, rt: ResourceType, obj: JSON) -> None:
        if obj.get("apiVersion") not in (None, rt.api_version) or obj.get("kind") not in (
            None,
            rt.kind,
        ):
            raise errors.bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) or kind "
                f"({obj.get('kind')}) "
                f"does not match the expected API version ({rt.api_version}) and kind ({rt.kind})"
            )
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind

    def _check_name(self, rt: ResourceType, name: str) -> None:
        if not name:
            message = "Required value: name or generateName is required"
            raise errors.invalid(
                rt.kind, rt.group, name, [cause("FieldValueRequired", "metadata.name", message)]
            )
        causes = metadata.name_causes(name, label=rt.group_resource == NAMESPACES)
        if causes:
            raise errors.invalid(rt.kind, rt.group, name, causes)

    def _check_metadata(self, rt: ResourceType, name: str, meta: JSON) -> None:
        causes = metadata.metadata_causes(meta)
        if causes:
            raise errors.invalid(rt.kind, rt.group, name, causes)

    def _check_namespace_open(self, namespace: str) -> None:
        ns = self._objects.get(NAMESPACES, {}).get(("", namespace))
        if ns is None:
            raise errors.not_found(NAMESPACES, namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
            )

    def _prepare(self, rt: ResourceType, obj: JSON, old: JSON | None) -> None:
        """Per-kind defaults the built-in registries apply."""
        if rt.group_resource == NAMESPACES:
            obj.setdefault("status", {}).setdefault("phase", "Active")
        elif rt.group_resource == ("", "secrets"):
            for key, value in (obj.pop("stringData", None) or {}).items():
                obj.setdefault("data", {})[key] = base64.b64encode(str(value).encode()).decode()
            obj.setdefault("type", "Opaque")

    def _admit(
        self, rt: ResourceType, obj: JSON, old: JSON | None, field_validation: str
    ) -> list[str]:
        if not (rt.custom and rt.schema):
            return []
        return rt.schema.admit(obj, old, field_validation=field_validation)

    def _commit(self, rt: ResourceType, key: Key, obj: JSON, kind: str) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._objects.setdefault(rt.group_resource, {})[key] = obj
        self._emit(Event(self.rv, rt.group_resource, kind, obj))

    def _remove(self, rt: ResourceType, key: Key, last: JSON) -> None:
        self._objects.get(rt.group_resource, {}).pop(key, None)
        self.rv += 1
        last["metadata"]["resourceVersion"] = str(self.rv)
        self._emit(Event(self.rv, rt.group_resource, "DELETED", last))
        if rt.group_resource == CRDS:
            for gone in self.registry.unregister_crd(key[1]):
                for obj_key, obj in list(self._objects.get(gone.group_resource, {}).items()):
                    self._remove(gone, obj_key, copy.deepcopy(obj))
        namespace = key[0]
        if namespace and not self._namespace_has_content(namespace):
            ns = self._objects.get(NAMESPACES, {}).get(("", namespace))
            if ns is not None and ns["metadata"].get("deletionTimestamp"):
                self._remove(self.registry.find("namespaces"), ("", namespace), copy.deepcopy(ns))

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        while len(self._history) > self.history_limit:
            self._compacted_rv = self._history.popleft().rv
        for watcher in self._watchers:
            if watcher.wants(event):
                watcher.queue.put_nowait(event)

    def _namespace_has_content(self, namespace: str) -> bool:
        return any(ns == namespace for objects in self._objects.values() for ns, _ in objects)

    def _empty_namespace(self, namespace: str) -> None:
        for rt in self.registry:
            if not rt.namespaced:
                continue
            for (ns, name), _ in list(self._objects.get(rt.group_resource, {}).items()):
                if ns == namespace:
                    self.delete(rt, ns, name)


def _spec(rt: ResourceType, obj: JSON) -> JSON:
    """What moves `generation`: everything but metadata (and status with a status subresource)."""
    skip = {"metadata", "status"} if rt.has_status else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skip}


def _drop_empty(meta: JSON) -> None:
    for item in ("labels", "annotations", "finalizers", "ownerReferences"):
        if item in meta and not meta[item]:
            del meta[item]
