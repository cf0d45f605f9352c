"""RecoveryPlan status from what ASR reports: observe only, for now.

The operator does not yet carry out plan operations. Rather than leave a RecoveryPlan
object silent, it reports where the plan's VMs run, what ASR allows, the groups and
the job ASR last ran; and it says plainly (`Stalled`) when the spec asks for a site the
operator will not move the plan to.
"""

from __future__ import annotations

from collections.abc import Sequence

from asr_operator.api.common import Site
from asr_operator.api.conditions import Reason, set_readiness
from asr_operator.api.operation import Phase
from asr_operator.api.recoveryplan import (
    GroupProgress,
    RecoveryPlanSpec,
    RecoveryPlanStatus,
    VMOutcome,
)
from asr_operator.lifecycle.observation import Context
from asr_operator.lifecycle.observed import ActiveLocation, AsrItem, AsrPlan


def observed_site(items: Sequence[AsrItem]) -> Site | None:
    """Where every VM of the plan runs; None when they disagree or there are none."""
    sites = {
        Site.AZURE if i.active_location == ActiveLocation.RECOVERY else Site.ON_PREMISES
        for i in items
    }
    return sites.pop() if len(sites) == 1 else None


def report(
    spec: RecoveryPlanSpec,
    status: RecoveryPlanStatus,
    plan: AsrPlan,
    items: Sequence[AsrItem],
    ctx: Context,
) -> RecoveryPlanStatus:
    by_id = {i.id.lower(): i for i in items}
    members = [by_id[i.lower()] for i in plan.item_ids if i.lower() in by_id]
    site = observed_site(members)
    running = next((i for i in members if i.current_job_name), None)
    if running is not None:
        ready, reason = False, Reason.OPERATION_IN_PROGRESS
        message = f"ASR job {running.current_job_name} runs on {running.friendly_name}."
        stalled = False
    elif site == spec.active_site:
        ready, reason, stalled = True, Reason.RECONCILED, False
        message = f"All {len(members)} VMs run {spec.active_site.value}, as desired."
    else:
        ready, reason, stalled = False, Reason.PLAN_ACTIONS_NOT_IMPLEMENTED, True
        where = site.value if site is not None else "in both sites"
        message = (
            f"The plan's VMs run {where}; spec asks for {spec.active_site.value}. The operator "
            "does not run recovery plan operations yet: fail the plan over in ASR, or manage "
            "its VMs with ProtectedVMs."
        )
    conds = set_readiness(
        status.conditions,
        reason,
        message,
        ctx.generation,
        ctx.now,
        ready=ready,
        stalled=stalled,
    )
    return status.model_copy(
        update={
            "observed_generation": ctx.generation,
            "phase": Phase.STALLED if stalled else Phase.OBSERVING,
            "active_site": site,
            "job": f"{running.current_scenario}" if running is not None else "",
            "allowed_operations": sorted(plan.allowed_operations),
            "item_count": len(plan.item_ids),
            "groups": [
                GroupProgress(name=grp.name, tasks_total=len(grp.item_ids)) for grp in plan.groups
            ],
            "vms": [
                VMOutcome(name=i.friendly_name, state=i.active_location.value) for i in members
            ],
            "last_checked_time": ctx.now,
            "conditions": conds,
        }
    )
