"""Real azure-identity credentials against the simulator's fake Azure AD."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
import trustme

from asr_operator.azure import AsrGateway, AuthConfig, AuthFailed, AuthType
from asr_operator.sim.asr import AsrSimulatorThread
from tests.component.asr.conftest import CLIENT_ID, CLIENT_SECRET, FEDERATED_CLIENT_ID, make_config


async def test_client_secret(sim: AsrSimulatorThread, gateway: AsrGateway) -> None:
    assert await gateway.find_item("app01") is not None


async def test_wrong_secret_fails_without_leaking_it(sim: AsrSimulatorThread) -> None:
    tenant = sim.sim.scenario.tenant_id
    auth = AuthConfig(
        type=AuthType.CLIENT_SECRET,
        tenant_id=tenant,
        client_id=CLIENT_ID,
        client_secret="wrong-secret-0815",
    )
    async with AsrGateway(make_config(sim, auth=auth)) as gw:
        with pytest.raises(AuthFailed) as err:
            await gw.find_item("app01")
    assert "wrong-secret-0815" not in str(err.value)
    assert "wrong-secret-0815" not in repr(auth)
    assert CLIENT_SECRET not in repr(make_config(sim))


async def test_workload_identity(sim: AsrSimulatorThread, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl")
    auth = AuthConfig(
        type=AuthType.WORKLOAD_IDENTITY,
        tenant_id=sim.sim.scenario.tenant_id,
        client_id=FEDERATED_CLIENT_ID,
        federated_token_file=str(token),
    )
    async with AsrGateway(make_config(sim, auth=auth)) as gw:
        assert await gw.find_item("app01") is not None


async def test_client_certificate(sim: AsrSimulatorThread) -> None:
    leaf = trustme.CA().issue_cert("operator.example", key_type=trustme.KeyType.RSA)
    auth = AuthConfig(
        type=AuthType.CLIENT_CERTIFICATE,
        tenant_id=sim.sim.scenario.tenant_id,
        client_id=FEDERATED_CLIENT_ID,
        certificate_pem=leaf.private_key_and_cert_chain_pem.bytes(),
    )
    async with AsrGateway(make_config(sim, auth=auth)) as gw:
        assert await gw.find_item("app01") is not None


async def test_managed_identity(sim: AsrSimulatorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{sim.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "header-value")
    auth = AuthConfig(type=AuthType.MANAGED_IDENTITY, client_id="mi-client")
    async with AsrGateway(make_config(sim, auth=auth)) as gw:
        assert await gw.find_item("app01") is not None


async def test_arm_refuses_requests_without_a_valid_token(sim: AsrSimulatorThread) -> None:
    sc = sim.sim.scenario
    url = (
        f"{sim.url}/subscriptions/{sc.subscription_id}/resourceGroups/{sc.resource_group}"
        f"/providers/Microsoft.RecoveryServices/vaults/{sc.vault}/replicationProtectedItems"
    )
    ctx = ssl.create_default_context(cafile=str(sim.ca_path))
    async with aiohttp.ClientSession() as s:
        for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
            async with s.get(url, ssl=ctx, headers=headers) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == "AuthenticationFailed"
