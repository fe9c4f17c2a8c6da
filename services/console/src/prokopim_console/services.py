"""Calls to the services' HTTP APIs as the signed-in user, with a short-lived token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from prokopim_kit.auth import issue_token

from .accounts import User
from .config import Settings


class ServiceError(Exception):
    """A service refused a call (4xx/5xx): its status and the message a user can act on."""

    def __init__(self, service: str, status: int, body: Any) -> None:
        self.service, self.status, self.body = service, status, body
        super().__init__(f"{service}: {status} {self.message}")

    @property
    def message(self) -> str:
        body = self.body
        if isinstance(body, dict):
            # problem details (detail/title) or the kit's {"error", "message"}
            for key in ("detail", "message", "title"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value
                if isinstance(value, list):  # FastAPI validation errors
                    return "; ".join(
                        f"{'.'.join(map(str, e.get('loc', [])[1:]))}: {e.get('msg')}"
                        for e in value
                        if isinstance(e, dict)
                    )
        return str(body)[:500]


@dataclass
class Services:
    """One HTTP client for every service; tokens are minted per call for the caller."""

    settings: Settings
    http: httpx.AsyncClient

    @classmethod
    def create(cls, settings: Settings) -> Services:
        timeout = httpx.Timeout(settings.console_http_timeout_seconds)
        return cls(settings, httpx.AsyncClient(timeout=timeout))

    async def close(self) -> None:
        await self.http.aclose()

    def token(self, user: User) -> str:
        """Return a token naming the user and their SOP role, valid for a few minutes."""
        settings = self.settings
        rs256 = settings.console_jwt_private_key is not None
        key = settings.console_jwt_private_key if rs256 else settings.jwt_secret
        assert key is not None
        return issue_token(
            key,
            subject=user.name,
            role=user.role,
            name=user.display_name,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=timedelta(seconds=settings.console_token_ttl_seconds),
            algorithm="RS256" if rs256 else "HS256",
        )

    async def request(
        self,
        user: User,
        method: str,
        service: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        url = f"{self.settings.service_urls()[service]}{path}"
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self.http.request(
                method, url, json=json, params=clean, headers=headers
            )
        except httpx.HTTPError as error:  # down or restarting: say which, not a 500
            raise ServiceError(service, 503, f"{service} is not reachable ({error!r})") from error
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise ServiceError(service, response.status_code, body)
        return response

    async def get(self, user: User, service: str, path: str, **params: Any) -> Any:
        """GET JSON from a service, or raise ServiceError."""
        return (await self.request(user, "GET", service, path, params=params)).json()

    async def post(self, user: User, service: str, path: str, body: Any = None) -> Any:
        """POST JSON to a service, or raise ServiceError."""
        response = await self.request(user, "POST", service, path, json=body or {})
        return response.json() if response.content else {}
