"""Unit tests: the job-id parser (reference 2.2/2.6), error classification, defensive reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl

from asr_operator.azure import AsrConfig, AuthConfig, AuthType, build_credential, errors
from asr_operator.azure.job_ids import job_name_from_headers, job_name_from_url
from asr_operator.azure.observe import (
    field_of,
    item_from_sdk,
    job_from_sdk,
    parse_time,
    target_settings,
)
from asr_operator.lifecycle.observed import JobState

VAULT = (
    "https://management.azure.com/Subscriptions/sub/resourceGroups/rg/providers/"
    "Microsoft.RecoveryServices/vaults/v"
)
JOB = "7588f427-1f0e-4b2c-9e47-f8a1c8f1d2f0"
SIGNED = "&t=638000000000000000&c=MIIB...&s=abc%2Fdef&h=xyz"


@pytest.mark.parametrize(
    "headers",
    [
        {
            "Azure-AsyncOperation": f"{VAULT}/replicationOperationStatus/{JOB}"
            f"?api-version=2024-10-01{SIGNED}"
        },
        {"azure-asyncoperation": f"{VAULT}/replicationJobs/{JOB}?api-version=2018-07-10"},
        {
            "Location": f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/"
            f"replicationProtectedItems/i/operationresults/{JOB}?api-version=2025-08-01"
        },
        {
            "x-ms-request-id": f"/Subscriptions/sub/resourceGroups/rg/providers/Microsoft."
            f"RecoveryServices/vaults/v/replicationJobs/{JOB}, "
            f"/Subscriptions/x/replicationJobs/{JOB}"
        },
        {
            "Azure-AsyncOperation": f"{VAULT}/replicationJobs/None?api-version=1",
            "Location": f"{VAULT}/replicationRecoveryPlans/p/operationresults/{JOB}",
        },
    ],
)
def test_job_name_from_headers(headers: dict[str, str]) -> None:
    assert job_name_from_headers(headers) == JOB


def test_job_name_absent() -> None:
    assert job_name_from_headers({}) is None
    assert job_name_from_headers({"Location": f"{VAULT}/replicationJobs/None"}) is None
    assert job_name_from_url("/Subscriptions/s/replicationJobs/None") is None
    assert job_name_from_url(f"/subscriptions/s/REPLICATIONJOBS/{JOB}") == JOB


def _http_error(status: int, body: str, headers: dict[str, str] | None = None) -> HttpResponseError:
    class _Resp(HttpResponseImpl):
        pass

    response = _Resp(
        request=HttpRequest("POST", "https://x/y?sig=SECRET"),
        internal_response=None,
        status_code=status,
        reason="reason",
        content_type="application/json",
        headers=headers or {},
        stream_download_generator=None,
    )
    response._content = body.encode()
    return HttpResponseError(response=response)


def _asr_error(code: str, message: str) -> str:
    return (
        '{"error":{"code":"' + code + '","message":"' + message + '",'
        '"possibleCauses":"why","recommendedAction":"do this"}}'
    )


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (429, _asr_error("TooManyRequests", "slow down"), errors.Throttled),
        (409, _asr_error("28133", "Another operation is in progress"), errors.Conflict),
        (400, _asr_error("28127", "The operation 'Commit' is not allowed"), errors.NotAllowed),
        (400, _asr_error("539", "Failover isn't allowed now"), errors.NotAllowed),
        (400, _asr_error("28004", "Bad input"), errors.Permanent),
        (404, _asr_error("NotFound", "gone"), errors.NotFound),
        (401, _asr_error("AuthenticationFailed", "who"), errors.AuthFailed),
        (403, _asr_error("AuthorizationFailed", "no"), errors.AuthFailed),
        (500, _asr_error("InternalServerError", "oops"), errors.Transient),
        (503, "not json", errors.Transient),
        (408, "", errors.Transient),
    ],
)
def test_classify_http_errors(status: int, body: str, cls: type[errors.AsrError]) -> None:
    err = errors.classify(_http_error(status, body, {"Retry-After": "7"}))
    assert type(err) is cls
    assert err.status == status
    assert "SECRET" not in str(err)
    if cls is errors.Throttled:
        assert isinstance(err, errors.Throttled) and err.retry_after == 7
    if body.startswith("{"):
        assert err.possible_causes == "why" and err.recommended_action == "do this"


def test_error_kinds_are_the_lifecycle_refusals() -> None:
    from asr_operator.lifecycle.steps import Refusal

    assert errors.OutcomeUnknown("x").kind == Refusal.UNANSWERED
    assert errors.Throttled("x", retry_after=1).kind == Refusal.THROTTLED
    kinds = {c.kind for c in errors.AsrError.__subclasses__()} | {errors.OutcomeUnknown.kind}
    assert kinds == set(Refusal)


def test_classify_transport_and_auth_errors() -> None:
    assert type(errors.classify(ServiceRequestError("refused"))) is errors.Transient
    assert type(errors.classify(ServiceResponseError("reset"))) is errors.Transient
    assert type(errors.classify(TimeoutError())) is errors.Transient
    err = errors.classify(ClientAuthenticationError("AADSTS7000215: Invalid client secret"))
    assert type(err) is errors.AuthFailed and "AADSTS7000215" in str(err)
    assert issubclass(errors.OutcomeUnknown, errors.Transient)


def test_classify_entra_id_refusal_keeps_its_reason() -> None:
    """Entra ID's 401 has no ARM error body: the AADSTS line says what to fix."""
    aad = _http_error(401, '{"error": "invalid_client", "error_description": "AADSTS7000215"}')
    exc = ClientAuthenticationError(
        message="Microsoft Entra ID error '(invalid_client) AADSTS7000215: Invalid client "
        "secret provided.'\nContent: {...}",
        response=aad.response,
    )
    err = errors.classify(exc)
    assert type(err) is errors.AuthFailed and err.status == 401
    assert "AADSTS7000215: Invalid client secret provided" in str(err)
    assert "Content" not in str(err)


def test_parse_time_handles_dotnet_precision_and_sentinels() -> None:
    assert parse_time("2026-01-10T13:31:58.9527784Z") == datetime(
        2026, 1, 10, 13, 31, 58, 952778, tzinfo=UTC
    )
    assert parse_time("2026-01-10T13:31:58") == datetime(2026, 1, 10, 13, 31, 58, tzinfo=UTC)
    for unset in ("0001-01-01T00:00:00", "1601-01-01T00:00:00.0000000Z", "1753-01-01T01:01:01Z"):
        assert parse_time(unset) is None
    assert parse_time("garbage") is None and parse_time(None) is None


def test_field_reads_fall_back_to_other_casing() -> None:
    old_service: dict[str, Any] = {
        "recoveryAzureVMName": "web-01",
        "recoveryAzureVMSize": "Standard_D2s_v3",
        "useManagedDisks": "False",
        "vmNics": [
            {
                "nicId": "n1",
                "ipConfigs": [{"isPrimary": True, "RecoverySubnetName": "app"}],
            },
            {"nicId": "n2", "replicaNicStaticIPAddress": "10.0.0.9", "recoveryVMSubnetName": "db"},
        ],
    }
    t = target_settings(old_service)
    assert (t.vm_name, t.size, t.use_managed_disks) == ("web-01", "Standard_D2s_v3", False)
    assert [(n.nic_id, n.subnet, n.static_ip) for n in t.nics] == [
        ("n1", "app", ""),
        ("n2", "db", "10.0.0.9"),
    ]
    assert field_of({"A": 1}, "a") == 1 and field_of(None, "a") is None


def test_item_from_2017_shaped_body() -> None:
    body = {
        "id": "/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/"
        "replicationFabrics/site/replicationProtectionContainers/cloud_1/replicationProtectedItems/vm",
        "name": "vm",
        "properties": {
            "friendlyName": "VM1",
            "protectionState": "Protected",
            "activeLocation": "Primary",
            "allowedOperations": ["PlannedFailover"],
            "replicationHealthErrors": [{"errorCode": "1", "errorMessage": "m"}],
            "currentScenario": {
                "scenarioName": "PlannedFailover",
                "jobId": f"/Subscriptions/s/replicationJobs/{JOB}",
                "startTime": "2017-09-01T00:00:00Z",
            },
            "providerSpecificDetails": {"instanceType": "HyperVReplicaAzure", "rpoInSeconds": 12},
        },
    }
    it = item_from_sdk(body)
    assert (it.fabric, it.container, it.friendly_name) == ("site", "cloud_1", "VM1")
    assert it.current_scenario == "PlannedFailover" and it.current_job_name == JOB
    assert it.rpo_seconds == 12 and [e.code for e in it.health_errors] == ["1"]


def _child_task(vm: str, vm_id: str, state: str, errors: list[Any]) -> dict[str, Any]:
    """A JobTaskDetails child task as reference 4.2 describes it (values invented)."""
    return {
        "taskId": f"{vm}-start",
        "name": "VmFoStartVmOnSecondary",
        "startTime": "2026-01-10T13:40:00.1234567Z",
        "endTime": "2026-01-10T13:41:00.1234567Z",
        "allowedActions": [],
        "friendlyName": f"Start the replica virtual machine ({vm})",
        "state": state,
        "stateDescription": "Failed" if errors else "Completed",
        "taskType": "JobTaskDetails",
        "customDetails": {
            "instanceType": "JobTaskDetails",
            "jobTask": {
                "jobId": "/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/"
                f"vaults/v/replicationJobs/{vm}-job",
                "jobFriendlyName": "Planned failover",
                "targetObjectId": vm_id,
                "targetObjectName": vm,
                "targetInstanceType": "ProtectionEntity",
                "jobScenarioName": "PlannedFailover",
            },
        },
        "groupTaskCustomDetails": None,
        "errors": errors,
    }


def test_plan_job_child_tasks_parse_through_the_sdk_model() -> None:
    from azure.mgmt.recoveryservicessiterecovery import models as m
    from azure.mgmt.recoveryservicessiterecovery._utils.model_base import _deserialize

    provider_error = {
        "serviceErrorDetails": None,
        "providerErrorDetails": {
            "errorCode": 70094,
            "errorMessage": "The VM did not start.",
            "errorId": "e1",
            "possibleCauses": "Boot failure.",
            "recommendedAction": "Check the VM's boot diagnostics.",
        },
        "errorLevel": "Error",
        "creationTime": "2026-01-10T13:41:00Z",
        "taskId": "db01-start",
    }
    body = {
        "id": f"/Subscriptions/s/replicationJobs/{JOB}",
        "name": JOB,
        "properties": {
            "scenarioName": "PlannedFailover",
            "state": "Failed",
            "tasks": [
                {
                    "taskId": "BootGroupTask",
                    "name": "Group1",
                    "friendlyName": "Group 1: Start virtual machines",
                    "state": "Failed",
                    "taskType": "TaskDetails",
                    "customDetails": {"instanceType": "TaskDetails"},
                    "groupTaskCustomDetails": {
                        "instanceType": "RecoveryPlanGroupTaskDetails",
                        "name": "Boot 1",
                        "groupId": "1",
                        "rpGroupType": "Boot",
                        "childTasks": [
                            _child_task("db01", "vm-guid-1", "Failed", [provider_error]),
                            _child_task("web01", "vm-guid-2", "Succeeded", []),
                        ],
                    },
                    "errors": [],
                }
            ],
            "errors": [],
        },
    }
    for model in (body, _deserialize(m.Job, body)):
        job = job_from_sdk(model)
        (group,) = job.tasks
        assert group.group == "Boot 1" and group.target_name == "" and group.errors == ()
        db, web = group.children
        assert (db.target_name, db.target_id, db.state) == ("db01", "vm-guid-1", JobState.FAILED)
        assert db.name == "VmFoStartVmOnSecondary" and db.children == ()
        (err,) = db.errors
        assert (err.code, err.message) == ("70094", "The VM did not start.")
        assert err.recommended_action == "Check the VM's boot diagnostics."
        assert (web.target_name, web.state, web.errors) == ("web01", JobState.SUCCEEDED, ())


def test_config_endpoints_and_authority() -> None:
    auth = AuthConfig(type=AuthType.CLIENT_SECRET, tenant_id="t", client_id="c", client_secret="s")
    public = AsrConfig("sub", "rg", "v", auth)
    assert public.arm_endpoint == "https://management.azure.com"
    assert public.authority == "https://login.microsoftonline.com"
    assert not public.custom_authority and public.verify is True
    china = AsrConfig("sub", "rg", "v", auth, cloud="AzureChinaCloud")
    assert china.cloud_endpoints.scope == "https://management.chinacloudapi.cn/.default"
    sim = AsrConfig(
        "sub",
        "rg",
        "v",
        auth,
        endpoint="https://127.0.0.1:8443/",
        authority_host="https://127.0.0.1:8443",
        ca_bundle="certs/ca.pem",
    )
    assert sim.arm_endpoint == "https://127.0.0.1:8443" and sim.custom_authority
    assert sim.verify == "certs/ca.pem"
    with pytest.raises(ValueError, match="unknown cloud"):
        _ = AsrConfig("sub", "rg", "v", auth, cloud="Mars").arm_endpoint
    assert "'s'" not in repr(sim)


def test_incomplete_credentials_are_refused() -> None:
    cfg = AsrConfig("sub", "rg", "v", AuthConfig(type=AuthType.CLIENT_SECRET, tenant_id="t"))
    with pytest.raises(ValueError, match="incomplete"):
        build_credential(cfg)


def _in(seconds: int) -> str:
    """An HTTP-date `seconds` from now, as a server writes Retry-After."""
    from email.utils import formatdate

    return formatdate(datetime.now(UTC).timestamp() + seconds, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        ({"Retry-After": "7"}, 7, 7),
        ({"retry-after": "2.5"}, 2.5, 2.5),
        ({"retry-after-ms": "1500"}, 1.5, 1.5),
        ({"x-ms-retry-after-ms": "250"}, 0.25, 0.25),
        ({"Retry-After": "3", "retry-after-ms": "9000"}, 3, 3),  # seconds win, as azure-core
        (lambda: {"Retry-After": _in(120)}, 100, 120),  # an HTTP-date, made when the test runs
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0, 0),  # a date past: no wait
        ({"Retry-After": "-4"}, 0, 0),
        ({"Retry-After": "soon"}, 5, 5),  # malformed: the default
        ({}, 5, 5),
    ],
)
def test_throttled_waits_as_the_retry_headers_say(
    headers: dict[str, str] | Callable[[], dict[str, str]], low: float, high: float
) -> None:
    sent = headers() if callable(headers) else headers
    err = errors.classify(_http_error(429, _asr_error("TooManyRequests", "slow"), sent))
    assert isinstance(err, errors.Throttled)
    assert low <= err.retry_after <= high
