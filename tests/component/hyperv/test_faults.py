"""Each simulated fault reaches the caller as the right error class, without credentials."""

from __future__ import annotations

import asyncio

import pytest
import winrm

from asr_operator.hyperv import (
    AuthFailed,
    ConfigError,
    HyperVError,
    ScriptError,
    Timeout,
    TLSError,
    Unreachable,
    WinRMConfig,
)
from asr_operator.hyperv.backoff import FIRST_PAUSE, HostBackoff
from asr_operator.hyperv.scripts import MARKER
from asr_operator.sim.hyperv import HyperVSimulator
from tests.component.hyperv.conftest import PASSWORD, USER, Clock, Conn, make_gateway

SECRETS = (PASSWORD, USER, "hv-operator")


def assert_no_credentials(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), *(str(a) for a in exc.args)):
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.parametrize("mode", ["refused", "reset"])
async def test_host_down(connection: Conn, mode: str) -> None:
    sim, _, t = connection
    clock = Clock()
    gw = make_gateway(sim, transport=t.transport, backoff=HostBackoff(clock))
    sim.set_host_down("hv-01", mode=mode)  # type: ignore[arg-type]
    with pytest.raises(Unreachable) as err:
        await gw.ping()
    assert "hv-01" in str(err.value) and "cannot connect" in str(err.value)
    assert "since" in str(err.value)
    assert_no_credentials(err.value)
    sim.set_host_down("hv-01", False)
    with pytest.raises(Unreachable) as again:  # paused: the host is not called yet
        await gw.ping()
    assert str(again.value) == str(err.value)
    clock.now += FIRST_PAUSE
    assert await gw.ping() == "HV-01"  # same port again


async def test_a_silent_host_costs_one_timeout_not_one_per_call(http_sim: HyperVSimulator) -> None:
    """A site outage: of many concurrent calls, only the first `max_concurrency` wait for
    the host; the rest fail at once with the same error, and so does the next poll's."""
    clock = Clock()
    gw = make_gateway(
        http_sim,
        timeout=0.5,
        operation_timeout=1,
        read_timeout=5,
        max_concurrency=2,
        backoff=HostBackoff(clock),
    )
    http_sim.set_latency("hv-01", 30)
    try:
        results = await asyncio.gather(
            *(gw.get_vm("WEB01") for _ in range(12)), return_exceptions=True
        )
        assert all(isinstance(r, Timeout) for r in results), results
        assert len({str(r) for r in results}) == 1  # one message for the outage
        assert len(http_sim.commands) <= 2  # one slot's worth reached the host
        clock.now += FIRST_PAUSE - 1
        with pytest.raises(Timeout):
            await gw.get_vm("WEB01")
        assert len(http_sim.commands) <= 2
    finally:
        http_sim.set_latency("hv-01", 0)
    clock.now += 1
    assert (await gw.get_vm("WEB01")).name == "WEB01"


async def test_a_failing_script_does_not_pause_the_host(connection: Conn) -> None:
    sim, _, t = connection
    gw = make_gateway(sim, transport=t.transport, backoff=HostBackoff(Clock()))
    sim.inject_script_error("hv-01", "Get-VM : boom")
    with pytest.raises(ScriptError):
        await gw.get_vm("WEB01")
    assert (await gw.get_vm("WEB01")).name == "WEB01"  # the host answered: no pause


async def test_wrong_password(connection: Conn) -> None:
    sim, _, t = connection
    gw = make_gateway(sim, transport=t.transport, password=PASSWORD + "x")
    with pytest.raises(AuthFailed) as err:
        await gw.get_vm("WEB01")
    assert "rejected the credentials" in str(err.value)
    assert_no_credentials(err.value)
    assert sim.commands == []


async def test_unknown_user(connection: Conn) -> None:
    sim, _, t = connection
    gw = make_gateway(sim, transport=t.transport, username="CORP\\nobody")
    with pytest.raises(AuthFailed):
        await gw.ping()


async def test_injected_auth_failure(connection: Conn) -> None:
    sim, _, t = connection
    clock = Clock()
    gw = make_gateway(sim, transport=t.transport, backoff=HostBackoff(clock))
    sim.set_auth_failure("hv-01")
    with pytest.raises(AuthFailed) as err:
        await gw.ping()
    assert_no_credentials(err.value)
    sim.set_auth_failure("hv-01", False)
    with pytest.raises(AuthFailed):  # retried logins lock accounts out: the host pauses
        await gw.ping()
    clock.now += FIRST_PAUSE
    assert await gw.ping() == "HV-01"


async def test_slow_host_times_out(connection: Conn) -> None:
    sim, _, t = connection
    gw = make_gateway(sim, transport=t.transport, timeout=0.3, operation_timeout=1, read_timeout=5)
    sim.set_latency("hv-01", 30)
    try:
        with pytest.raises(Timeout) as err:
            await gw.get_vm("WEB01")
        assert "did not finish within 0.3 s" in str(err.value)
        assert_no_credentials(err.value)
    finally:
        sim.set_latency("hv-01", 0)  # releases the abandoned worker thread at once


async def test_slow_host_within_deadline(http_sim: HyperVSimulator) -> None:
    """Output later than one OperationTimeout: pywinrm re-sends Receive until it is ready."""
    gw = make_gateway(http_sim, timeout=10, operation_timeout=1, read_timeout=3)
    http_sim.set_latency("hv-01", 1.2)
    assert (await gw.get_vm("WEB01")).name == "WEB01"


async def test_script_error(connection: Conn) -> None:
    sim, gw, _ = connection
    message = (
        "Get-VM : You do not have the required permission to complete this task.\n"
        "    + FullyQualifiedErrorId : AccessDenied,Microsoft.HyperV.PowerShell.Commands.GetVM"
    )
    sim.inject_script_error("hv-01", message)
    with pytest.raises(ScriptError) as err:
        await gw.get_vm("WEB01")
    assert err.value.error == message.replace("\n", "\r\n")
    assert err.value.exit_code == 1
    assert err.value.script == "get-vm"
    assert_no_credentials(err.value)
    assert (await gw.get_vm("WEB01")).name == "WEB01"  # only the next command failed


async def test_untrusted_certificate(https_sim: HyperVSimulator) -> None:
    gw = make_gateway(https_sim, transport="basic", ca_path=None)  # system CAs only
    with pytest.raises(TLSError) as err:
        await gw.ping()
    assert isinstance(err.value, Unreachable)
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    assert https_sim.commands == []


async def test_http_listener_refuses_clear_text(http_sim: HyperVSimulator) -> None:
    """Like WinRM with AllowUnencrypted=false: no basic auth, no unsealed NTLM over http."""
    url = http_sim.url("hv-01")
    basic = winrm.Session(url, auth=(USER, PASSWORD), transport="basic", proxy=None)
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        basic.run_cmd("hostname")
    plain = winrm.Session(
        url, auth=(USER, PASSWORD), transport="ntlm", message_encryption="never", proxy=None
    )
    with pytest.raises(winrm.exceptions.WSManFaultError) as err:
        plain.run_cmd("hostname")
    assert "AllowUnencrypted" in str(err.value)


async def test_unknown_commands_fail_like_a_host_would(http_sim: HyperVSimulator) -> None:
    session = winrm.Session(http_sim.url("hv-01"), auth=(USER, PASSWORD), transport="ntlm",
                            proxy=None)  # fmt: skip
    r = session.run_cmd("ipconfig", ["/all"])
    assert r.status_code == 1 and b"is not recognized" in r.std_err
    r = session.run_ps("Get-VM | Remove-VM -Force")
    assert r.status_code == 1 and b"runs only asr-operator's scripts" in r.std_err
    r = session.run_ps(f"{MARKER}get-vm\n$payload = 'eyJuYW1lIjoiV0VCMDEifQ=='\n")
    assert r.status_code == 0 and b'"name":"WEB01"' in r.std_out
    assert [c.command_line.split()[0] for c in http_sim.commands] == [
        "ipconfig",
        *["powershell"] * 2,
    ]


def test_basic_needs_https() -> None:
    with pytest.raises(ConfigError) as err:
        WinRMConfig(address="hv-01", username=USER, password=PASSWORD, transport="basic",
                    https=False)  # fmt: skip
    assert "only over https" in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(ConfigError):
        WinRMConfig(address="hv", username=USER, password=PASSWORD, transport="basic",
                    verify_tls=False)  # fmt: skip
    with pytest.raises(ConfigError):
        WinRMConfig(address="hv", username=USER, password=PASSWORD, transport="telnet")  # type: ignore[arg-type]


def test_config_repr_hides_credentials() -> None:
    cfg = WinRMConfig(address="hv-01.corp", username=USER, password=PASSWORD)
    assert_no_credentials(Exception(repr(cfg)))
    assert cfg.url == "https://hv-01.corp:5986/wsman"
    cfg = WinRMConfig(address="fd00::1", username=USER, password=PASSWORD, https=False)
    assert cfg.url == "http://[fd00::1]:5985/wsman"


async def test_missing_kerberos_library_is_a_config_error(http_sim: HyperVSimulator) -> None:
    gw = make_gateway(http_sim, transport="kerberos")
    with pytest.raises(HyperVError) as err:
        await gw.ping()
    assert isinstance(err.value, ConfigError)
    assert "kerberos" in str(err.value)
    assert_no_credentials(err.value)


def test_unknown_shell_is_a_wsman_fault(http_sim: HyperVSimulator) -> None:
    protocol = winrm.Protocol(
        http_sim.url("hv-01"), transport="ntlm", username=USER, password=PASSWORD, proxy=None
    )
    with pytest.raises(winrm.exceptions.WSManFaultError) as err:
        protocol.run_command("00000000-0000-0000-0000-000000000000", "hostname")
    assert err.value.wsman_fault_code == 2150858843
    assert "shell was not found" in err.value.reason
