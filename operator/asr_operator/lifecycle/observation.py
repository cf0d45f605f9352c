"""Everything the controller gathered for one decision, and what it should gather."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from asr_operator.lifecycle.observed import (
    AsrItem,
    AsrJob,
    AsrPlan,
    AzureVmObserved,
    ComputeSize,
    HyperVVM,
    RecoveryPoint,
)
from asr_operator.lifecycle.steps import Refusal


@dataclass(frozen=True)
class ObservationError:
    """Why something could not be observed; `kind` reuses the gateways' classification."""

    kind: Refusal
    message: str


@dataclass(frozen=True)
class Observation:
    # The vault (SiteRecoveryVault) this object points at: None when it does not exist.
    vault_ready: bool = True
    vault_message: str = ""
    item: AsrItem | None = None
    item_error: ObservationError | None = None
    # The job of status.operation.jobName, when there is one.
    job: AsrJob | None = None
    # Jobs for this item started since the intent was written (re-attachment);
    # None when not looked up or the lookup failed.
    intent_jobs: tuple[AsrJob, ...] | None = None
    recovery_points: tuple[RecoveryPoint, ...] | None = None
    compute_sizes: tuple[ComputeSize, ...] | None = None
    hyperv: HyperVVM | None = None
    # The failed-over VM and a drill's test VM as ARM shows them; None when not read.
    azure_vm: AzureVmObserved | None = None
    test_vm: AzureVmObserved | None = None
    hyperv_error: ObservationError | None = None
    # A managed RecoveryPlan that owns this item, if any.
    owning_plan: str | None = None
    # For a RecoveryPlan: the plan, its members, and each member's Hyper-V VM (by the
    # member's friendly name, lower case) or why it could not be read.
    plan: AsrPlan | None = None
    members: tuple[AsrItem, ...] = ()
    member_vms: Mapping[str, HyperVVM] = field(default_factory=dict)
    member_vm_errors: Mapping[str, str] = field(default_factory=dict)
    # The members' failed-over VMs as ARM shows them (by friendly name, lower case); only
    # those read this cycle (`member_azure_vm_reads`).
    member_azure_vms: Mapping[str, AzureVmObserved] = field(default_factory=dict)
    # Other RecoveryPlans with an operation in flight that share a member with this one.
    plan_conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    generation: int
    now: datetime
    poll_interval: float = 30.0
    # Set by a human through the abandon annotation while the object is being deleted.
    abandon_wait: bool = False
    # Who last set spec.approve (from managedFields), for the comment of a resumed job.
    approved_by: str = ""
    # How long a request whose answer was lost may still reach ASR and act (seconds).
    request_lifetime: float = 300.0
    # The refresh annotation's value: a new one asks for the reads made only when needed.
    refresh: str = ""


@dataclass(frozen=True)
class Wants:
    """What the controller must observe before calling decide()."""

    job_name: str | None
    job_lookup_since: datetime | None
    recovery_points: bool
    compute_sizes: bool
    hyperv: bool
    # False: the item as listed for the whole vault a moment ago will do (idle objects).
    fresh_item: bool = True

    @property
    def only_shared_lists(self) -> bool:
        """The cycle needs nothing but the vault-wide lists: no read of its own."""
        return not (
            self.job_name
            or self.job_lookup_since
            or self.recovery_points
            or self.compute_sizes
            or self.hyperv
            or self.fresh_item
        )
