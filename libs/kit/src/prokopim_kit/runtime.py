"""One wiring point for a service process: settings, pool, store, broker, consumer, app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from prokopim_events.consumer import ExactlyOnceConsumer
from prokopim_events.db import Connection, create_pool
from prokopim_events.envelope import StoredEvent
from prokopim_events.migrations import Migration, backbone_migrations, migrate, migrations_done
from prokopim_events.settings import BackboneSettings
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology, ensure_streams
from prokopim_sop import SopCatalog, load_catalog

from .auth import AuthSettings
from .errors import CommandRejected

log = logging.getLogger(__name__)


class ServiceSettings(BackboneSettings, AuthSettings):
    """Everything a service reads from its environment."""


@dataclass
class Runtime:
    """What handlers and routes of one service process use."""

    name: str
    settings: ServiceSettings
    pool: asyncpg.Pool
    store: EventStore
    broker: NatsBroker
    topology: Topology
    catalog: SopCatalog
    extras: dict[str, Any] = field(default_factory=dict)


EventReaction = Callable[[Runtime, StoredEvent, Connection], Awaitable[None]]


def create_service_app(
    *,
    name: str,
    router: APIRouter,
    settings: ServiceSettings,
    on_event: EventReaction | None = None,
    migrations: Sequence[Migration] = (),
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None,
    description: str = "",
) -> FastAPI:
    """Build a service's FastAPI app; its lifespan connects, migrates and consumes."""
    all_migrations = [*backbone_migrations(), *migrations]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=10)
        async with pool.acquire() as conn:
            await migrate(conn, all_migrations)
        topology = Topology(namespace=settings.prokopim_namespace)
        nc = await nats.connect(settings.nats_url)
        await ensure_streams(nc.jetstream(), topology)
        await nc.close()
        broker = NatsBroker(settings.nats_url, logger=log)
        store = await EventStore.connect(settings.database_url, max_size=5)
        runtime = Runtime(name, settings, pool, store, broker, topology, load_catalog())
        if on_event is not None:

            async def handle(event: StoredEvent, conn: Connection) -> None:
                await on_event(runtime, event, conn)

            consumer_name = "-".join(filter(None, [settings.prokopim_namespace, name]))
            ExactlyOnceConsumer(
                name=consumer_name,
                pool=pool,
                handler=handle,
                topology=topology,
                broker=broker,
                after_commit=store.wake_relay,
            ).register()
        await broker.start()
        if on_startup is not None:
            await on_startup(runtime)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await broker.stop()
            await store.close()
            await pool.close()

    app = FastAPI(title=f"prokopim {name}", description=description, lifespan=lifespan)
    app.state.auth = settings
    app.include_router(router)

    @app.exception_handler(CommandRejected)
    async def rejected(_: Request, error: CommandRejected) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks = {"database": False, "migrations": False, "nats": False}
        if runtime is not None:
            with contextlib.suppress(Exception):
                async with runtime.pool.acquire() as conn:
                    checks["database"] = await conn.fetchval("SELECT true")
                    checks["migrations"] = await migrations_done(conn, all_migrations)
            state = runtime.broker.config.connection_state
            checks["nats"] = bool(state) and state.connection.is_connected
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    return app


def runtime_of(request: Request) -> Runtime:
    """FastAPI dependency: the running service's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime
