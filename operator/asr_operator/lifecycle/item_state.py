"""Where a protected item stands, read from what ASR allows and where it runs.

A ProtectedVM decides from its item's state; a RecoveryPlan from the state its members
share. Never from `protectionState` strings.
"""

from __future__ import annotations

from enum import Enum

from asr_operator.api.operation import OperationType, Phase
from asr_operator.lifecycle.observed import ActiveLocation, AsrItem, AsrOperation


class ItemState(Enum):
    """Where the item stands, read from allowedOperations and activeLocation."""

    PROTECTED = "Protected"
    TEST_ACTIVE = "TestActive"
    COMMIT_PENDING = "CommitPending"
    FAILED_OVER = "FailedOver"
    FAILBACK_COMMIT_PENDING = "FailbackCommitPending"
    REVERSE_PENDING = "ReversePending"
    UNKNOWN = "Unknown"


def item_state(item: AsrItem) -> ItemState:
    ops = item.allowed_operations
    if AsrOperation.TEST_FAILOVER_CLEANUP in ops:
        return ItemState.TEST_ACTIVE
    if item.active_location == ActiveLocation.RECOVERY:
        if AsrOperation.COMMIT in ops:
            return ItemState.COMMIT_PENDING
        if AsrOperation.FAILBACK in ops:
            return ItemState.FAILED_OVER
        return ItemState.UNKNOWN
    if AsrOperation.COMMIT in ops:
        return ItemState.FAILBACK_COMMIT_PENDING
    if AsrOperation.REVERSE_REPLICATE in ops:
        return ItemState.REVERSE_PENDING
    if ops & {AsrOperation.PLANNED_FAILOVER, AsrOperation.UNPLANNED_FAILOVER}:
        return ItemState.PROTECTED
    return ItemState.UNKNOWN


RESTING_PHASE = {
    ItemState.PROTECTED: Phase.PROTECTED,
    ItemState.TEST_ACTIVE: Phase.TEST_FAILOVER_ACTIVE,
    ItemState.COMMIT_PENDING: Phase.AWAITING_COMMIT,
    ItemState.FAILED_OVER: Phase.FAILED_OVER,
    ItemState.FAILBACK_COMMIT_PENDING: Phase.AWAITING_FAILBACK_COMMIT,
    ItemState.REVERSE_PENDING: Phase.AWAITING_REVERSE_REPLICATION,
}

# The states in which an operation's effect is already visible: if ASR shows one of
# these while the intent's outcome is unknown, the operation happened.
EFFECT_VISIBLE = {
    OperationType.FAILOVER: frozenset({ItemState.COMMIT_PENDING, ItemState.FAILED_OVER}),
    OperationType.COMMIT: frozenset({ItemState.FAILED_OVER}),
    OperationType.FAILBACK: frozenset(
        {ItemState.FAILBACK_COMMIT_PENDING, ItemState.REVERSE_PENDING}
    ),
    OperationType.FAILBACK_COMMIT: frozenset({ItemState.REVERSE_PENDING}),
    OperationType.REVERSE_REPLICATION: frozenset({ItemState.PROTECTED}),
    OperationType.TEST_FAILOVER: frozenset({ItemState.TEST_ACTIVE}),
}
