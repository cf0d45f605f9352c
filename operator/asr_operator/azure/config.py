"""How to reach one Recovery Services vault: plain data built from a SiteRecoveryVault."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AuthType(StrEnum):
    WORKLOAD_IDENTITY = "WorkloadIdentity"
    MANAGED_IDENTITY = "ManagedIdentity"
    CLIENT_SECRET = "ClientSecret"
    CLIENT_CERTIFICATE = "ClientCertificate"


@dataclass(frozen=True)
class CloudEndpoints:
    arm: str
    authority_host: str
    scope: str


CLOUDS: dict[str, CloudEndpoints] = {
    "AzurePublicCloud": CloudEndpoints(
        "https://management.azure.com",
        "https://login.microsoftonline.com",
        "https://management.azure.com/.default",
    ),
    "AzureChinaCloud": CloudEndpoints(
        "https://management.chinacloudapi.cn",
        "https://login.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
    ),
    "AzureUSGovernment": CloudEndpoints(
        "https://management.usgovcloudapi.net",
        "https://login.microsoftonline.us",
        "https://management.usgovcloudapi.net/.default",
    ),
}


@dataclass(frozen=True)
class AuthConfig:
    """Credential material; secrets never appear in repr()."""

    type: AuthType
    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    # PEM with the private key and certificate (ClientCertificate).
    certificate_pem: bytes = field(default=b"", repr=False)
    certificate_password: str = field(default="", repr=False)
    # WorkloadIdentity: projected service-account token; empty = AZURE_FEDERATED_TOKEN_FILE.
    federated_token_file: str = ""


@dataclass(frozen=True)
class CallLimits:
    """Operator-wide bounds on ARM calls (flags of `asr-operator run`)."""

    # Seconds to wait for an ARM answer before giving the request up as unanswered.
    read_timeout: float = 60.0
    # Seconds after it was sent that an unanswered request is taken to be dead: ARM's proxy
    # gives a resource provider 60 s, the client `read_timeout`; the rest is margin. Until
    # then the operator neither re-sends it nor does anything else to the object.
    request_lifetime: float = 300.0


@dataclass(frozen=True)
class AsrConfig:
    subscription_id: str
    resource_group: str
    vault_name: str
    auth: AuthConfig
    cloud: str = "AzurePublicCloud"
    # ARM endpoint override (sovereign cloud, private link, simulator); "" = the cloud's.
    endpoint: str = ""
    # Azure AD authority override; "" = the cloud's.
    authority_host: str = ""
    # PEM bundle to verify TLS with instead of the system store ("" = system store).
    ca_bundle: str = ""
    api_version: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    # Retries of idempotent reads inside azure-core (honours Retry-After); actions get none.
    read_retries: int = 3
    # Client-side pacing (burst, per second), 2% under ARM's per-principal limits: ARM
    # counts requests when they arrive, we when we send them, and the difference
    # (latency jitter) must not cost a 429. A request takes its token only when it can
    # go out at once (pacing.py), so the margin covers jitter alone; at 5% it alone cost
    # a mass failover 7% over ARM's minimum. None = off. The read burst keeps 25 tokens
    # more (a second at ARM's refill) for jitter: reads saturate while job ends and Azure
    # VM reads share the bucket, and with 5 tokens a mass failover still met 13-22 read
    # 429s on a busy 2-core machine; reads set no failover's pace.
    read_pace: tuple[float, float] | None = (225, 24.5)
    write_pace: tuple[float, float] | None = (196, 9.8)
    # A 429 means ARM did not process the request: re-send after Retry-After this often.
    throttle_retries: int = 3

    @property
    def cloud_endpoints(self) -> CloudEndpoints:
        try:
            return CLOUDS[self.cloud]
        except KeyError:
            raise ValueError(
                f"unknown cloud {self.cloud!r}; expected one of {', '.join(CLOUDS)}"
            ) from None

    @property
    def arm_endpoint(self) -> str:
        return (self.endpoint or self.cloud_endpoints.arm).rstrip("/")

    @property
    def authority(self) -> str:
        return (self.authority_host or self.cloud_endpoints.authority_host).rstrip("/")

    @property
    def custom_authority(self) -> bool:
        """True when the authority is not a public Azure AD cloud (skip instance discovery)."""
        return bool(self.authority_host) and self.authority not in {
            c.authority_host for c in CLOUDS.values()
        }

    @property
    def verify(self) -> str | bool:
        return self.ca_bundle or True
