"""Failed-over (and test) Azure VMs that answer TCP on loopback.

Each VM that a (test) failover boots gets its own address in 127.0.0.0/8, which is
what the simulator reports as the VM's IP; the VM listens on the configured ports
(3389 by default) at that address, so a validation probe pointed at (ip, port)
reaches something real. A VM can be switched to "not answering".
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import threading
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# One 127.N.0.0/16 per simulator in this process: a random start, then in turn, so
# simulators in one process never share addresses (and rarely across processes).
_START = random.randint(0, 186)
_OCTETS = itertools.cycle([64 + (_START + n) % 187 for n in range(187)])


# Host numbers .1 to .254 of each 127.N.M.0/24: with .0 and .255 left out, the n-th VM
# has an address of its own up to HOSTS_PER_SUBNET * 256 VMs per simulator.
HOSTS_PER_SUBNET = 254


def _address(second_octet: int, n: int) -> str:
    """The address of the n-th VM (n from 1)."""
    subnet, host = divmod(n - 1, HOSTS_PER_SUBNET)
    if subnet > 255:
        raise ValueError(f"a simulator holds at most {HOSTS_PER_SUBNET * 256} VM addresses")
    return f"127.{second_octet}.{subnet}.{host + 1}"


@dataclass
class _Vm:
    ip: str
    answering: bool = True
    servers: list[asyncio.Server] = field(default_factory=list)


@dataclass
class VmEndpoints:
    """Allocates loopback IPs and runs listeners on the simulator's event loop."""

    ports: tuple[int, ...] = (3389,)
    _second_octet: int = field(default_factory=lambda: next(_OCTETS))
    _next: int = 1
    _vms: dict[str, _Vm] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allocate(self, key: str) -> str:
        """The loopback IP of VM `key` (stable for the simulator's lifetime)."""
        with self._lock:
            vm = self._vms.get(key)
            if vm is None:
                ip = _address(self._second_octet, self._next)
                self._next += 1
                vm = self._vms[key] = _Vm(ip=ip)
            return vm.ip

    def ip_of(self, key: str) -> str | None:
        with self._lock:
            vm = self._vms.get(key)
            return vm.ip if vm else None

    async def boot(self, key: str) -> str:
        """Start answering on all ports (if the VM is switched to answer)."""
        ip = self.allocate(key)
        vm = self._vms[key]
        if vm.answering and not vm.servers:
            await self._listen(vm)
        return ip

    async def shutdown(self, key: str) -> None:
        vm = self._vms.get(key)
        if vm is not None:
            await self._close(vm)

    async def set_answering(self, key: str, answering: bool, booted: bool) -> None:
        ip = self.allocate(key)
        vm = self._vms[key]
        vm.answering = answering
        if answering and booted and not vm.servers:
            await self._listen(vm)
        elif not answering:
            await self._close(vm)
        log.debug("vm %s at %s answering=%s", key, ip, answering)

    async def close_all(self) -> None:
        for vm in list(self._vms.values()):
            await self._close(vm)

    async def _listen(self, vm: _Vm) -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

        for port in self.ports:
            try:
                vm.servers.append(await asyncio.start_server(on_connect, vm.ip, port))
            except OSError as e:  # port taken or privileged: report, keep the others
                log.warning("simulated VM %s cannot listen on %s:%s: %s", vm.ip, vm.ip, port, e)

    @staticmethod
    async def _close(vm: _Vm) -> None:
        servers, vm.servers = vm.servers, []
        for s in servers:
            s.close()
            with contextlib.suppress(Exception):
                await s.wait_closed()
