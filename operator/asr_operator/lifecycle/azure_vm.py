"""The Azure VM a failover or drill created, as status shows it (ProtectedVM and plans)."""

from __future__ import annotations

from collections.abc import Sequence

from asr_operator.api.operation import AzureVM, OperationStatus, OperationType
from asr_operator.lifecycle.observed import AsrJob, AzureVmObserved

# Operations whose end brings a new or replaced Azure VM, read again then. A commit's end
# leaves the VM as status shows it: re-reading it (the VM and its NICs) cost a mass
# failover two ARM reads per VM from the read bucket that job ends share.
MAKES_AZURE_VM = frozenset({OperationType.FAILOVER, OperationType.CHANGE_RECOVERY_POINT})


def made_azure_vm(op: OperationStatus | None, job: AsrJob | None) -> bool:
    """The operation that just ended (its job is over, or unknown) made the Azure VM."""
    return op is not None and op.type in MAKES_AZURE_VM and (job is None or job.state.terminal)


def azure_vm_status(vm: AzureVmObserved, tcp_ports: Sequence[int] = (3389,)) -> AzureVM:
    ips = list(vm.private_ips)
    return AzureVM(
        name=vm.name,
        id=vm.id,
        size=vm.size,
        power_state=vm.power_state,
        ips=ips,
        public_ip_ids=list(vm.public_ip_ids),
        connect=connect_hint(ips, vm.os_type, tcp_ports),
        message=vm.error,
    )


def connect_hint(ips: list[str], os_type: str, tcp_ports: Sequence[int]) -> str:
    """RDP for Windows, SSH for Linux (by the OS disk's type, else the probed ports)."""
    if not ips:
        return ""
    linux = os_type.lower() == "linux" if os_type else 22 in tcp_ports and 3389 not in tcp_ports
    return f"ssh {ips[0]}" if linux else f"mstsc /v:{ips[0]}"
