"""Settings of the console process, read from the environment."""

from __future__ import annotations

from typing import Literal

from prokopim_kit.runtime import ServiceSettings
from pydantic import Field, model_validator

SERVICE_NAMES = ("intake", "scheduling", "production", "review", "publishing", "ledger")


class Settings(ServiceSettings):
    """Where the services are, how sessions and tokens are made, and the optional IdP.

    The console signs the short-lived tokens it sends to the services with the
    installation's JWT settings (JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE); with RS256
    verification (JWT_PUBLIC_KEY) it needs CONSOLE_JWT_PRIVATE_KEY to sign.
    """

    port: int = Field(default=8007, ge=1, le=65535, description="PORT (console: 8007)")
    intake_url: str = Field(default="http://127.0.0.1:8001", description="INTAKE_URL")
    scheduling_url: str = Field(default="http://127.0.0.1:8002", description="SCHEDULING_URL")
    production_url: str = Field(default="http://127.0.0.1:8003", description="PRODUCTION_URL")
    review_url: str = Field(default="http://127.0.0.1:8004", description="REVIEW_URL")
    publishing_url: str = Field(default="http://127.0.0.1:8005", description="PUBLISHING_URL")
    ledger_url: str = Field(default="http://127.0.0.1:8006", description="LEDGER_URL")
    console_jwt_private_key: str | None = Field(
        default=None, description="CONSOLE_JWT_PRIVATE_KEY: PEM key to sign RS256 user tokens"
    )
    console_token_ttl_seconds: int = Field(
        default=300, ge=30, le=3600, description="lifetime of a user token sent to a service"
    )
    console_session_secret: str | None = Field(
        default=None,
        description="CONSOLE_SESSION_SECRET signs cookies (derived from JWT_SECRET if unset)",
    )
    console_session_max_age_seconds: int = Field(
        default=8 * 3600, ge=60, description="how long a sign-in lasts (a working day)"
    )
    console_secure_cookies: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Secure cookie flag: auto = when the request came over https",
    )
    console_default_language: Literal["id", "en"] = Field(default="id")
    console_http_timeout_seconds: float = Field(default=15.0, gt=0)
    console_nats_url: str | None = Field(
        default=None, description="CONSOLE_NATS_URL for the live updates (NATS_URL if unset)"
    )
    console_nats_user: str | None = Field(default=None, description="CONSOLE_NATS_USER")
    console_nats_password: str | None = Field(default=None, description="CONSOLE_NATS_PASSWORD")
    console_live_wait_seconds: float = Field(
        default=5.0, gt=0, description="how long a live update waits for the ledger to catch up"
    )
    console_sse_clients: int = Field(default=500, ge=1, description="open live streams at most")
    oidc_issuer: str | None = Field(
        default=None, description="OIDC_ISSUER: the office IdP (enables SSO sign-in)"
    )
    oidc_client_id: str | None = Field(default=None)
    oidc_client_secret: str | None = Field(default=None)
    oidc_role_claim: str = Field(default="prokopim_role", description="claim naming the SOP role")
    oidc_scopes: str = Field(default="openid profile email")

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("OIDC_ISSUER is set but OIDC_CLIENT_ID is not")
        if self.jwt_public_key and not self.console_jwt_private_key:
            raise ValueError(
                "JWT_PUBLIC_KEY (RS256) is set: set CONSOLE_JWT_PRIVATE_KEY so the console"
                " can sign its users' tokens"
            )
        return self

    def service_urls(self) -> dict[str, str]:
        """Return each service's base URL, without a trailing slash."""
        return {name: str(getattr(self, f"{name}_url")).rstrip("/") for name in SERVICE_NAMES}
