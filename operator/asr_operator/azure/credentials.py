"""azure-identity async credentials built from an AuthConfig."""

from __future__ import annotations

from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import (
    CertificateCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from asr_operator.azure.config import AsrConfig, AuthType
from asr_operator.azure.transport import transport_kwargs


def build_credential(config: AsrConfig) -> AsyncTokenCredential:
    """The credential for `config.auth`, trusting `config.ca_bundle` and its authority."""
    auth = config.auth
    common: dict[str, Any] = {"authority": config.authority, **transport_kwargs(config.ca_bundle)}
    if config.custom_authority:
        # msal would otherwise ask login.microsoftonline.com about an unknown authority.
        common["disable_instance_discovery"] = True
    if auth.type == AuthType.CLIENT_SECRET:
        _require(
            auth.tenant_id and auth.client_id and auth.client_secret, "tenant, client id, secret"
        )
        return ClientSecretCredential(auth.tenant_id, auth.client_id, auth.client_secret, **common)
    if auth.type == AuthType.CLIENT_CERTIFICATE:
        _require(
            auth.tenant_id and auth.client_id and auth.certificate_pem, "tenant, client id, cert"
        )
        return CertificateCredential(
            auth.tenant_id,
            auth.client_id,
            certificate_data=auth.certificate_pem,
            password=auth.certificate_password or None,
            **common,
        )
    if auth.type == AuthType.WORKLOAD_IDENTITY:
        kwargs: dict[str, Any] = dict(common)
        if auth.tenant_id:
            kwargs["tenant_id"] = auth.tenant_id
        if auth.client_id:
            kwargs["client_id"] = auth.client_id
        if auth.federated_token_file:
            kwargs["token_file_path"] = auth.federated_token_file
        return WorkloadIdentityCredential(**kwargs)
    if auth.type == AuthType.MANAGED_IDENTITY:
        return ManagedIdentityCredential(
            client_id=auth.client_id or None, **transport_kwargs(config.ca_bundle)
        )
    raise ValueError(f"unsupported authentication type {auth.type!r}")


def _require(ok: object, what: str) -> None:
    if not ok:
        raise ValueError(f"authentication is incomplete: need {what}")
