"""What on-call alerts on, measured from the store by each service for its own share.

- `prokopim_dead_letters_waiting{consumer}`: this service's dead letters not re-driven yet;
- `prokopim_cases_stuck{service}`: cases handed over to this service that it has not
  taken up for longer than STUCK_AFTER_SECONDS (`prokopim_kit.stuck`), among the cases
  the store's last STUCK_SCAN_EVENTS events touch (a bounded cost per measurement;
  `prokopim cases stuck` reads them all);
- `prokopim_consumer_pending_messages`, `..._ack_pending_messages`,
  `..._redelivered_messages` `{consumer}`: its durable consumer's state in JetStream, as
  `prokopim consumers` shows it (not yet delivered; delivered, not acked; being redelivered).

Each service measures its own share every OPS_METRICS_INTERVAL_SECONDS, so a sum over the
installation counts each once, and a service that is down stops reporting (its `up` goes
to 0: the ServiceDown alert covers that case).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from prokopim_sop import SopCatalog
from prometheus_client import Gauge

from .stuck import stuck_cases

if TYPE_CHECKING:  # runtime starts these measurements: no import cycle at run time
    from .runtime import Runtime

log = logging.getLogger(__name__)

DEAD_LETTERS_WAITING = Gauge(
    "prokopim_dead_letters_waiting",
    "Dead letters of a consumer not re-driven yet (prokopim dlq list).",
    ["consumer"],
)
CASES_STUCK = Gauge(
    "prokopim_cases_stuck",
    "Cases handed over to a service that opened no step for longer than STUCK_AFTER_SECONDS.",
    ["service"],
)

CONSUMER_PENDING = Gauge(
    "prokopim_consumer_pending_messages",
    "Messages of the stream not yet delivered to a durable consumer (its lag).",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "prokopim_consumer_ack_pending_messages",
    "Messages delivered to a durable consumer and not acknowledged yet.",
    ["consumer"],
)
CONSUMER_REDELIVERED = Gauge(
    "prokopim_consumer_redelivered_messages",
    "Messages a durable consumer is being redelivered (failed or unacked before).",
    ["consumer"],
)

ConsumerInfoOf = Callable[[], Awaitable[ConsumerInfo]]


async def measure_consumer(consumer: str, info_of: ConsumerInfoOf) -> None:
    """Copy the durable consumer's JetStream state into the gauges."""
    info = await info_of()
    CONSUMER_PENDING.labels(consumer).set(info.num_pending or 0)
    CONSUMER_ACK_PENDING.labels(consumer).set(info.num_ack_pending or 0)
    CONSUMER_REDELIVERED.labels(consumer).set(info.num_redelivered or 0)


async def measure(
    pool: asyncpg.Pool,
    catalog: SopCatalog,
    consumer: str,
    service: str,
    stuck_after: float,
    within_last: int | None = None,
) -> None:
    """Measure the store's gauges once."""
    async with pool.acquire() as conn:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM dead_letters WHERE consumer = $1 AND redriven_at IS NULL",
            consumer,
        )
        DEAD_LETTERS_WAITING.labels(consumer).set(waiting)
        if any(step.service.value == service for sop in catalog for step in sop.steps):
            older_than = timedelta(seconds=stuck_after)
            stuck = await stuck_cases(conn, catalog, older_than, service, within_last)
            CASES_STUCK.labels(service).set(len(stuck))


def start_ops_metrics(
    *,
    pool: asyncpg.Pool,
    catalog: SopCatalog,
    consumer: str,
    service: str,
    interval: float,
    stuck_after: float,
    consumer_info: ConsumerInfoOf | None = None,
    within_last: int | None = None,
) -> Callable[[], Awaitable[None]]:
    """Measure every `interval` seconds in a task (0: never); return what stops it."""
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            try:
                await measure(pool, catalog, consumer, service, stuck_after, within_last)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("operations metrics not measured: %s", error)
            if consumer_info is not None:
                try:
                    await measure_consumer(consumer, consumer_info)
                except Exception as error:  # NATS away: readiness reports that
                    log.warning("consumer %s not measured: %r", consumer, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    task = asyncio.create_task(loop(), name="ops metrics") if interval > 0 else None

    async def stopping() -> None:
        stop.set()
        if task is not None:
            with contextlib.suppress(Exception):
                await task

    return stopping


def measure_service(runtime: Runtime, consumer: str) -> Callable[[], Awaitable[None]]:
    """Start measuring a running service's share (its broker started); return the stopper."""
    settings = runtime.settings

    async def consumer_info() -> ConsumerInfo:
        js: JetStreamContext = runtime.broker.config.connection_state.stream
        info: ConsumerInfo = await js.consumer_info(runtime.topology.stream, consumer)
        return info

    return start_ops_metrics(
        pool=runtime.pool,
        catalog=runtime.catalog,
        consumer=consumer,
        service=runtime.name,
        interval=settings.ops_metrics_interval_seconds,
        stuck_after=settings.stuck_after_seconds,
        consumer_info=consumer_info,
        within_last=settings.stuck_scan_events,
    )
