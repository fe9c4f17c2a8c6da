"""Bearer tokens: who is acting, and in which SOP role.

The actor comes only from a verified JWT, never from a request body. Issuer, audience and
key are configurable so an office's identity provider can issue the tokens; HS256 with a
shared secret is the default, and a PEM public key switches verification to RS256.

A token is refused (401, with `WWW-Authenticate: Bearer`, RFC 6750) when it is missing,
badly signed, expired, of another issuer or audience, names no subject, or expires further
ahead than JWT_MAX_LIFETIME_SECONDS; a valid token whose role no installed SOP has is
refused with 403 on every route.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
import jwt.algorithms
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prokopim_events.envelope import Actor
from prokopim_sop import SopCatalog
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from .errors import Unauthenticated, UnknownRole
from .text import problem_in

_MIN_SECRET_LENGTH = 32
_MIN_DISTINCT_CHARACTERS = 6
# Words of the placeholders that templates and tutorials ship ("change-me-...", jwt.io's
# "your-256-bit-secret"); compared with separators removed and in lower case.
_PLACEHOLDER_WORDS = (
    "changeme",
    "changethis",
    "replaceme",
    "replacethis",
    "placeholder",
    "yoursecret",
    "your256bitsecret",
    "example",
    "insecure",
    "notasecret",
    "dummy",
    "xxxxxxxx",
)


def secret_problem(secret: str | None) -> str | None:
    """Return why a JWT_SECRET is unsafe, or None when it will do."""
    if not secret:
        return "JWT_SECRET is not set (or set JWT_PUBLIC_KEY to verify RS256 tokens)"
    if len(secret) < _MIN_SECRET_LENGTH:
        return (
            f"JWT_SECRET is {len(secret)} characters long; use at least {_MIN_SECRET_LENGTH}"
            " random ones, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(40))'`"
        )
    plain = "".join(ch for ch in secret.lower() if ch.isalnum())
    word = next((w for w in _PLACEHOLDER_WORDS if w in plain), None)
    if word is not None:
        return f"JWT_SECRET looks like a placeholder ({word!r}): set a random secret"
    if len(set(secret)) < _MIN_DISTINCT_CHARACTERS:
        return "JWT_SECRET repeats too few characters to be random: set a random secret"
    return None


def public_key_problem(key: str) -> str | None:
    """Return why a JWT_PUBLIC_KEY cannot verify RS256 tokens, or None."""
    if not jwt.algorithms.has_crypto:
        return "JWT_PUBLIC_KEY needs the 'cryptography' package (pyjwt[crypto]), not installed"
    from jwt.algorithms import RSAAlgorithm

    try:
        RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(key)
    except Exception as error:
        return f"JWT_PUBLIC_KEY is not a PEM RSA public key: {error}"
    return None


class AuthSettings(BaseSettings):
    """Token verification settings (env: JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, ...)."""

    jwt_secret: str | None = Field(default=None, description="HS256 shared secret")
    jwt_public_key: str | None = Field(default=None, description="RS256 public key (PEM)")
    jwt_issuer: str = Field(
        default="prokopim", min_length=1, description="JWT_ISSUER: `iss` of this installation"
    )
    jwt_audience: str = Field(
        default="prokopim", min_length=1, description="JWT_AUDIENCE: `aud` of this installation"
    )
    jwt_max_lifetime_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description="JWT_MAX_LIFETIME_SECONDS: a token expiring further ahead is refused",
    )

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> AuthSettings:
        if self.jwt_public_key and self.jwt_secret:
            problem: str | None = "set JWT_SECRET or JWT_PUBLIC_KEY, not both"
        elif self.jwt_public_key:
            problem = public_key_problem(self.jwt_public_key)
        else:
            problem = secret_problem(self.jwt_secret)
        if problem:
            raise ValueError(problem)
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
    algorithm: str = "HS256",
) -> str:
    """Issue a token for local demos and tests: HS256 with a secret, or RS256 with a PEM
    private key (`algorithm="RS256"`)."""
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
    return jwt.encode(claims, secret, algorithm=algorithm)


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
        raise Unauthenticated(f"invalid bearer token: {error}", invalid_token=True) from error
    subject, role, name = claims.get("sub"), claims.get("role"), claims.get("name")
    if not isinstance(subject, str) or not subject.strip() or not _printable(subject):
        raise Unauthenticated("the bearer token names no subject ('sub')", invalid_token=True)
    if not isinstance(role, str) or not role or not _printable(role):
        raise Unauthenticated("the bearer token carries no 'role' claim", invalid_token=True)
    if name is not None and (not isinstance(name, str) or not _printable(name)):
        raise Unauthenticated("the bearer token's 'name' is not text", invalid_token=True)
    ahead = float(claims["exp"]) - datetime.now(UTC).timestamp()
    if ahead > settings.jwt_max_lifetime_seconds:
        raise Unauthenticated(
            f"the bearer token expires {int(ahead)} s ahead, more than the"
            f" {settings.jwt_max_lifetime_seconds} s allowed (JWT_MAX_LIFETIME_SECONDS)",
            invalid_token=True,
        )
    return Actor(id=subject, role=role, name=name)


def _printable(text: str) -> bool:
    return len(text) <= 256 and problem_in(text, multiline=False) is None


def installed_roles(catalog: SopCatalog) -> frozenset[str]:
    """Return every role of every installed SOP version."""
    return frozenset(
        role.id
        for sop_id in catalog.ids
        for version in catalog.versions(sop_id)
        for role in catalog.get(sop_id, version).roles
    )


def _known_roles(request: Request) -> frozenset[str] | None:
    state = request.app.state
    roles: frozenset[str] | None = getattr(state, "known_roles", None)
    if roles is None:
        runtime = getattr(state, "runtime", None)
        if runtime is None:
            return None
        roles = state.known_roles = installed_roles(runtime.catalog)
    return roles


_bearer = HTTPBearer(auto_error=False, description="a JWT naming `sub` and an SOP `role`")


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """FastAPI dependency: the verified actor of this request (401 when there is none)."""
    if credentials is None:
        raise Unauthenticated("a bearer token is required (Authorization: Bearer ...)")
    settings: AuthSettings = request.app.state.auth
    actor = verify_token(settings, credentials.credentials)
    roles = _known_roles(request)
    if roles is not None and actor.role not in roles:
        raise UnknownRole(actor.role)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
