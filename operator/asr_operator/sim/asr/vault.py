"""The simulated ASR vault: protected items, recovery plans, recovery points and jobs.

What each action checks, which tasks its job runs and how the state moves (the
table itself is in states.py; the JSON in bodies.py). Everything here runs on the
simulator's event loop.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asr_operator.sim.asr.jobs import (
    ChildJob,
    JobRunner,
    PlanGroup,
    SimJob,
    SimTask,
    utcnow,
    wire_time,
)
from asr_operator.sim.asr.states import (
    AZURE_CONTAINER_NAME,
    AZURE_FABRIC_ID,
    BUSY_STATES,
    CODE_CONFLICT,
    CODE_NOT_ALLOWED,
    MARKED_FOR_DELETION,
    PHASES,
    PLAN_ALLOWED,
    RP_KEEP,
    TFO_WAIT_TASK,
    Refusal,
    bad_input,
    not_found,
)
from asr_operator.sim.asr.vm_endpoints import VmEndpoints
from asr_operator.sim.datacenter import Datacenter
from asr_operator.sim.scenario import VM, ComputeSizeSpec, Plan, Scenario, stable_id

# TestFailoverCleanupInputProperties.comments: maxLength in the definitions.
CLEANUP_COMMENT_MAX = 1024

# --- items ------------------------------------------------------------------------------


@dataclass
class RecoveryPointState:
    name: str
    time: datetime
    type: str


@dataclass
class Target:
    """Compute and Network settings (reference section 11)."""

    vm_name: str
    size: str
    resource_group_id: str
    network_id: str
    nics: list[dict[str, Any]]  # {nicId, subnet, ip}
    availability_set_id: str = ""
    availability_zone: str = ""
    use_managed_disks: str = "true"
    tags: dict[str, str] = field(default_factory=dict)
    license_type: str = "WindowsServer"


@dataclass
class Item:
    vm: VM
    vm_id: str
    site: str
    host: str
    fabric: str
    container: str
    target: Target
    phase: str = "Protected"
    job: SimJob | None = None
    rps: list[RecoveryPointState] = field(default_factory=list)
    rp_seq: int = 0
    next_rp_at: float = 0.0
    failover_rp_id: str | None = None
    last_failover_time: datetime | None = None
    last_tfo_time: datetime | None = None
    recovery_vm_ips: list[str] = field(default_factory=list)
    test_vm_ips: list[str] = field(default_factory=list)
    recovery_booted: bool = False
    test_booted: bool = False
    busy: tuple[str, str] | None = None  # protectionState override while a job runs
    tfo_busy: tuple[str, str] | None = None
    # testFailoverState left behind by the last cleanup ([EX]: stays MarkedForDeletion).
    tfo_after: tuple[str, str] | None = None
    # A test failover job left suspended until cleanup (test_failover_suspends).
    waiting_tfo_job: SimJob | None = None
    plans: list[str] = field(default_factory=list)
    # The test failover job (the item's or its plan's) that waits, Suspended, for cleanup:
    # currentScenario names it meanwhile (ReplicationProtectedItems_TestFailover example).
    waiting_scenario: SimJob | None = None

    @property
    def name(self) -> str:
        return self.vm.name

    @property
    def scenario_job(self) -> SimJob | None:
        """The job currentScenario names: the running one, else a test failover waiting."""
        if self.job is not None and not self.job.terminal:
            return self.job
        waiting = self.waiting_scenario
        return waiting if waiting is not None and waiting.state == "Suspended" else None

    @property
    def replicating(self) -> bool:
        """New recovery points arrive while the VM runs on-premises and is not failing over."""
        if self.phase not in ("Protected", "TestFailoverPending"):
            return False
        if self.job is None or self.job.terminal:
            return True
        return self.job.scenario in ("TestFailover", "TestFailoverCleanup", "UpdateVmProperties")

    @property
    def allowed(self) -> tuple[str, ...]:
        if self.job is not None and not self.job.terminal:
            return ()
        return PHASES[self.phase].allowed


def _nic_id(vm_id: str, index: int) -> str:
    raw = f"Microsoft:{vm_id.upper()}\\{stable_id('nic', vm_id, str(index)).upper()}"
    return base64.b64encode(raw.encode()).decode()


@dataclass
class PlanState:
    spec: Plan
    items: list[list[Item]]  # boot groups
    jobs: list[SimJob] = field(default_factory=list)
    last_times: dict[str, datetime] = field(default_factory=dict)
    # A test failover job left suspended until the plan's cleanup (test_failover_suspends).
    waiting_tfo_job: SimJob | None = None

    @property
    def all_items(self) -> list[Item]:
        return [i for g in self.items for i in g]


# --- operations: what each action does ----------------------------------------------------

# (taskId, name, friendlyName) of one VM's steps: tasks of item jobs, child tasks of plan jobs.
SHUT_DOWN_PRIMARY = (
    "ShutdownVmOnPrimary",
    "VmShutdownVmOnPrimary",
    "Shut down the virtual machine",
)
FAILOVER = ("FailoverTask", "VmFailover", "Start failover")
START_REPLICA = (
    "StartVmOnSecondary",
    "VmFoStartVmOnSecondary",
    "Start the replica virtual machine",
)
SHUT_DOWN_AZURE = (
    "ShutdownVmOnRecovery",
    "VmFbShutdownAzureVm",
    "Shut down the Azure virtual machine",
)
FAILBACK = ("FailoverTask", "VmFailback", "Start failback")
START_PRIMARY = (
    "StartVmOnPrimary",
    "VmFbStartVmOnPrimary",
    "Start the on-premises virtual machine",
)
BEGIN_TEST_FAILOVER = ("BeginTestFailoverTask", "VmTfoInitiateFailover", "Starting test failover")
BOOT_TEST_VM = ("BootTestProtectedEntitiesTask", "VmTfoBootTestVm", "Start the virtual machine")
# jobFriendlyName of a plan's child jobs (one per VM), as the item's own job would be named.
PLAN_CHILD_JOB_NAMES = {
    "PlannedFailover": "Planned failover",
    "UnplannedFailover": "Failover",
    "TestFailover": "Test failover",
    "TestFailoverCleanup": "Test failover cleanup",
    "CommitFailover": "Commit",
    "SwitchProtection": "Reprotect",
    "CancelFailover": "Cancel failover",
}
# recoveryPointType of a plan failover input (HyperVReplicaAzureRpRecoveryPointType).
PLAN_POINT_TYPES = ("Latest", "LatestProcessed", "LatestApplicationConsistent")

Hook = Callable[[], Awaitable[None]]


@dataclass
class Vault:
    scenario: Scenario
    datacenter: Datacenter
    endpoints: VmEndpoints
    runner: JobRunner
    time_scale: float = 1.0
    # A test failover job stays Suspended until cleanup, as the official examples show it
    # (ReplicationJobs_Resume, ReplicationRecoveryPlans_TestFailover); False: it ends Succeeded.
    test_failover_suspends: bool = True
    items: dict[str, Item] = field(default_factory=dict)  # by vm id (lower case)
    plans: dict[str, PlanState] = field(default_factory=dict)  # by name (lower case)
    jobs: dict[str, SimJob] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        sc = self.scenario
        now = self.clock()
        for site, host, vm in sc.all_vms():
            if not vm.protected:
                continue
            vm_id = vm.vm_id(host.name)
            rg_id = (
                f"/subscriptions/{sc.subscription_id}/resourceGroups/{sc.resource_group}-recovered"
            )
            net = vm.recovery_network_id or (
                f"/subscriptions/{sc.subscription_id}/resourceGroups/{sc.resource_group}-net"
                "/providers/Microsoft.Network/virtualNetworks/vnet-recovery"
            )
            nics = [
                {
                    "nicId": _nic_id(vm_id, n),
                    "subnet": vm.recovery_subnet,
                    "ip": vm.recovery_ip if n == 0 else "",
                }
                for n in range(max(1, vm.nics))
            ]
            item = Item(
                vm=vm,
                vm_id=vm_id,
                site=site.name,
                host=host.name,
                fabric=site.name,
                container=self.container_name(site.name),
                target=Target(
                    vm_name=vm.name,
                    size=vm.recovery_size,
                    resource_group_id=rg_id,
                    network_id=net,
                    nics=nics,
                    license_type="WindowsServer" if vm.os_type == "Windows" else "NoLicenseType",
                ),
            )
            # Pretend replication has been running: a few points already exist.
            interval = self.rp_interval
            for _ in range(8):
                self._add_rp(item, datetime.now(UTC) - timedelta(seconds=interval * (8 - _)))
            item.next_rp_at = now + interval
            self.items[vm_id.lower()] = item
        for plan in sc.plans:
            groups = [[self._item_by_vm_name(n) for n in g.vms] for g in plan.groups]
            ps = PlanState(spec=plan, items=groups)
            for it in ps.all_items:
                it.plans.append(plan.name)
            self.plans[plan.name.lower()] = ps

    # --- ids ----------------------------------------------------------------------------

    @property
    def vault_id(self) -> str:
        sc = self.scenario
        return (
            f"/Subscriptions/{sc.subscription_id}/resourceGroups/{sc.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{sc.vault}"
        )

    @staticmethod
    def container_name(site: str) -> str:
        return f"cloud_{stable_id('container', site)}"

    def container_id(self, fabric: str) -> str:
        return (
            f"{self.vault_id}/replicationFabrics/{fabric}/replicationProtectionContainers/"
            f"{self.container_name(fabric)}"
        )

    def item_id(self, item: Item) -> str:
        return (
            f"{self.vault_id}/replicationFabrics/{item.fabric}/replicationProtectionContainers/"
            f"{item.container}/replicationProtectedItems/{item.vm_id}"
        )

    def plan_id(self, plan: PlanState) -> str:
        return f"{self.vault_id}/replicationRecoveryPlans/{plan.spec.name}"

    def rp_id(self, item: Item, rp_name: str) -> str:
        return f"{self.item_id(item)}/recoveryPoints/{rp_name}"

    @property
    def rp_interval(self) -> float:
        return max(0.01, self.scenario.recovery_point_seconds * self.time_scale)

    # --- lookups ------------------------------------------------------------------------

    def _item_by_vm_name(self, name: str) -> Item:
        for it in self.items.values():
            if it.name.lower() == name.lower():
                return it
        raise ValueError(f"plan refers to unknown or unprotected VM {name!r}")

    def find_item(self, key: str) -> Item | None:
        """By VM id or friendly name (for the control API)."""
        it = self.items.get(key.lower())
        if it is not None:
            return it
        for it in self.items.values():
            if it.name.lower() == key.lower():
                return it
        return None

    def item(self, fabric: str, container: str, name: str) -> Item:
        it = self.items.get(name.lower())
        if (
            it is None
            or it.fabric.lower() != fabric.lower()
            or it.container.lower() != container.lower()
        ):
            raise not_found(f"Replication protected item '{name}'")
        return it

    def plan(self, name: str) -> PlanState:
        p = self.plans.get(name.lower())
        if p is None:
            raise not_found(f"Recovery plan '{name}'")
        return p

    def job(self, name: str) -> SimJob:
        j = self.jobs.get(name.lower())
        if j is None:
            raise not_found(f"Job '{name}'")
        return j

    def fabrics(self) -> list[str]:
        return sorted(
            {it.fabric for it in self.items.values()} | {s.name for s in self.scenario.sites}
        )

    # --- recovery points and replication ----------------------------------------------------

    def _add_rp(self, item: Item, when: datetime) -> None:
        item.rp_seq += 1
        every = max(1, self.scenario.app_consistent_every)
        kind = "ApplicationConsistent" if item.rp_seq % every == 0 else "CrashConsistent"
        name = stable_id("rp", item.vm_id, str(item.rp_seq))
        item.rps.append(RecoveryPointState(name=name, time=when, type=kind))
        del item.rps[:-RP_KEEP]

    def advance(self, item: Item) -> None:
        """Let recovery points appear while the item replicates."""
        now = self.clock()
        if not item.replicating:
            item.next_rp_at = now + self.rp_interval
            return
        wall = datetime.now(UTC)
        while item.next_rp_at <= now:
            self._add_rp(item, wall - timedelta(seconds=now - item.next_rp_at))
            item.next_rp_at += self.rp_interval

    def recovery_point(self, item: Item, name: str) -> RecoveryPointState:
        self.advance(item)
        for rp in item.rps:
            if rp.name.lower() == name.lower():
                return rp
        raise not_found(f"Recovery point '{name}'")

    def _resolve_rp(self, item: Item, rp_id: str | None) -> RecoveryPointState:
        self.advance(item)
        if not rp_id:
            if not item.rps:
                raise Refusal(400, CODE_NOT_ALLOWED, "No recovery point is available.")
            return item.rps[-1]
        name = rp_id.rstrip("/").rsplit("/", 1)[-1]
        return self.recovery_point(item, name)

    # --- job plumbing ----------------------------------------------------------------------

    def _check_item(self, item: Item, operation: str, allow_unlisted: bool = False) -> None:
        if item.job is not None and not item.job.terminal:
            raise Refusal(
                409,
                CODE_CONFLICT,
                f"Another operation ({item.job.scenario}) is in progress on the protected item "
                f"'{item.name}'.",
                "An operation is already running on the protected item.",
                f"Wait for job '{item.job.name}' to finish, then retry.",
            )
        if not allow_unlisted and operation not in item.allowed:
            raise Refusal(
                400,
                CODE_NOT_ALLOWED,
                f"The operation '{operation}' is not allowed for the protected item "
                f"'{item.name}' in its current state '{PHASES[item.phase].protection_state}'.",
                f"Allowed operations now: {', '.join(item.allowed) or 'none'}.",
                "Check the protected item's allowed operations.",
            )

    def _item_job(
        self,
        item: Item,
        action: str,
        scenario: str,
        friendly: str,
        tasks: list[SimTask],
        done_phase: str | None,
        busy: tuple[str, str] | None = None,
        tfo_busy: tuple[str, str] | None = None,
        on_success: Callable[[], None] | None = None,
        undo: Hook | None = None,
        custom: dict[str, Any] | None = None,
    ) -> SimJob:
        job = SimJob(
            action=action,
            scenario=scenario,
            friendly_name=friendly,
            resource_id=self.item_id(item),
            target_object_id=item.vm_id,
            target_object_name=item.name,
            target_instance_type="ProtectionEntity",
            tasks=tasks,
            custom_details=custom or self._failover_details(item),
        )
        before = item.phase

        def begin() -> None:
            item.job = job
            item.busy = busy if busy is not None else BUSY_STATES.get(scenario)
            item.tfo_busy = tfo_busy

        def success() -> None:
            item.busy = item.tfo_busy = None
            if done_phase is not None:
                item.phase = done_phase
            if on_success is not None:
                on_success()

        async def failed() -> None:
            item.busy = item.tfo_busy = None
            item.phase = before
            if undo is not None:
                await undo()

        job.on_success, job.on_failed, job.on_restart = success, failed, begin
        begin()
        self.jobs[job.name.lower()] = job
        self.runner.start(job)
        return job

    def _failover_details(self, item: Item) -> dict[str, Any]:
        return {
            "instanceType": "FailoverJobDetails",
            "protectedItemDetails": [],
            "affectedObjectDetails": {
                "primaryVmId": item.vm_id,
                "primaryVmName": item.name,
                "recoveryVmId": "",
                "recoveryVmName": item.target.vm_name,
                "primaryCloudId": item.container,
                "primaryCloudName": item.site,
                "recoveryCloudId": AZURE_CONTAINER_NAME,
                "recoveryCloudName": AZURE_FABRIC_ID,
                "primaryFabricProviderId": "HyperVSite",
                "recoveryFabricProviderId": "Azure",
            },
        }

    # --- item effects ------------------------------------------------------------------

    def _power(self, item: Item, state: str) -> Hook:
        async def effect() -> None:
            if item.vm_id in self.datacenter.vms:
                self.datacenter.set_power(item.vm_id, state)

        return effect

    def _boot_recovery(self, item: Item) -> Hook:
        async def effect() -> None:
            ip = await self.endpoints.boot(f"{item.vm_id}:recovery")
            item.recovery_vm_ips = [ip]
            item.recovery_booted = True

        return effect

    def _stop_recovery(self, item: Item, forget: bool = False) -> Hook:
        async def effect() -> None:
            await self.endpoints.shutdown(f"{item.vm_id}:recovery")
            item.recovery_booted = False
            if forget:
                item.recovery_vm_ips = []

        return effect

    def _boot_test(self, item: Item) -> Hook:
        async def effect() -> None:
            ip = await self.endpoints.boot(f"{item.vm_id}:test")
            item.test_vm_ips = [ip]
            item.test_booted = True

        return effect

    def _stop_test(self, item: Item) -> Hook:
        async def effect() -> None:
            await self.endpoints.shutdown(f"{item.vm_id}:test")
            item.test_booted = False
            item.test_vm_ips = []

        return effect

    @staticmethod
    def _seq(*hooks: Hook) -> Hook:
        async def effect() -> None:
            for h in hooks:
                await h()

        return effect

    # --- item actions ------------------------------------------------------------------------

    # One VM's steps, as item jobs run them and as plan jobs' child tasks show them.

    def _shutdown_task(self, item: Item) -> SimTask:
        return SimTask(*SHUT_DOWN_PRIMARY, effect=self._power(item, "Off"))

    def _start_replica_task(self, item: Item) -> SimTask:
        return SimTask(*START_REPLICA, effect=self._boot_recovery(item))

    def _shutdown_azure_task(self, item: Item) -> SimTask:
        return SimTask(*SHUT_DOWN_AZURE, effect=self._stop_recovery(item))

    def _start_primary_task(self, item: Item) -> SimTask:
        return SimTask(*START_PRIMARY, effect=self._power(item, "Running"))

    def _boot_test_task(self, item: Item) -> SimTask:
        return SimTask(*BOOT_TEST_VM, effect=self._boot_test(item))

    def _failover_tasks(self, item: Item) -> list[SimTask]:
        return [SimTask(*FAILOVER), self._start_replica_task(item)]

    def planned_failover(self, item: Item, body: dict[str, Any]) -> SimJob:
        props = _props(body, required=False)
        direction = str(props.get("failoverDirection") or "PrimaryToRecovery")
        if direction == "RecoveryToPrimary":
            return self._failback(item, provider_input(props, "HyperVReplicaAzureFailback"))
        if direction != "PrimaryToRecovery":
            raise bad_input(f"Invalid failover direction '{direction}'.")
        details = provider_input(props, "HyperVReplicaAzure")
        self._check_item(item, "PlannedFailover")
        rp = self._resolve_rp(item, details.get("recoveryPointId"))
        tasks = [
            SimTask(
                "PlannedFailoverPreflightChecksTask",
                "VmPfoPrerequisitesCheck",
                "Prerequisites check for planned failover",
            ),
            self._shutdown_task(item),
            SimTask("PrepareForFailoverTask", "VmPrepareForFailover", "Preparing for failover"),
            *self._failover_tasks(item),
        ]
        return self._item_job(
            item,
            "plannedFailover",
            "PlannedFailover",
            "Planned failover",
            tasks,
            "PlannedFailoverCommitPending",
            on_success=self._failed_over(item, rp),
            undo=self._stop_recovery(item, forget=True),
        )

    def _failed_over(self, item: Item, rp: RecoveryPointState) -> Callable[[], None]:
        def done() -> None:
            item.failover_rp_id = self.rp_id(item, rp.name)
            item.last_failover_time = utcnow()

        return done

    def _failback(self, item: Item, details: dict[str, Any]) -> SimJob:
        instance = str(details.get("instanceType", ""))
        if instance and instance != "HyperVReplicaAzureFailback":
            raise bad_input(f"Provider input '{instance}' is not valid for failback.")
        sync = str(details.get("dataSyncOption") or "ForSynchronization")
        if sync not in ("ForDownTime", "ForSynchronization"):
            raise bad_input(f"Invalid dataSyncOption '{sync}'.")
        creation = str(details.get("recoveryVmCreationOption") or "NoAction")
        if creation not in ("NoAction", "CreateVmIfNotFound"):
            raise bad_input(f"Invalid recoveryVmCreationOption '{creation}'.")
        self._check_item(item, "Failback")
        tasks = [
            SimTask(
                "FailbackPreflightChecksTask",
                "VmFbPrerequisitesCheck",
                "Prerequisites check for failback",
            )
        ]
        if sync == "ForDownTime":
            tasks += [
                SimTask(
                    "SynchronizeDataTask", "VmFbSyncData", "Synchronize data (Azure VM running)"
                ),
                SimTask(
                    "WaitForCompleteFailoverTask",
                    "VmFbWaitForCompleteFailover",
                    "Complete failover (waiting for user input)",
                    suspend=True,
                ),
                self._shutdown_azure_task(item),
                SimTask("SynchronizeDeltaTask", "VmFbSyncDelta", "Synchronize final changes"),
            ]
        else:
            tasks += [
                self._shutdown_azure_task(item),
                SimTask("SynchronizeDataTask", "VmFbSyncData", "Synchronize data (full download)"),
            ]
        if creation == "CreateVmIfNotFound":
            tasks.append(
                SimTask(
                    "CreateVmOnPrimaryTask",
                    "VmFbCreateVm",
                    "Create the on-premises virtual machine",
                )
            )
        tasks += [
            SimTask(*FAILBACK),
            self._start_primary_task(item),
        ]
        return self._item_job(
            item,
            "plannedFailover",
            "PlannedFailover",
            "Failback",
            tasks,
            "FailbackCommitPending",
            busy=BUSY_STATES["Failback"],
            undo=self._boot_recovery(item),
        )

    def unplanned_failover(self, item: Item, body: dict[str, Any]) -> SimJob:
        props = _props(body)
        direction = str(props.get("failoverDirection") or "")
        if direction != "PrimaryToRecovery":
            raise bad_input(
                f"Unplanned failover supports only PrimaryToRecovery, not '{direction}'."
            )
        source_ops = str(props.get("sourceSiteOperations") or "NotRequired")
        if source_ops not in ("Required", "NotRequired"):
            raise bad_input(f"Invalid sourceSiteOperations '{source_ops}'.")
        details = provider_input(props, "HyperVReplicaAzure")
        self._check_item(item, "UnplannedFailover")
        rp = self._resolve_rp(item, details.get("recoveryPointId"))
        tasks = [
            SimTask(
                "UnplannedFailoverPreflightChecksTask",
                "VmUfoPrerequisitesCheck",
                "Prerequisites check for failover",
            )
        ]
        if source_ops == "Required":
            tasks.append(self._shutdown_task(item))
        tasks += self._failover_tasks(item)
        return self._item_job(
            item,
            "unplannedFailover",
            "UnplannedFailover",
            "Failover",
            tasks,
            "UnplannedFailoverCommitPending",
            on_success=self._failed_over(item, rp),
            undo=self._stop_recovery(item, forget=True),
        )

    def test_failover(self, item: Item, body: dict[str, Any]) -> SimJob:
        props = _props(body)
        network_type = str(props.get("networkType") or "")
        if network_type not in ("VmNetworkAsInput", "NoNetworkAttachAsInput"):
            raise bad_input(f"Invalid networkType '{network_type}'.")
        network_id = str(props.get("networkId") or "")
        if network_type == "VmNetworkAsInput" and not network_id:
            raise bad_input("networkId is required when networkType is VmNetworkAsInput.")
        details = provider_input(props, "HyperVReplicaAzure")
        self._check_item(item, "TestFailover")
        rp = self._resolve_rp(item, details.get("recoveryPointId"))
        tasks = [
            SimTask(
                "TestFailoverPreflightChecksTask",
                "VmTfoPrerequisitesCheck",
                "Prerequisites check for test failover",
            ),
            SimTask(*BEGIN_TEST_FAILOVER),
            SimTask(
                "PrepareTestProtectedEntitiesTask",
                "VmTfoPrepareTestVm",
                "Creating test virtual machine",
            ),
            self._boot_test_task(item),
        ]
        custom = {
            "instanceType": "TestFailoverJobDetails",
            "testFailoverStatus": "Active",
            "comments": "",
            "networkName": network_id.rsplit("/", 1)[-1],
            "networkFriendlyName": network_id.rsplit("/", 1)[-1],
            "networkType": network_type,
            "protectedItemDetails": [
                {
                    "name": item.vm_id,
                    "friendlyName": item.name,
                    "testVmName": f"{item.target.vm_name}-test",
                    "testVmFriendlyName": f"{item.target.vm_name}-test",
                    "networkConnectionStatus": "Connected",
                    "networkFriendlyName": network_id.rsplit("/", 1)[-1],
                    "subnet": item.target.nics[0]["subnet"],
                    "recoveryPointId": rp.name,
                    "recoveryPointTime": wire_time(rp.time),
                }
            ],
            "affectedObjectDetails": self._failover_details(item)["affectedObjectDetails"],
        }

        def done() -> None:
            item.failover_rp_id = self.rp_id(item, rp.name)
            item.last_tfo_time = utcnow()

        if not self.test_failover_suspends:
            return self._item_job(
                item,
                "testFailover",
                "TestFailover",
                "Test failover",
                tasks,
                "TestFailoverPending",
                tfo_busy=("InProgress", "Test failover in progress"),
                on_success=done,
                undo=self._stop_test(item),
                custom=custom,
            )

        async def release() -> None:
            # The test VM runs; the item waits for cleanup while the job stays suspended.
            done()
            item.phase, item.busy, item.tfo_busy, item.job = "TestFailoverPending", None, None, None
            item.waiting_scenario = job

        tasks.append(_tfo_wait_task())
        tasks[-2].effect = self._seq(self._boot_test(item), release)
        job = self._item_job(
            item,
            "testFailover",
            "TestFailover",
            "Test failover",
            tasks,
            None,
            tfo_busy=("InProgress", "Test failover in progress"),
            undo=self._stop_test(item),
            custom=custom,
        )
        item.waiting_tfo_job = job
        return job

    def test_failover_cleanup(self, item: Item, body: dict[str, Any]) -> SimJob:
        props = _props(body)
        if len(str(props.get("comments") or "")) > CLEANUP_COMMENT_MAX:
            raise bad_input(f"comments may hold at most {CLEANUP_COMMENT_MAX} characters.")
        self._check_item(item, "TestFailoverCleanup")
        tasks = [
            SimTask(
                "TestFailoverCleanupPreflightChecksTask",
                "VmTfoCleanupPreflightsCheck",
                "Prerequisites check for test failover cleanup",
            ),
            SimTask("EndTestFailoverTask", "VmTfoEndFailover", "Ending test failover"),
            SimTask(
                "CleanupTestProtectedEntitiesTask",
                "VmTfoDeleteTestVm",
                "Clean up the test virtual machine",
                effect=self._stop_test(item),
            ),
        ]
        custom = {
            "instanceType": "TestFailoverJobDetails",
            "testFailoverStatus": "Completed",
            "comments": str(props.get("comments") or ""),
            "protectedItemDetails": [],
            "affectedObjectDetails": self._failover_details(item)["affectedObjectDetails"],
        }
        return self._item_job(
            item,
            "testFailoverCleanup",
            "TestFailoverCleanup",
            "Test failover cleanup",
            tasks,
            "Protected",
            tfo_busy=MARKED_FOR_DELETION,
            on_success=lambda: self._cleaned_up(item),
            custom=custom,
        )

    def _cleaned_up(self, item: Item) -> None:
        item.tfo_after = MARKED_FOR_DELETION
        waiting, item.waiting_tfo_job = item.waiting_tfo_job, None
        item.waiting_scenario = None
        if waiting is not None and waiting.state == "Suspended":
            self.runner.resume(waiting, "Test failover cleanup completed")

    def failover_commit(self, item: Item) -> SimJob:
        self._check_item(item, "Commit")
        if item.phase == "FailbackCommitPending":
            tasks = [
                SimTask(
                    "CommitFailbackPreflightChecksTask",
                    "VmCommitPrerequisitesCheck",
                    "Prerequisites check for commit",
                ),
                SimTask("CommitFailoverTask", "VmCommitFailover", "Commit"),
                SimTask(
                    "DeleteRecoveryVmTask",
                    "VmDeleteAzureVm",
                    "Delete the Azure virtual machine",
                    effect=self._stop_recovery(item, forget=True),
                ),
            ]
            return self._item_job(
                item, "failoverCommit", "CommitFailover", "Commit", tasks, "FailbackCommitted"
            )
        tasks = [
            SimTask(
                "CommitFailoverPreflightChecksTask",
                "VmCommitPrerequisitesCheck",
                "Prerequisites check for commit",
            ),
            SimTask("CommitFailoverTask", "VmCommitFailover", "Commit"),
        ]

        def done() -> None:
            kept = item.failover_rp_id.rsplit("/", 1)[-1] if item.failover_rp_id else ""
            item.rps = [rp for rp in item.rps if rp.name == kept]  # commit deletes the others

        return self._item_job(
            item, "failoverCommit", "CommitFailover", "Commit", tasks, "FailedOver", on_success=done
        )

    def apply_recovery_point(self, item: Item, body: dict[str, Any]) -> SimJob:
        props = _props(body)
        if not props.get("providerSpecificDetails"):
            raise bad_input("providerSpecificDetails is required.")
        provider_input(props, "HyperVReplicaAzure")
        rp_id = str(props.get("recoveryPointId") or "")
        self._check_item(item, "ChangePit")
        # The definitions make recoveryPointId optional; without it, the latest point.
        rp = self._resolve_rp(item, rp_id or None)
        tasks = [
            SimTask(
                "ChangePitPreflightChecksTask",
                "VmChangePitPrerequisitesCheck",
                "Prerequisites check",
            ),
            SimTask(
                "ChangePitTask",
                "VmChangePit",
                "Change recovery point",
                effect=self._seq(self._stop_recovery(item), self._boot_recovery(item)),
            ),
        ]
        return self._item_job(
            item,
            "applyRecoveryPoint",
            "ChangePit",
            "Change recovery point",
            tasks,
            None,
            on_success=self._failed_over(item, rp),
        )

    def reprotect(self, item: Item, body: dict[str, Any]) -> SimJob:
        props = _props(body, required=False)
        direction = str(props.get("failoverDirection") or "PrimaryToRecovery")
        if direction not in ("PrimaryToRecovery", "RecoveryToPrimary"):
            raise bad_input(f"Invalid failover direction '{direction}'.")
        provider_input(props, "HyperVReplicaAzure")
        self._check_item(item, "ReverseReplicate")
        tasks = [
            SimTask(
                "ReprotectPreflightChecksTask",
                "VmReprotectPrerequisitesCheck",
                "Prerequisites check",
            ),
            SimTask("SwitchProtectionTask", "VmSwitchProtection", "Start reverse replication"),
            SimTask("EnableProtectionTask", "VmEnableProtection", "Enable replication to Azure"),
        ]

        def done() -> None:
            item.failover_rp_id = None
            item.next_rp_at = self.clock() + self.rp_interval

        return self._item_job(
            item, "reProtect", "SwitchProtection", "Reprotect", tasks, "Protected", on_success=done
        )

    def failover_cancel(self, item: Item) -> SimJob:
        self._check_item(item, "CancelFailover")  # only when allowedOperations lists it
        tasks = [
            SimTask(
                "CancelFailoverTask",
                "VmCancelFailover",
                "Cancel failover",
                effect=self._stop_recovery(item, True),
            ),
            SimTask(
                "StartVmOnPrimary",
                "VmStartVmOnPrimary",
                "Start the virtual machine",
                effect=self._power(item, "Running"),
            ),
        ]
        return self._item_job(
            item, "failoverCancel", "CancelFailover", "Cancel failover", tasks, "Protected"
        )

    def update(self, item: Item, body: dict[str, Any]) -> SimJob:
        props = _props(body)
        self._check_item(item, "", allow_unlisted=True)
        new = _apply_update(item.target, props)
        tasks = [
            SimTask(
                "UpdateVmPropertiesTask",
                "VmUpdateProperties",
                "Update the virtual machine properties",
            )
        ]

        def done() -> None:
            item.target = new

        return self._item_job(
            item,
            "update",
            "UpdateVmProperties",
            "Update the virtual machine properties",
            tasks,
            None,
            busy=None,
            on_success=done,
        )

    def compute_sizes(self, item: Item) -> list[tuple[ComputeSizeSpec, list[str]]]:
        out = []
        data_disks = sum(1 for d in item.vm.disks if not d.os)
        for spec in self.scenario.compute_sizes:
            errors = []
            if item.vm.generation not in spec.generations:
                errors.append(
                    f"Size '{spec.name}' does not support Hyper-V generation "
                    f"{item.vm.generation} VMs."
                )
            if data_disks > spec.max_data_disks:
                errors.append(
                    f"The VM has {data_disks} data disks; size '{spec.name}' supports "
                    f"{spec.max_data_disks}."
                )
            if max(1, item.vm.nics) > spec.max_nics:
                errors.append(
                    f"The VM has {item.vm.nics} NICs; size '{spec.name}' supports {spec.max_nics}."
                )
            out.append((spec, errors))
        return out

    # --- plans -------------------------------------------------------------------------------

    def plan_allowed(self, plan: PlanState) -> list[str]:
        """Plan-level operations as [EX] shows them: failback is PlannedFailover there."""
        items = plan.all_items
        if not items or any(i.job is not None and not i.job.terminal for i in items):
            return []
        phases = {i.phase for i in items}
        if len(phases) != 1:
            return []
        return list(PLAN_ALLOWED[phases.pop()])

    def plan_action(self, plan: PlanState, action: str, body: dict[str, Any]) -> SimJob:
        failover = action in ("plannedFailover", "unplannedFailover", "testFailover")
        props = _props(body, required=failover or action == "testFailoverCleanup")
        if failover and not props.get("failoverDirection"):
            raise bad_input("failoverDirection is required.")
        direction = str(props.get("failoverDirection") or "PrimaryToRecovery")
        if direction not in ("PrimaryToRecovery", "RecoveryToPrimary"):
            raise bad_input(f"Invalid failover direction '{direction}'.")
        details_list = props.get("providerSpecificDetails") or []
        if not isinstance(details_list, list):
            raise bad_input("providerSpecificDetails must be an array for recovery plans.")
        failback = action == "plannedFailover" and direction == "RecoveryToPrimary"
        details = _plan_provider_input(details_list, failback)
        source_ops = str(props.get("sourceSiteOperations") or "")
        sync = ""
        rp_type = str(details.get("recoveryPointType") or "Latest")
        if rp_type not in PLAN_POINT_TYPES:
            raise bad_input(
                f"Invalid recoveryPointType '{rp_type}'; expected one of "
                f"{', '.join(PLAN_POINT_TYPES)}."
            )
        if failback:
            required, op_type, done_phase = "Failback", "PlannedFailover", "FailbackCommitPending"
            sync = str(details.get("dataSyncOption") or "")
            if sync not in ("ForDownTime", "ForSynchronization"):
                raise bad_input("dataSyncOption is required for failback.")
            creation = str(details.get("recoveryVmCreationOption") or "")
            if creation not in ("NoAction", "CreateVmIfNotFound"):
                raise bad_input("recoveryVmCreationOption is required for failback.")
        elif action == "plannedFailover":
            required, op_type, done_phase = (
                "PlannedFailover",
                "PlannedFailover",
                "PlannedFailoverCommitPending",
            )
        elif action == "unplannedFailover":
            if source_ops not in ("Required", "NotRequired"):
                raise bad_input("sourceSiteOperations is required.")
            required, op_type, done_phase = (
                "UnplannedFailover",
                "UnplannedFailover",
                "UnplannedFailoverCommitPending",
            )
        elif action == "testFailover":
            if not props.get("networkType"):
                raise bad_input("networkType is required.")
            required, op_type, done_phase = "TestFailover", "TestFailover", "TestFailoverPending"
        elif action == "testFailoverCleanup":
            if len(str(props.get("comments") or "")) > CLEANUP_COMMENT_MAX:
                raise bad_input(f"comments may hold at most {CLEANUP_COMMENT_MAX} characters.")
            required, op_type, done_phase = (
                "TestFailoverCleanup",
                "TestFailoverCleanup",
                "Protected",
            )
        elif action == "failoverCommit":
            required, op_type, done_phase = "Commit", "Commit", ""
        elif action == "reProtect":
            required, op_type, done_phase = "ReverseReplicate", "ReverseReplicate", "Protected"
        elif action == "failoverCancel":
            required, op_type, done_phase = "CancelFailover", "CancelFailover", "Protected"
        else:
            raise not_found(f"Action '{action}'")
        for it in plan.all_items:
            self._check_item(it, required)
        if rp_type == "LatestApplicationConsistent" and failover and not failback:
            lacking = [
                i.name
                for i in plan.all_items
                if not any(rp.type == "ApplicationConsistent" for rp in i.rps)
            ]
            if lacking:
                raise Refusal(
                    400,
                    CODE_NOT_ALLOWED,
                    "No application-consistent recovery point is available for "
                    f"{', '.join(lacking)}.",
                    "The virtual machines have no application-consistent recovery point yet.",
                    "Fail over to the latest point, or wait for an application-consistent one.",
                )
        name = str(uuid.uuid4())
        scenario = {
            "failoverCommit": "CommitFailover",
            "reProtect": "SwitchProtection",
            "failoverCancel": "CancelFailover",
        }.get(action, op_type)
        # The point each VM fails over to, chosen when its Failover step runs.
        chosen: dict[str, RecoveryPointState] = {}

        def choose(i: Item) -> Hook:
            async def effect() -> None:
                chosen[i.vm_id] = self._plan_point(i, rp_type)

            return effect

        tasks = self._plan_tasks(
            plan, name, action, op_type, direction, source_ops, sync, scenario, choose
        )
        friendly = f"{scenario} of recovery plan {plan.spec.name}"
        job = SimJob(
            name=name,
            action=action,
            scenario=scenario,
            friendly_name=friendly,
            resource_id=self.plan_id(plan),
            # ASR names a plan job's target by the plan's internal id (a GUID the plan
            # resource does not show) and the plan's name (ReplicationJobs_Get).
            target_object_id=self.plan_object_id(plan),
            target_object_name=plan.spec.name,
            target_instance_type="RecoveryPlan",
            tasks=tasks,
            custom_details={
                "instanceType": "FailoverJobDetails",
                "protectedItemDetails": [
                    {"name": i.vm_id, "friendlyName": i.name} for i in plan.all_items
                ],
                "affectedObjectDetails": {"recoveryPlanName": plan.spec.name},
            },
        )
        before = {i.vm_id: i.phase for i in plan.all_items}
        busy = BUSY_STATES["Failback"] if required == "Failback" else BUSY_STATES.get(scenario)
        tfo_busy = {
            "TestFailover": ("InProgress", "Test failover in progress"),
            "TestFailoverCleanup": MARKED_FOR_DELETION,
        }.get(scenario)
        released = False

        def begin() -> None:
            for i in plan.all_items:
                i.job, i.busy, i.tfo_busy = job, busy, tfo_busy

        def finish(i: Item) -> None:
            """The VM's part of the job is done: its new state."""
            i.busy = i.tfo_busy = None
            if action == "failoverCommit":
                i.phase = (
                    "FailbackCommitted" if i.phase == "FailbackCommitPending" else "FailedOver"
                )
            else:
                i.phase = done_phase
            point = chosen.get(i.vm_id) or (i.rps[-1] if i.rps else None)
            if done_phase in ("PlannedFailoverCommitPending", "UnplannedFailoverCommitPending"):
                assert point is not None
                self._failed_over(i, point)()
            if action == "testFailoverCleanup":
                i.tfo_after, i.waiting_scenario = MARKED_FOR_DELETION, None
            if done_phase == "TestFailoverPending" and point is not None:
                i.failover_rp_id = self.rp_id(i, point.name)
                i.last_tfo_time = utcnow()

        async def release() -> None:
            """A test failover's VMs are up: the plan waits for cleanup, its job suspended."""
            nonlocal released
            released = True
            for i in plan.all_items:
                finish(i)
                i.job, i.waiting_scenario = None, job
            plan.last_times[op_type] = utcnow()
            plan.waiting_tfo_job = job

        def success() -> None:
            if not released:
                for i in plan.all_items:
                    finish(i)
                plan.last_times[op_type] = utcnow()
            if action == "testFailoverCleanup":
                waiting, plan.waiting_tfo_job = plan.waiting_tfo_job, None
                if waiting is not None and waiting.state == "Suspended":
                    self.runner.resume(waiting, "Test failover cleanup completed")

        async def failed() -> None:
            # The VMs whose part finished (their Boot group step) keep their new state.
            done = job.done_targets()
            for i in plan.all_items:
                if released:
                    continue  # cancelled while waiting for cleanup: the test VMs stay
                if i.vm_id.lower() in done:
                    finish(i)
                else:
                    i.busy = i.tfo_busy = None
                    i.phase = before[i.vm_id]

        if tasks and tasks[-1].task_id == TFO_WAIT_TASK:
            tasks[-1].on_suspend = release
        job.on_success, job.on_failed, job.on_restart = success, failed, begin
        for i in plan.all_items:
            self.advance(i)
        begin()
        plan.jobs.append(job)
        self.jobs[job.name.lower()] = job
        self.runner.start(job)
        return job

    def plan_object_id(self, plan: PlanState) -> str:
        """The plan's internal id, stable for its name (targetObjectId of its jobs)."""
        return stable_id("recovery-plan", self.vault_id.lower(), plan.spec.name.lower())

    def _plan_point(self, item: Item, rp_type: str) -> RecoveryPointState:
        """The point a plan failover's recoveryPointType names, at the time it runs.

        Latest: ASR first processes the data it received into a new point (reference
        5.2), the simulator adds that point; LatestProcessed: the newest existing point;
        LatestApplicationConsistent: the newest application-consistent one.
        """
        self.advance(item)
        if rp_type == "Latest" and item.phase in ("Protected", "TestFailoverPending"):
            self._add_rp(item, datetime.now(UTC))
        if rp_type == "LatestApplicationConsistent":
            consistent = [rp for rp in item.rps if rp.type == "ApplicationConsistent"]
            if consistent:
                return consistent[-1]
        return item.rps[-1]

    def _plan_tasks(
        self,
        plan: PlanState,
        job_name: str,
        action: str,
        op_type: str,
        direction: str,
        source_ops: str,
        sync: str,
        scenario: str,
        choose: Callable[[Item], Hook],
    ) -> list[SimTask]:
        items = plan.all_items
        failback = direction == "RecoveryToPrimary"
        # Each VM's step is a child task pointing at the VM's child job.
        child_friendly = "Failback" if failback else PLAN_CHILD_JOB_NAMES[scenario]
        refs = {
            i.vm_id: ChildJob(
                job_id=f"{self.vault_id}/replicationJobs/{stable_id('job', job_name, i.vm_id)}",
                friendly_name=child_friendly,
                target_id=i.vm_id,
                target_name=i.name,
                scenario=scenario,
            )
            for i in items
        }
        if action in ("testFailoverCleanup", "failoverCommit", "reProtect", "failoverCancel"):
            tasks = []
            for it in items:  # no groups: one child job per VM, in turn
                effect: Hook | None = None
                if action == "testFailoverCleanup":
                    effect = self._stop_test(it)
                elif action == "failoverCommit" and it.phase == "FailbackCommitPending":
                    effect = self._stop_recovery(it, forget=True)
                elif action == "failoverCancel":
                    effect = self._seq(self._stop_recovery(it, True), self._power(it, "Running"))
                task = SimTask(
                    f"{action}Task", f"{action}-{it.name}", f"{action} {it.name}", effect=effect
                )
                task.job_task = refs[it.vm_id]
                tasks.append(task)
            return tasks

        def children(
            step: Callable[[Item], SimTask], of: list[Item], skip: bool = False, final: bool = False
        ) -> list[SimTask]:
            out = []
            for i in of:
                child = step(i)
                child.job_task, child.skip, child.final = refs[i.vm_id], skip, final
                if skip:
                    child.effect = None
                out.append(child)
            return out

        test = op_type == "TestFailover"
        failover: Callable[[Item], SimTask]
        if failback:
            shutdown, failover, boot = (
                self._shutdown_azure_task,
                lambda _: SimTask(*FAILBACK),
                self._start_primary_task,
            )
        elif test:
            shutdown, failover, boot = (
                None,
                lambda _: SimTask(*BEGIN_TEST_FAILOVER),
                self._boot_test_task,
            )
        else:
            shutdown, failover, boot = (
                self._shutdown_task,
                lambda _: SimTask(*FAILOVER),
                self._start_replica_task,
            )

        # Failover steps fail each VM over to the point the input's recoveryPointType names.
        def failover_step(i: Item) -> SimTask:
            task = failover(i)
            if not failback:
                task.effect = choose(i)
            return task

        tasks = []
        if shutdown is not None:
            group = PlanGroup(
                "Shutdown",
                "Shutdown",
                "Shutdown",
                "ShutdownGroupTask",
                "Shutdown",
                "Group Shutdown",
            )
            if failback and sync == "ForDownTime":
                tasks.append(
                    SimTask("SynchronizeDataTask", "RpSyncData", "Synchronize data", group=group)
                )
                tasks.append(
                    SimTask(
                        "WaitForCompleteFailoverTask",
                        "RpWaitForCompleteFailover",
                        "Complete failover (waiting for user input)",
                        suspend=True,
                        group=group,
                    )
                )
            # An unplanned failover with NotRequired leaves the source alone: Skipped.
            skip = op_type == "UnplannedFailover" and source_ops != "Required"
            tasks.append(
                SimTask(
                    "ShutdownGroupTask",
                    "Shutdown",
                    "Group Shutdown",
                    group=group,
                    children=children(shutdown, items, skip=skip),
                )
            )
        group = PlanGroup(
            "Failover", "Failover", "Failover", "FailoverGroupTask", "Failover", "Group Failover"
        )
        tasks.append(
            SimTask(
                "FailoverGroupTask",
                "Failover",
                "Group Failover",
                group=group,
                children=children(failover_step, items),
            )
        )
        for n, (gspec, gitems) in enumerate(
            zip(plan.spec.groups, plan.items, strict=True), start=1
        ):
            friendly = f"Group {n}: Start virtual machines"
            group = PlanGroup(f"Boot {n}", str(n), "Boot", "BootGroupTask", f"Group{n}", friendly)
            applicable = [
                a
                for a in gspec.actions
                if op_type in a.failover_types and direction in a.failover_directions
            ]
            for a in (a for a in applicable if a.position == "start"):
                tasks.append(self._action_task(a.name, a.manual, group))
            tasks.append(
                SimTask(
                    "BootGroupTask",
                    f"Group{n}",
                    friendly,
                    group=group,
                    children=children(boot, gitems, final=True),
                )
            )
            for a in (a for a in applicable if a.position == "end"):
                tasks.append(self._action_task(a.name, a.manual, group))
        if test and self.test_failover_suspends:
            # The test VMs run; the job waits for cleanup (RecoveryPlans_TestFailover example).
            tasks.append(_tfo_wait_task())
        return tasks

    @staticmethod
    def _action_task(name: str, manual: str, group: PlanGroup) -> SimTask:
        if manual:
            return SimTask(
                "ManualActionTask", name, name, suspend=True, instructions=manual, group=group
            )
        return SimTask("ScriptActionTask", name, name, group=group)

    # --- wire bodies ---------------------------------------------------------------------------


# --- helpers ---------------------------------------------------------------------------------


def _tfo_wait_task() -> SimTask:
    """The step where a test failover job waits, Suspended, for the cleanup."""
    return SimTask(
        TFO_WAIT_TASK,
        "VmTfoWaitForCompletion",
        "Complete test failover (waiting for cleanup)",
        suspend=True,
        suspend_description="WaitingForStopTestFailover",
    )


def provider_input(props: dict[str, Any], expected: str) -> dict[str, Any]:
    """An item action's providerSpecificDetails, refused when it is another scenario's."""
    details = props.get("providerSpecificDetails")
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise bad_input("providerSpecificDetails must be an object.")
    _check_instance(details, (expected,))
    return details


def _plan_provider_input(entries: list[Any], failback: bool) -> dict[str, Any]:
    """The HyperVReplicaAzure entry of a plan action's providerSpecificDetails array.

    One entry per replication provider of the plan (reference 1.3); the simulator's
    plans hold Hyper-V VMs only, so another provider's entry is refused.
    """
    expected = "HyperVReplicaAzureFailback" if failback else "HyperVReplicaAzure"
    for entry in entries:
        if not isinstance(entry, dict):
            raise bad_input("providerSpecificDetails entries must be objects.")
        _check_instance(entry, (expected,))
    return entries[0] if entries else {}


def _check_instance(details: dict[str, Any], allowed: tuple[str, ...]) -> None:
    instance = details.get("instanceType")
    if not instance:
        raise bad_input("providerSpecificDetails.instanceType is required.")
    if instance not in allowed:
        raise bad_input(
            f"Provider input '{instance}' is not valid for this operation: the protected "
            f"item replicates with HyperVReplicaAzure (expected {' or '.join(allowed)})."
        )


def _props(body: dict[str, Any], required: bool = True) -> dict[str, Any]:
    props = body.get("properties")
    if props is None:
        if required:
            raise bad_input("The request body must contain 'properties'.")
        return {}
    if not isinstance(props, dict):
        raise bad_input("'properties' must be an object.")
    return props


def _apply_update(t: Target, props: dict[str, Any]) -> Target:
    """The settings after an UpdateReplicationProtectedItemInput (reference section 11)."""
    from dataclasses import replace

    new = replace(t, nics=[dict(n) for n in t.nics], tags=dict(t.tags))
    if props.get("recoveryAzureVMName"):
        new.vm_name = str(props["recoveryAzureVMName"])
    if props.get("recoveryAzureVMSize"):
        new.size = str(props["recoveryAzureVMSize"])
    if props.get("selectedRecoveryAzureNetworkId"):
        new.network_id = str(props["selectedRecoveryAzureNetworkId"])
    if "recoveryAvailabilitySetId" in props and props["recoveryAvailabilitySetId"] is not None:
        new.availability_set_id = str(props["recoveryAvailabilitySetId"])
    if props.get("licenseType"):
        new.license_type = str(props["licenseType"])
    for nic_in in props.get("vmNics") or []:
        nic = next((n for n in new.nics if n["nicId"] == nic_in.get("nicId")), None)
        if nic is None:
            raise bad_input(f"NIC '{nic_in.get('nicId')}' does not belong to the protected item.")
        for ipc in nic_in.get("ipConfigs") or []:
            if ipc.get("recoverySubnetName") is not None:
                nic["subnet"] = str(ipc["recoverySubnetName"])
            if ipc.get("recoveryStaticIPAddress") is not None:
                nic["ip"] = str(ipc["recoveryStaticIPAddress"])
    psd = props.get("providerSpecificDetails") or {}
    if psd:
        if psd.get("instanceType") not in (None, "HyperVReplicaAzure"):
            raise bad_input(
                f"Provider input '{psd.get('instanceType')}' is not valid for this item."
            )
        if psd.get("recoveryAzureV2ResourceGroupId"):
            new.resource_group_id = str(psd["recoveryAzureV2ResourceGroupId"])
        if psd.get("useManagedDisks") is not None:
            new.use_managed_disks = str(psd["useManagedDisks"]).lower()
        if psd.get("targetAvailabilityZone") is not None:
            new.availability_zone = str(psd["targetAvailabilityZone"])
        if psd.get("targetVmTags") is not None:
            new.tags = {str(k): str(v) for k, v in dict(psd["targetVmTags"]).items()}
    return new
