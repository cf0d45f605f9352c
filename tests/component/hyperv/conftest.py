"""Fixtures: a simulated datacenter with two Hyper-V hosts, the simulator, and gateways to it.

Reuse from other suites: `hyperv_scenario()` (the scenario dict), `make_gateway(sim, ...)`,
and the `connection` fixture, which yields (simulator, gateway) once per transport:
NTLM sealed over http, basic over https, NTLM over https (with channel binding).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from asr_operator.hyperv import HyperVGateway, WinRMConfig
from asr_operator.sim.datacenter import Datacenter
from asr_operator.sim.hyperv import HyperVSimulator
from asr_operator.sim.scenario import Scenario

USER = "CORP\\hv-operator"
PASSWORD = "Pa55:w0rd'$`;\"x"  # colon, quote, dollar, backtick: nothing may break
OTHER_USER = "hv2admin"
OTHER_PASSWORD = "another-Secret-77"
EVIL_NAME = 'it\'s $(Remove-VM -Name * -Force) `n; "quoted"\nnext-line; exit 0 #'


def hyperv_scenario() -> dict[str, Any]:
    gb = "sizeGB"
    return {
        "sites": [
            {
                "name": "site-a",
                "hosts": [
                    {
                        "name": "hv-01",
                        "users": [{"username": USER, "password": PASSWORD}],
                        "vms": [
                            {
                                "name": "WEB01",
                                "id": "B07C9911-5777-474F-A6DB-AB0CFA841DD3",
                                "generation": 2,
                                "checkpoints": ["before-patch", "weekly"],
                                "nics": 2,
                                "disks": [
                                    {"path": "D:\\VMs\\WEB01\\os.vhdx", "os": True, gb: 120},
                                    {"path": "D:\\VMs\\WEB01\\data.vhd", "format": "VHD", gb: 10},
                                ],
                            },
                            {
                                "name": "DB01",
                                "generation": 1,
                                "state": "Off",
                                "disks": [
                                    {"path": "E:\\DB01\\os.vhd", "format": "VHD", "os": True,
                                     gb: 2100},
                                    {"path": "E:\\DB01\\log.vhdx", gb: 500.5},
                                    {"path": "C:\\ClusterStorage\\shared.vhdx", gb: 64,
                                     "shared": True},
                                ],
                            },
                            {"name": "LNX01", "generation": 2, "osType": "Linux"},
                            {"name": "SAVED01", "state": "Saved"},
                            {"name": "PAUSED01", "state": "Paused"},
                            {"name": EVIL_NAME, "state": "Running"},
                            {"name": "dup", "id": "11111111-0000-0000-0000-000000000001"},
                            {"name": "DUP", "id": "11111111-0000-0000-0000-000000000002"},
                        ],
                    },
                    {
                        "name": "hv-02",
                        "users": [{"username": OTHER_USER, "password": OTHER_PASSWORD}],
                        "vms": [{"name": "APP02", "generation": 1}],
                    },
                ],
            }
        ]
    }  # fmt: skip


@dataclass(frozen=True)
class Transport:
    id: str
    tls: bool
    transport: str


TRANSPORTS = [
    Transport("ntlm-http-sealed", tls=False, transport="ntlm"),
    Transport("basic-https", tls=True, transport="basic"),
    Transport("ntlm-https", tls=True, transport="ntlm"),
]


def make_gateway(
    sim: HyperVSimulator,
    host: str = "hv-01",
    *,
    transport: str = "ntlm",
    username: str = USER,
    password: str = PASSWORD,
    **overrides: Any,
) -> HyperVGateway:
    address, port = sim.endpoint(host)
    settings: dict[str, Any] = {
        "address": address,
        "port": port,
        "name": host,
        "username": username,
        "password": password,
        "transport": transport,
        "https": sim.tls,
        "ca_path": sim.ca_path,
        "timeout": 20.0,
    }
    backoff = overrides.pop("backoff", None)
    settings.update(overrides)
    return HyperVGateway(WinRMConfig(**settings), backoff)


class Clock:
    """Monotonic seconds that move only when a test says so (for `HostBackoff`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def datacenter() -> Datacenter:
    return Datacenter.from_scenario(Scenario.model_validate(hyperv_scenario()))


@pytest.fixture
def http_sim(datacenter: Datacenter) -> Iterator[HyperVSimulator]:
    with HyperVSimulator(datacenter, tls=False) as sim:
        yield sim


@pytest.fixture
def https_sim(datacenter: Datacenter) -> Iterator[HyperVSimulator]:
    with HyperVSimulator(datacenter, tls=True) as sim:
        yield sim


@pytest.fixture(params=TRANSPORTS, ids=[t.id for t in TRANSPORTS])
def connection(
    request: pytest.FixtureRequest, datacenter: Datacenter
) -> Iterator[tuple[HyperVSimulator, HyperVGateway, Transport]]:
    t: Transport = request.param
    with HyperVSimulator(datacenter, tls=t.tls) as sim:
        yield sim, make_gateway(sim, transport=t.transport), t


Conn = tuple[HyperVSimulator, HyperVGateway, Transport]
