"""The outbox relay: publishes every stored event to JetStream, in commit order.

Exactly one relay is active per name (a PostgreSQL advisory lock held on a dedicated
connection); the others wait and take over when its connection drops. Each event is
published with `Nats-Msg-Id = event_id`, many in flight at once, and the checkpoint moves
only after every ack of a batch has arrived. A relay killed mid-batch re-publishes that
batch on restart; JetStream drops the repeats inside its duplicate window and consumers
dedupe by event id beyond it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

import asyncpg
import nats.errors
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from . import telemetry
from .envelope import StoredEvent
from .metrics import EVENTS_PUBLISHED, RELAY_LAG
from .store import Checkpoint, EventStore
from .topology import Topology

log = logging.getLogger(__name__)


class Relay:
    """Publishes the events table to JetStream."""

    def __init__(
        self,
        store: EventStore,
        js: JetStreamContext,
        topology: Topology,
        *,
        dsn: str,
        name: str = "default",
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        channel: str = "prokopim_events",
        ack_timeout: float = 30.0,
        held_back_interval: float = 0.05,
    ) -> None:
        self._store = store
        self._js = js
        self._topology = topology
        self._dsn = dsn
        self.name = name
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._channel = channel
        self._ack_timeout = ack_timeout
        self._held_back_interval = held_back_interval
        self._wake = asyncio.Event()
        self.published = 0
        self.is_leader = asyncio.Event()

    @property
    def lock_key(self) -> int:
        """The advisory lock that elects one active relay of this name."""
        return zlib.crc32(f"prokopim.relay.{self.name}".encode())

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for leadership, then publish until `stop` is set or leadership is lost."""
        while not stop.is_set():
            conn = await asyncpg.connect(self._dsn)
            try:
                if await self._acquire(conn, stop):
                    await self._lead(conn, stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("relay %s lost its database connection", self.name, exc_info=True)
            except (nats.errors.Error, TimeoutError):
                # Unacked publishes: give up leadership, then re-publish from the checkpoint.
                log.warning("relay %s could not publish", self.name, exc_info=True)
            finally:
                self.is_leader.clear()
                with contextlib.suppress(Exception):
                    await conn.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_interval)

    async def _acquire(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        while not stop.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                log.info("relay %s is active", self.name)
                self.is_leader.set()
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_interval)
        return False

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        await conn.add_listener(self._channel, lambda *_: self._wake.set())
        checkpoint = await self._load_checkpoint(conn)
        while not stop.is_set():
            if conn.is_closed():
                return
            self._wake.clear()
            page = await self._store.read_all(checkpoint, limit=self._batch_size)
            if page.events:
                await self._publish(page.events)
                checkpoint = page.checkpoint
                await self._save_checkpoint(conn, checkpoint)
                self.published += len(page.events)
                for event in page.events:
                    EVENTS_PUBLISHED.labels(event.type).inc()
                await self._measure_lag(conn, checkpoint)
                continue
            # Events committed behind an older transaction still running are not readable
            # yet, and the commit that frees them may send no wake-up: look again soon.
            held_back = await self._store.held_back(checkpoint)
            if held_back:
                await self._measure_lag(conn, checkpoint)
            else:
                RELAY_LAG.set(0)  # every readable event is published
            await _wait_any(
                self._held_back_interval if held_back else self._poll_interval, self._wake, stop
            )

    async def _publish(self, events: list[StoredEvent]) -> None:
        if telemetry.tracing_active():
            await self._publish_traced(events)
            return
        futures = []
        for event in events:
            headers = {"Nats-Msg-Id": str(event.event_id)}
            if event.traceparent:
                headers["traceparent"] = event.traceparent
            futures.append(
                await self._js.publish_async(
                    self._topology.subject(event.type), event.to_json(), headers=headers
                )
            )
        # A lost ack would otherwise hang the leader forever, holding the lock.
        await asyncio.wait_for(asyncio.gather(*futures), self._ack_timeout)

    async def _publish_traced(self, events: list[StoredEvent]) -> None:
        """Publish with a span per event, child of the event's stored trace context."""
        tracer = telemetry.tracer()
        spans: list[Span] = []
        futures = []
        try:
            for event in events:
                subject = self._topology.subject(event.type)
                span = tracer.start_span(
                    f"publish {subject}",
                    context=telemetry.context_from_traceparent(event.traceparent),
                    kind=SpanKind.PRODUCER,
                    attributes=telemetry.message_attributes(event, subject, "send"),
                )
                spans.append(span)
                headers = {"Nats-Msg-Id": str(event.event_id)}
                telemetry.inject_into(headers, trace.set_span_in_context(span))
                futures.append(
                    await self._js.publish_async(subject, event.to_json(), headers=headers)
                )
            await asyncio.wait_for(asyncio.gather(*futures), self._ack_timeout)
        except BaseException as error:
            for span in spans:
                telemetry.record_error(span, error)
            raise
        finally:
            for span in spans:
                span.end()

    async def _measure_lag(self, conn: asyncpg.Connection, checkpoint: Checkpoint) -> None:
        head = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
        RELAY_LAG.set(max(0, head - checkpoint.global_position))

    async def _load_checkpoint(self, conn: asyncpg.Connection) -> Checkpoint:
        row = await conn.fetchrow(
            "SELECT transaction_id::text::bigint AS tx, global_position FROM relay_checkpoints"
            " WHERE relay_name = $1",
            self.name,
        )
        return Checkpoint(row["tx"], row["global_position"]) if row else Checkpoint()

    async def _save_checkpoint(self, conn: asyncpg.Connection, checkpoint: Checkpoint) -> None:
        await conn.execute(
            "INSERT INTO relay_checkpoints (relay_name, transaction_id, global_position)"
            " VALUES ($1, $2::text::xid8, $3) ON CONFLICT (relay_name) DO UPDATE"
            " SET transaction_id = excluded.transaction_id,"
            "     global_position = excluded.global_position, updated_at = now()",
            self.name,
            str(checkpoint.transaction_id),
            checkpoint.global_position,
        )


async def _wait_any(seconds: float, *events: asyncio.Event) -> None:
    """Wait until one of `events` is set, or for `seconds` at most."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
