"""Building blocks shared by every resource: the base model, enums, references, durations."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "asr-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# "90s", "15m", "2h", "1h30m": the only duration syntax the CRDs accept.
DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
_DURATION_RE = re.compile(DURATION_PATTERN)

Duration = Annotated[str, Field(pattern=DURATION_PATTERN, min_length=2)]


def parse_duration(text: str) -> timedelta:
    """Parse a CRD duration; the schema already refused anything else."""
    m = _DURATION_RE.fullmatch(text)
    if not text or m is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 1h30m)")
    h, mi, s = (int(g[:-1]) if g else 0 for g in m.groups())
    return timedelta(hours=h, minutes=mi, seconds=s)


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
        validate_default=True,
    )

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class LocalObjectReference(ApiModel):
    name: str = Field(min_length=1, max_length=253)


class Site(StrEnum):
    ON_PREMISES = "OnPremises"
    AZURE = "Azure"


class FailoverType(StrEnum):
    PLANNED = "Planned"
    UNPLANNED = "Unplanned"


class RecoveryPointKind(StrEnum):
    """The named choices; a ProtectedVM may also name one recovery point exactly."""

    LATEST = "Latest"
    LATEST_PROCESSED = "LatestProcessed"
    LATEST_APPLICATION_CONSISTENT = "LatestApplicationConsistent"


class CommitMode(StrEnum):
    MANUAL = "Manual"
    AUTOMATIC = "Automatic"


class DataSync(StrEnum):
    """Failback data synchronization; ASR calls these ForDownTime and ForSynchronization."""

    BEFORE_FAILOVER = "BeforeFailover"
    DURING_FAILOVER = "DuringFailover"

    @property
    def asr_value(self) -> str:
        return "ForDownTime" if self is DataSync.BEFORE_FAILOVER else "ForSynchronization"


class ReverseReplication(StrEnum):
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"


class ManagementPolicy(StrEnum):
    FULL = "Full"
    OBSERVE_ONLY = "ObserveOnly"


class Cloud(StrEnum):
    PUBLIC = "AzurePublicCloud"
    CHINA = "AzureChinaCloud"
    US_GOVERNMENT = "AzureUSGovernment"


class AuthType(StrEnum):
    WORKLOAD_IDENTITY = "WorkloadIdentity"
    MANAGED_IDENTITY = "ManagedIdentity"
    CLIENT_SECRET = "ClientSecret"
    CLIENT_CERTIFICATE = "ClientCertificate"


class WinRMTransport(StrEnum):
    NTLM = "ntlm"
    KERBEROS = "kerberos"
    CREDSSP = "credssp"
    BASIC = "basic"


class WinRMScheme(StrEnum):
    HTTPS = "https"
    HTTP = "http"
