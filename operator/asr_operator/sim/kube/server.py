"""The Kubernetes API stand-in: an aiohttp server over the store, registry and admission."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from aiohttp import web

from . import discovery, errors, protobuf, tables
from .errors import ApiError
from .faults import FaultInjector
from .kubeconfig import write_kubeconfig
from .patches import apply_patch
from .requestlog import LoggedRequest, RequestLog
from .resources import CRD_GROUP, CrdSource, Registry, ResourceType, load_crds
from .selectors import field_selector, label_selector
from .store import Event, Store, WriteResult

JSON = dict[str, Any]
log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public")
# Not a Kubernetes path: test control of a stand-in running in another process.
ADMIN = "_standin"
_NOT_FOUND = "the server could not find the requested resource"


def _json(body: Any, status: int = 200, warnings: Iterable[str] = ()) -> web.Response:
    response = web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )
    for warning in warnings:
        response.headers.add("Warning", f"299 - {json.dumps(warning)}")
    return response


def _truthy(value: str | None) -> bool:
    return value in ("true", "1", "True")


class KubeStandIn:
    """One in-process API server. `async with KubeStandIn(crds=[...]) as kube: kube.url`."""

    def __init__(
        self,
        crds: Iterable[CrdSource] = (),
        namespaces: Iterable[str] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 5.0,
        history_limit: int = 10_000,
    ) -> None:
        self.registry = Registry()
        self.store = Store(self.registry, history_limit=history_limit)
        self.faults = FaultInjector()
        self.log = RequestLog()
        self.host = host
        self.port = port
        self.bookmark_interval = bookmark_interval
        self._runner: web.AppRunner | None = None
        for crd in load_crds(crds):
            self.add_crd(crd)
        for namespace in dict.fromkeys([*SYSTEM_NAMESPACES, *namespaces]):
            self.ensure_namespace(namespace)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        self.store.close_watchers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        return write_kubeconfig(path, self.url, namespace=namespace)

    @property
    def requests(self) -> list[LoggedRequest]:
        return self.log.entries()

    # -- direct access (call on the server's loop; KubeStandInThread marshals) ---------

    def add_crd(self, crd: JSON) -> JSON:
        crd_type = self.registry.get(CRD_GROUP, "v1", "customresourcedefinitions")
        assert crd_type is not None
        return self.store.create(crd_type, None, crd).obj

    def ensure_namespace(self, name: str) -> JSON:
        rt = self.registry.find("namespaces")
        with contextlib.suppress(ApiError):
            return self.store.get(rt, None, name)
        return self.store.create(rt, None, {"metadata": {"name": name}}).obj

    def get(self, resource: str, name: str, namespace: str | None = None) -> JSON | None:
        try:
            return self.store.get(self.registry.find(resource), namespace, name)
        except ApiError:
            return None

    def list_objects(self, resource: str, namespace: str | None = None) -> list[JSON]:
        return self.store.list_objects(self.registry.find(resource), namespace, lambda obj: True)

    def create(self, obj: JSON) -> JSON:
        rt = self.registry.for_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self.store.create(rt, namespace if rt.namespaced else None, obj).obj

    def patch(
        self,
        resource: str,
        name: str,
        patch: JSON,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> JSON:
        """A merge patch, through the same semantics as an HTTP PATCH."""
        rt = self.registry.find(resource)
        return self.store.update(
            rt,
            namespace,
            name,
            lambda obj: apply_patch(obj, "application/merge-patch+json", patch, custom=rt.custom),
            subresource=subresource,
        ).obj

    def delete(self, resource: str, name: str, namespace: str | None = None) -> JSON:
        return self.store.delete(self.registry.find(resource), namespace, name)

    def compact(self) -> None:
        self.store.compact()

    # -- HTTP --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        entry = LoggedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            content_type=request.content_type if request.body_exists else "",
        )
        self.log.append(entry)
        try:
            response = await self._route(request, entry)
        except ApiError as err:
            response = _json(err.status(), err.code)
            response.headers.update(err.headers)
        except Exception as exc:  # a bug here must still answer like an apiserver
            log.exception("internal error serving %s %s", request.method, request.path)
            response = _json(ApiError(500, "InternalError", str(exc)).status(), 500)
        if entry.status is None:
            entry.status = response.status
            self.log.updated()
        return response

    async def _route(self, request: web.Request, entry: LoggedRequest) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        head = parts[0] if parts else ""
        if head in ("healthz", "readyz", "livez"):
            return web.Response(text="ok")
        if head == ADMIN:
            return await self._admin(request, parts[1:])
        if parts == ["version"]:
            return _json(discovery.version_info())
        if head == "openapi":
            return self._openapi(parts)
        if parts == ["api"]:
            return _json(discovery.api_versions(f"{self.host}:{self.port}"))
        if parts == ["apis"]:
            return _json(discovery.api_group_list(self.registry))
        if head == "apis" and len(parts) == 2:
            return self._found(discovery.api_group(self.registry, parts[1]))
        if (head == "api" and len(parts) == 2) or (head == "apis" and len(parts) == 3):
            group, version = ("", parts[1]) if head == "api" else (parts[1], parts[2])
            return self._found(discovery.resource_list(self.registry, group, version))
        if head == "api" and len(parts) > 2:
            return await self._resource(request, entry, "", parts[1], parts[2:])
        if head == "apis" and len(parts) > 3:
            return await self._resource(request, entry, parts[1], parts[2], parts[3:])
        raise ApiError(404, "NotFound", _NOT_FOUND)

    async def _admin(self, request: web.Request, parts: list[str]) -> web.Response:
        """Test control for a stand-in in another process: faults, request log, compaction."""
        if parts == ["faults"] and request.method == "POST":
            spec = await self._body(request)
            if not isinstance(spec, dict):
                raise errors.bad_request("a fault is a JSON object of FaultInjector.fail arguments")
            try:
                fault = self.faults.fail(**spec)
            except TypeError as exc:
                raise errors.bad_request(str(exc)) from exc
            return _json({"code": fault.code, "times": fault.times}, 201)
        if parts == ["faults"] and request.method == "DELETE":
            self.faults.clear()
            return _json({})
        if parts == ["requests"] and request.method == "GET":
            return _json([dataclasses.asdict(r) for r in self.log.entries()])
        if parts == ["compact"] and request.method == "POST":
            self.compact()
            return _json({"resourceVersion": str(self.store.rv)})
        raise ApiError(404, "NotFound", _NOT_FOUND)

    def _found(self, body: JSON | None) -> web.Response:
        if body is None:
            raise ApiError(404, "NotFound", _NOT_FOUND)
        return _json(body)

    def _openapi(self, parts: list[str]) -> web.Response:
        if parts == ["openapi", "v3"]:
            return _json(discovery.openapi_v3_index(self.registry))
        if len(parts) >= 4 and parts[1] == "v3":
            if parts[2] == "api" and len(parts) == 4:
                return self._found(discovery.openapi_v3_document(self.registry, "", parts[3]))
            if parts[2] == "apis" and len(parts) == 5:
                return self._found(discovery.openapi_v3_document(self.registry, parts[3], parts[4]))
        raise ApiError(404, "NotFound", _NOT_FOUND)

    def _target(
        self, group: str, version: str, rest: list[str]
    ) -> tuple[ResourceType, str | None, str | None, str | None]:
        types = {rt.plural: rt for rt in self.registry.in_group_version(group, version)}
        namespace = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and rest[2] in types
            and types[rest[2]].namespaced
        ):
            namespace, rest = rest[1], rest[2:]
        if rest[0] not in types or len(rest) > 3:
            raise ApiError(404, "NotFound", _NOT_FOUND)
        rt = types[rest[0]]
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource is not None and not (subresource == "status" and rt.has_status):
            raise ApiError(404, "NotFound", _NOT_FOUND)
        if name is not None and rt.namespaced and namespace is None:
            raise ApiError(404, "NotFound", _NOT_FOUND)
        return rt, namespace, name, subresource

    async def _resource(
        self, request: web.Request, entry: LoggedRequest, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        rt, namespace, name, subresource = self._target(group, version, rest)
        query = request.query
        method = request.method
        watch = method == "GET" and _truthy(query.get("watch"))
        verb = {
            "GET": "get" if name else ("watch" if watch else "list"),
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }.get(method)
        entry.verb, entry.group, entry.version, entry.resource = verb, group, version, rt.plural
        entry.kind, entry.namespace, entry.name, entry.subresource = (
            rt.kind,
            namespace,
            name,
            subresource,
        )
        body = await self._body(request) if method in ("POST", "PUT", "PATCH", "DELETE") else None
        entry.body = body
        injected = self.faults.check(entry)
        if injected is not None:
            raise injected
        in_body = body.get("dryRun") if isinstance(body, dict) and method == "DELETE" else None
        dry_run = query.get("dryRun") == "All" or "All" in (in_body or [])
        validation = query.get("fieldValidation", "Warn")
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        include = query.get("includeObject", "Metadata")
        matches_labels = label_selector(query.get("labelSelector"))
        matches_fields = field_selector(query.get("fieldSelector"))

        def matches(obj: JSON) -> bool:
            return matches_labels(obj) and matches_fields(obj)

        if verb == "watch":
            return await self._watch(request, entry, rt, namespace, matches, as_table, include)
        if verb == "list":
            items = self.store.list_objects(rt, namespace, matches)
            rv = str(self.store.rv)
            if as_table:
                return _json(tables.table(rt, items, rv, include))
            return _json(
                {
                    "kind": rt.list_kind or f"{rt.kind}List",
                    "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": rv},
                    "items": items,
                }
            )
        if verb == "get":
            assert name is not None
            obj = self.store.get(rt, namespace, name)
            if as_table:
                return _json(tables.table(rt, [obj], str(self.store.rv), include))
            return _json(obj)
        result: WriteResult
        if verb == "create":
            if name is not None:
                raise errors.method_not_allowed("POST to a named object is not supported")
            result = self.store.create(
                rt, namespace, body, dry_run=dry_run, field_validation=validation
            )
            return _json(result.obj, 201, result.warnings)
        if verb in ("update", "patch"):
            assert name is not None
            if verb == "update":
                change: Any = lambda obj: body  # noqa: E731
            else:
                content_type = request.content_type
                change = lambda obj: apply_patch(obj, content_type, body, custom=rt.custom)  # noqa: E731
            result = self.store.update(
                rt,
                namespace,
                name,
                change,
                subresource=subresource,
                replace=verb == "update",
                dry_run=dry_run,
                field_validation=validation,
            )
            return _json(result.obj, 200, result.warnings)
        if verb == "delete":
            assert name is not None
            options = body if isinstance(body, dict) else None
            return _json(self.store.delete(rt, namespace, name, options, dry_run=dry_run))
        if verb == "deletecollection":
            deleted = [
                self.store.delete(rt, namespace or None, obj["metadata"]["name"], dry_run=dry_run)
                for obj in self.store.list_objects(rt, namespace, matches)
            ]
            return _json(
                {
                    "kind": rt.list_kind or f"{rt.kind}List",
                    "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": str(self.store.rv)},
                    "items": deleted,
                }
            )
        raise errors.method_not_allowed(f"method {method} is not supported")

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        if request.content_type == "application/apply-patch+yaml":
            raise errors.unsupported_media_type(request.content_type)
        if request.content_type == protobuf.MEDIA_TYPE:
            try:
                return protobuf.decode(raw)
            except (ValueError, IndexError, UnicodeDecodeError) as exc:
                raise errors.bad_request(f"the protobuf body could not be decoded: {exc}") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise errors.bad_request(f"the body of the request is not valid JSON: {exc}") from exc

    async def _watch(
        self,
        request: web.Request,
        entry: LoggedRequest,
        rt: ResourceType,
        namespace: str | None,
        matches: Any,
        as_table: bool,
        include: str,
    ) -> web.StreamResponse:
        query = request.query
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            watcher = self.store.watch(rt, namespace, matches, query.get("resourceVersion"))
        except ApiError as err:
            if err.code != 410:
                raise
            entry.status = 200
            self.log.updated()
            await response.prepare(request)
            await response.write(
                json.dumps({"type": "ERROR", "object": err.status()}).encode() + b"\n"
            )
            return response
        loop = asyncio.get_running_loop()
        timeout = query.get("timeoutSeconds")
        deadline = loop.time() + int(timeout) if timeout else None
        bookmarks = _truthy(query.get("allowWatchBookmarks"))
        first_row = True
        try:
            await response.prepare(request)
            entry.status = 200
            self.log.updated()
            while True:
                wait = self.bookmark_interval if bookmarks else None
                if deadline is not None:
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    wait = left if wait is None else min(wait, left)
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), wait)
                except TimeoutError:
                    if bookmarks:
                        bookmark = {
                            "kind": rt.kind,
                            "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": str(self.store.rv)},
                        }
                        await response.write(
                            json.dumps({"type": "BOOKMARK", "object": bookmark}).encode() + b"\n"
                        )
                    continue
                if event is None:
                    break
                payload = self._event_object(rt, event, as_table, include, first_row)
                first_row = False
                await response.write(
                    json.dumps(
                        {"type": event.type, "object": payload}, separators=(",", ":")
                    ).encode()
                    + b"\n"
                )
        except ConnectionResetError:  # the client went away; nothing left to tell it
            return response
        finally:
            self.store.unwatch(watcher)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def _event_object(
        self, rt: ResourceType, event: Event, as_table: bool, include: str, headers: bool
    ) -> JSON:
        obj = self.store.view(rt, event.obj)
        if not as_table:
            return obj
        table = tables.table(rt, [obj], event.obj["metadata"]["resourceVersion"], include)
        if not headers:
            table["columnDefinitions"] = []
        return table
