"""Every failed-over VM of the simulator answers at an address of its own.

A benchmark of 1000 VMs found the 256th and the 257th VM given one address (the second
could not listen on 3389, so a validation probe of it reached the other VM).
"""

from __future__ import annotations

import ipaddress

import pytest

from asr_operator.sim.asr.vm_endpoints import HOSTS_PER_SUBNET, VmEndpoints


def test_thousands_of_vms_get_distinct_usable_addresses() -> None:
    endpoints = VmEndpoints()
    ips = [endpoints.allocate(f"vm{n}") for n in range(5000)]
    assert len(set(ips)) == len(ips)
    for ip in ips:
        address = ipaddress.ip_address(ip)
        assert address.is_loopback
        assert ip.rsplit(".", 1)[1] not in ("0", "255")


def test_an_address_is_stable_for_its_vm() -> None:
    endpoints = VmEndpoints()
    first = endpoints.allocate("a")
    endpoints.allocate("b")
    assert endpoints.allocate("a") == first == endpoints.ip_of("a")


def test_past_the_last_address_it_says_so() -> None:
    endpoints = VmEndpoints()
    endpoints._next = HOSTS_PER_SUBNET * 256 + 1
    with pytest.raises(ValueError, match="at most"):
        endpoints.allocate("one too many")
