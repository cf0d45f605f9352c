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
class Check:
    """One Azure requirement checked on a VM: what was seen, what Azure accepts.

    `requirement` is a stable PascalCase code for conditions, status and metrics;
    `message` is empty when the check passed, else it tells the human what to fix.
    """

    requirement: str
    seen: str
    limit: str
    message: str = ""

    @property
    def passed(self) -> bool:
        return not self.message


def _gb(size: float) -> str:
    return f"{size:,.0f} GB" if size == int(size) else f"{size:,.1f} GB"


def _disk_label(disk: HyperVDisk) -> str:
    return disk.path or "(a disk without a file path)"


def _listed(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


def evaluate(vm: HyperVVM) -> list[Check]:
    """Every Azure requirement of section 7.1, passed or not, in a stable order."""
    who = f"VM {vm.name!r}"
    if vm.host:
        who += f" on host {vm.host!r}"
    checks: list[Check] = []

    def add(requirement: str, seen: str, limit: str, failure: str | None) -> None:
        checks.append(Check(requirement, seen, limit, failure or ""))

    names = ", ".join(repr(c) for c in vm.checkpoints)
    add(
        "NoCheckpoints",
        f"{len(vm.checkpoints)} checkpoint(s)" + (f": {names}" if names else ""),
        "none",
        f"{who} has {len(vm.checkpoints)} checkpoint(s) ({names}); Azure Site Recovery cannot "
        "fail over a VM with checkpoints. Delete them (Remove-VMSnapshot) and let the disks "
        "merge."
        if vm.checkpoints
        else None,
    )

    guest = vm.guest_os or "guest OS unknown"
    add(
        "Generation",
        f"generation {vm.generation}, {guest}",
        "generation 1, or generation 2 with a Windows guest",
        f"{who} is a generation 2 VM running {vm.guest_os!r}; Azure Site Recovery supports "
        "generation 2 only for Windows guests. Use a generation 1 VM for Linux."
        if vm.generation == 2 and _guest_is_linux(vm.guest_os)
        else None,
    )

    os_disks = [d for d in vm.disks if d.is_os]
    data_disks = [d for d in vm.disks if not d.is_os]
    found = _listed([_disk_label(d) for d in os_disks])
    add(
        "OsDiskCount",
        f"{len(os_disks)} ({found})",
        "exactly 1",
        f"{who} has {len(os_disks)} OS disks (found: {found}); Azure requires exactly one OS "
        "disk. Check the VM's boot disk configuration."
        if len(os_disks) != 1
        else None,
    )
    limit = OS_DISK_MAX_GB_GEN2 if vm.generation == 2 else OS_DISK_MAX_GB_GEN1
    too_big = [d for d in os_disks if d.size_gb > limit]
    add(
        "OsDiskSize",
        _listed([_gb(d.size_gb) for d in os_disks]),
        f"at most {_gb(limit)} (generation {vm.generation})",
        " ".join(
            f"{who}: OS disk {_disk_label(d)} is {_gb(d.size_gb)}; Azure allows at most "
            f"{_gb(limit)} for the OS disk of a generation {vm.generation} VM. Shrink the disk "
            "or move data to a data disk."
            for d in too_big
        )
        or None,
    )

    add(
        "DataDiskCount",
        str(len(data_disks)),
        f"at most {DATA_DISK_MAX_COUNT}",
        f"{who} has {len(data_disks)} data disks; Azure allows at most {DATA_DISK_MAX_COUNT}. "
        "Consolidate or detach data disks."
        if len(data_disks) > DATA_DISK_MAX_COUNT
        else None,
    )
    largest = max((d.size_gb for d in data_disks), default=None)
    add(
        "DataDiskSize",
        f"largest {_gb(largest)}" if largest is not None else "no data disk",
        f"at most {_gb(DATA_DISK_MAX_GB)} each",
        " ".join(
            f"{who}: data disk {_disk_label(d)} is {_gb(d.size_gb)}; Azure allows at most "
            f"{_gb(DATA_DISK_MAX_GB)} per data disk. Split the data across smaller disks."
            for d in data_disks
            if d.size_gb > DATA_DISK_MAX_GB
        )
        or None,
    )

    shared = [d for d in vm.disks if d.shared]
    add(
        "SharedDisk",
        _listed([_disk_label(d) for d in shared]),
        "none",
        " ".join(
            f"{who}: disk {_disk_label(d)} is a shared VHD (persistent reservations enabled); "
            "Azure Site Recovery does not support shared disks."
            for d in shared
        )
        or None,
    )

    formats = sorted({d.format or "pass-through" for d in vm.disks})
    unsupported = [d for d in vm.disks if d.format.upper() not in SUPPORTED_DISK_FORMATS]
    add(
        "DiskFormat",
        _listed(formats),
        " or ".join(SUPPORTED_DISK_FORMATS),
        " ".join(
            f"{who}: disk {_disk_label(d)} is {d.format or 'a pass-through or unknown disk'}; "
            "Azure Site Recovery replicates only VHD and VHDX virtual hard disks."
            for d in unsupported
        )
        or None,
    )
    return checks


def check_vm(vm: HyperVVM) -> list[Check]:
    """The requirements `vm` fails, in a stable order (empty: a failover may go ahead)."""
    return [c for c in evaluate(vm) if not c.passed]


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
