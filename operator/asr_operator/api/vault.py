"""SiteRecoveryVault: how to reach one ASR vault and its Hyper-V hosts."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from asr_operator.api.cel import rules
from asr_operator.api.common import (
    ApiModel,
    AuthType,
    Cloud,
    LocalObjectReference,
    WinRMScheme,
    WinRMTransport,
)
from asr_operator.api.conditions import Condition

KIND = "SiteRecoveryVault"
PLURAL = "siterecoveryvaults"

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class Authentication(ApiModel):
    model_config = rules(
        (
            "!(self.type in ['ClientSecret', 'ClientCertificate']) || has(self.secretRef)",
            "secretRef is required for ClientSecret and ClientCertificate authentication",
        ),
        (
            "self.type in ['ManagedIdentity', 'WorkloadIdentity'] || has(self.tenantId)",
            "tenantId is required for ClientSecret and ClientCertificate authentication "
            "(WorkloadIdentity takes it from AZURE_TENANT_ID when unset)",
        ),
    )

    type: AuthType = AuthType.WORKLOAD_IDENTITY
    tenant_id: str | None = Field(default=None, pattern=_GUID)
    client_id: str | None = Field(default=None, pattern=_GUID)
    secret_ref: LocalObjectReference | None = Field(
        default=None,
        description="Secret with key clientSecret (ClientSecret) or clientCertificate "
        "(PEM, ClientCertificate).",
    )
    authority_host: str | None = Field(
        default=None,
        pattern=r"^https://",
        description="Azure AD authority override (sovereign cloud or simulator).",
    )


class HyperVHost(ApiModel):
    model_config = rules(
        (
            "self.transport != 'basic' || self.scheme == 'https'",
            "basic WinRM authentication sends the password in clear; it is only allowed "
            "with scheme https",
        ),
    )

    name: str = Field(min_length=1, max_length=63)
    address: str = Field(min_length=1, max_length=253)
    port: int = Field(default=5986, ge=1, le=65535)
    scheme: WinRMScheme = WinRMScheme.HTTPS
    transport: WinRMTransport = WinRMTransport.NTLM
    credentials_secret_ref: LocalObjectReference = Field(
        description="Secret with keys username and password."
    )
    ca_secret_ref: LocalObjectReference | None = Field(
        default=None,
        description="Secret with key ca.crt to verify the host's certificate; "
        "the system trust store otherwise.",
    )
    insecure_skip_tls_verify: bool = False


class SiteRecoveryVaultSpec(ApiModel):
    model_config = rules(
        (
            "!has(self.endpoint) || self.endpoint == '' || self.endpoint.startsWith('https://')",
            "endpoint must be an https:// URL",
        ),
    )

    subscription_id: str = Field(pattern=_GUID)
    resource_group: str = Field(min_length=1, max_length=90)
    vault_name: str = Field(min_length=2, max_length=50)
    cloud: Cloud = Cloud.PUBLIC
    endpoint: str = Field(default="", description="ARM endpoint override.")
    ca_secret_ref: LocalObjectReference | None = Field(
        default=None, description="Secret with key ca.crt to trust for the ARM endpoint."
    )
    authentication: Authentication = Field(default_factory=Authentication)
    hyper_v_hosts: list[HyperVHost] = Field(default_factory=list, max_length=64)
    poll_interval_seconds: int = Field(
        default=30, ge=1, le=600, description="How often running ASR jobs are polled."
    )


class SiteRecoveryVaultStatus(ApiModel):
    observed_generation: int | None = None
    protected_item_count: int | None = None
    last_checked_time: datetime | None = None
    hosts: list[HostStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)


class HostStatus(ApiModel):
    name: str
    reachable: bool
    message: str = ""


SiteRecoveryVaultStatus.model_rebuild()
