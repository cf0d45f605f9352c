"""Mutable state shared by the ASR and Hyper-V simulators.

One object per running simulated datacenter. The Hyper-V simulator serves it over
WS-Management, the ASR simulator over ARM; both mutate it under `lock` (the servers
run on different threads).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from asr_operator.sim.scenario import Disk, Scenario


@dataclass
class VMState:
    site: str
    host: str
    name: str
    vm_id: str
    state: str  # Running | Off | Saved | Paused
    generation: int
    checkpoints: list[str]
    disks: list[Disk]
    nics: int
    cpu_count: int
    memory_mb: int
    os_type: str


@dataclass
class Datacenter:
    scenario: Scenario
    vms: dict[str, VMState] = field(default_factory=dict)  # by vm_id
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Datacenter:
        dc = cls(scenario=scenario)
        for site, host, vm in scenario.all_vms():
            vid = vm.vm_id(host.name)
            dc.vms[vid] = VMState(
                site=site.name,
                host=host.name,
                name=vm.name,
                vm_id=vid,
                state=vm.state,
                generation=vm.generation,
                checkpoints=list(vm.checkpoints),
                disks=[d.model_copy() for d in vm.disks],
                nics=vm.nics,
                cpu_count=vm.cpu_count,
                memory_mb=vm.memory_mb,
                os_type=vm.os_type,
            )
        return dc

    def vm_on_host(self, host: str, name: str) -> VMState | None:
        with self.lock:
            for v in self.vms.values():
                if v.host.lower() == host.lower() and v.name.lower() == name.lower():
                    return v
        return None

    def set_power(self, vm_id: str, state: str) -> None:
        with self.lock:
            self.vms[vm_id].state = state
