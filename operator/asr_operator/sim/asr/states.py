"""The simulator's state table: item phases, busy states, plan operations, refusals.

Rows the reference (section 3.3) leaves [UNCONFIRMED] are the simulator's documented
choices (docs/simulator.md); the others follow the official examples.
"""

from __future__ import annotations

from dataclasses import dataclass

AZURE_FABRIC_ID = "Microsoft Azure"
AZURE_FABRIC_NAME = "d49858f157601230a6ac5862fbbc6e63bf38d23ecd96cf953767945d457fe9d5"
AZURE_CONTAINER_NAME = "d38048d4-b460-4791-8ece-108395ee8478"
IDLE_START = "1753-01-01T01:01:01Z"
NEVER = "1601-01-01T00:00:00.0000000Z"
RP_KEEP = 500  # recovery points kept per item
CONTAINER_TYPE = (
    "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers"
)
ITEM_TYPE = f"{CONTAINER_TYPE}/replicationProtectedItems"

# Error codes this simulator uses for refusals (ASR's real codes are [UNCONFIRMED]).
CODE_CONFLICT = "28133"  # another operation is in progress (HTTP 409)
CODE_NOT_ALLOWED = "28127"  # operation not allowed in the current state (HTTP 400)
CODE_BAD_INPUT = "28004"  # malformed or invalid input (HTTP 400)
CODE_NOT_FOUND = "NotFound"


class Refusal(Exception):
    """An ASR error answer: HTTP status plus the ARM error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        possible_causes: str = "",
        recommended_action: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {
                "code": code,
                "message": message,
                "possibleCauses": possible_causes,
                "recommendedAction": recommended_action,
            }
        }


def bad_input(message: str) -> Refusal:
    return Refusal(400, CODE_BAD_INPUT, message, "The request has invalid input.", "Fix the input.")


def not_found(what: str) -> Refusal:
    return Refusal(404, CODE_NOT_FOUND, f"{what} was not found.")


# --- item phases (the state table) ----------------------------------------------------

PROTECTED_OPS = ("PlannedFailover", "UnplannedFailover", "DisableProtection", "TestFailover")
COMMIT_PENDING_OPS = ("Commit", "DisableProtection", "ChangePit", "CompleteMigration")


@dataclass(frozen=True)
class PhaseSpec:
    protection_state: str
    description: str
    active_location: str
    allowed: tuple[str, ...]
    tfo_state: str = "None"
    tfo_description: str = "None"


PHASES: dict[str, PhaseSpec] = {
    "Protected": PhaseSpec("Protected", "Protected", "Primary", PROTECTED_OPS),
    "TestFailoverPending": PhaseSpec(
        "Protected",
        "Cleanup test failover pending",
        "Primary",
        ("TestFailoverCleanup",),
        "WaitingForCompletion",
        "Waiting for user input",
    ),
    "PlannedFailoverCommitPending": PhaseSpec(
        "PlannedFailoverCommitRequired", "Planned failover finished", "Recovery", COMMIT_PENDING_OPS
    ),
    "UnplannedFailoverCommitPending": PhaseSpec(
        "UnplannedFailoverCommitPendingStatesBegin",
        "Failover completed",
        "Recovery",
        COMMIT_PENDING_OPS,
    ),
    "FailedOver": PhaseSpec(
        "PlannedFailoverStatesBegin",
        "Planned failover committed",
        "Recovery",
        ("DisableProtection", "Failback", "CompleteMigration"),
    ),
    # [UNCONFIRMED] rows: the simulator's documented choice.
    "FailbackCommitPending": PhaseSpec(
        "FailbackCommitPending", "Failback finished", "Primary", ("Commit",)
    ),
    "FailbackCommitted": PhaseSpec(
        "FailbackCommitted",
        "Failback committed",
        "Primary",
        ("ReverseReplicate", "DisableProtection"),
    ),
}

MARKED_FOR_DELETION = ("MarkedForDeletion", "Cleaning up test environment")
TFO_WAIT_TASK = "TestFailoverWaitForCompletionTask"

# Plan allowedOperations by the (common) phase of its items; [EX] for the first four.
PLAN_ALLOWED: dict[str, tuple[str, ...]] = {
    "Protected": ("PlannedFailover", "UnplannedFailover", "TestFailover"),
    "PlannedFailoverCommitPending": (
        "PlannedFailover",
        "UnplannedFailover",
        "TestFailover",
        "Commit",
    ),
    "UnplannedFailoverCommitPending": (
        "PlannedFailover",
        "UnplannedFailover",
        "TestFailover",
        "Commit",
    ),
    "FailedOver": ("PlannedFailover", "UnplannedFailover", "TestFailover"),
    "TestFailoverPending": ("TestFailoverCleanup",),
    "FailbackCommitPending": ("Commit",),
    "FailbackCommitted": ("ReverseReplicate",),
}

# protectionState/description shown while a job of that scenario runs (allowedOperations empty).
BUSY_STATES: dict[str, tuple[str, str]] = {
    "PlannedFailover": ("PlannedFailoverInProgress", "Planned failover in progress"),
    "Failback": ("FailbackInProgress", "Failback in progress"),
    "UnplannedFailover": ("UnplannedFailoverInProgress", "Failover in progress"),
    "CommitFailover": ("CommitFailoverInProgress", "Commit in progress"),
    "ChangePit": ("ChangePitInProgress", "Changing recovery point"),
    "SwitchProtection": ("ReverseReplicationInProgress", "Reverse replication in progress"),
    "CancelFailover": ("CancelFailoverInProgress", "Cancel failover in progress"),
}
