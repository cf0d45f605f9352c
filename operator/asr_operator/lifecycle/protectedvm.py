"""The ProtectedVM state machine: its table on the one operation engine (`engine.py`).

`decide` is called on every reconcile with what the controller observed. It returns a
`Decision`: the step to perform and the status to persist *before* performing it (for a
`Submit`, that status holds the intent). The controller then reports what came of the
step through `record`, and persists that status too. Nothing here does I/O.

Decisions come from what ASR says (`allowedOperations`, `activeLocation`,
`currentScenario`), never from `protectionState` strings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from asr_operator.api.common import (
    CommitMode,
    FailoverType,
    ManagementPolicy,
    RecoveryPointKind,
    Site,
    parse_duration,
)
from asr_operator.api.conditions import ConditionStatus, ConditionType, Reason
from asr_operator.api.operation import (
    ApprovalAction,
    AzureVM,
    OperationResult,
    OperationType,
    Phase,
    TestFailoverStatus,
)
from asr_operator.api.protectedvm import (
    RECOVERY_POINTS_SHOWN,
    AsrObserved,
    DiskObserved,
    NicObserved,
    PrecheckResult,
    PrechecksStatus,
    ProtectedVMSpec,
    ProtectedVMStatus,
    RecoveryPointShown,
    RecoveryPointsStatus,
    TargetObserved,
    ValidationStatus,
)
from asr_operator.lifecycle import engine, recovery_points, target
from asr_operator.lifecycle.azure_vm import azure_vm_status, made_azure_vm
from asr_operator.lifecycle.engine import Decision, Intent, Row, always
from asr_operator.lifecycle.item_state import ItemState, item_state
from asr_operator.lifecycle.observation import Context, Observation, Wants
from asr_operator.lifecycle.observed import (
    ActiveLocation,
    AsrDisk,
    AsrItem,
    AsrJob,
    AsrOperation,
    AzureVmObserved,
    PowerState,
)
from asr_operator.lifecycle.prechecks import check_vm, evaluate
from asr_operator.lifecycle.steps import (
    Done,
    Event,
    EventType,
    Outcome,
    Probe,
    ProbeResult,
    Refusal,
    ShutdownResult,
    ShutdownSourceVM,
    Stall,
    StartApplyRecoveryPoint,
    StartCommit,
    StartFailback,
    StartFailover,
    StartReprotect,
    StartTestFailover,
    StartTestFailoverCleanup,
    StartUpdateTarget,
    Step,
    Wait,
)

MAX_ATTEMPTS = engine.MAX_ATTEMPTS
PROBE_INTERVAL = 10.0


# --- Observation requests -------------------------------------------------------------


def wants(spec: ProtectedVMSpec, status: ProtectedVMStatus, refresh: str = "") -> Wants:
    """Only what this cycle can use: an idle VM costs one cached item read, nothing else.
    ObserveOnly asks for no move or drill, so it reads only what a VM at rest reads.

    `refresh` (the refresh annotation) asks once for the reads made only when needed.
    """
    job_name, lookup = engine.job_wants(status)
    tf = spec.test_failover
    moving, drill = engine.asked_for(spec, status)
    busy = status.operation is not None or moving or drill
    settled = status.phase in (Phase.PROTECTED, Phase.FAILED_OVER, Phase.OBSERVING)
    size = spec.target.size if spec.target is not None else None
    held = status.target.size if status.target is not None else ""
    fo = spec.failover
    keep_source_off = (
        spec.management_policy == ManagementPolicy.FULL
        and spec.active_site == Site.AZURE
        and fo.type == FailoverType.UNPLANNED
        and fo.shutdown_source_vm
    )
    latest = RecoveryPointKind.LATEST.value
    # "Latest" sends no recovery point id; only a named or derived choice needs the list.
    points = (
        (moving and fo.recovery_point != latest)
        or (drill and tf is not None and tf.recovery_point != latest)
        or status.phase in (Phase.AWAITING_COMMIT, Phase.CHANGING_RECOVERY_POINT, Phase.STALLED)
        or refresh_due(status, refresh)
    )
    return Wants(
        job_name=job_name,
        job_lookup_since=lookup,
        recovery_points=points,
        compute_sizes=size is not None and size.lower() != held.lower(),
        hyperv=spec.hyper_v is not None
        and (busy or keep_source_off or prechecks_due(spec, status, refresh)),
        fresh_item=busy or not settled,
    )


def at_rest(spec: ProtectedVMSpec, status: ProtectedVMStatus, item: AsrItem, refresh: str) -> bool:
    """With ASR as it is, the next cycle would read nothing of its own: the object can
    sleep until its item changes (`resting_mark`)."""
    return wants(spec, status, refresh).only_shared_lists and not any(
        azure_vm_reads(status, item, None)
    )


def resting_mark(item: AsrItem) -> AsrItem:
    """What a resting object's decisions depend on: the item without the figures ASR
    moves on every read (status takes those only as `reported_rpo` says)."""
    return replace(item, rpo_seconds=None, last_replicated_time=None)


def still_at_rest(shown: AsrObserved | None, rested_on: AsrItem, now: AsrItem) -> bool:
    """Nothing the next cycle would decide or write differs: the item changed only in
    its RPO, and not enough for status (`reported_rpo` against `shown`, status.asr)."""
    if resting_mark(now) != resting_mark(rested_on):
        return False
    held = (shown.rpo_seconds, shown.last_replicated_time) if shown else (None, None)
    return reported_rpo(shown, now) == held


def refresh_due(status: ProtectedVMStatus, refresh: str) -> bool:
    return bool(refresh) and refresh != status.last_handled_refresh


def checked_vm(spec: ProtectedVMSpec) -> str:
    """Which Hyper-V VM the pre-checks in status are about (host/name)."""
    return f"{spec.hyper_v.host}/{spec.hyper_v.vm_name}" if spec.hyper_v is not None else ""


def prechecks_due(spec: ProtectedVMSpec, status: ProtectedVMStatus, refresh: str) -> bool:
    """Check the VM when first seen, when spec.hyperV names another VM, and on request.

    Not on a cadence: at rest a VM costs no Hyper-V read (before a failover it is always
    checked). A VM that could not be read is tried again on the next cycle.
    """
    if spec.hyper_v is None:
        return False
    shown = status.prechecks
    return (
        shown is None
        or shown.vm != checked_vm(spec)
        or bool(shown.error)
        or refresh_due(status, refresh)
    )


def needs_fresh_item(wants: Wants, job: AsrJob | None) -> bool:
    """While the operation's job runs, the vault-wide item list is recent enough.

    Following a job reads only the (batched) job; the item is read fresh again as soon as
    the job ends, before anything is decided from the item's state.
    """
    running = job is not None and not job.state.terminal
    return wants.fresh_item and not (wants.job_name is not None and running)


def azure_vm_reads(
    status: ProtectedVMStatus, item: AsrItem, job: AsrJob | None
) -> tuple[bool, bool]:
    """Which Azure VMs to read from ARM now: (the failed-over VM, a drill's test VM).

    Only when the job of an operation that makes the VM has ended (a failover, a change of
    recovery point, a drill), while validating, or when status has not shown the VM yet:
    a resting object keeps what status shows and reads nothing (idle cost).
    """
    op = status.operation
    ended = op is not None and (job is None or job.state.terminal)
    made = made_azure_vm(op, job)
    check = status.validation
    validating = check is not None and not check.passed and not check.timed_out
    shown = status.azure_vm
    recovery = item.active_location == ActiveLocation.RECOVERY and (
        made or validating or shown is None or not shown.id
    )
    tf = status.test_failover
    drill_ended = ended and op is not None and op.type == OperationType.TEST_FAILOVER
    test = item_state(item) == ItemState.TEST_ACTIVE and (
        drill_ended or tf is None or tf.test_vm is None or not tf.test_vm.id
    )
    return recovery, test


# --- The decision ---------------------------------------------------------------------


def decide(
    spec: ProtectedVMSpec, status: ProtectedVMStatus, obs: Observation, ctx: Context
) -> Decision[ProtectedVMStatus]:
    d = VMMachine(spec, status, obs, ctx)
    return d.finish(d.run())


decide_deletion = engine.decide_deletion


class VMMachine(engine.Engine[ProtectedVMSpec, ProtectedVMStatus, ItemState]):
    """One decision for one ProtectedVM; the rows are in `TABLE` below the class."""

    def __init__(
        self, spec: ProtectedVMSpec, status: ProtectedVMStatus, obs: Observation, ctx: Context
    ) -> None:
        super().__init__(spec, status, obs, ctx)
        self.source_checks: tuple[ConditionStatus, Reason, str] | None = None
        # The points status listed before this cycle (their times name the closest
        # retained point when a chosen one is gone).
        shown = status.recovery_points
        self.listed_before = {p.name.lower(): p.time for p in shown.newest} if shown else {}

    @property
    def item(self) -> AsrItem:
        assert self.obs.item is not None
        return self.obs.item

    # -- what the engine asks of a kind --------------------------------------------------

    def observe(self) -> Step | None:
        obs = self.obs
        if not obs.vault_ready:
            if self.status.operation is not None:
                return Wait(Reason.WAITING, f"Vault not ready: {obs.vault_message}", 30.0)
            return self.stall(Reason.VAULT_NOT_READY, obs.vault_message)
        if obs.item_error is not None:
            return self.observation_failed(obs.item_error.kind, obs.item_error.message)
        if obs.item is None:
            return Wait(Reason.RESOLVING, "Looking up the ASR protected item.", 5.0)
        self.observe_item(obs.item)
        return None

    def state(self) -> ItemState:
        return item_state(self.item)

    def target_id(self) -> str:
        return self.item.id

    def target_label(self) -> str:
        return self.item.friendly_name

    def allowed(self) -> frozenset[str]:
        return self.item.allowed_operations

    def not_allowed_detail(self) -> str:
        return f"; protection state {self.item.protection_state!r}"

    def matches_desired(self, state: ItemState) -> bool:
        if self.spec.active_site == Site.AZURE:
            return state == ItemState.FAILED_OVER
        return state == ItemState.PROTECTED

    def unsupported(self, state: ItemState) -> Step:
        item = self.item
        return self.stall(
            Reason.UNSUPPORTED_STATE,
            f"ASR reports {item.friendly_name} as {item.protection_state!r} "
            f"({item.protection_state_description}) at {item.active_location.value}, allowing "
            f"{sorted(item.allowed_operations)}; the operator waits for a state it knows.",
        )

    def hold(self, state: ItemState) -> Step | None:
        item = self.item
        plan = self.obs.owning_plan
        if plan is not None:
            asks = [
                what
                for what, wanted in (
                    (f"activeSite {self.spec.active_site.value}", not self.matches_desired(state)),
                    ("a drill", self.drill_requested()),
                    (
                        "a change of spec.target",
                        state == ItemState.PROTECTED and self.target_drifts(),
                    ),
                )
                if wanted
            ]
            if not asks:
                return Done(self.ctx.poll_interval)
            return self.stall(
                Reason.OWNED_BY_RECOVERY_PLAN,
                f"{item.friendly_name} belongs to RecoveryPlan {plan!r} (managementPolicy Full), "
                f"which alone acts on it; this ProtectedVM asks for {' and '.join(asks)} and "
                "does nothing. Drive the plan instead, make this spec match where the plan "
                "put the VM, or set the plan's managementPolicy to ObserveOnly.",
                300.0,
            )
        if item.busy_job is not None:
            return Wait(
                Reason.OPERATION_IN_PROGRESS,
                f"ASR job {item.busy_job} ({item.current_scenario}) is running on "
                "this item, started outside the operator; waiting for it to end.",
                self.ctx.poll_interval,
            )
        return None

    def enter(self, state: ItemState) -> None:
        if state == ItemState.COMMIT_PENDING:
            self.remember_applied_point(self.spec.failover.recovery_point)

    def submitting(self) -> dict[str, object]:
        return {"validation": None}

    def following(self, job: AsrJob) -> Step | None:
        op = self.status.operation
        if self.spec.hyper_v is not None and self.obs.hyperv_error is not None and op:
            self.event(
                EventType.WARNING,
                "HyperVUnreachable",
                f"Hyper-V host unreachable during {op.type.value}; ASR goes on: "
                f"{self.obs.hyperv_error.message}",
            )
        return None

    def suspended(self, job: AsrJob) -> Step:
        op = self.status.operation
        assert op is not None
        if op.type == OperationType.TEST_FAILOVER:
            # ASR may keep a drill's job suspended until cleanup: the test VM is up.
            return self.complete(OperationResult.SUCCEEDED, job, "")
        if op.type != OperationType.FAILBACK:
            return self.stall(
                Reason.UNSUPPORTED_STATE,
                f"ASR job {job.name} is suspended ({job.state_description}); the operator only "
                "resumes failback jobs. Resume or finish it in ASR.",
            )
        vm = self.obs.hyperv
        if vm is not None and vm.state == PowerState.RUNNING:
            return self.stall(
                Reason.SOURCE_VM_POWERED_ON,
                f"The on-premises VM {vm.name} is running while failback waits to complete; "
                "someone started it. Turn it off: ASR must start it after the final sync.",
                30.0,
            )
        return self.resume_when_approved(
            job,
            ApprovalAction.COMPLETE_FAILBACK,
            op.run_id,
            f"Failback data sync is done and ASR job {job.name} waits: completing it shuts "
            "the Azure VM down, copies the last changes and starts the on-premises VM.",
        )

    def conditions(self, status: ProtectedVMStatus, step: Step) -> ProtectedVMStatus:
        if self.source_checks is not None:
            status = self.with_condition(
                status, ConditionType.SOURCE_CHECKS_PASSED, *self.source_checks
            )
        if self.obs.item is not None:
            healthy = self.obs.item.replication_health == "Normal"
            status = self.with_condition(
                status,
                ConditionType.REPLICATION_HEALTHY,
                ConditionStatus.TRUE if healthy else ConditionStatus.FALSE,
                Reason.HEALTHY if healthy else Reason.DEGRADED,
                f"ASR replication health: {self.obs.item.replication_health}",
            )
        return status

    def observe_only_ready(self, status: ProtectedVMStatus) -> bool:
        in_sync = status.target is None or status.target.in_sync
        return (
            in_sync
            and self.obs.item is not None
            and self.matches_desired(item_state(self.obs.item))
        )

    # -- observation ---------------------------------------------------------------------

    def observation_failed(self, kind: Refusal, message: str) -> Step:
        vault = self.spec.vault_ref.name
        if kind == Refusal.NOT_FOUND:
            return self.stall(
                Reason.ITEM_NOT_FOUND,
                f"{message}. Check spec.protectedItem (the VM's name as ASR lists it, or "
                f"fabric, container and id) and the vault named by SiteRecoveryVault {vault}.",
            )
        if kind == Refusal.AUTH_FAILED:
            return self.stall(
                Reason.AUTHENTICATION_FAILED,
                f"ASR refused the identity of SiteRecoveryVault {vault}: {message}. Fix its "
                "spec.authentication or the Secret it references (the vault's Ready condition "
                "shows the same check).",
            )
        return Wait(Reason.WAITING, f"Cannot read the ASR item now: {message}", 15.0)

    def observe_item(self, item: AsrItem) -> None:
        held = item.target
        site = Site.AZURE if item.active_location == ActiveLocation.RECOVERY else Site.ON_PREMISES
        tgt = TargetObserved(
            vm_name=held.vm_name,
            size=held.size,
            resource_group_id=held.resource_group_id,
            availability_set_id=held.availability_set_id,
            availability_zone=held.availability_zone,
            managed_disks=held.use_managed_disks,
            network_id=held.network_id,
            nics=[
                NicObserved(nic_id=n.nic_id, subnet=n.subnet, static_ip=n.static_ip)
                for n in held.nics
            ],
        )
        if self.spec.target is not None:
            diffs = target.differences(target.desired(self.spec.target, held), held)
            tgt = tgt.model_copy(update={"in_sync": not diffs, "differences": diffs})
        azure_vm = None
        if site == Site.AZURE:
            shown = self.status.azure_vm
            if self.obs.azure_vm is not None:
                azure_vm = _azure_vm(self.obs.azure_vm, self.spec)
            elif shown is not None and shown.id:
                azure_vm = shown  # read after the last operation; idle cycles keep it
            else:
                azure_vm = AzureVM(name=held.vm_name or item.friendly_name, size=held.size)
        if self.obs.test_vm is not None:
            tf_status = self.status.test_failover or TestFailoverStatus()
            test_vm = _azure_vm(self.obs.test_vm, self.spec)
            self.update(test_failover=tf_status.model_copy(update={"test_vm": test_vm}))
        rpo, replicated = reported_rpo(self.status.asr, item)
        self.update(
            active_site=site,
            asr=AsrObserved(
                item_id=item.id,
                protection_state=item.protection_state,
                active_location=item.active_location.value,
                allowed_operations=sorted(item.allowed_operations),
                replication_health=item.replication_health,
                test_failover_state=item.test_failover_state,
                rpo_seconds=rpo,
                last_replicated_time=replicated,
            ),
            target=tgt,
            azure_vm=azure_vm,
            disks=[_disk(d) for d in item.disks] or None,
        )
        self.observe_prechecks()
        self.observe_points()
        if refresh_due(self.status, self.ctx.refresh) and self.refresh_read():
            self.update(last_handled_refresh=self.ctx.refresh)

    def refresh_read(self) -> bool:
        """Everything a refresh asks for was read (a failed read keeps the request open)."""
        hyperv = self.spec.hyper_v is None or self.obs.hyperv is not None
        return hyperv and self.obs.recovery_points is not None

    def observe_prechecks(self) -> None:
        """Every pre-check rule in status; a new `checkedAt` only on request or on change."""
        if self.spec.hyper_v is None:
            self.update(prechecks=None)
            return
        vm, error = self.obs.hyperv, self.obs.hyperv_error
        if vm is not None:
            results = [
                PrecheckResult(rule=c.requirement, seen=c.seen, limit=c.limit, passed=c.passed)
                for c in evaluate(vm)
            ]
            message = ""
        elif error is not None:
            results, message = [], error.message
        else:
            return
        label = checked_vm(self.spec)
        shown = self.status.prechecks
        if (
            shown is not None
            and not refresh_due(self.status, self.ctx.refresh)
            and (shown.vm, shown.results, shown.error) == (label, results, message)
        ):
            return
        self.update(
            prechecks=PrechecksStatus(
                checked_at=self.ctx.now,
                vm=label,
                passed=bool(results) and all(r.passed for r in results),
                results=results,
                error=message,
            )
        )

    def observe_points(self) -> None:
        """The retained points when they were read; written only when the list changed."""
        points = self.obs.recovery_points
        if points is None:
            return
        ordered = sorted(points, key=lambda p: p.time, reverse=True)
        newest = [
            RecoveryPointShown(name=p.name, time=p.time, type=p.type)
            for p in ordered[:RECOVERY_POINTS_SHOWN]
        ]
        shown = self.status.recovery_points
        if (
            shown is not None
            and not refresh_due(self.status, self.ctx.refresh)
            and (shown.retained, shown.newest) == (len(points), newest)
        ):
            return
        self.update(
            recovery_points=RecoveryPointsStatus(
                listed_at=self.ctx.now, retained=len(points), newest=newest
            )
        )

    # -- conditions of the rows (`when`) -------------------------------------------------

    def target_drifts(self) -> bool:
        spec_target = self.spec.target
        if spec_target is None:
            return False
        return bool(
            target.differences(target.desired(spec_target, self.item.target), self.item.target)
        )

    def point_changed(self) -> bool:
        fo = self.spec.failover
        return (
            self.spec.active_site == Site.AZURE
            and fo.recovery_point != self.status.applied_recovery_point
            and AsrOperation.CHANGE_PIT in self.item.allowed_operations
        )

    def source_runs_after_unplanned(self) -> bool:
        """After an unplanned failover that asked for it, keep the source off (no split brain)."""
        fo = self.spec.failover
        vm = self.obs.hyperv
        return (
            self.spec.active_site == Site.AZURE
            and fo.type == FailoverType.UNPLANNED
            and fo.shutdown_source_vm
            and vm is not None
            and self.spec.hyper_v is not None
            and vm.state == PowerState.RUNNING
        )

    # -- gates ---------------------------------------------------------------------------

    def target_valid(self) -> Step | None:
        assert self.spec.target is not None
        problems = target.problems(self.spec.target, self.obs.compute_sizes)
        return self.stall(Reason.INVALID_TARGET, "; ".join(problems)) if problems else None

    def healthy_for_planned(self) -> Step | None:
        if self.spec.failover.type == FailoverType.PLANNED and (
            self.item.replication_health == "Critical"
        ):
            return self.stall(
                Reason.REPLICATION_UNHEALTHY,
                f"Replication health of {self.item.friendly_name} is Critical; a planned "
                "failover would fail. Fix replication, or use failover.type: Unplanned in a "
                "disaster.",
            )
        return None

    def source_gates(self) -> Step | None:
        """Hyper-V checks before a failover; a failed gate stops before anything is sent."""
        planned = self.spec.failover.type == FailoverType.PLANNED
        if self.spec.hyper_v is None:
            self.source_checks = (
                ConditionStatus.UNKNOWN,
                Reason.CHECKS_SKIPPED,
                "spec.hyperV is not set; checkpoints and Azure limits were not checked.",
            )
            return None
        if self.obs.hyperv_error is not None:
            message = f"Cannot reach Hyper-V to check the VM: {self.obs.hyperv_error.message}"
            self.source_checks = (
                ConditionStatus.UNKNOWN,
                Reason.SOURCE_CHECKS_UNAVAILABLE,
                message,
            )
            if planned:
                return self.stall(
                    Reason.SOURCE_CHECKS_UNAVAILABLE,
                    message + ". A planned failover needs a healthy source; fix WinRM access, "
                    "or use failover.type: Unplanned if the site is down.",
                )
            self.event(EventType.WARNING, "SourceChecksSkipped", message)
            return None
        vm = self.obs.hyperv
        if vm is None:
            return Wait(Reason.WAITING, "Reading the VM from Hyper-V.", 5.0)
        failures = check_vm(vm)
        if failures:
            message = " ".join(f.message for f in failures)
            self.source_checks = (ConditionStatus.FALSE, Reason.CHECKS_FAILED, message)
            reason = (
                Reason.CHECKPOINTS_PRESENT
                if failures[0].requirement == "NoCheckpoints"
                else Reason.AZURE_LIMITS_EXCEEDED
            )
            return self.stall(reason, message, 30.0)
        self.source_checks = (
            ConditionStatus.TRUE,
            Reason.CHECKS_PASSED,
            f"VM {vm.name}: no checkpoints, within Azure limits.",
        )
        return None

    def source_off_for_failback(self) -> Step | None:
        if self.spec.hyper_v is None:
            return None
        if self.obs.hyperv_error is not None:
            return self.stall(
                Reason.SOURCE_CHECKS_UNAVAILABLE,
                "Cannot reach Hyper-V to check that the on-premises VM is off before "
                f"failback: {self.obs.hyperv_error.message}",
                30.0,
            )
        vm = self.obs.hyperv
        if vm is None:
            return Wait(Reason.WAITING, "Reading the VM from Hyper-V.", 5.0)
        if vm.state == PowerState.RUNNING:
            return self.stall(
                Reason.SOURCE_VM_POWERED_ON,
                f"The on-premises VM {vm.name} is running; failback would overwrite it. "
                "Turn it off and leave it off: ASR starts it at the end of failback.",
                30.0,
            )
        return None

    def resolve_point(self, choice: str) -> recovery_points.Resolved | Stall | Wait:
        points = self.obs.recovery_points
        if points is None and choice != "Latest":
            return Wait(Reason.WAITING, "Reading the item's recovery points.", 5.0)
        resolved = recovery_points.resolve(choice, points or (), self.listed_before)
        if isinstance(resolved, recovery_points.Unresolved):
            return Stall(Reason.RECOVERY_POINT_NOT_FOUND, resolved.message, 60.0)
        return resolved

    def failover_point(self) -> Step | None:
        resolved = self.resolve_point(self.spec.failover.recovery_point)
        return resolved if isinstance(resolved, Stall | Wait) else None

    def drill_point(self) -> Step | None:
        assert self.spec.test_failover is not None
        resolved = self.resolve_point(self.spec.test_failover.recovery_point)
        return resolved if isinstance(resolved, Stall | Wait) else None

    def commit_approved(self) -> Step | None:
        """Commit when approved, or automatically once the optional validation passed."""
        fo = self.spec.failover
        seed = self.approval_seed()
        if self.spec.active_site == Site.ON_PREMISES:
            message = (
                "The failover is not committed. The operator never cancels a failover; "
                "approve the commit and failback to on-premises follows."
            )
            return self.await_approval(ApprovalAction.COMMIT, seed, message)
        if fo.commit == CommitMode.AUTOMATIC:
            return None if fo.validation is None else self.validate(seed)
        message = f"{self.item.friendly_name} runs in Azure; commit the failover when validated."
        return self.await_approval(ApprovalAction.COMMIT, seed, message)

    def validate(self, seed: str) -> Step | None:
        """Probe the failed-over VM; a VM that never answers waits for a human."""
        validation = self.spec.failover.validation
        assert validation is not None
        state = self.status.validation
        if state is None:
            state = ValidationStatus(started_at=self.ctx.now)
            self.update(validation=state)
        if state.passed:
            return None
        deadline = state.started_at + parse_duration(validation.timeout)
        if state.timed_out or self.ctx.now >= deadline:
            self.update(validation=state.model_copy(update={"timed_out": True}))
            message = (
                f"The Azure VM did not answer on TCP {validation.tcp_ports} within "
                f"{validation.timeout} (last: {state.last_result or 'no answer'}). Check it, "
                "then approve the commit."
            )
            self.approval_reason = Reason.VALIDATION_TIMED_OUT
            return self.await_approval(ApprovalAction.COMMIT, seed, message)
        ips = self.status.azure_vm.ips if self.status.azure_vm else []
        if not ips:
            return Wait(Reason.WAITING, "Waiting for the Azure VM's IP address.", PROBE_INTERVAL)
        return Probe(tuple((ip, port) for ip in ips for port in validation.tcp_ports))

    # -- how each row's request is built -------------------------------------------------

    def update_target(self) -> Intent:
        assert self.spec.target is not None
        held = self.item.target
        want = target.desired(self.spec.target, held)
        self.event(
            EventType.NORMAL,
            "TargetDrift",
            "ASR's Compute and Network settings differ from spec.target: "
            + "; ".join(target.differences(want, held)),
        )
        return Intent(OperationType.UPDATE_TARGET, StartUpdateTarget(want))

    def failover(self) -> Intent:
        fo = self.spec.failover
        planned = fo.type == FailoverType.PLANNED
        resolved = self.resolve_point(fo.recovery_point)
        assert isinstance(resolved, recovery_points.Resolved)
        rp_id = resolved.point.id if resolved.point else None
        return Intent(
            OperationType.FAILOVER,
            StartFailover(planned, rp_id, fo.shutdown_source_vm or planned),
            recovery_point=fo.recovery_point,
            point=resolved.point,
            detail=fo.type.value,
        )

    def drill(self) -> Intent:
        tf = self.spec.test_failover
        assert tf is not None
        resolved = self.resolve_point(tf.recovery_point)
        assert isinstance(resolved, recovery_points.Resolved)
        rp_id = resolved.point.id if resolved.point else None
        self.update(
            test_failover=TestFailoverStatus(last_request_id=tf.request_id, started_at=self.ctx.now)
        )
        return Intent(
            OperationType.TEST_FAILOVER,
            StartTestFailover(tf.network_id, rp_id),
            recovery_point=tf.recovery_point,
            point=resolved.point,
            detail=tf.request_id,
        )

    def cleanup(self) -> Intent:
        reason = self.cleanup_reason
        return Intent(
            OperationType.TEST_FAILOVER_CLEANUP,
            StartTestFailoverCleanup(f"asr-operator: cleanup because {reason}"),
            detail=reason,
        )

    def apply_point(self) -> Intent | Step:
        fo = self.spec.failover
        resolved = self.resolve_point(fo.recovery_point)
        if isinstance(resolved, Stall | Wait):
            return resolved
        point = resolved.point or recovery_points.latest(self.obs.recovery_points or ())
        if point is None:
            return self.stall(
                Reason.RECOVERY_POINT_NOT_FOUND, "ASR lists no recovery point to apply."
            )
        return Intent(
            OperationType.CHANGE_RECOVERY_POINT,
            StartApplyRecoveryPoint(point.id),
            recovery_point=fo.recovery_point,
            point=point,
        )

    def shutdown_source(self) -> Step:
        vm = self.obs.hyperv
        assert vm is not None and self.spec.hyper_v is not None
        self.event(
            EventType.WARNING,
            "SourceVMStillRunning",
            f"{vm.name} still runs on Hyper-V after the failover; turning it off "
            "(failover.shutdownSourceVM).",
        )
        return ShutdownSourceVM(self.spec.hyper_v.host, self.spec.hyper_v.vm_name)

    def failback(self) -> Intent:
        fb = self.spec.failback
        return Intent(
            OperationType.FAILBACK,
            StartFailback(fb.data_sync.asr_value, fb.create_vm_if_not_found),
            detail=fb.data_sync.value,
        )

    def commit(self) -> Intent:
        return Intent(OperationType.COMMIT, StartCommit())

    def commit_failback(self) -> Intent:
        return Intent(OperationType.FAILBACK_COMMIT, StartCommit())

    def reverse(self) -> Intent:
        return Intent(OperationType.REVERSE_REPLICATION, StartReprotect())


# --- The table: per item state, the rows in order (the first whose `when` holds) ---------

M = VMMachine
Op = OperationType

VMMachine.TABLE = {
    ItemState.PROTECTED: (
        Row(M.target_drifts, Op.UPDATE_TARGET, (M.target_valid, M.retry), M.update_target),
        Row(
            M.wants_azure,
            Op.FAILOVER,
            (M.failover_allowed, M.retry, M.healthy_for_planned, M.source_gates, M.failover_point),
            M.failover,
            phase=Phase.VALIDATING,
        ),
        Row(
            M.drill_requested,
            Op.TEST_FAILOVER,
            (lambda m: m.allows(AsrOperation.TEST_FAILOVER), M.retry, M.drill_point),
            M.drill,
        ),
    ),
    ItemState.TEST_ACTIVE: (
        Row(
            always,
            Op.TEST_FAILOVER_CLEANUP,
            (M.cleanup_due, lambda m: m.allows(AsrOperation.TEST_FAILOVER_CLEANUP), M.retry),
            M.cleanup,
        ),
    ),
    ItemState.COMMIT_PENDING: (
        Row(M.point_changed, Op.CHANGE_RECOVERY_POINT, (M.retry,), M.apply_point),
        Row(M.source_runs_after_unplanned, None, (), M.shutdown_source),
        Row(
            always,
            Op.COMMIT,
            (M.commit_approved, lambda m: m.allows(AsrOperation.COMMIT), M.retry),
            M.commit,
        ),
    ),
    ItemState.FAILED_OVER: (
        Row(M.source_runs_after_unplanned, None, (), M.shutdown_source),
        Row(
            M.wants_on_premises,
            Op.FAILBACK,
            (lambda m: m.allows(AsrOperation.FAILBACK), M.retry, M.source_off_for_failback),
            M.failback,
        ),
    ),
    ItemState.FAILBACK_COMMIT_PENDING: (
        Row(always, Op.FAILBACK_COMMIT, (M.failback_commit_approved, M.retry), M.commit_failback),
    ),
    ItemState.REVERSE_PENDING: (
        Row(always, Op.REVERSE_REPLICATION, (M.reverse_approved, M.retry), M.reverse),
    ),
}


def _disk(disk: AsrDisk) -> DiskObserved:
    return DiskObserved(
        name=disk.name,
        role="OperatingSystem" if disk.os else "DataDisk",
        size_gb=round(disk.size_mb / 1024, 1),
        lun=disk.lun,
        target_disk_type=disk.target_disk_type,
    )


def _azure_vm(vm: AzureVmObserved, spec: ProtectedVMSpec) -> AzureVM:
    ports = spec.failover.validation.tcp_ports if spec.failover.validation else [3389]
    return azure_vm_status(vm, ports)


def _next_probe(spec: ProtectedVMSpec, state: ValidationStatus, ctx: Context) -> float:
    """Probe again at the vault's pace, and look once more when validation.timeout passes
    (so a VM that never answers reaches a human on time, not a probe interval late)."""
    delay = min(PROBE_INTERVAL, ctx.poll_interval)
    validation = spec.failover.validation
    if validation is not None:
        deadline = state.started_at + parse_duration(validation.timeout)
        delay = min(delay, max((deadline - ctx.now).total_seconds(), 0.0))
    return delay


# --- RPO in status ----------------------------------------------------------------------

# ASR moves an item's RPO and lastReplicatedTime on nearly every read. Copying them into
# status on every cycle cost one status write per object per cycle (and the watch event it
# echoes). The live figure is the `asr_operator_rpo_seconds` metric; status keeps the last
# reported pair until replication moved on by RPO_REFRESH, or the RPO enters another band.
RPO_REFRESH = timedelta(minutes=10)
RPO_FIRST_BAND = 900  # seconds; bands double from here: 15 min, 30 min, 1 h, 2 h, ...


def rpo_band(rpo: int | None) -> int:
    """0 below 15 minutes, then one more for each doubling (None: not replicating)."""
    if rpo is None:
        return -1
    band = 0
    limit = RPO_FIRST_BAND
    while rpo >= limit:
        band += 1
        limit *= 2
    return band


def reported_rpo(stored: AsrObserved | None, item: AsrItem) -> tuple[int | None, datetime | None]:
    """(rpoSeconds, lastReplicatedTime) for status: the stored pair unless due for a refresh."""
    fresh = (item.rpo_seconds, item.last_replicated_time)
    if stored is None or stored.last_replicated_time is None or item.last_replicated_time is None:
        return fresh
    moved = item.last_replicated_time - stored.last_replicated_time
    if moved >= RPO_REFRESH or rpo_band(stored.rpo_seconds) != rpo_band(item.rpo_seconds):
        return fresh
    return stored.rpo_seconds, stored.last_replicated_time


# --- Reporting back ----------------------------------------------------------------------


def record(
    spec: ProtectedVMSpec,
    status: ProtectedVMStatus,
    step: Step,
    outcome: Outcome,
    ctx: Context,
) -> tuple[ProtectedVMStatus, tuple[Event, ...], float]:
    """Fold what came of a step into status. Returns (status, events, requeue delay)."""
    recorded = engine.record_call(status, step, outcome, ctx)
    if recorded is not None:
        return recorded
    if isinstance(outcome, ProbeResult) and status.validation is not None:
        v = status.validation
        v = v.model_copy(
            update={
                "attempts": v.attempts + 1,
                "last_result": outcome.detail,
                "passed": outcome.reachable,
            }
        )
        status = status.model_copy(update={"validation": v})
        if outcome.reachable:
            return status, (Event(EventType.NORMAL, "ValidationPassed", outcome.detail),), 0.0
        return status, (), _next_probe(spec, v, ctx)
    if isinstance(outcome, ShutdownResult):
        type_ = EventType.NORMAL if outcome.ok else EventType.WARNING
        reason = "SourceVMTurnedOff" if outcome.ok else "SourceVMShutdownFailed"
        return status, (Event(type_, reason, outcome.detail),), 5.0 if outcome.ok else 30.0
    return status, (), 5.0
