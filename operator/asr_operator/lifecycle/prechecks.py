"""Pre-failover checks of a Hyper-V VM against Azure's limits (reference section 7.1).

Pure functions over `HyperVVM`: the lifecycle runs them in Validating and stops with
`Stalled` when one fails, so the messages must say what to change, on which VM, and
which Azure limit is in the way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asr_operator.lifecycle.observed import HyperVDisk, HyperVVM

# Azure limits for Hyper-V to Azure replication (support matrix).
OS_DISK_MAX_GB_GEN1 = 2048
OS_DISK_MAX_GB_GEN2 = 300
DATA_DISK_MAX_COUNT = 16
DATA_DISK_MAX_GB = 4095
AZURE_VM_NAME_MAX = 63
SUPPORTED_DISK_FORMATS = ("VHD", "VHDX")

_NAME_CHARS = re.compile(r"[A-Za-z0-9-]+")


@dataclass(frozen=True)
class PrecheckFailure:
    """One Azure requirement a VM does not meet.

    `requirement` is a stable PascalCase code for conditions and metrics; `message`
    is for the human who has to fix it.
    """

    requirement: str
    message: str


def _gb(size: float) -> str:
    return f"{size:,.0f} GB" if size == int(size) else f"{size:,.1f} GB"


def _disk_label(disk: HyperVDisk) -> str:
    return disk.path or "(a disk without a file path)"


def check_vm(vm: HyperVVM) -> list[PrecheckFailure]:
    """Every Azure requirement of section 7.1 that `vm` fails, in a stable order."""
    failures: list[PrecheckFailure] = []
    who = f"VM {vm.name!r}"
    if vm.host:
        who += f" on host {vm.host!r}"

    if vm.checkpoints:
        names = ", ".join(repr(c) for c in vm.checkpoints)
        failures.append(
            PrecheckFailure(
                "NoCheckpoints",
                f"{who} has {len(vm.checkpoints)} checkpoint(s) ({names}); Azure Site Recovery "
                "cannot fail over a VM with checkpoints. Delete them (Remove-VMSnapshot) and let "
                "the disks merge.",
            )
        )

    if vm.generation == 2 and _guest_is_linux(vm.guest_os):
        failures.append(
            PrecheckFailure(
                "Generation2Linux",
                f"{who} is a generation 2 VM running {vm.guest_os!r}; Azure Site Recovery supports "
                "generation 2 only for Windows guests. Use a generation 1 VM for Linux.",
            )
        )

    os_disks = [d for d in vm.disks if d.is_os]
    data_disks = [d for d in vm.disks if not d.is_os]
    if len(os_disks) != 1:
        found = ", ".join(_disk_label(d) for d in os_disks) or "none"
        failures.append(
            PrecheckFailure(
                "OsDiskCount",
                f"{who} has {len(os_disks)} OS disks (found: {found}); Azure requires exactly one "
                "OS disk. Check the VM's boot disk configuration.",
            )
        )
    limit = OS_DISK_MAX_GB_GEN2 if vm.generation == 2 else OS_DISK_MAX_GB_GEN1
    for disk in os_disks:
        if disk.size_gb > limit:
            failures.append(
                PrecheckFailure(
                    "OsDiskSize",
                    f"{who}: OS disk {_disk_label(disk)} is {_gb(disk.size_gb)}; Azure allows at "
                    f"most {_gb(limit)} for the OS disk of a generation {vm.generation} VM. "
                    "Shrink the disk or move data to a data disk.",
                )
            )

    if len(data_disks) > DATA_DISK_MAX_COUNT:
        failures.append(
            PrecheckFailure(
                "DataDiskCount",
                f"{who} has {len(data_disks)} data disks; Azure allows at most "
                f"{DATA_DISK_MAX_COUNT}. Consolidate or detach data disks.",
            )
        )
    for disk in data_disks:
        if disk.size_gb > DATA_DISK_MAX_GB:
            failures.append(
                PrecheckFailure(
                    "DataDiskSize",
                    f"{who}: data disk {_disk_label(disk)} is {_gb(disk.size_gb)}; Azure allows at "
                    f"most {_gb(DATA_DISK_MAX_GB)} per data disk. Split the data across smaller "
                    "disks.",
                )
            )

    for disk in vm.disks:
        if disk.shared:
            failures.append(
                PrecheckFailure(
                    "SharedDisk",
                    f"{who}: disk {_disk_label(disk)} is a shared VHD (persistent reservations "
                    "enabled); Azure Site Recovery does not support shared disks.",
                )
            )
        if disk.format.upper() not in SUPPORTED_DISK_FORMATS:
            kind = disk.format or "a pass-through or unknown disk"
            failures.append(
                PrecheckFailure(
                    "DiskFormat",
                    f"{who}: disk {_disk_label(disk)} is {kind}; Azure Site Recovery replicates "
                    "only VHD and VHDX virtual hard disks.",
                )
            )
    return failures


def _guest_is_linux(guest_os: str) -> bool:
    """True only when the guest is known and is not Windows (unknown is not a failure)."""
    return bool(guest_os) and "windows" not in guest_os.lower()


def azure_vm_name_problems(name: str) -> list[str]:
    """Why Azure would refuse `name` as a VM name; empty when it is acceptable."""
    problems: list[str] = []
    if not name:
        return [f"the Azure VM name is empty; it needs 1 to {AZURE_VM_NAME_MAX} characters"]
    if len(name) > AZURE_VM_NAME_MAX:
        problems.append(
            f"the Azure VM name {name!r} has {len(name)} characters; "
            f"at most {AZURE_VM_NAME_MAX} are allowed"
        )
    bad = sorted({c for c in name if not _NAME_CHARS.fullmatch(c)})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        problems.append(
            f"the Azure VM name {name!r} contains {shown}; only letters, digits and hyphens "
            "are allowed"
        )
    if not name[0].isascii() or not name[0].isalnum():
        problems.append(f"the Azure VM name {name!r} must start with a letter or digit")
    if not name[-1].isascii() or not name[-1].isalnum():
        problems.append(f"the Azure VM name {name!r} must end with a letter or digit")
    return problems
