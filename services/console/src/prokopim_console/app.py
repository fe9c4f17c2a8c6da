"""Wire the console: sessions, the services' client, live updates, pages, ops routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prokopim_events.db import create_pool
from prokopim_events.migrations import migrate, migrations_done
from prokopim_events.telemetry import flush_tracing
from prokopim_events.topology import Topology
from prokopim_kit.limits import BodyLimitMiddleware
from prokopim_kit.metrics import add_metrics
from prokopim_kit.telemetry import instrument_app

from . import office, pages, signin
from .accounts import User, console_migrations
from .assets import ensure_assets, static_dir
from .config import Settings
from .live import Live
from .services import ServiceError, Services
from .sessions import CsrfRejected, Sessions, session_secret
from .web import Console, SignInRequired, render

log = logging.getLogger(__name__)
SERVICE = "console"
# Whom the console is when it asks the ledger how far it has projected (a read).
WATCHER = User("console", "console", "prokopim console")


def create_app(settings: Settings) -> FastAPI:
    """Build the console app; its lifespan opens the pool, the NATS subscription, the client."""
    services = Services.create(settings)

    async def ledger_position() -> int:
        body = await services.get(WATCHER, "ledger", "/position")
        return int(body["position"])

    live = Live(ledger_position, settings.console_live_wait_seconds, settings.console_sse_clients)
    console = Console(settings, Sessions(settings), services, live, oidc=_oidc(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(flush_tracing)
            stack.push_async_callback(services.close)
            console.pool = await create_pool(settings.database_url, max_size=4)
            stack.push_async_callback(console.pool.close)
            # Applied by the owner beforehand (prokopim-migrate, `prokopim up`): the console's
            # role only finds them done, as a service does; it may create nothing itself.
            async with console.pool.acquire() as conn:
                await migrate(conn, console_migrations())
            await live.start(
                settings.console_nats_url or settings.nats_url,
                Topology(namespace=settings.prokopim_namespace),
                settings.console_nats_user,
                settings.console_nats_password,
            )
            stack.push_async_callback(live.stop)
            pump = asyncio.create_task(live.run(), name="console-live")
            try:
                yield
            finally:
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)

    ensure_assets()
    app = FastAPI(title="prokopim console", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.console = console
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.include_router(office.router)
    add_metrics(app, SERVICE)
    # Forms are read before anyone is signed in (the sign-in form itself): bounded first.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    if console.oidc is not None:
        from starlette.middleware.sessions import SessionMiddleware

        # authlib keeps the OIDC state and nonce between redirect and callback here
        app.add_middleware(
            SessionMiddleware,
            secret_key=session_secret(settings),
            session_cookie="prokopim_oidc",
            same_site="lax",
            https_only=settings.console_secure_cookies == "always",
        )

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, _: SignInRequired) -> Response:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": f"/login?next={target}"})
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(CsrfRejected)
    async def csrf(request: Request, _: CsrfRejected) -> Response:
        return PlainTextResponse(
            "the form's CSRF token is missing or stale: reload the page and try again",
            status_code=403,
        )

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> Response:
        return render(request, console, "error.html", status_code=error.status, error=error)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        checks = {"database": False, "migrations": False, "nats": live.connected}
        if console.pool is not None:
            # Bounded: a database that stopped answering must not hang the probe.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(settings.readiness_timeout_seconds):
                    async with console.pool.acquire() as conn:
                        checks["database"] = await conn.fetchval("SELECT true")
                        checks["migrations"] = await migrations_done(conn, console_migrations())
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    instrument_app(app, SERVICE)
    return app


def _oidc(settings: Settings) -> object | None:
    """Return the authlib OAuth client of the office IdP, when one is configured."""
    if not settings.oidc_issuer:
        return None
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        "office",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scopes},
    )
    client: object = oauth.create_client("office")
    return client
