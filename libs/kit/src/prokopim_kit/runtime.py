"""One wiring point for a service process: settings, pool, store, broker, consumer, app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import asyncpg
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from prokopim_events.consumer import ExactlyOnceConsumer, RetryPolicy
from prokopim_events.db import Connection, create_pool
from prokopim_events.envelope import StoredEvent
from prokopim_events.keys import ChainKeySettings
from prokopim_events.logs import ConsumeLogContext, configure_logging
from prokopim_events.migrations import Migration, backbone_migrations, migrate, migrations_done
from prokopim_events.nats_connection import (
    broker_options,
    connect_nats,
    inbox_of,
    nats_options,
    reconnect_options,
)
from prokopim_events.provisioning import await_durable
from prokopim_events.pull_guard import guard_pull_loops
from prokopim_events.redrive import start_redrive
from prokopim_events.settings import BackboneSettings, load_settings
from prokopim_events.store import EventStore
from prokopim_events.telemetry import flush_tracing
from prokopim_events.topology import Topology
from prokopim_sop import SopCatalog, load_catalog
from pydantic import Field

from . import text
from .auth import AuthSettings
from .limits import BodyLimitMiddleware, HttpSettings, uvicorn_options
from .metrics import add_metrics
from .ops_metrics import measure_service
from .problems import add_problem_handlers, document_problems, refuse_unknown_query
from .telemetry import instrument_app
from .unavailable import add_unavailable_handlers

log = logging.getLogger(__name__)


class ServiceSettings(
    BackboneSettings, AuthSettings, ChainKeySettings, HttpSettings, text.InputLimits
):
    """Everything a service reads from its environment."""

    shutdown_grace_seconds: float = Field(
        default=15.0,
        gt=0,
        description="SHUTDOWN_GRACE_SECONDS: how long a stopping service lets handlers finish",
    )
    host: str = Field(default="127.0.0.1", description="HOST the HTTP API listens on")
    # each service sets its own default (intake 8001 ... ledger 8006)
    port: int = Field(default=8000, ge=1, le=65535, description="PORT of the HTTP API")
    # PostgreSQL connections of one service process: at most DATABASE_POOL_SIZE +
    # STORE_POOL_SIZE (docs/operations.md, "Connections", gives the whole formula).
    database_pool_size: int = Field(
        default=6,
        ge=2,  # a delivery's transaction and its effect's record (docs/operations.md)
        le=200,
        description="DATABASE_POOL_SIZE: connections for handlers and queries (per process)",
    )
    store_pool_size: int = Field(
        default=4,
        ge=1,
        le=200,
        description="STORE_POOL_SIZE: connections of the event store's appends (per process)",
    )
    retry_after_seconds: int = Field(
        default=5,
        ge=1,
        description="RETRY_AFTER_SECONDS: Retry-After of a 503 when the database is away",
    )
    readiness_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="READINESS_TIMEOUT_SECONDS: /readyz gives up on the database after this",
    )
    command_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description="COMMAND_ATTEMPTS: how many times a command that keeps losing the append"
        " to another writer of the case's stream is decided again before 409 concurrent_change",
    )
    consumer_max_attempts: int = Field(
        default=5,
        ge=1,
        description="CONSUMER_MAX_ATTEMPTS: attempts at an error no retry can fix before the"
        " message is dead-lettered (unavailability and timeouts are retried without limit)",
    )
    consumer_retry_base_seconds: float = Field(
        default=0.5,
        gt=0,
        description="CONSUMER_RETRY_BASE_SECONDS: first wait before retrying a transient failure",
    )
    consumer_retry_cap_seconds: float = Field(
        default=30.0,
        gt=0,
        description="CONSUMER_RETRY_CAP_SECONDS: longest wait between retries (doubling, jittered)",
    )
    redrive_poll_seconds: float = Field(
        default=5.0, gt=0, description="REDRIVE_POLL_SECONDS: how often re-drives are looked for"
    )
    ops_metrics_interval_seconds: float = Field(
        default=60.0, ge=0, description="OPS_METRICS_INTERVAL_SECONDS: dead letters/stuck (0 off)"
    )
    stuck_after_seconds: float = Field(
        default=900.0, gt=0, description="STUCK_AFTER_SECONDS: a hand-over not taken is stuck"
    )
    stuck_scan_events: int = Field(
        default=200_000, gt=0, description="STUCK_SCAN_EVENTS: latest events the gauge reads"
    )


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def serve(create_app: Callable[[SettingsT], FastAPI], settings_class: type[SettingsT]) -> None:
    """Run a service process: settings from the environment (or exit naming what is wrong),
    logs at LOG_LEVEL, the app on HOST:PORT until SIGTERM."""
    settings = load_settings(settings_class)
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        **uvicorn_options(settings),
        log_config=None,  # uvicorn's records go through configure_logging's handler too
    )


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

    @property
    def command_attempts(self) -> int:
        """COMMAND_ATTEMPTS: decisions of one command that keeps losing races."""
        return self.settings.command_attempts


EventReaction = Callable[[Runtime, StoredEvent, Connection], Awaitable[None]]
# Whether a service's reaction may act on an event at all (pure, no I/O): see `create_service_app`.
EventFilter = Callable[[Runtime, StoredEvent], bool]


def create_service_app(
    *,
    name: str,
    router: APIRouter,
    settings: ServiceSettings,
    on_event: EventReaction | None = None,
    wants: EventFilter | None = None,
    migrations: Sequence[Migration] = (),
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None,
    description: str = "",
) -> FastAPI:
    """Build a service's FastAPI app; its lifespan connects, migrates and consumes.

    `wants` tells, without I/O, whether `on_event` may act on an event: the consumer acks
    the others without opening a transaction (every service sees every event of the bus).
    """
    all_migrations = [*backbone_migrations(), *migrations]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Each resource is released in reverse order, also when a later step of startup fails.
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(flush_tracing)
            # released without asyncpg's reset round trip: see `create_pool`
            pool = await create_pool(
                settings.database_url, max_size=settings.database_pool_size, keep_session=True
            )
            stack.push_async_callback(pool.close)
            async with pool.acquire() as conn:
                await migrate(conn, all_migrations)
            topology = Topology(namespace=settings.prokopim_namespace)
            reconnect = reconnect_options(
                settings.nats_reconnect_wait_seconds, settings.nats_ping_interval_seconds
            )
            nc = await connect_nats(
                settings.nats_url,
                settings.nats_connect_timeout_seconds,
                nats_options(settings),
                reconnect_wait=settings.nats_reconnect_wait_seconds,
                ping_interval=settings.nats_ping_interval_seconds,
            )
            try:  # a service may not create its durable: the relay (or an operator) does
                if on_event is not None:
                    durable, within = topology.durable(name), settings.nats_connect_timeout_seconds
                    await await_durable(nc.jetstream(), topology, durable, within)
            finally:
                await nc.close()
            # On stop the broker fetches no more and waits up to graceful_timeout for the
            # handlers in flight; a message still unacked after that is redelivered.
            broker = NatsBroker(
                settings.nats_url,
                logger=log,
                graceful_timeout=settings.shutdown_grace_seconds,
                middlewares=[partial(ConsumeLogContext, consumer=topology.durable(name))],
                **broker_options(settings),
                **reconnect,
            )
            store = await EventStore.connect(
                settings.database_url,
                max_size=settings.store_pool_size,
                chain_key=settings.chain_key(),
            )
            stack.push_async_callback(store.close)
            runtime = Runtime(name, settings, pool, store, broker, topology, load_catalog())
            if on_event is not None:
                stack.push_async_callback(_consume(runtime, on_event, wants))
            stack.push_async_callback(broker.stop)
            await broker.start()
            _keep_consumers(runtime)
            if on_event is not None:
                stack.push_async_callback(measure_service(runtime, topology.durable(name)))
            if on_startup is not None:
                await on_startup(runtime)
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title=f"prokopim {name}",
        description=description,
        lifespan=lifespan,
        # operationId = the route's function name: what a generated client calls it
        generate_unique_id_function=lambda route: route.name,
        dependencies=[Depends(refuse_unknown_query)],
    )
    app.state.auth = settings
    text.configure(settings)
    app.include_router(router)
    add_metrics(app, name)
    add_problem_handlers(app)
    document_problems(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    add_unavailable_handlers(app, settings.retry_after_seconds)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks = {"database": False, "migrations": False, "nats": False}
        if runtime is not None:
            # Bounded: a database that stopped answering must not hang the probe.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(settings.readiness_timeout_seconds):
                    async with runtime.pool.acquire() as conn:
                        checks["database"] = await conn.fetchval("SELECT true")
                        checks["migrations"] = await migrations_done(conn, all_migrations)
            state = runtime.broker.config.connection_state
            checks["nats"] = bool(state) and state.connection.is_connected
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    instrument_app(app, name)
    return app


def _keep_consumers(runtime: Runtime) -> None:
    """Guard the pull loops, so that a closed connection pauses them instead of spinning.

    The durable consumers themselves are the relay's to (re)create: a service's NATS user
    may create none (docs/security.md); the relay recreates a durable that is gone.
    """
    guard_pull_loops(runtime.broker, runtime.settings.nats_reconnect_wait_seconds)


def _consume(
    runtime: Runtime, on_event: EventReaction, wants: EventFilter | None = None
) -> Callable[[], Awaitable[None]]:
    """Register the service's durable consumer, `prokopim-<service>`, on its namespace's
    stream, and start the re-driving of its dead letters; return what stops the latter."""

    async def handle(event: StoredEvent, conn: Connection) -> None:
        await on_event(runtime, event, conn)

    settings = runtime.settings
    retry = RetryPolicy(
        max_deliver=settings.consumer_max_attempts,
        transient_base=settings.consumer_retry_base_seconds,
        transient_cap=settings.consumer_retry_cap_seconds,
    )
    name = runtime.topology.durable(runtime.name)
    ExactlyOnceConsumer(
        name=name,
        pool=runtime.pool,
        handler=handle,
        topology=runtime.topology,
        broker=runtime.broker,
        retry=retry,
        after_commit=runtime.store.wake_relay,
        inbox_prefix=inbox_of(runtime.settings),
        wants=None if wants is None else partial(wants, runtime),
    ).register()
    return start_redrive(
        consumer=name,
        pool=runtime.pool,
        handler=handle,
        poll_seconds=settings.redrive_poll_seconds,
        after_commit=runtime.store.wake_relay,
    )


async def runtime_of(request: Request) -> Runtime:
    """FastAPI dependency: the running service's runtime.

    The dependencies every request runs are `async def` (they do no I/O): FastAPI runs a
    plain `def` one in a worker thread, a thread round trip each, which on a busy machine
    cost a request more than its database work (py-spy: threading.Condition in every service).
    """
    runtime: Runtime = request.app.state.runtime
    return runtime
