"""Durable JetStream consumers whose effects happen exactly once.

Each message is handled inside a PostgreSQL transaction that also records its event id for
this consumer; the ack is sent only after that transaction commits. A redelivered or
re-published event finds its id already recorded and is acked without effect.

Failures are classified (see failures.py). A database or NATS that is away, a pool with no
free connection, a timeout, a serialization failure or a deadlock is retried without limit,
with capped, jittered backoff (a delayed NAK), and never dead-lettered: JetStream's own
MaxDeliver is unlimited. Any other error is retried up to `max_deliver` attempts; then the
message is recorded in `dead_letters` with its error, published on the dead-letter subject,
and acked so it no longer blocks the consumer. When recording the dead letter fails too,
the message is NAKed and comes back: it is never dropped.

FastStream's default NATS ack policy would terminate a message whose handler raised, so the
subscriber is registered with `AckPolicy.MANUAL` and acks here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.message import NatsMessage
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from . import provenance, telemetry
from .db import Connection
from .envelope import StoredEvent
from .failures import Failure, backoff, classify
from .metrics import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_DURATION, REDELIVERIES, Outcome
from .topology import Topology

log = logging.getLogger(__name__)

_WAITING = {
    Failure.UNAVAILABLE: "database or NATS unavailable",
    Failure.CONTENTION: "serialization failure or deadlock",
    Failure.TIMEOUT: "timed out",
}

EventHandler = Callable[[StoredEvent, Connection], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing message is retried: waited out when transient, else dead-lettered.

    `max_deliver` bounds the attempts at an error no retry can fix (`backoff` apart);
    transient failures wait `transient_base` doubling up to `transient_cap` seconds, with
    jitter, for as long as it takes.
    """

    max_deliver: int = 5
    backoff: Sequence[float] = field(default=(0.5, 2.0, 5.0, 15.0))
    ack_wait: float = 30.0
    transient_base: float = 0.5
    transient_cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """Return the delay before redelivering after failed attempt number `attempt`."""
        return self.backoff[min(attempt, len(self.backoff)) - 1]

    def transient_delay(self, attempt: int) -> float:
        """Return the delay before retrying a transient failure of attempt `attempt`."""
        return backoff(attempt, self.transient_base, self.transient_cap)


class ExactlyOnceConsumer:
    """Binds an event handler to a durable consumer with transactional dedupe."""

    def __init__(
        self,
        *,
        name: str,
        pool: asyncpg.Pool,
        handler: EventHandler,
        topology: Topology,
        broker: NatsBroker,
        retry: RetryPolicy = RetryPolicy(),
        after_commit: Callable[[], None] | None = None,
        inbox_prefix: str = "_INBOX",
        wants: Callable[[StoredEvent], bool] | None = None,
    ) -> None:
        self.name = name
        # A cheap test (no I/O) of whether the handler may act on an event at all: one it
        # surely ignores is acked without a transaction or a `processed_events` row (its
        # commit, flushed to disk, cost more than all the rest, for most events a service
        # sees). When the test raises, the event goes through the handler as any other.
        self._wants = wants
        self._pool = pool
        self._handler = handler
        self._topology = topology
        self._broker = broker
        self._retry = retry
        self._after_commit = after_commit
        self._inbox_prefix = inbox_prefix  # pulled batches arrive here: the user's own inbox
        # A pulled batch is handled at once, each delivery in a transaction on a connection
        # of `pool`, and a handler may take another one of its own (an effect's delivery
        # record): with every connection held by a transaction, each would wait for one
        # more for ever. At most max_size - 1 transactions at once leave one for those.
        self._slots = asyncio.Semaphore(max(1, pool.get_max_size() - 1))

    def consumer_config(self, filter_subject: str | None = None) -> ConsumerConfig:
        """The durable consumer's JetStream configuration (also to recreate it)."""
        return ConsumerConfig(
            durable_name=self.name,
            ack_policy=JsAckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            # Unlimited: JetStream must never stop redelivering a message that waits for the
            # database; this helper itself dead-letters what no retry can fix.
            max_deliver=-1,
            ack_wait=self._retry.ack_wait,
            max_ack_pending=1000,
            filter_subject=filter_subject or self._topology.all_events,
        )

    def register(self, filter_subject: str | None = None) -> ConsumerConfig:
        """Register the durable pull subscriber on the broker (before it starts)."""
        config = self.consumer_config(filter_subject)
        subscriber = self._broker.subscriber(
            filter_subject or self._topology.all_events,
            stream=JStream(self._topology.stream, declare=False),
            durable=self.name,
            config=config,
            pull_sub=PullSub(batch_size=64, timeout=1.0),
            ack_policy=AckPolicy.MANUAL,
            inbox_prefix=f"{self._inbox_prefix}.".encode(),
            title=f"{self.name}",
            description=f"durable consumer {self.name}",
        )

        # The message is taken from FastStream's context, not injected: an injected context
        # field is resolved in a worker thread, a thread round trip for every message.
        context = self._broker.context

        async def on_message(_body: Any) -> None:
            msg: NatsMessage = context.get_local("message")
            await self.process(msg)

        subscriber(on_message)
        return config

    async def process(self, msg: NatsMessage) -> None:
        """Handle one delivery: effect and dedupe in one transaction, then ack."""
        raw = msg.raw_message
        attempt = raw.metadata.num_delivered or 1
        if attempt > 1:
            REDELIVERIES.labels(self.name).inc()
        try:
            event = StoredEvent.from_json(raw.data)
        except Exception as error:  # unparseable: retrying cannot help
            try:
                await self._dead_letter(raw.subject, raw.data, None, error, attempt)
            except Exception:
                log.warning("%s: could not record a dead letter; retrying", self.name)
                await msg.nack(delay=self._retry.transient_delay(attempt))
                return
            await msg.ack()
            return
        if not telemetry.tracing_active():
            await self._take(msg, event, attempt)
            return
        # The handler's own appends store this span's context, so the trace goes on.
        with telemetry.tracer().start_as_current_span(
            f"process {raw.subject}",
            context=telemetry.context_from_headers(raw.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                **telemetry.message_attributes(event, raw.subject, "process"),
                "messaging.consumer.group.name": self.name,
                "messaging.message.delivery_count": attempt,
            },
        ):
            await self._take(msg, event, attempt)

    async def _take(self, msg: NatsMessage, event: StoredEvent, attempt: int) -> None:
        """Handle an event this consumer may act on; ack one it never would at once (no
        transaction), counted as `skipped` and, when tracing, still a span of the trace."""
        if self._wanted(event):
            await self._handle(msg, event, attempt)
            return
        await msg.ack()
        EVENTS_CONSUMED.labels(self.name, event.type, Outcome.SKIPPED).inc()
        if telemetry.tracing_active():
            trace.get_current_span().set_attribute("prokopim.consumer.outcome", "skipped")

    def _wanted(self, event: StoredEvent) -> bool:
        if self._wants is None:
            return True
        try:
            return self._wants(event)
        except Exception:  # the handler meets the same error and retries or dead-letters it
            return True

    async def _handle(self, msg: NatsMessage, event: StoredEvent, attempt: int) -> None:
        started = time.perf_counter()
        twin = first = False
        try:
            async with self._slots, self._pool.acquire() as conn, conn.transaction():
                # never act on a forgery: the claim finds the event's stored twin first
                twin, first = await provenance.claim(conn, self.name, event)
                if first:
                    await self._handler(event, conn)
        except Exception as error:
            self._observe(event.type, started)
            if telemetry.tracing_active():
                telemetry.record_error(trace.get_current_span(), error)
            await self._failed(msg, event, error, attempt)
            return
        if not twin:  # dead-lettered at once: the store will not change its mind
            raw = msg.raw_message
            forged = provenance.forged(self.name, raw.subject, event)
            await self._dead_letter(raw.subject, raw.data, event, forged, attempt)
            await msg.ack()
            return
        await msg.ack()
        if first:
            self._observe(event.type, started)
        outcome = Outcome.PROCESSED if first else Outcome.DUPLICATE
        EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
        if first and self._after_commit is not None:
            self._after_commit()

    async def _failed(
        self, msg: NatsMessage, event: StoredEvent, error: Exception, attempt: int
    ) -> None:
        """Wait out a transient failure; dead-letter another after `max_deliver` attempts."""
        raw = msg.raw_message
        kind = classify(error)
        if kind.transient:
            delay = self._retry.transient_delay(attempt)
            log.warning(
                "%s: %s %s: %s (%s), retrying in %.1f s (attempt %d)",
                self.name,
                event.type,
                event.event_id,
                _WAITING[kind],
                f"{type(error).__name__}: {error}",
                delay,
                attempt,
            )
        elif attempt >= self._retry.max_deliver:
            try:
                await self._dead_letter(raw.subject, raw.data, event, error, attempt)
            except Exception as failed:
                # Not dropped: the message comes back and the dead letter is tried again.
                delay = self._retry.transient_delay(attempt)
                log.warning(
                    "%s: could not record the dead letter of %s (%s: %s); retrying in %.1f s",
                    self.name,
                    event.event_id,
                    type(failed).__name__,
                    failed,
                    delay,
                )
            else:
                await msg.ack()
                return
        else:
            delay = self._retry.delay(attempt)
            log.info("%s: %s failed (attempt %d): %s", self.name, event.type, attempt, error)
        await msg.nack(delay=delay)
        EVENTS_CONSUMED.labels(self.name, event.type, Outcome.RETRIED).inc()

    def _observe(self, event_type: str, started: float) -> None:
        HANDLER_DURATION.labels(self.name, event_type).observe(time.perf_counter() - started)

    async def _dead_letter(
        self,
        subject: str,
        payload: bytes,
        event: StoredEvent | None,
        error: Exception,
        attempts: int,
    ) -> None:
        reason = f"{type(error).__name__}: {error}"
        log.error(
            "%s: dead-lettering %s after %d attempts: %s", self.name, subject, attempts, reason
        )
        event_type = event.type if event else self._topology.event_type(subject)
        event_id = event.event_id if event else None
        async with self._pool.acquire() as conn:
            # An unparseable message has no event id: it gets a fresh one, which also keeps
            # JetStream from dropping it as a repeat of the previous unparseable message.
            dead_id = await conn.fetchval(
                "INSERT INTO dead_letters (consumer, event_id, type, subject, payload, error,"
                " attempts) VALUES ($1, coalesce($2, gen_random_uuid()), $3, $4, $5, $6, $7)"
                " ON CONFLICT (consumer, event_id) DO UPDATE SET error = excluded.error,"
                " attempts = excluded.attempts, failed_at = now() RETURNING event_id",
                self.name,
                event_id,
                event_type,
                subject,
                # jsonb holds no NUL character, and a poison message may carry one
                {"raw": payload.decode("utf-8", "replace").replace("\x00", "\ufffd")},
                reason,
                attempts,
            )
        await self._broker.publish(
            payload,
            subject=self._topology.dead_letter_subject(self.name),
            stream=self._topology.dead_letter_stream,
            headers={
                "Nats-Msg-Id": f"{self.name}:{dead_id}",
                "Prokopim-Error": reason[:1000],
                "Prokopim-Attempts": str(attempts),
            },
        )
        DEAD_LETTERS.labels(self.name).inc()
        EVENTS_CONSUMED.labels(self.name, event_type, Outcome.DEAD_LETTERED).inc()
