"""When the operator reads the Azure VMs from ARM: after an operation, while validating, or
when status does not show them yet; never on the idle cycles of a resting object."""

from __future__ import annotations

from datetime import timedelta

from asr_operator.api import operation as api_operation
from asr_operator.api.operation import (
    AzureVM,
    OperationStatus,
    OperationType,
)
from asr_operator.api.protectedvm import ProtectedVMSpec, ProtectedVMStatus, ValidationStatus
from asr_operator.lifecycle import protectedvm as machine
from asr_operator.lifecycle.observation import Context, Observation
from asr_operator.lifecycle.observed import AsrJob, AzureVmObserved, JobState
from tests.unit.lifecycle_world import AZURE_VM, T0, item, spec

SHOWN = AzureVM(name="web01", id=AZURE_VM.id, ips=["127.0.0.1"])


def op(type_: OperationType) -> OperationStatus:
    return OperationStatus(
        run_id="r1",
        type=type_,
        requested_at=T0 - timedelta(minutes=1),
        generation=1,
        submitted=True,
        job_name="job-1",
    )


def job(state: JobState) -> AsrJob:
    return AsrJob(name="job-1", scenario="PlannedFailover", state=state)


def test_resting_objects_read_nothing() -> None:
    assert machine.azure_vm_reads(ProtectedVMStatus(), item("Protected"), None) == (False, False)
    rest = ProtectedVMStatus(azure_vm=SHOWN)
    assert machine.azure_vm_reads(rest, item("FailedOver"), None) == (False, False)
    drill = ProtectedVMStatus(test_failover=api_operation.TestFailoverStatus(test_vm=SHOWN))
    assert machine.azure_vm_reads(drill, item("TestActive"), None) == (False, False)


def test_reads_after_the_job_ends_not_while_it_runs() -> None:
    status = ProtectedVMStatus(operation=op(OperationType.FAILOVER), azure_vm=SHOWN)
    running = machine.azure_vm_reads(status, item("CommitPending"), job(JobState.IN_PROGRESS))
    assert running == (False, False)
    ended = machine.azure_vm_reads(status, item("CommitPending"), job(JobState.SUCCEEDED))
    assert ended == (True, False)
    drill = ProtectedVMStatus(operation=op(OperationType.TEST_FAILOVER))
    assert machine.azure_vm_reads(drill, item("TestActive"), job(JobState.SUCCEEDED)) == (
        False,
        True,
    )


def test_reads_while_validating_and_until_status_shows_the_vm() -> None:
    validating = ProtectedVMStatus(azure_vm=SHOWN, validation=ValidationStatus(started_at=T0))
    assert machine.azure_vm_reads(validating, item("CommitPending"), None) == (True, False)
    done = validating.model_copy(
        update={"validation": ValidationStatus(started_at=T0, passed=True)}
    )
    assert machine.azure_vm_reads(done, item("CommitPending"), None) == (False, False)
    unknown = ProtectedVMStatus(azure_vm=AzureVM(name="web01"))
    assert machine.azure_vm_reads(unknown, item("FailedOver"), None) == (True, False)


def test_status_shows_the_vm_as_arm_does_and_keeps_it_at_rest() -> None:
    linux = AzureVmObserved(
        id=AZURE_VM.id,
        name="web01",
        power_state="running",
        os_type="Linux",
        private_ips=("10.1.0.4",),
        public_ip_ids=("/pip/web01",),
    )
    s: ProtectedVMSpec = spec(activeSite="Azure")
    ctx = Context(generation=1, now=T0)
    d = machine.decide(
        s, ProtectedVMStatus(), Observation(item=item("FailedOver"), azure_vm=linux), ctx
    )
    vm = d.status.azure_vm
    assert vm is not None and vm.id == AZURE_VM.id and vm.power_state == "running"
    assert vm.ips == ["10.1.0.4"] and vm.public_ip_ids == ["/pip/web01"]
    assert vm.connect == "ssh 10.1.0.4"
    again = machine.decide(s, d.status, Observation(item=item("FailedOver")), ctx)
    assert again.status.azure_vm == vm  # nothing read: status keeps what ARM showed


def test_a_commit_leaves_the_vm_as_status_shows_it() -> None:
    """Only operations that make the VM read it again when they end: a commit's end would
    cost a mass failover two more ARM reads per VM for nothing new."""
    for kind in (OperationType.COMMIT, OperationType.UPDATE_TARGET):
        status = ProtectedVMStatus(operation=op(kind), azure_vm=SHOWN)
        assert machine.azure_vm_reads(status, item("FailedOver"), job(JobState.SUCCEEDED)) == (
            False,
            False,
        )
    change = ProtectedVMStatus(operation=op(OperationType.CHANGE_RECOVERY_POINT), azure_vm=SHOWN)
    ended = machine.azure_vm_reads(change, item("CommitPending"), job(JobState.SUCCEEDED))
    assert ended == (True, False)
