"""Sign-in (local accounts or the office's OpenID Connect IdP), sign-out, language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .accounts import User, authenticate
from .i18n import LANGUAGES
from .web import ConsoleDep, render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # only paths of this console: never an open redirect
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/worklist"
    return target


@router.get("/login")
async def login_page(request: Request, console: ConsoleDep, next: str | None = None) -> Response:
    token = console.sessions.pre_csrf_value(request)
    response = render(
        request, console, "login.html", next=_safe_next(next), failed=False, pre_csrf=token
    )
    console.sessions.set_pre_csrf(request, response, token)
    return response


@router.post("/login")
async def login(
    request: Request,
    console: ConsoleDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/worklist",
) -> Response:
    console.sessions.check_pre_csrf(request, csrf)
    assert console.pool is not None
    async with console.pool.acquire() as conn:
        user = await authenticate(conn, username.strip(), password)
    if user is None:
        response: Response = render(
            request,
            console,
            "login.html",
            status_code=401,
            next=_safe_next(next),
            failed=True,
            pre_csrf=csrf,
        )
        return response
    response = RedirectResponse(_safe_next(next), status_code=303)
    console.sessions.start(request, response, user)
    return response


@router.post("/logout")
async def logout(
    request: Request, console: ConsoleDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    console.sessions.check_csrf(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    console.sessions.end(response)
    return response


@router.get("/lang/{code}")
async def set_language(
    code: str, request: Request, console: ConsoleDep, next: str | None = None
) -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    if code in LANGUAGES:
        console.sessions.set_language(request, response, code)
    return response


@router.get("/oidc/login")
async def oidc_login(request: Request, console: ConsoleDep) -> Response:
    if console.oidc is None:
        return HTMLResponse("OpenID Connect is not configured (OIDC_ISSUER)", status_code=404)
    redirect_uri = str(request.url_for("oidc_callback"))
    response: Response = await console.oidc.authorize_redirect(request, redirect_uri)
    return response


@router.get("/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request, console: ConsoleDep) -> Response:
    if console.oidc is None:
        return HTMLResponse("OpenID Connect is not configured (OIDC_ISSUER)", status_code=404)
    token = await console.oidc.authorize_access_token(request)
    claims: dict[str, Any] = dict(token.get("userinfo") or {})
    role = claims.get(console.settings.oidc_role_claim)
    if isinstance(role, list):
        role = role[0] if role else None
    if not isinstance(role, str) or not role:
        claim = console.settings.oidc_role_claim
        return HTMLResponse(f"the IdP gave no {claim!r} claim naming an SOP role", status_code=403)
    name = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
    user = User(name, role, str(claims.get("name") or name))
    response = RedirectResponse("/worklist", status_code=303)
    console.sessions.start(request, response, user)
    return response
