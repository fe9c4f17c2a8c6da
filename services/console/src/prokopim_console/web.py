"""What every page shares: the console's context, the signed-in user, rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .accounts import User
from .config import Settings
from .i18n import LANGUAGES, translator
from .live import Live
from .services import Services
from .sessions import LANG_COOKIE, Sessions

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
OFFICE_ZONE = ZoneInfo("Asia/Jakarta")  # what the office reads its clocks in (WIB)


def local_time(value: str | None, width: int = 16) -> str:
    """Show an ISO instant as the office's local time, e.g. 2025-05-05 08:10 (WIB)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(OFFICE_ZONE)
    return moment.isoformat(sep=" ")[:width]


TEMPLATES.env.filters["local"] = local_time


@dataclass
class Console:
    """What the routes of one console process use."""

    settings: Settings
    sessions: Sessions
    services: Services
    live: Live
    pool: asyncpg.Pool | None = None
    oidc: Any = None
    sops: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    async def sop(self, user: User, sop_id: str, version: str | None = None) -> dict[str, Any]:
        """Return an SOP from the ledger's read API (each version is immutable: cached)."""
        if version is not None and (sop_id, version) in self.sops:
            return self.sops[sop_id, version]
        sop: dict[str, Any] = await self.services.get(
            user, "ledger", f"/sops/{sop_id}", version=version
        )
        self.sops[sop_id, sop["version"]] = sop
        return sop


class SignInRequired(Exception):
    """The page needs a signed-in user."""


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(console_of)]


def current_user(request: Request, console: ConsoleDep) -> User:
    user = console.sessions.user(request)
    if user is None:
        raise SignInRequired()
    return user


UserDep = Annotated[User, Depends(current_user)]


def language(request: Request, console: Console) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else console.settings.console_default_language


def render(
    request: Request,
    console: Console,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page in the reader's language, with the user and CSRF token at hand."""
    lang = language(request, console)
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "t": translator(lang),
            "lang": lang,
            "user": console.sessions.user(request),
            "csrf": console.sessions.csrf_token(request),
            "oidc": console.oidc is not None,
            **context,
        },
        status_code=status_code,
    )
