"""The ARM surface of the simulator: routing, auth, throttling, faults and the LRO protocol.

Paths are matched case-insensitively (ASR returns `/Subscriptions/...` ids and clients
follow them). Every ARM request is counted under an operation name such as
`items.plannedFailover` or `jobs.get` (docs/simulator.md lists them).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from asr_operator.sim.asr import azure_vms, bodies
from asr_operator.sim.asr.aad import TokenService
from asr_operator.sim.asr.faults import FaultRule, Faults, JobFailure
from asr_operator.sim.asr.jobs import SimJob, job_json, operation_status_json
from asr_operator.sim.asr.states import TFO_WAIT_TASK, Refusal, bad_input, not_found
from asr_operator.sim.asr.throttle import Throttler
from asr_operator.sim.asr.vault import Vault

_SEG = r"[^/]+"
VAULT = (
    rf"/subscriptions/(?P<sub>{_SEG})/resourceGroups/(?P<rg>{_SEG})"
    rf"/providers/Microsoft\.RecoveryServices/vaults/(?P<vault>{_SEG})"
)
FABRIC = rf"{VAULT}/replicationFabrics/(?P<fabric>{_SEG})"
CONTAINER = rf"{FABRIC}/replicationProtectionContainers/(?P<container>{_SEG})"
RPI = rf"{CONTAINER}/replicationProtectedItems/(?P<item>{_SEG})"
PLAN = rf"{VAULT}/replicationRecoveryPlans/(?P<plan>{_SEG})"
JOB = rf"{VAULT}/replicationJobs/(?P<job>{_SEG})"
# ARM's Compute and Network resources of the VMs a failover or drill creates (azure_vms.py).
RG = rf"/subscriptions/(?P<sub>{_SEG})/resourceGroups/(?P<rg>{_SEG})/providers"
VM = rf"{RG}/Microsoft\.Compute/virtualMachines/(?P<name>{_SEG})"
NIC = rf"{RG}/Microsoft\.Network/networkInterfaces/(?P<name>{_SEG})"

ITEM_ACTIONS = (
    "plannedFailover",
    "unplannedFailover",
    "testFailover",
    "testFailoverCleanup",
    "failoverCommit",
    "applyRecoveryPoint",
    "reProtect",
    "failoverCancel",
)
PLAN_ACTIONS = (
    "plannedFailover",
    "unplannedFailover",
    "testFailover",
    "testFailoverCleanup",
    "failoverCommit",
    "reProtect",
    "failoverCancel",
)
JOB_ACTIONS = ("cancel", "restart", "resume")


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str  # counter name; "{action}" is filled from the path


def _route(method: str, path: str, operation: str) -> Route:
    return Route(method, re.compile(f"^{path}/?$", re.IGNORECASE), operation)


ROUTES = [
    _route("GET", rf"{VAULT}/replicationFabrics", "fabrics.list"),
    _route("GET", FABRIC, "fabrics.get"),
    _route("GET", rf"{FABRIC}/replicationProtectionContainers", "containers.list"),
    _route("GET", CONTAINER, "containers.get"),
    _route("GET", rf"{CONTAINER}/replicationProtectedItems", "items.listByContainer"),
    _route("GET", rf"{VAULT}/replicationProtectedItems", "items.list"),
    _route("GET", RPI, "items.get"),
    _route("PATCH", RPI, "items.update"),
    _route("POST", rf"{RPI}/(?P<action>{'|'.join(ITEM_ACTIONS)})", "items.{action}"),
    _route("GET", rf"{RPI}/recoveryPoints", "recoveryPoints.list"),
    _route("GET", rf"{RPI}/recoveryPoints/(?P<rp>{_SEG})", "recoveryPoints.get"),
    _route("GET", rf"{RPI}/targetComputeSizes", "targetComputeSizes.list"),
    _route("GET", rf"{RPI}/operationresults/(?P<op>{_SEG})", "operationResults.get"),
    _route("GET", rf"{VAULT}/replicationJobs", "jobs.list"),
    _route("GET", JOB, "jobs.get"),
    _route("POST", rf"{JOB}/(?P<action>{'|'.join(JOB_ACTIONS)})", "jobs.{action}"),
    _route("GET", rf"{JOB}/operationresults/(?P<op>{_SEG})", "operationResults.get"),
    _route("GET", rf"{VAULT}/replicationRecoveryPlans", "plans.list"),
    _route("GET", PLAN, "plans.get"),
    _route("POST", rf"{PLAN}/(?P<action>{'|'.join(PLAN_ACTIONS)})", "plans.{action}"),
    _route("GET", rf"{PLAN}/operationresults/(?P<op>{_SEG})", "operationResults.get"),
    _route("GET", rf"{VAULT}/replicationOperationStatus/(?P<op>{_SEG})", "operationStatus.get"),
    _route("GET", VM, "virtualMachines.get"),
    _route("GET", NIC, "networkInterfaces.get"),
]


@dataclass
class WriteRecord:
    time: datetime
    path: str
    client_request_id: str
    status: int = 0  # 0 while handled; -1 when the connection dropped
    job: str = ""  # the job created (202), if any


@dataclass
class ArmSettings:
    retry_after: int = 0  # Retry-After on 202s (ASR sends 30)
    cancelled_spelling: str = "Canceled"  # replicationOperationStatus status for a cancelled job
    final_result_204: bool = False  # operationresults answers 204 instead of 200 + resource
    page_size: int = 100


@dataclass
class Arm:
    """Request handling over one vault; all state lives on the simulator loop."""

    vault: Vault
    tokens: TokenService
    throttler: Throttler
    faults: Faults
    settings: ArmSettings
    calls: Counter[str] = field(default_factory=Counter)
    # Every write request (POST, PATCH) as it arrived: who asked (x-ms-client-request-id),
    # what, what it was answered, and the job it created. The audit's record of the wire.
    writes: list[WriteRecord] = field(default_factory=list)
    _calls_lock: threading.Lock = field(default_factory=threading.Lock)

    # --- entry point ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("POST", "PATCH"):
            return await self._handle(request)
        record = WriteRecord(
            time=datetime.now(UTC),
            path=request.path,
            client_request_id=request.headers.get("x-ms-client-request-id", ""),
        )
        with self._calls_lock:
            self.writes.append(record)
        try:
            resp = await self._handle(request)
        except BaseException:
            record.status = -1  # the connection was cut while it was handled
            raise
        record.status = resp.status
        job_ref = resp.headers.get("x-ms-request-id", "") if resp.status == 202 else ""
        record.job = job_ref.rsplit("/replicationJobs/", 1)[-1] if job_ref else ""
        return resp

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        for route in ROUTES:
            m = route.pattern.match(path) if route.method == request.method else None
            if m:
                break
        else:
            if any(r.pattern.match(path) for r in ROUTES):
                return _error(405, "MethodNotAllowed", f"{request.method} is not supported here.")
            return _error(404, "ResourceNotFound", f"No route for {request.method} {path}.")
        params = m.groupdict()
        action = params.get("action") or ""
        operation = route.operation.replace("{action}", _canon_any(action))
        with self._calls_lock:
            self.calls[operation] += 1

        resp: web.StreamResponse
        principal = self.tokens.verify(request.headers.get("Authorization"))
        if principal is None:
            resp = _error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or invalid.",
            )
            tenant = self.vault.scenario.tenant_id
            resp.headers["WWW-Authenticate"] = (
                f'Bearer authorization_uri="https://{request.host}/{tenant}", error="invalid_token"'
            )
            return resp
        kind = Throttler.kind_of(request.method)
        decision = self.throttler.take(principal, kind)
        if not decision.allowed:
            with self._calls_lock:
                self.calls[f"throttled.{kind}"] += 1
            resp = _error(
                429,
                "TooManyRequests",
                f"The request is being throttled: too many {kind} for principal {principal}.",
            )
            resp.headers["Retry-After"] = str(decision.retry_after)
            resp.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = "0"
            return resp

        fault = self.faults.take(operation, request.method)
        if fault is not None and fault.kind != "lost202":
            early = await self._apply_fault(request, fault)
            if early is not None:
                return early
        sub, rg, vault_name = params["sub"], params["rg"], params.get("vault")
        sc = self.vault.scenario
        try:
            if not request.query.get("api-version"):
                raise Refusal(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                )
            if vault_name is not None and (
                sub.lower() != sc.subscription_id.lower()
                or rg.lower() != sc.resource_group.lower()
                or vault_name.lower() != sc.vault.lower()
            ):
                raise Refusal(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.RecoveryServices/vaults/{vault_name}' under resource "
                    f"group '{rg}' was not found.",
                )
            resp = await self._dispatch(request, operation, params)
        except Refusal as r:
            resp = web.json_response(r.body, status=r.status)
        resp.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(decision.remaining)
        if fault is not None and fault.kind == "lost202":
            await _drop(request)
        return resp

    async def _apply_fault(
        self, request: web.Request, fault: FaultRule
    ) -> web.StreamResponse | None:
        if fault.kind == "slow":
            await request.read()  # received in full; only the processing is slow
            await asyncio.sleep(fault.delay)
            return None
        if fault.kind == "drop":
            await _drop(request)
            return web.Response(status=500)
        return _error(
            fault.status,
            fault.code or ("InternalServerError" if fault.status >= 500 else str(fault.status)),
            fault.message or "An internal error occurred. Please retry the request.",
        )

    # --- dispatch --------------------------------------------------------------------------------

    async def _dispatch(
        self, request: web.Request, operation: str, p: dict[str, str]
    ) -> web.StreamResponse:
        v = self.vault
        group, _, verb = operation.partition(".")
        if operation == "virtualMachines.get":
            expand = request.query.get("$expand", "")
            return web.json_response(azure_vms.vm_json(v, p["sub"], p["rg"], p["name"], expand))
        if operation == "networkInterfaces.get":
            return web.json_response(azure_vms.nic_json(v, p["sub"], p["rg"], p["name"]))
        if group == "fabrics":
            if verb == "list":
                return self._page(request, [bodies.fabric_json(v, f) for f in v.fabrics()])
            if p["fabric"] not in v.fabrics():
                raise not_found(f"Fabric '{p['fabric']}'")
            return web.json_response(bodies.fabric_json(v, p["fabric"]))
        if group == "containers":
            if p["fabric"] not in v.fabrics():
                raise not_found(f"Fabric '{p['fabric']}'")
            body = bodies.container_json(v, p["fabric"])
            if verb == "list":
                return self._page(request, [body])
            if p["container"].lower() != body["name"].lower():
                raise not_found(f"Protection container '{p['container']}'")
            return web.json_response(body)
        if operation == "items.list":
            items = list(v.items.values())
            flt = _filter_terms(request.query.get("$filter", ""))
            if "recoveryplanname" in flt:
                names = {n.lower() for n in flt["recoveryplanname"]}
                items = [i for i in items if names & {pl.lower() for pl in i.plans}]
            return self._page(request, [bodies.item_json(v, i) for i in items])
        if operation == "items.listByContainer":
            items = [
                i
                for i in v.items.values()
                if i.fabric.lower() == p["fabric"].lower()
                and i.container.lower() == p["container"].lower()
            ]
            return self._page(request, [bodies.item_json(v, i) for i in items])
        if group == "items":
            item = v.item(p["fabric"], p["container"], p["item"])
            if verb == "get":
                return web.json_response(bodies.item_json(v, item))
            body = await _json_body(request)
            job = {
                "update": lambda: v.update(item, body),
                "plannedFailover": lambda: v.planned_failover(item, body),
                "unplannedFailover": lambda: v.unplanned_failover(item, body),
                "testFailover": lambda: v.test_failover(item, body),
                "testFailoverCleanup": lambda: v.test_failover_cleanup(item, body),
                "failoverCommit": lambda: v.failover_commit(item),
                "applyRecoveryPoint": lambda: v.apply_recovery_point(item, body),
                "reProtect": lambda: v.reprotect(item, body),
                "failoverCancel": lambda: v.failover_cancel(item),
            }[verb]()
            return self._accepted(request, _requested_by(request, job))
        if group == "recoveryPoints":
            item = v.item(p["fabric"], p["container"], p["item"])
            if verb == "get":
                return web.json_response(bodies.rp_json(v, item, v.recovery_point(item, p["rp"])))
            v.advance(item)
            return self._page(request, [bodies.rp_json(v, item, rp) for rp in reversed(item.rps)])
        if group == "targetComputeSizes":
            item = v.item(p["fabric"], p["container"], p["item"])
            return self._page(
                request, [bodies.compute_size_json(v, item, s, e) for s, e in v.compute_sizes(item)]
            )
        if group == "jobs":
            if verb == "list":
                return self._page(request, [job_json(j, v.vault_id) for j in self._jobs(request)])
            job = v.job(p["job"])
            if verb == "get":
                return web.json_response(job_json(job, v.vault_id))
            return await self._job_action(request, verb, job)
        if group == "plans":
            if verb == "list":
                return self._page(request, [bodies.plan_json(v, pl) for pl in v.plans.values()])
            plan = v.plan(p["plan"])
            if verb == "get":
                return web.json_response(bodies.plan_json(v, plan))
            job = v.plan_action(plan, verb, await _json_body(request))
            return self._accepted(request, _requested_by(request, job))
        if operation == "operationStatus.get":
            job = v.job(p["op"])
            return web.json_response(operation_status_json(job, self.settings.cancelled_spelling))
        if operation == "operationResults.get":
            return self._operation_result(p)
        raise not_found(operation)

    async def _job_action(self, request: web.Request, verb: str, job: SimJob) -> web.StreamResponse:
        runner = self.vault.runner
        wanted = {"cancel": "Cancel", "restart": "Restart", "resume": "Resume"}[verb]
        if wanted not in job.allowed_actions:
            raise Refusal(
                400,
                "28127",
                f"The action '{wanted}' is not allowed for job '{job.name}' "
                f"in state '{job.state}'.",
                f"Allowed actions now: {', '.join(job.allowed_actions) or 'none'}.",
                "Check the job's allowed actions.",
            )
        waiting_at = job.tasks[job.cursor].task_id if job.cursor < len(job.tasks) else ""
        if verb == "resume" and waiting_at == TFO_WAIT_TASK:
            # As ReplicationJobs_Resume shows it: accepted, the test failover is marked
            # Completed with the comments, and the job waits on for the cleanup.
            body = await _json_body(request)
            comments = str((body.get("properties") or {}).get("comments") or "")
            if job.custom_details.get("instanceType") == "TestFailoverJobDetails":
                job.custom_details["testFailoverStatus"] = "Completed"
                job.custom_details["comments"] = comments
            job.resume_comments.append(comments)
        elif verb == "resume":
            body = await _json_body(request)
            comments = str((body.get("properties") or {}).get("comments") or "")
            runner.resume(job, comments)
        elif verb == "cancel":
            runner.cancel(job)
        else:
            runner.restart(job)
        return self._accepted(request, job, job_location=True)

    def _operation_result(self, p: dict[str, str]) -> web.StreamResponse:
        v = self.vault
        job = v.job(p["op"])
        if self.settings.final_result_204:
            return web.Response(status=204)
        if p.get("item"):
            return web.json_response(
                bodies.item_json(v, v.item(p["fabric"], p["container"], p["item"]))
            )
        if p.get("plan"):
            return web.json_response(bodies.plan_json(v, v.plan(p["plan"])))
        return web.json_response(job_json(v.job(p.get("job") or job.name), v.vault_id))

    def _jobs(self, request: web.Request) -> list[SimJob]:
        flt = _filter_terms(request.query.get("$filter", ""))
        jobs = sorted(self.vault.jobs.values(), key=lambda j: j.start, reverse=True)
        if "starttime" in flt:
            since = _parse_time(flt["starttime"][0])
            jobs = [j for j in jobs if j.start >= since]
        if "endtime" in flt:
            until = _parse_time(flt["endtime"][0])
            jobs = [j for j in jobs if j.start <= until]
        if "jobstatus" in flt:
            states = {s.lower() for s in flt["jobstatus"]}
            jobs = [j for j in jobs if j.state.lower() in states]
        if "targetobjectid" in flt:
            ids = {s.lower() for s in flt["targetobjectid"]}
            jobs = [j for j in jobs if j.target_object_id.lower() in ids]
        if "jobname" in flt:
            names = {s.lower() for s in flt["jobname"]}
            jobs = [j for j in jobs if j.name.lower() in names]
        return jobs

    # --- responses ----------------------------------------------------------------------------

    def _accepted(
        self, request: web.Request, job: SimJob, job_location: bool = False
    ) -> web.Response:
        """202 + Location / Azure-AsyncOperation / Retry-After / x-ms-request-id (reference 2.1)."""
        base = f"{request.scheme}://{request.host}"
        api = urlencode({"api-version": request.query.get("api-version", "2025-08-01")})
        vault_id = self.vault.vault_id
        resource = f"{vault_id}/replicationJobs/{job.name}" if job_location else job.resource_id
        headers = {
            "Location": f"{base}{resource}/operationresults/{job.name}?{api}",
            "Azure-AsyncOperation": f"{base}{vault_id}/replicationOperationStatus/{job.name}?{api}",
            "Retry-After": str(self.settings.retry_after),
            "x-ms-request-id": f"{vault_id}/replicationJobs/{job.name}",
        }
        return web.Response(status=202, headers=headers)

    def _page(self, request: web.Request, values: list[dict[str, Any]]) -> web.Response:
        size = max(1, self.settings.page_size)
        try:
            start = int(request.query.get("$skiptoken") or request.query.get("skipToken") or 0)
        except ValueError as e:
            raise bad_input("Invalid skip token.") from e
        chunk = values[start : start + size]
        next_link = None
        if start + size < len(values):
            q = {k: v for k, v in request.query.items() if k not in ("$skiptoken", "skipToken")}
            q["$skiptoken"] = str(start + size)
            next_link = f"{request.scheme}://{request.host}{request.path}?{urlencode(q)}"
        return web.json_response({"value": chunk, "nextLink": next_link})


def _requested_by(request: web.Request, job: SimJob) -> SimJob:
    """A new job carries the caller's request id (ARM passes x-ms-client-request-id on)."""
    client_id = request.headers.get("x-ms-client-request-id")
    if client_id:
        job.client_request_id = client_id
    return job


def _canon_any(action: str) -> str:
    for options in (ITEM_ACTIONS, PLAN_ACTIONS, JOB_ACTIONS):
        for o in options:
            if o.lower() == action.lower():
                return o
    return action


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise bad_input("The request body is not valid JSON.") from e
    if not isinstance(body, dict):
        raise bad_input("The request body must be a JSON object.")
    return body


async def _drop(request: web.Request) -> None:
    """Close the connection without an answer (the client sees a reset)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    await asyncio.sleep(0)


_TERM = re.compile(r"(\w+)\s+eq\s+'([^']*)'", re.IGNORECASE)


def _filter_terms(flt: str) -> dict[str, list[str]]:
    """OData `Field eq 'value'` terms (joined by and/or) as field -> values."""
    out: dict[str, list[str]] = {}
    for name, value in _TERM.findall(flt):
        out.setdefault(name.lower(), []).append(value)
    return out


def _parse_time(value: str) -> datetime:
    from datetime import UTC

    text = value.strip().replace("Z", "+00:00")
    # .NET "o" format has 7 fractional digits; Python accepts at most 6.
    m = re.match(r"^(.*\.\d{6})\d*(.*)$", text)
    if m:
        text = m.group(1) + m.group(2)
    try:
        t = datetime.fromisoformat(text)
    except ValueError as e:
        raise bad_input(f"Invalid time '{value}' in $filter.") from e
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def add_control_routes(
    app: web.Application, arm: Arm, set_answering: Callable[[str, bool], Awaitable[None]]
) -> None:
    """The fault-injection and inspection API under /_sim (no auth; loopback only)."""

    async def add_fault(request: web.Request) -> web.Response:
        arm.faults.add(FaultRule.from_json(await request.json()))
        return web.json_response({"ok": True})

    async def add_job_failure(request: web.Request) -> web.Response:
        arm.faults.add_job_failure(JobFailure.from_json(await request.json()))
        return web.json_response({"ok": True})

    async def clear_faults(request: web.Request) -> web.Response:
        arm.faults.clear()
        return web.json_response({"ok": True})

    async def calls(request: web.Request) -> web.Response:
        return web.json_response(dict(arm.calls))

    async def answering(request: web.Request) -> web.Response:
        body = await request.json()
        await set_answering(request.match_info["vm"], bool(body.get("answering", True)))
        return web.json_response({"ok": True})

    async def throttling(request: web.Request) -> web.Response:
        body = await request.json()
        arm.throttler.enabled = bool(body.get("enabled", True))
        return web.json_response({"ok": True})

    app.router.add_post("/_sim/faults", add_fault)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_post("/_sim/job-failures", add_job_failure)
    app.router.add_get("/_sim/calls", calls)
    app.router.add_post("/_sim/vms/{vm}/answering", answering)
    app.router.add_post("/_sim/throttling", throttling)
