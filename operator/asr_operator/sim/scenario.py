"""The scenario file: one YAML document describing a simulated datacenter.

Both the ASR simulator and the Hyper-V simulator are built from the same scenario,
and share one `Datacenter` state where they meet (a failover with source shutdown
turns the Hyper-V VM off; a failback starts it again).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Deterministic ids, so a scenario gives the same ARM ids every run.
_NS = uuid.UUID("6f1c0e2a-7d3b-4c55-9a51-3f0d2f9b8e10")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Credential(_Model):
    """An Azure AD application the fake token endpoint accepts."""

    client_id: str = Field(alias="clientId")
    secret: str = ""
    # A workload-identity client presents any JWT-shaped assertion.
    federated: bool = Field(default=False)


class Disk(_Model):
    path: str
    format: Literal["VHD", "VHDX"] = "VHDX"
    size_gb: float = Field(alias="sizeGB", default=127)
    os: bool = False
    shared: bool = False


class VM(_Model):
    name: str
    id: str = ""  # Hyper-V VM id (GUID); derived from the name when empty
    generation: Literal[1, 2] = 2
    state: Literal["Running", "Off", "Saved", "Paused"] = "Running"
    checkpoints: list[str] = Field(default_factory=list)
    disks: list[Disk] = Field(default_factory=list)
    nics: int = 1
    cpu_count: int = Field(alias="cpuCount", default=2)
    memory_mb: int = Field(alias="memoryMB", default=4096)
    os_type: Literal["Windows", "Linux"] = Field(alias="osType", default="Windows")
    # ASR side: is the VM replicated, and with which Compute and Network settings.
    protected: bool = True
    recovery_size: str = Field(alias="recoverySize", default="Standard_D2s_v3")
    recovery_network_id: str = Field(alias="recoveryNetworkId", default="")
    recovery_subnet: str = Field(alias="recoverySubnet", default="default")
    recovery_ip: str = Field(alias="recoveryIP", default="")
    rpo_seconds: int = Field(alias="rpoSeconds", default=30)

    def vm_id(self, host: str) -> str:
        return self.id or stable_id("vm", host, self.name)


class WinRMUser(_Model):
    username: str
    password: str


class Host(_Model):
    name: str
    users: list[WinRMUser] = Field(default_factory=list)
    vms: list[VM] = Field(default_factory=list)


class Site(_Model):
    """A Hyper-V site: one ASR fabric with one protection container."""

    name: str
    hosts: list[Host] = Field(default_factory=list)


class PlanAction(_Model):
    name: str
    manual: str = ""  # the instructions of a manual action
    position: Literal["start", "end"] = "start"
    failover_types: list[str] = Field(
        alias="failoverTypes",
        default_factory=lambda: ["PlannedFailover", "UnplannedFailover", "TestFailover"],
    )
    failover_directions: list[str] = Field(
        alias="failoverDirections", default_factory=lambda: ["PrimaryToRecovery"]
    )


class PlanGroup(_Model):
    vms: list[str] = Field(default_factory=list)
    actions: list[PlanAction] = Field(default_factory=list)


# ASR's limit: "Number of servers per recovery plan | 100" (reference section 6.1).
MAX_PLAN_VMS = 100


class Plan(_Model):
    name: str
    groups: list[PlanGroup] = Field(default_factory=list)  # Boot groups 1..7

    @model_validator(mode="after")
    def _within_asr_limit(self) -> Plan:
        count = sum(len(g.vms) for g in self.groups)
        if count > MAX_PLAN_VMS:
            raise ValueError(
                f"recovery plan {self.name!r} has {count} VMs; ASR allows at most "
                f"{MAX_PLAN_VMS} per recovery plan"
            )
        return self


class ComputeSizeSpec(_Model):
    name: str
    cores: int = 2
    memory_gb: float = Field(alias="memoryGB", default=8)
    max_data_disks: int = Field(alias="maxDataDisks", default=4)
    max_nics: int = Field(alias="maxNics", default=2)
    generations: list[Literal[1, 2]] = Field(default_factory=lambda: _BOTH_GENERATIONS.copy())


_BOTH_GENERATIONS: list[Literal[1, 2]] = [1, 2]


def _default_sizes() -> list[ComputeSizeSpec]:
    return [
        ComputeSizeSpec(name="Standard_B2s", cores=2, memory_gb=4, max_data_disks=4),
        ComputeSizeSpec(name="Standard_D2s_v3", cores=2, memory_gb=8, max_data_disks=4),
        ComputeSizeSpec(name="Standard_D4s_v3", cores=4, memory_gb=16, max_data_disks=8),
        ComputeSizeSpec(name="Standard_D8s_v3", cores=8, memory_gb=32, max_data_disks=16),
        ComputeSizeSpec(
            name="Standard_A1", cores=1, memory_gb=1.75, max_data_disks=2, generations=[1]
        ),
    ]


class Scenario(_Model):
    subscription_id: str = Field(
        alias="subscriptionId", default="11111111-2222-3333-4444-555555555555"
    )
    tenant_id: str = Field(alias="tenantId", default="22222222-3333-4444-5555-666666666666")
    resource_group: str = Field(alias="resourceGroup", default="rg-dr")
    vault: str = "vault-dr"
    location: str = "westeurope"
    credentials: list[Credential] = Field(default_factory=list)
    # Seconds of wall time per simulated job task (0.05 in tests, ~1 in the demo).
    task_seconds: float = Field(alias="taskSeconds", default=0.2)
    # Seconds between new recovery points; every Nth is application-consistent.
    recovery_point_seconds: float = Field(alias="recoveryPointSeconds", default=5.0)
    app_consistent_every: int = Field(alias="appConsistentEvery", default=4)
    sites: list[Site] = Field(default_factory=list)
    plans: list[Plan] = Field(default_factory=list)
    compute_sizes: list[ComputeSizeSpec] = Field(
        alias="computeSizes", default_factory=_default_sizes
    )

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        with open(path, encoding="utf-8") as f:
            return cls.model_validate(yaml.safe_load(f))

    def all_vms(self) -> list[tuple[Site, Host, VM]]:
        return [(s, h, v) for s in self.sites for h in s.hosts for v in h.vms]
