"""The ASR gateway: observe items, plans, jobs; start actions and return their job name.

Built on `azure.mgmt.recoveryservicessiterecovery.aio`. Actions are sent once
(`polling=False`, no azure-core retries) and answer with the ASR job name taken
from the 202 headers; nothing here waits for a job. When an action's answer is
lost (dropped connection, timeout, 5xx), the gateway looks for a job that the
attempt may have created before reporting a retryable error, so a POST is never
re-sent blindly. There is deliberately no way to cancel a job or a failover.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, TypeVar

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest
from azure.mgmt.recoveryservicessiterecovery import models as m
from azure.mgmt.recoveryservicessiterecovery.aio import SiteRecoveryManagementClient

from asr_operator import metrics
from asr_operator.azure.config import AsrConfig
from asr_operator.azure.credentials import build_credential
from asr_operator.azure.errors import AsrError, NotFound, OutcomeUnknown, Transient, classify
from asr_operator.azure.job_ids import job_name_from_headers
from asr_operator.azure.observe import (
    compute_size_from_sdk,
    item_from_sdk,
    job_from_sdk,
    plan_from_sdk,
    recovery_point_from_sdk,
)
from asr_operator.azure.pacing import PRIORITY_OPTION, PacingPolicy, RateLimit
from asr_operator.azure.transport import transport_kwargs
from asr_operator.lifecycle.observed import (
    AsrItem,
    AsrJob,
    AsrPlan,
    ComputeSize,
    JobTarget,
    RecoveryPoint,
    TargetSettings,
)

log = logging.getLogger(__name__)

DataSync = Literal["ForDownTime", "ForSynchronization"]
PlanRecoveryPoint = Literal["Latest", "LatestProcessed", "LatestApplicationConsistent"]


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _creation_option(create_vm_if_not_found: bool) -> str:
    return "CreateVmIfNotFound" if create_vm_if_not_found else "NoAction"


def _now() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")

# Error answers after which the request may still be alive and reach ASR: a gateway or
# proxy timed out waiting for it (ARM's proxy answers 504 after 60 s and the resource
# provider may still act on it).
_NO_ANSWER = frozenset({408, 504})

# Known jobs' start times are trimmed past this many, to those of the last hour.
JOB_MEMORY_SIZE = 512
JOB_MEMORY = timedelta(hours=1)

# Under throttling, getting VMs running comes first: failovers before commits and the rest.
_PRIORITY = {"begin_planned_failover": 1, "begin_unplanned_failover": 1}


class AsrGateway:
    """All ASR I/O for one vault. Use as an async context manager, or call `close()`."""

    def __init__(
        self,
        config: AsrConfig,
        credential: AsyncTokenCredential | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        clock_skew: timedelta = timedelta(seconds=5),
    ) -> None:
        self.config = config
        self._credential = credential or build_credential(config)
        self._owns_credential = credential is None
        self._clock = clock
        self._skew = clock_skew
        kwargs: dict[str, Any] = {}
        if config.api_version:
            kwargs["api_version"] = config.api_version
        self.pacing = PacingPolicy(
            RateLimit(*config.read_pace) if config.read_pace else None,
            RateLimit(*config.write_pace) if config.write_pace else None,
            throttle_retries=config.throttle_retries,
            vault=config.vault_name,
        )
        kwargs["custom_hook_policy"] = self.pacing
        self._client = SiteRecoveryManagementClient(
            self._credential,
            config.subscription_id,
            base_url=config.arm_endpoint,
            credential_scopes=[config.cloud_endpoints.scope],
            retry_total=config.read_retries,
            **transport_kwargs(config.ca_bundle),
            polling_interval=0,
            **kwargs,
        )
        self._rg, self._vault = config.resource_group, config.vault_name
        self._timeouts: dict[str, Any] = {
            "connection_timeout": config.connect_timeout,
            "read_timeout": config.read_timeout,
        }
        # Start times of jobs we know (for one-list polling) and started ourselves.
        self._job_since: dict[str, datetime] = {}

    async def close(self) -> None:
        await self._client.close()
        if self._owns_credential:
            await self._credential.close()

    async def __aenter__(self) -> AsrGateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- plumbing ---

    async def _read(self, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await call()
        except Exception as e:
            raise classify(e) from None

    async def _collect(self, pager: Any, convert: Callable[[Any], T]) -> list[T]:
        """Convert while paging, so SDK models of only one page are alive at a time."""
        try:
            return [convert(x) async for x in pager]
        except Exception as e:
            raise classify(e) from None

    async def _list_json(
        self, collection: str, convert: Callable[[Any], T], **params: str
    ) -> list[T]:
        """One of the vault's collections, every page, read as plain JSON.

        The SDK's models of a page of 1000 protected items cost more CPU than all else an
        idle operator does; the converters read mappings, wire JSON as well as models.
        Same pipeline (credential, pacing, retries) as every other call.
        """
        api_version = self._client._config.api_version
        request = HttpRequest(
            "GET",
            f"/subscriptions/{self.config.subscription_id}/resourceGroups/{self._rg}/providers"
            f"/Microsoft.RecoveryServices/vaults/{self._vault}/{collection}",
            params={"api-version": api_version, **params},
        )
        found: list[T] = []
        try:
            while True:
                response = await self._client.send_request(request, **self._timeouts)
                response.raise_for_status()
                page = response.json()
                found.extend(convert(x) for x in page.get("value") or [])
                link = page.get("nextLink")
                if not link:
                    return found
                query = {} if "api-version=" in link else {"api-version": api_version}
                request = HttpRequest("GET", link, params=query)
        except Exception as e:
            raise classify(e) from None

    async def get_resource(self, path: str, api_version: str, **params: str) -> Any:
        """GET one ARM resource of another provider (azure/compute.py) as plain JSON.

        Same pipeline as ASR's calls: credential, pacing (a read), 429 handling, retries,
        TLS transport; ARM throttles a principal across providers, so one pacer serves all.
        """
        request = HttpRequest("GET", path, params={"api-version": api_version, **params})
        try:
            response = await self._client.send_request(request, **self._timeouts)
            response.raise_for_status()
            return response.json()
        except Exception as e:
            raise classify(e) from None

    async def _act(
        self,
        target: JobTarget,
        call: Callable[..., Awaitable[Any]],
        current_job: Callable[[], Awaitable[str | None]] | None = None,
        request_id: str = "",
    ) -> str:
        """Send one action POST; return its job name, re-attaching if the answer was lost.

        `target` names what the jobs the action creates name as their target.
        `request_id` goes out as x-ms-client-request-id; ASR echoes it in the job's
        activityId, which is how a job is known to be this request's and no other's.
        """
        since = self._clock() - self._skew
        seen: list[PipelineResponse[Any, Any]] = []

        def hook(response: PipelineResponse[Any, Any]) -> None:
            seen.append(response)

        ids: dict[str, Any] = {"request_id": request_id} if request_id else {}
        try:
            await call(
                polling=False, raw_response_hook=hook, retry_total=0, **ids, **self._timeouts
            )
        except Exception as e:
            err = classify(e)
            if not isinstance(err, Transient):
                raise err from None
            found = await self._created_job(target, since, current_job, request_id)
            if found is not None:
                log.info("action answer lost; re-attached to job %s", found)
                return found
            if isinstance(e, HttpResponseError) and e.status_code not in _NO_ANSWER:
                # ARM answered with an error and no job exists: safe to send again later.
                raise Transient(
                    f"{err.message}; no job was created, the action can be retried",
                    code=err.code,
                    status=err.status,
                ) from None
            raise OutcomeUnknown(
                f"{err.message}; no job is visible yet for an action that may have reached "
                "ASR: look for it again before re-sending"
            ) from None
        job = job_name_from_headers(seen[0].http_response.headers) if seen else None
        if job is None:
            job = await self._created_job(target, since, current_job, request_id)
        if job is None:
            raise OutcomeUnknown("ASR accepted the action but named no job")
        self._job_since[job] = since
        return job

    async def _created_job(
        self,
        target: JobTarget,
        since: datetime,
        current_job: Callable[[], Awaitable[str | None]] | None,
        request_id: str,
    ) -> str | None:
        """The job this request created: of `target`, started at or after `since`, and
        (when the request carried an id) echoing that id; never a job we already knew."""

        def mine(job: AsrJob) -> bool:
            return not request_id or (job.client_request_id or "").lower() == request_id.lower()

        try:
            if current_job is not None:
                name = await current_job()
                if name and name not in self._job_since:
                    job = await self.get_job(name)
                    if (
                        target.matches(job)
                        and (job.start_time is None or job.start_time >= since)
                        and mine(job)
                    ):
                        self._job_since[name] = since
                        return name
            for job in await self.find_jobs_since(target, since):
                if job.name not in self._job_since and mine(job):
                    self._job_since[job.name] = since
                    return job.name
        except AsrError as e:
            raise OutcomeUnknown(
                f"could not check whether the action started a job: {e.message}"
            ) from None
        return None

    # --- items ---

    async def list_items(self, recovery_plan: str | None = None) -> list[AsrItem]:
        if recovery_plan:
            flt = {"$filter": f"RecoveryPlanName eq '{recovery_plan}'"}
            return await self._list_json("replicationProtectedItems", item_from_sdk, **flt)
        return await self._list_json("replicationProtectedItems", item_from_sdk)

    async def find_item(self, friendly_name: str) -> AsrItem | None:
        """The item whose friendlyName (the Hyper-V VM name) matches, case-insensitively."""
        for item in await self.list_items():
            if item.friendly_name.lower() == friendly_name.lower():
                return item
        return None

    async def get_item(self, fabric: str, container: str, name: str) -> AsrItem:
        model = await self._read(
            lambda: self._client.replication_protected_items.get(
                self._rg, self._vault, fabric, container, name, **self._timeouts
            )
        )
        return item_from_sdk(model)

    async def list_recovery_points(self, item: AsrItem) -> list[RecoveryPoint]:
        """Newest first."""
        pager = self._client.recovery_points.list_by_replication_protected_items(
            self._rg, self._vault, item.fabric, item.container, item.name, **self._timeouts
        )
        points = await self._collect(pager, recovery_point_from_sdk)
        return sorted(points, key=lambda p: p.time, reverse=True)

    async def list_compute_sizes(self, item: AsrItem) -> list[ComputeSize]:
        pager = self._client.target_compute_sizes.list_by_replication_protected_items(
            self._rg, self._vault, item.fabric, item.container, item.name, **self._timeouts
        )
        return await self._collect(pager, compute_size_from_sdk)

    def _item_args(self, item: AsrItem) -> tuple[str, str, str, str, str]:
        return (self._rg, self._vault, item.fabric, item.container, item.name)

    def _item_job(self, item: AsrItem) -> Callable[[], Awaitable[str | None]]:
        async def current() -> str | None:
            return (await self.get_item(item.fabric, item.container, item.name)).current_job_name

        return current

    async def _item_action(
        self, item: AsrItem, method: str, *body: Any, request_id: str = ""
    ) -> str:
        op = getattr(self._client.replication_protected_items, method)
        priority = _PRIORITY.get(method, 0)

        async def call(**kw: Any) -> Any:
            return await op(*self._item_args(item), *body, **{PRIORITY_OPTION: priority}, **kw)

        return await self._act(
            JobTarget.item(item.name, item.friendly_name), call, self._item_job(item), request_id
        )

    async def start_planned_failover(
        self,
        item: AsrItem,
        recovery_point_id: str | None = None,
        *,
        request_id: str = "",
    ) -> str:
        details = m.HyperVReplicaAzurePlannedFailoverProviderInput(
            recovery_point_id=recovery_point_id or None
        )
        body = m.PlannedFailoverInput(
            properties=m.PlannedFailoverInputProperties(
                failover_direction="PrimaryToRecovery", provider_specific_details=details
            )
        )
        return await self._item_action(item, "begin_planned_failover", body, request_id=request_id)

    async def start_failback(
        self,
        item: AsrItem,
        data_sync: DataSync,
        create_vm_if_not_found: bool = False,
        *,
        request_id: str = "",
    ) -> str:
        """Planned failover RecoveryToPrimary; a ForDownTime job suspends until resumed."""
        details = m.HyperVReplicaAzureFailbackProviderInput(
            data_sync_option=data_sync,
            recovery_vm_creation_option="CreateVmIfNotFound"
            if create_vm_if_not_found
            else "NoAction",
        )
        body = m.PlannedFailoverInput(
            properties=m.PlannedFailoverInputProperties(
                failover_direction="RecoveryToPrimary", provider_specific_details=details
            )
        )
        return await self._item_action(item, "begin_planned_failover", body, request_id=request_id)

    async def start_unplanned_failover(
        self,
        item: AsrItem,
        recovery_point_id: str | None = None,
        shutdown_source: bool = True,
        *,
        request_id: str = "",
    ) -> str:
        body = m.UnplannedFailoverInput(
            properties=m.UnplannedFailoverInputProperties(
                failover_direction="PrimaryToRecovery",
                source_site_operations="Required" if shutdown_source else "NotRequired",
                provider_specific_details=m.HyperVReplicaAzureUnplannedFailoverInput(
                    recovery_point_id=recovery_point_id or None
                ),
            )
        )
        return await self._item_action(
            item, "begin_unplanned_failover", body, request_id=request_id
        )

    async def start_test_failover(
        self,
        item: AsrItem,
        network_id: str,
        recovery_point_id: str | None = None,
        *,
        request_id: str = "",
    ) -> str:
        body = m.TestFailoverInput(
            properties=m.TestFailoverInputProperties(
                failover_direction="PrimaryToRecovery",
                network_type="VmNetworkAsInput" if network_id else "NoNetworkAttachAsInput",
                network_id=network_id or None,
                provider_specific_details=m.HyperVReplicaAzureTestFailoverInput(
                    recovery_point_id=recovery_point_id or None
                ),
            )
        )
        return await self._item_action(item, "begin_test_failover", body, request_id=request_id)

    async def start_test_failover_cleanup(
        self, item: AsrItem, comments: str = "", *, request_id: str = ""
    ) -> str:
        body = m.TestFailoverCleanupInput(
            properties=m.TestFailoverCleanupInputProperties(comments=comments or None)
        )
        return await self._item_action(
            item, "begin_test_failover_cleanup", body, request_id=request_id
        )

    async def start_commit(self, item: AsrItem, *, request_id: str = "") -> str:
        """Commit a failover or a failback (both are failoverCommit)."""
        return await self._item_action(item, "begin_failover_commit", request_id=request_id)

    async def start_apply_recovery_point(
        self, item: AsrItem, recovery_point_id: str, *, request_id: str = ""
    ) -> str:
        body = m.ApplyRecoveryPointInput(
            properties=m.ApplyRecoveryPointInputProperties(
                recovery_point_id=recovery_point_id,
                provider_specific_details=m.HyperVReplicaAzureApplyRecoveryPointInput(),
            )
        )
        return await self._item_action(
            item, "begin_apply_recovery_point", body, request_id=request_id
        )

    async def start_reprotect(self, item: AsrItem, *, request_id: str = "") -> str:
        """Reverse replication (on-premises to Azure again) after a committed failback."""
        body = m.ReverseReplicationInput(
            properties=m.ReverseReplicationInputProperties(
                failover_direction="PrimaryToRecovery",
                provider_specific_details=m.HyperVReplicaAzureReprotectInput(),
            )
        )
        return await self._item_action(item, "begin_reprotect", body, request_id=request_id)

    async def start_update_target(
        self, item: AsrItem, target: TargetSettings, *, request_id: str = ""
    ) -> str:
        """Change the Compute and Network settings (PATCH, reference section 11)."""
        nics = [
            m.VMNicInputDetails(
                nic_id=n.nic_id,
                selection_type="SelectedByUser",
                ip_configs=[
                    m.IPConfigInputDetails(
                        is_primary=True,
                        is_seleted_for_failover=True,
                        recovery_subnet_name=n.subnet or None,
                        recovery_static_ip_address=n.static_ip or None,
                    )
                ],
            )
            for n in target.nics
        ]
        managed = (
            None if target.use_managed_disks is None else str(target.use_managed_disks).lower()
        )
        body = m.UpdateReplicationProtectedItemInput(
            properties=m.UpdateReplicationProtectedItemInputProperties(
                recovery_azure_vm_name=target.vm_name or None,
                recovery_azure_vm_size=target.size or None,
                selected_recovery_azure_network_id=target.network_id or None,
                recovery_availability_set_id=target.availability_set_id or None,
                vm_nics=nics or None,
                provider_specific_details=m.HyperVReplicaAzureUpdateReplicationProtectedItemInput(
                    recovery_azure_v2_resource_group_id=target.resource_group_id or None,
                    use_managed_disks=managed,
                    target_availability_zone=target.availability_zone or None,
                    target_vm_tags=dict(target.tags) if target.tags else None,
                ),
            )
        )
        return await self._item_action(item, "begin_update", body, request_id=request_id)

    # --- jobs ---

    async def get_job(self, name: str) -> AsrJob:
        model = await self._read(
            lambda: self._client.replication_jobs.get(self._rg, self._vault, name, **self._timeouts)
        )
        job = job_from_sdk(model)
        if name not in self._job_since and job.start_time is not None:
            self._job_since[name] = job.start_time
        return job

    async def list_jobs_since(self, since: datetime) -> list[AsrJob]:
        """All jobs that started at or after `since` (one paged list call)."""
        flt = {"$filter": f"StartTime eq '{_iso(since)}'"}
        return await self._list_json("replicationJobs", job_from_sdk, **flt)

    async def find_jobs_since(self, target: JobTarget, since: datetime) -> list[AsrJob]:
        """Jobs of one item or plan started at or after `since`, newest first.

        ASR filters by target only client side (as PowerShell does); a plan's jobs name
        the plan by an internal id the plan resource does not show, so by its name.
        """
        jobs = [
            j
            for j in await self.list_jobs_since(since)
            if target.matches(j) and (j.start_time is None or j.start_time >= since)
        ]
        return sorted(jobs, key=lambda j: j.start_time or since, reverse=True)

    async def poll_jobs(self, names: Iterable[str]) -> dict[str, AsrJob]:
        """Current state of the named jobs, with one list call for all jobs whose start we know.

        A job first seen here costs one GET (to learn its start time); after that the
        cost per poll is one list call per vault, whatever the number of jobs. Jobs
        that ASR no longer knows are missing from the result.
        """
        wanted = list(dict.fromkeys(names))
        metrics.JOB_POLLS.labels(self._vault).inc()
        result: dict[str, AsrJob] = {}
        for name in wanted:
            if name not in self._job_since:
                await self._get_into(result, name)
        rest = [n for n in wanted if n not in result and n in self._job_since]
        if rest:
            since = min(self._job_since[n] for n in rest)
            listed = {j.name.lower(): j for j in await self.list_jobs_since(since)}
            for name in rest:
                job = listed.get(name.lower())
                if job is not None:
                    result[name] = job
                else:
                    await self._get_into(result, name)
        self._forget_old_jobs(keep=set(wanted))
        return result

    def _forget_old_jobs(self, keep: set[str]) -> None:
        """Start times of jobs long started and no longer polled are of no use any more.

        They serve one-list polling (jobs still polled are kept) and telling our jobs from
        others for re-attachment, which looks minutes back, never an hour.
        """
        if len(self._job_since) <= JOB_MEMORY_SIZE:
            return
        horizon = self._clock() - JOB_MEMORY
        self._job_since = {n: t for n, t in self._job_since.items() if t >= horizon or n in keep}

    async def _get_into(self, result: dict[str, AsrJob], name: str) -> None:
        try:
            result[name] = await self.get_job(name)
        except NotFound:
            log.warning("ASR no longer knows job %s", name)

    async def resume_job(self, name: str, comments: str = "") -> str:
        """Resume a suspended job (manual action, ForDownTime failback); returns its name."""
        body = m.ResumeJobParams(properties=m.ResumeJobParamsProperties(comments=comments or None))

        async def call(**kw: Any) -> Any:
            return await self._client.replication_jobs.begin_resume(
                self._rg, self._vault, name, body, **kw
            )

        try:
            await call(polling=False, retry_total=0, **self._timeouts)
        except Exception as e:
            err = classify(e)
            if isinstance(err, Transient):
                # Resuming twice is refused, not duplicated: report and let the caller re-read.
                raise Transient(f"{err.message}; re-read the job before resuming again") from None
            raise err from None
        return name

    # --- plans ---

    async def get_plan(self, name: str) -> AsrPlan:
        model = await self._read(
            lambda: self._client.replication_recovery_plans.get(
                self._rg, self._vault, name, **self._timeouts
            )
        )
        return plan_from_sdk(model)

    async def list_plans(self) -> list[AsrPlan]:
        return await self._list_json("replicationRecoveryPlans", plan_from_sdk)

    async def _plan_action(self, plan: str, method: str, *body: Any, request_id: str = "") -> str:
        op = getattr(self._client.replication_recovery_plans, method)
        priority = _PRIORITY.get(method, 0)

        async def call(**kw: Any) -> Any:
            return await op(self._rg, self._vault, plan, *body, **{PRIORITY_OPTION: priority}, **kw)

        async def current() -> str | None:
            p = await self.get_plan(plan)
            return p.current_job_name if p.current_scenario_status in ("InProgress", "") else None

        return await self._act(JobTarget.plan(plan), call, current, request_id)

    async def start_plan_planned_failover(self, plan: str, *, request_id: str = "") -> str:
        body = m.RecoveryPlanPlannedFailoverInput(
            properties=m.RecoveryPlanPlannedFailoverInputProperties(
                failover_direction="PrimaryToRecovery",
                provider_specific_details=[m.RecoveryPlanHyperVReplicaAzureFailoverInput()],
            )
        )
        return await self._plan_action(plan, "begin_planned_failover", body, request_id=request_id)

    async def start_plan_failback(
        self,
        plan: str,
        data_sync: DataSync,
        create_vm_if_not_found: bool = False,
        *,
        request_id: str = "",
    ) -> str:
        details = m.RecoveryPlanHyperVReplicaAzureFailbackInput(
            data_sync_option=data_sync,
            recovery_vm_creation_option="CreateVmIfNotFound"
            if create_vm_if_not_found
            else "NoAction",
        )
        body = m.RecoveryPlanPlannedFailoverInput(
            properties=m.RecoveryPlanPlannedFailoverInputProperties(
                failover_direction="RecoveryToPrimary", provider_specific_details=[details]
            )
        )
        return await self._plan_action(plan, "begin_planned_failover", body, request_id=request_id)

    async def start_plan_unplanned_failover(
        self,
        plan: str,
        recovery_point_type: PlanRecoveryPoint = "Latest",
        shutdown_source: bool = True,
        *,
        request_id: str = "",
    ) -> str:
        body = m.RecoveryPlanUnplannedFailoverInput(
            properties=m.RecoveryPlanUnplannedFailoverInputProperties(
                failover_direction="PrimaryToRecovery",
                source_site_operations="Required" if shutdown_source else "NotRequired",
                provider_specific_details=[
                    m.RecoveryPlanHyperVReplicaAzureFailoverInput(
                        recovery_point_type=recovery_point_type
                    )
                ],
            )
        )
        return await self._plan_action(
            plan, "begin_unplanned_failover", body, request_id=request_id
        )

    async def start_plan_test_failover(
        self,
        plan: str,
        network_id: str,
        recovery_point_type: PlanRecoveryPoint = "Latest",
        *,
        request_id: str = "",
    ) -> str:
        body = m.RecoveryPlanTestFailoverInput(
            properties=m.RecoveryPlanTestFailoverInputProperties(
                failover_direction="PrimaryToRecovery",
                network_type="VmNetworkAsInput" if network_id else "NoNetworkAttachAsInput",
                network_id=network_id or None,
                provider_specific_details=[
                    m.RecoveryPlanHyperVReplicaAzureFailoverInput(
                        recovery_point_type=recovery_point_type
                    )
                ],
            )
        )
        return await self._plan_action(plan, "begin_test_failover", body, request_id=request_id)

    async def start_plan_test_failover_cleanup(
        self, plan: str, comments: str = "", *, request_id: str = ""
    ) -> str:
        body = m.RecoveryPlanTestFailoverCleanupInput(
            properties=m.RecoveryPlanTestFailoverCleanupInputProperties(comments=comments or None)
        )
        return await self._plan_action(
            plan, "begin_test_failover_cleanup", body, request_id=request_id
        )

    async def start_plan_commit(self, plan: str, *, request_id: str = "") -> str:
        return await self._plan_action(plan, "begin_failover_commit", request_id=request_id)

    async def start_plan_reprotect(self, plan: str, *, request_id: str = "") -> str:
        return await self._plan_action(plan, "begin_reprotect", request_id=request_id)
