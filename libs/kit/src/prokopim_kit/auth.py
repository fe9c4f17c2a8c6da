"""Bearer tokens: who is acting, and in which SOP role.

The actor comes only from a verified JWT, never from a request body. Issuer, audience and
key are configurable so an office's identity provider can issue the tokens; HS256 with a
shared secret is the default, and a PEM public key switches verification to RS256.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prokopim_events.envelope import Actor
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from .errors import Unauthenticated

_MIN_SECRET_LENGTH = 32


class AuthSettings(BaseSettings):
    """Token verification settings (env: JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, ...)."""

    jwt_secret: str | None = Field(default=None, description="HS256 shared secret")
    jwt_public_key: str | None = Field(default=None, description="RS256 public key (PEM)")
    jwt_issuer: str = "prokopim"
    jwt_audience: str = "prokopim"

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> AuthSettings:
        if self.jwt_public_key:
            return self
        if not self.jwt_secret or len(self.jwt_secret) < _MIN_SECRET_LENGTH:
            raise ValueError(
                f"JWT_SECRET must be set to at least {_MIN_SECRET_LENGTH} characters"
                " (or JWT_PUBLIC_KEY for RS256)"
            )
        return self

    @property
    def algorithm(self) -> str:
        return "RS256" if self.jwt_public_key else "HS256"

    @property
    def verification_key(self) -> str:
        key = self.jwt_public_key or self.jwt_secret
        assert key is not None
        return key


def issue_token(
    secret: str,
    *,
    subject: str,
    role: str,
    name: str | None = None,
    issuer: str = "prokopim",
    audience: str = "prokopim",
    ttl: timedelta = timedelta(hours=8),
) -> str:
    """Issue an HS256 token for local demos and tests."""
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "role": role,
        "name": name or subject,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(settings: AuthSettings, token: str) -> Actor:
    """Return the actor a token names, or raise Unauthenticated saying why."""
    try:
        claims = jwt.decode(
            token,
            settings.verification_key,
            algorithms=[settings.algorithm],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["sub", "exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"invalid bearer token: {error}") from error
    role = claims.get("role")
    if not isinstance(role, str) or not role:
        raise Unauthenticated("the bearer token carries no 'role' claim")
    return Actor(id=str(claims["sub"]), role=role, name=claims.get("name"))


_bearer = HTTPBearer(auto_error=False)


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """FastAPI dependency: the verified actor of this request (401 when there is none)."""
    if credentials is None:
        raise Unauthenticated("a bearer token is required (Authorization: Bearer ...)")
    settings: AuthSettings = request.app.state.auth
    return verify_token(settings, credentials.credentials)


CurrentActor = Annotated[Actor, Depends(current_actor)]
