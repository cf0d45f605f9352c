"""A fake Azure AD (Entra ID) token service and the bearer-token check ARM does.

Real `azure-identity` credentials talk to it: client secret, client assertion
(workload identity federation or a certificate-signed assertion) and the App
Service style managed-identity endpoint. Tokens are HMAC-signed JWT-shaped strings
that carry the principal, so throttling can be per principal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web

from asr_operator.sim.scenario import Credential

TOKEN_LIFETIME = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _looks_like_jwt(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 3 and all(parts[:2])


@dataclass
class TokenService:
    """Issues and verifies tokens for the scenario's credentials."""

    tenant_id: str
    credentials: list[Credential]
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def issue(self, principal: str) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": principal, "tid": self.tenant_id, "exp": int(time.time()) + TOKEN_LIFETIME}
        payload = _b64(json.dumps(claims).encode())
        sig = _b64(hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        return f"{header}.{payload}.{sig}"

    def verify(self, authorization: str | None) -> str | None:
        """The principal of a valid `Bearer` header, else None."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization[7:].strip()
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = _b64(
            hmac.new(self.key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        )
        if not hmac.compare_digest(expected, parts[2]):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        if int(claims.get("exp", 0)) < time.time():
            return None
        return str(claims.get("sub", ""))

    def _credential(self, client_id: str) -> Credential | None:
        for c in self.credentials:
            if c.client_id == client_id:
                return c
        return None

    def authenticate(self, form: dict[str, str]) -> tuple[str | None, str]:
        """(principal, "") on success, else (None, AADSTS error description)."""
        client_id = form.get("client_id", "")
        cred = self._credential(client_id)
        if cred is None:
            return None, (
                f"AADSTS700016: Application with identifier '{client_id}' was not found "
                f"in the directory '{self.tenant_id}'."
            )
        assertion = form.get("client_assertion", "")
        if assertion:
            if cred.federated and _looks_like_jwt(assertion):
                return client_id, ""
            return None, "AADSTS700027: Client assertion failed signature validation."
        secret = form.get("client_secret", "")
        if cred.secret and hmac.compare_digest(secret.encode(), cred.secret.encode()):
            return client_id, ""
        return None, (
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
            f"in the request is the client secret value, not the client secret ID, for a "
            f"secret added to app '{client_id}'."
        )


def add_routes(app: web.Application, tokens: TokenService) -> None:
    """Register the AAD v2 discovery, token and managed-identity routes."""

    async def openid_configuration(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        base = f"{request.scheme}://{request.host}/{tenant}"
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "tenant_region_scope": "EU",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
            }
        )

    async def token(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        principal, error = tokens.authenticate(form)
        if principal is None:
            return web.json_response(
                {
                    "error": "invalid_client",
                    "error_description": error,
                    "error_codes": [int(error.removeprefix("AADSTS").split(":")[0])],
                },
                status=401,
            )
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": tokens.issue(principal),
            }
        )

    async def managed_identity(request: web.Request) -> web.Response:
        if not request.headers.get("X-IDENTITY-HEADER"):
            return web.json_response({"error": "missing X-IDENTITY-HEADER"}, status=400)
        principal = request.query.get("client_id") or "managed-identity"
        return web.json_response(
            {
                "access_token": tokens.issue(principal),
                "expires_on": str(int(time.time()) + TOKEN_LIFETIME),
                "resource": request.query.get("resource", ""),
                "token_type": "Bearer",
                "client_id": principal,
            }
        )

    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", token)
    app.router.add_get("/msi/token", managed_identity)
