"""Signed session cookies and CSRF tokens.

The session is a signed, time-limited cookie (itsdangerous) holding who signed in, their
role and a CSRF token: HttpOnly, SameSite=Lax, Secure when the request came over TLS (or
always/never, CONSOLE_SECURE_COOKIES). Every form POST carries the CSRF token (a hidden
field, or the X-CSRF-Token header HTMX sends) and is refused without it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .accounts import User
from .config import Settings

SESSION_COOKIE = "prokopim_session"
PRE_CSRF_COOKIE = "prokopim_csrf"  # double-submit token of the sign-in form
LANG_COOKIE = "prokopim_lang"


class CsrfRejected(Exception):
    """A form arrived without the session's CSRF token."""


def session_secret(settings: Settings) -> str:
    """Return the key that signs cookies: its own setting, or derived from JWT_SECRET."""
    if settings.console_session_secret:
        return settings.console_session_secret
    base = settings.jwt_secret or settings.console_jwt_private_key or ""
    return hmac.new(base.encode(), b"prokopim-console-session", hashlib.sha256).hexdigest()


class Sessions:
    """Reads and writes the session cookie of a request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._signer = URLSafeTimedSerializer(session_secret(settings), salt="session")

    def secure(self, request: Request) -> bool:
        mode = self.settings.console_secure_cookies
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    def read(self, request: Request) -> dict[str, Any] | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=self.settings.console_session_max_age_seconds)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and "u" in data else None

    def user(self, request: Request) -> User | None:
        data = self.read(request)
        return User(data["u"], data["r"], data["n"]) if data else None

    def start(self, request: Request, response: Response, user: User) -> None:
        data = {"u": user.name, "r": user.role, "n": user.display_name}
        data["c"] = secrets.token_urlsafe(24)
        self._set(request, response, SESSION_COOKIE, self._signer.dumps(data))
        response.delete_cookie(PRE_CSRF_COOKIE, path="/")

    def end(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def _set(self, request: Request, response: Response, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            max_age=self.settings.console_session_max_age_seconds,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
        )

    def csrf_token(self, request: Request) -> str:
        data = self.read(request)
        if data:
            return str(data["c"])
        return request.cookies.get(PRE_CSRF_COOKIE) or ""

    def pre_csrf_value(self, request: Request) -> str:
        """Return the sign-in form's token (a new one on a first visit)."""
        return request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)

    def set_pre_csrf(self, request: Request, response: Response, token: str) -> None:
        """Keep the sign-in form's token in a cookie, to compare with the form's field."""
        self._set(request, response, PRE_CSRF_COOKIE, token)

    def check_csrf(self, request: Request, submitted: str | None) -> None:
        expected = self.csrf_token(request)
        given = submitted or request.headers.get("X-CSRF-Token") or ""
        if not expected or not hmac.compare_digest(
            expected.encode(), given.encode(errors="replace")
        ):
            raise CsrfRejected()

    def check_pre_csrf(self, request: Request, submitted: str) -> None:
        expected = request.cookies.get(PRE_CSRF_COOKIE) or ""
        if not expected or not hmac.compare_digest(
            expected.encode(), submitted.encode(errors="replace")
        ):
            raise CsrfRejected()

    def set_language(self, request: Request, response: Response, language: str) -> None:
        response.set_cookie(
            LANG_COOKIE,
            language,
            max_age=365 * 86400,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
        )
