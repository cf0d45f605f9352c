"""The custom Azure role of docs/install.md: every call the operator makes, nothing more."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
ITEM = (
    "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers"
    "/replicationProtectedItems"
)
PLAN = "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans"


def role() -> dict[str, object]:
    text = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    block = next(
        b for b in re.findall(r"```json\n(.*?)```", text, re.S) if '"Name": "asr-operator"' in b
    )
    found: dict[str, object] = json.loads(block)
    return found


def test_role_holds_the_actions_the_gateways_send() -> None:
    actions = set(role()["Actions"])  # type: ignore[call-overload]
    gateway = (ROOT / "operator/asr_operator/azure/gateway.py").read_text(encoding="utf-8")
    verbs = {
        "begin_planned_failover": "plannedFailover",
        "begin_unplanned_failover": "unplannedFailover",
        "begin_test_failover": "testFailover",
        "begin_test_failover_cleanup": "testFailoverCleanup",
        "begin_failover_commit": "failoverCommit",
        "begin_reprotect": "reProtect",
    }
    for method, verb in verbs.items():
        assert method in gateway
        assert f"{ITEM}/{verb}/action" in actions and f"{PLAN}/{verb}/action" in actions
    assert f"{ITEM}/applyRecoveryPoint/action" in actions and f"{ITEM}/write" in actions
    assert "Microsoft.RecoveryServices/vaults/replicationJobs/resume/action" in actions
    # azure/compute.py: the recovered VM and its NICs
    assert {
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Network/networkInterfaces/read",
    } <= actions


def test_role_cannot_cancel_or_delete() -> None:
    actions = role()["Actions"]
    assert isinstance(actions, list)
    assert not [a for a in actions if "*" in a or "cancel" in a.lower() or "delete" in a.lower()]
