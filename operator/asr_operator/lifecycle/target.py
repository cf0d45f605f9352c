"""`spec.target` against the Compute and Network settings ASR holds for the item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from asr_operator.api.protectedvm import Target
from asr_operator.lifecycle.observed import ComputeSize, NicSettings, TargetSettings
from asr_operator.lifecycle.prechecks import azure_vm_name_problems


def desired(spec: Target, held: TargetSettings) -> TargetSettings:
    """ASR's settings with every field the spec sets replaced; unset fields are left alone."""
    out = held
    if spec.vm_name is not None:
        out = replace(out, vm_name=spec.vm_name)
    if spec.size is not None:
        out = replace(out, size=spec.size)
    if spec.resource_group_id is not None:
        out = replace(out, resource_group_id=spec.resource_group_id)
    if spec.availability_set_id is not None:
        out = replace(out, availability_set_id=spec.availability_set_id)
    if spec.availability_zone is not None:
        out = replace(out, availability_zone=spec.availability_zone)
    if spec.managed_disks is not None:
        out = replace(out, use_managed_disks=spec.managed_disks)
    if spec.network_id is not None:
        out = replace(out, network_id=spec.network_id)
    if spec.nics is not None:
        out = replace(
            out,
            nics=tuple(NicSettings(n.nic_id, n.subnet, n.static_ip) for n in spec.nics),
        )
    if spec.tags is not None:
        out = replace(out, tags=tuple(sorted(spec.tags.items())))
    return out


def differences(want: TargetSettings, held: TargetSettings) -> list[str]:
    """Human-readable fields where ASR differs from what is wanted (ARM ids compared caselessly)."""
    diffs: list[str] = []
    for field in (
        "vm_name",
        "size",
        "resource_group_id",
        "availability_set_id",
        "availability_zone",
        "network_id",
    ):
        a, b = getattr(want, field), getattr(held, field)
        if str(a).lower() != str(b).lower():
            diffs.append(f"{field}: ASR has {b!r}, spec wants {a!r}")
    if want.use_managed_disks != held.use_managed_disks:
        diffs.append(
            f"managed_disks: ASR has {held.use_managed_disks}, spec wants {want.use_managed_disks}"
        )
    if _nic_key(want.nics) != _nic_key(held.nics):
        diffs.append("nics: ASR's NIC subnets or static IPs differ from the spec")
    if tuple(sorted(want.tags)) != tuple(sorted(held.tags)):
        diffs.append("tags: ASR's target VM tags differ from the spec")
    return diffs


def _nic_key(nics: Sequence[NicSettings]) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((n.nic_id, n.subnet.lower(), n.static_ip) for n in nics))


# Characters Azure refuses in tag names (admission bounds their length only: a CEL rule
# scanning map keys has no length bound to be costed by).
TAG_NAME_FORBIDDEN = "<>%&\\?/"


def problems(spec: Target, sizes: Sequence[ComputeSize] | None) -> list[str]:
    """Why Azure would refuse the target, found before anything is sent."""
    found: list[str] = []
    if spec.vm_name is not None:
        found += [f"target.vmName: {p}" for p in azure_vm_name_problems(spec.vm_name)]
    for name in sorted(spec.tags or {}):
        if any(c in TAG_NAME_FORBIDDEN for c in name):
            found.append(
                f"target.tags: Azure refuses the tag name {name!r} "
                f"(no {' '.join(TAG_NAME_FORBIDDEN)} in tag names)"
            )
    if spec.size is not None and sizes is not None:
        match = next((s for s in sizes if s.name.lower() == spec.size.lower()), None)
        if match is None:
            offered = ", ".join(sorted(s.name for s in sizes if not s.errors)) or "none"
            found.append(
                f"target.size: {spec.size!r} is not offered for this item (usable sizes: {offered})"
            )
        elif match.errors:
            found.append(f"target.size: {spec.size!r} cannot be used: {'; '.join(match.errors)}")
    return found
