"""SiteRecoveryVault: how to reach one ASR vault and its Hyper-V hosts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import Field

from asr_operator.api.cel import FieldRule, cel_string, checked, is_ip, rules
from asr_operator.api.common import (
    GUID_PATTERN,
    HOST_NAME_PATTERN,
    ApiModel,
    AuthType,
    Clipped,
    Cloud,
    LocalObjectReference,
    StatusMessage,
    StatusName,
    WinRMScheme,
    WinRMTransport,
    list_map,
)
from asr_operator.api.conditions import Condition

KIND = "SiteRecoveryVault"
PLURAL = "siterecoveryvaults"

_GUID = GUID_PATTERN

# A WinRM host: a DNS name or an IP address, nothing of a URL (scheme, port, path).
_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?"
_HOST_NAME = rf"^{_LABEL}(\.{_LABEL})*$"
_DIGITS_AND_DOTS = r"^[0-9.]+$"
_HOST_NAME_RE = re.compile(_HOST_NAME)
_DIGITS_RE = re.compile(_DIGITS_AND_DOTS)
HOST_ADDRESS = FieldRule(
    f"isIP(self) || (self.matches({cel_string(_HOST_NAME)}) && "
    f"!self.matches({cel_string(_DIGITS_AND_DOTS)}))",
    "must be a host name such as hv-01.corp.example or an IP address, without scheme, "
    "port or path (port and scheme are fields of their own)",
    lambda v: (
        is_ip(v) or (_HOST_NAME_RE.fullmatch(v) is not None and _DIGITS_RE.fullmatch(v) is None)
    ),
)
# Azure names: resource groups 1-90 (letters, digits, '_', '-', '.', '()', not ending in
# '.'); Recovery Services vaults 2-50 (a letter first, then letters, digits, '-').
RESOURCE_GROUP_PATTERN = r"^[-A-Za-z0-9_.()]{0,89}[-A-Za-z0-9_()]$"
VAULT_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{1,49}$"
URL_MAX_LENGTH = 2048


class Authentication(ApiModel):
    """How the operator authenticates to Azure for this vault."""

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
        (
            "!(self.type in ['ManagedIdentity', 'WorkloadIdentity']) || !has(self.secretRef)",
            "secretRef is used only by ClientSecret and ClientCertificate authentication; "
            "remove it, or set the type that uses it",
        ),
    )

    type: AuthType = AuthType.WORKLOAD_IDENTITY
    """WorkloadIdentity, ManagedIdentity, ClientSecret or ClientCertificate."""
    tenant_id: str | None = Field(default=None, pattern=_GUID, max_length=36)
    """The Azure AD tenant; WorkloadIdentity takes AZURE_TENANT_ID when unset."""
    client_id: str | None = Field(default=None, pattern=_GUID, max_length=36)
    """The application (client) id; for the identities, the one of the pod when unset."""
    secret_ref: LocalObjectReference | None = None
    """Secret with key clientSecret (ClientSecret) or clientCertificate (PEM,
    ClientCertificate)."""
    authority_host: str | None = Field(
        default=None, max_length=URL_MAX_LENGTH, pattern=r"^https://[^\s]+$"
    )
    """Azure AD authority override (sovereign cloud or simulator)."""


class HyperVHost(ApiModel):
    """One Hyper-V host, reached over WinRM for the pre-failover checks."""

    model_config = rules(
        (
            "self.transport != 'basic' || self.scheme == 'https'",
            "basic WinRM authentication sends the password in clear; it is only allowed "
            "with scheme https",
        ),
        (
            "self.transport != 'basic' || !self.insecureSkipTlsVerify",
            "basic WinRM authentication needs TLS certificate verification: remove "
            "insecureSkipTlsVerify (give caSecretRef for a private CA) or use ntlm, kerberos "
            "or credssp",
        ),
        (
            "!self.insecureSkipTlsVerify || !has(self.caSecretRef)",
            "caSecretRef is a CA to verify the host with; it contradicts insecureSkipTlsVerify",
        ),
        (
            "self.scheme == 'https' || (!self.insecureSkipTlsVerify && !has(self.caSecretRef))",
            "caSecretRef and insecureSkipTlsVerify apply to scheme https only",
        ),
    )

    name: str = Field(max_length=63, pattern=HOST_NAME_PATTERN)
    """The host's name here: what hyperV.host of a ProtectedVM or RecoveryPlan names."""
    address: Annotated[str, Field(min_length=1, max_length=253), checked(HOST_ADDRESS)]
    """Its DNS name or IP address, without scheme, port or path."""
    port: int = Field(default=5986, ge=1, le=65535)
    """The WinRM port."""
    scheme: WinRMScheme = WinRMScheme.HTTPS
    """https or http."""
    transport: WinRMTransport = WinRMTransport.NTLM
    """WinRM authentication: ntlm, kerberos, credssp or basic (https only)."""
    credentials_secret_ref: LocalObjectReference
    """Secret with keys username and password."""
    ca_secret_ref: LocalObjectReference | None = None
    """Secret with key ca.crt to verify the host's certificate; the system trust store
    otherwise."""
    insecure_skip_tls_verify: bool = False
    """Do not verify the host's certificate (labs only)."""


class SiteRecoveryVaultSpec(ApiModel):
    model_config = rules(
        (
            "!has(self.endpoint) || self.endpoint == '' || "
            "(self.endpoint.startsWith('https://') && isURL(self.endpoint))",
            "endpoint must be an https:// URL",
        ),
    )

    subscription_id: str = Field(pattern=_GUID, max_length=36)
    """The vault's Azure subscription."""
    resource_group: str = Field(min_length=1, max_length=90, pattern=RESOURCE_GROUP_PATTERN)
    """The vault's resource group."""
    vault_name: str = Field(min_length=2, max_length=50, pattern=VAULT_NAME_PATTERN)
    """The Recovery Services vault's name."""
    cloud: Cloud = Cloud.PUBLIC
    """The Azure cloud: AzurePublicCloud, AzureChinaCloud or AzureUSGovernment."""
    endpoint: str = Field(default="", max_length=URL_MAX_LENGTH)
    """ARM endpoint override (https://); empty for the cloud's."""
    ca_secret_ref: LocalObjectReference | None = None
    """Secret with key ca.crt to trust for the ARM endpoint."""
    authentication: Authentication = Field(default_factory=Authentication)
    hyper_v_hosts: list[HyperVHost] = Field(
        default_factory=list,
        max_length=64,
        json_schema_extra=list_map("name"),
    )
    """The Hyper-V hosts of the protected VMs, one per name."""
    poll_interval_seconds: int = Field(default=30, ge=1, le=600)
    """How often running ASR jobs are polled."""


class SiteRecoveryVaultStatus(ApiModel):
    observed_generation: int | None = None
    """The metadata.generation last reconciled."""
    protected_item_count: int | None = None
    """Protected items ASR lists in the vault."""
    last_checked_time: datetime | None = None
    """When ARM and the hosts were last checked."""
    hosts: Annotated[list[HostStatus], Clipped(64)] = Field(default_factory=list)
    """Each Hyper-V host, as last checked."""
    conditions: Annotated[list[Condition], Clipped(16)] = Field(default_factory=list)
    """Ready (ARM reachable and authorized) and HostsReachable."""


class HostStatus(ApiModel):
    """One Hyper-V host as last checked."""

    name: StatusName
    """The host's name (hyperVHosts[].name)."""
    reachable: bool
    """Whether WinRM answered and accepted the credentials."""
    message: StatusMessage = ""
    """Why not, if not."""


SiteRecoveryVaultStatus.model_rebuild()
