"""Building blocks shared by every resource: the base model, enums, references, durations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict
from pydantic_core import core_schema

from asr_operator.api.cel import Checked, FieldRule, cel_string, checked, matches

GROUP = "asr-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# "90s", "15m", "2h", "1h30m": the only duration syntax the CRDs accept. Each part has few
# enough digits that no duration overflows (Go's time.Duration ends near 2,562,047h), so
# CEL's duration() never fails on an admitted value.
DURATION_PATTERN = (
    r"^([0-9]{1,4}h([0-9]{1,6}m)?([0-9]{1,7}s)?|[0-9]{1,6}m([0-9]{1,7}s)?|[0-9]{1,7}s)$"
)
_DURATION_PARTS = re.compile(r"^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
DURATION_MAX_LENGTH = 20  # 9999h999999m9999999s
DURATION_SYNTAX = matches(DURATION_PATTERN, "must be a duration such as 90s, 15m, 2h or 1h30m")


def parse_duration(text: str) -> timedelta:
    """Parse a CRD duration; the schema already refused anything else."""
    m = _DURATION_PARTS.fullmatch(text)
    if not DURATION_SYNTAX.holds(text) or m is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 1h30m)")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return timedelta(hours=h, minutes=mi, seconds=s)


def duration_rules(minimum: str, maximum: str) -> Checked:
    """A duration's syntax and its bounds, as CEL and in Python; both messages name the
    bounds (a value too long to parse, such as 99999999h, fails the syntax)."""
    low, high = parse_duration(minimum), parse_duration(maximum)
    syntax = matches(
        DURATION_PATTERN,
        f"must be a duration from {minimum} to {maximum}, written like 90s, 15m, 2h or 1h30m",
    )
    bounds = FieldRule(
        f"!{syntax.rule} || (duration(self) >= duration({cel_string(minimum)}) && "
        f"duration(self) <= duration({cel_string(maximum)}))",
        f"must be from {minimum} to {maximum}",
        lambda v: not syntax.holds(v) or low <= parse_duration(v) <= high,
    )
    return checked(syntax, bounds)


GUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_GUID = GUID_PATTERN[1:-1]

# Kubernetes object names (Secrets, SiteRecoveryVaults): RFC 1123 subdomains.
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

# A name the vault gives a Hyper-V host (hyperVHosts[].name), and how fields refer to it.
HOST_NAME_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
# One segment of an ARM path (fabric, container, item name): no separators, no spaces.
PATH_SEGMENT_PATTERN = r"^[^/?#%\s]+$"
# Hyper-V caps VM names at 100 characters; ASR's friendlyName is the VM name.
VM_NAME_MAX_LENGTH = 100


def list_map(*keys: str) -> JsonDict:
    """Schema keys making a list a map by `keys`: the API server refuses a repeated key
    ("Duplicate value") instead of a later item silently replacing an earlier one."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


# ARM resource ids, by the shape of each kind. ARM compares ids case-insensitively (ASR
# answers /Subscriptions/...), so the fixed segments match in any case; names follow
# Azure's naming rules (ASCII letters only).
_SUBSCRIPTION = rf"/(?i:subscriptions)/{_GUID}"
_RESOURCE_GROUP = r"/(?i:resourceGroups)/[-A-Za-z0-9_.()]{0,89}[-A-Za-z0-9_()]"
ARM_ID_MAX_LENGTH = 512
RESOURCE_GROUP_ID = matches(
    rf"^{_SUBSCRIPTION}{_RESOURCE_GROUP}$",
    "must be a resource group id: /subscriptions/<subscription id>/resourceGroups/<name>",
)
VIRTUAL_NETWORK_ID = matches(
    rf"^{_SUBSCRIPTION}{_RESOURCE_GROUP}/providers/(?i:Microsoft\.Network/virtualNetworks)/"
    r"[A-Za-z0-9][-A-Za-z0-9_.]{0,62}[A-Za-z0-9_]$",
    "must be a virtual network id: /subscriptions/<subscription id>/resourceGroups/<group>/"
    "providers/Microsoft.Network/virtualNetworks/<name>",
)
AVAILABILITY_SET_ID = matches(
    rf"^({_SUBSCRIPTION}{_RESOURCE_GROUP}/providers/(?i:Microsoft\.Compute/availabilitySets)/"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,78}[A-Za-z0-9_])?)?$",
    "must be empty or an availability set id: /subscriptions/<subscription id>/"
    "resourceGroups/<group>/providers/Microsoft.Compute/availabilitySets/<name>",
)


@dataclass(frozen=True)
class Clipped:
    """Bounds a status string (characters) or list (items) that comes from outside the
    operator: ASR's and Azure's answers, WinRM's, an exception's text. A longer value is cut
    to `limit` rather than refused, so an over-long answer never stops a status write; the
    schema carries the bound (`maxLength`, `maxItems`) for the API server."""

    limit: int

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # A str or list core schema; both carry the bound as max_length.
        inner: dict[str, Any] = {**handler(source), "max_length": self.limit}
        return core_schema.no_info_before_validator_function(
            self._clip, cast(core_schema.CoreSchema, inner)
        )

    def _clip(self, value: Any) -> Any:
        return value[: self.limit] if isinstance(value, str | list) else value


# The status' bounds: names, states and ids ASR or Azure report; ARM resource ids (an
# item's id runs to about 700 characters); one line of text; a message for people.
NAME_MAX_LENGTH, TEXT_MAX_LENGTH, MESSAGE_MAX_LENGTH = 256, 1024, 4096
StatusName = Annotated[str, Clipped(NAME_MAX_LENGTH)]
StatusArmId = Annotated[str, Clipped(2048)]
StatusText = Annotated[str, Clipped(TEXT_MAX_LENGTH)]
StatusMessage = Annotated[str, Clipped(MESSAGE_MAX_LENGTH)]


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error. A field's
    docstring is its description in the CRD (what `kubectl explain` shows)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
        validate_default=True,
        use_attribute_docstrings=True,
    )

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def refusal(error: ValidationError, root: str = "spec") -> str:
    """A model's refusal naming each field by its path in the object, as admission does."""
    parts = []
    for e in error.errors():
        path = root
        for item in e["loc"]:
            path += f"[{item}]" if isinstance(item, int) else f".{item}"
        parts.append(f"{path}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


class LocalObjectReference(ApiModel):
    """An object in the same namespace, by name."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)
    """The object's name."""


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


RECOVERY_POINT_KEYWORDS = "Latest, LatestProcessed or LatestApplicationConsistent"
_KEYWORDS = "|".join(k.value for k in RecoveryPointKind)
# A keyword, spelled exactly, or the name of one recovery point: ASR names them by GUID.
RECOVERY_POINT = matches(
    rf"^({_KEYWORDS}|{_GUID})$",
    f"must be {RECOVERY_POINT_KEYWORDS} (spelled exactly so), or the name of one of "
    "the item's recovery points: a GUID such as 0689d0d0-3518-4793-8c98-c26bf94526f6",
)
RECOVERY_POINT_KEYWORD = matches(
    rf"^({_KEYWORDS})$",
    f"must be {RECOVERY_POINT_KEYWORDS} (spelled exactly so); a named recovery point "
    "is only allowed on a ProtectedVM",
)


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
