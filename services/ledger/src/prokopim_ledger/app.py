"""Wire the ledger: projections fed by the consumer, the routes, and its background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.runtime import Runtime, create_service_app
from prokopim_sop import load_catalog

from . import handlers
from .alerts import Clock, system_clock, watch
from .api import router
from .config import Settings
from .context import LedgerContext
from .integrity import seal_loop, verify_loop
from .metrics import ledger_metrics
from .projection import ledger_migrations
from .read_api import router as read_router
from .rebuild import rebuild
from .sql_config import ensure_for_store

log = logging.getLogger(__name__)
SERVICE = "ledger"


def create_app(settings: Settings, *, clock: Clock = system_clock) -> FastAPI:
    """Build the ledger app; `clock` is what the SLA checks take as now (tests move it)."""
    calendar = settings.calendar()
    ledger = LedgerContext(
        calendar=calendar,
        clock=clock,
        metrics=ledger_metrics(load_catalog(), calendar),
        alert_interval=settings.ledger_alert_interval,
        seal_interval=settings.ledger_seal_interval,
        seal_range=settings.ledger_seal_range,
    )

    async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
        await handlers.on_event(ledger, runtime, event, conn)

    app = create_service_app(
        name=SERVICE,
        router=router,
        settings=settings,
        on_event=on_event,
        migrations=ledger_migrations(),
        description="Audit trails and SLA against each step's standard time, from the store.",
    )
    app.state.ledger = ledger
    app.include_router(read_router)  # the console's read API (read_api.py)
    integrity = settings.integrity()
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            runtime: Runtime = app.state.runtime
            async with runtime.pool.acquire() as conn:  # the SQL fold's plan and calendar
                await ensure_for_store(conn, runtime.catalog, ledger.calendar)
            await heal_projections(runtime, ledger)
            tasks = [asyncio.create_task(_alerts(runtime, ledger), name="ledger-sla")]
            tasks.append(asyncio.create_task(seal_loop(runtime.pool, integrity), name="seals"))
            tasks.append(asyncio.create_task(verify_loop(runtime.pool, integrity), name="verify"))
            try:
                yield state
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app


async def heal_projections(runtime: Runtime, ledger: LedgerContext) -> None:
    """Rebuild the projections if they are empty but the store is not.

    They are unlogged tables, which a database crash leaves empty, while the consumer's
    processed-event rows survive and would keep those events from being projected again.
    """
    async with runtime.pool.acquire() as conn:
        empty = await conn.fetchval(
            "SELECT NOT EXISTS (SELECT 1 FROM ledger_audit) AND EXISTS (SELECT 1 FROM events)"
        )
        if empty:
            stats = await rebuild(conn, runtime.catalog, ledger.calendar)
            log.info("projections were empty: rebuilt %d events", stats.events)


async def _alerts(runtime: Runtime, ledger: LedgerContext) -> None:
    async def refresh_gauges() -> None:
        await update_gauges(runtime, ledger)

    await watch(
        runtime.pool,
        runtime.store,
        ledger.clock,
        ledger.metrics,
        ledger.alert_interval,
        on_tick=refresh_gauges,
    )


async def update_gauges(runtime: Runtime, ledger: LedgerContext) -> None:
    """Set the open-cases-per-step and lag gauges from the projections."""
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT sop_id, step, count(*) AS open FROM ledger_step_attempts"
            " WHERE completed_at IS NULL GROUP BY sop_id, step"
        )
        lag = await conn.fetchval(
            "SELECT coalesce((SELECT max(global_position) FROM events), 0)"
            " - coalesce((SELECT max(global_position) FROM ledger_audit), 0)"
        )
    gauge = ledger.metrics.open_cases
    gauge.clear()
    for row in rows:
        gauge.labels(row["sop_id"], str(row["step"])).set(row["open"])
    ledger.metrics.lag.set(lag)
