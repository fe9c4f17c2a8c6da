"""The outbox relay: publishes every stored event to JetStream, in commit order.

Exactly one relay is active per name: it holds a lease in PostgreSQL that it renews as it
makes progress (see relay_state); a relay that dies, hangs or is cut off loses it within
`lease_seconds` and a standby takes over. Each event is published with
`Nats-Msg-Id = event_id`, many in flight at once, and the checkpoint moves only after every
ack of a batch has arrived, and only while the lease is still this relay's (fencing). A relay
killed mid-batch re-publishes that batch on restart; JetStream drops the repeats inside its
duplicate window and consumers dedupe by event id beyond it.

PostgreSQL is the truth: a stream that was recreated or is behind the sequence the relay
last saw acked (NATS restarted with an empty or older store) is detected at start and every
`stream_check_interval`, and the relay re-publishes from the store. An event the bus refuses
for good (larger than NATS's max_payload, say) is quarantined and the relay goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import zlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from . import relay_state, telemetry
from .envelope import StoredEvent
from .metrics import EVENTS_PUBLISHED, RELAY_LAG, RELAY_LEADER, RELAY_QUARANTINED, RELAY_REPUBLISHES
from .provisioning import ensure_durables
from .relay_state import LeaseLost, Refused, StreamMark
from .store import Checkpoint, EventStore
from .topology import Topology, ensure_streams

log = logging.getLogger(__name__)

# Errors no retry of the same event can fix: it is quarantined and the relay goes on.
_REFUSED = (nats.errors.MaxPayloadError, nats.errors.BadSubjectError)


def _refused_for_good(error: BaseException) -> bool:
    """Tell whether the bus refused this one message for good (not the bus being away)."""
    if isinstance(error, _REFUSED):
        return True
    # A JetStream API error answering the publish itself, e.g. 10054 "message size exceeds
    # maximum allowed" (code 400); 503 "no responders" means the stream is away: transient.
    return isinstance(error, nats.js.errors.APIError) and error.code == 400


@dataclass
class _Batch:
    """What publishing one page gave: the highest acked sequence, and what was refused."""

    sequence: int
    refused: list[Refused]
    lowest_new: int = 0  # the lowest sequence the stream gave a message new to it


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
        ack_timeout: float = 10.0,
        held_back_interval: float = 0.05,
        lease_seconds: float = 15.0,
        stream_check_interval: float = 5.0,
        lag_interval: float = 1.0,
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
        self._lease_seconds = lease_seconds
        self._stream_check_interval = stream_check_interval
        self._lag_interval = lag_interval
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        self._wake = asyncio.Event()
        self.published = 0
        self.quarantined = 0
        self.is_leader = asyncio.Event()

    @property
    def lock_key(self) -> int:
        """A stable number naming this relay (kept for callers of the advisory-lock era)."""
        return zlib.crc32(f"prokopim.relay.{self.name}".encode())

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the lease, then publish until `stop` is set; stand by again when lost."""
        # The lag is reported by a task of its own: the relay's loop can sit in one NATS
        # call for the bus's request timeout (a stream check during an outage), and a gauge
        # it set before would read 0 all that while, with events piling up in the store.
        watcher = asyncio.create_task(self._watch_lag(stop))
        try:
            await self._serve(stop)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _serve(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            token: int | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn,
                    timeout=self._lease_seconds,
                    # A relay stopped inside its checkpoint transaction would hold the lease
                    # row's lock (and the store's read horizon) for ever: the server ends
                    # such a session after the lease time, and a standby never waits long.
                    server_settings={
                        "idle_in_transaction_session_timeout": str(int(self._lease_seconds * 1000)),
                        "lock_timeout": str(int(self._lease_seconds * 1000)),
                    },
                )
                token = await self._acquire(conn, stop)
                if token is not None:
                    await self._lead(conn, token, stop)
            except LeaseLost as lost:
                log.warning("relay %s stepped down: %s", self.name, lost)
                token = None  # not ours to release any more
            # TimeoutError first: it is an OSError too, and no sign of a lost database.
            except TimeoutError:
                # Unacked publishes (or a silent database): give up the lease, then
                # re-publish from the checkpoint.
                log.warning("relay %s timed out; re-publishing from its checkpoint", self.name)
            except nats.errors.Error as error:
                # One line: during an outage this repeats every poll interval.
                log.warning("relay %s could not publish: %r", self.name, error)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("relay %s lost its database connection", self.name, exc_info=True)
            except Exception:
                # Whatever it was, a relay that exits stops every hand-over: stand by, retry.
                log.exception("relay %s failed; standing by and trying again", self.name)
            finally:
                if self.is_leader.is_set():
                    log.info("relay %s is no longer active", self.name)
                self.is_leader.clear()
                RELAY_LEADER.set(0)
                if conn is not None:
                    if token is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(
                                relay_state.release(conn, self.name, token), self._poll_interval
                            )
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), self._poll_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_interval)

    async def _acquire(self, conn: asyncpg.Connection, stop: asyncio.Event) -> int | None:
        while not stop.is_set():
            token = await relay_state.acquire(conn, self.name, self._holder, self._lease_seconds)
            if token is not None:
                log.info("relay %s is active (lease %d)", self.name, token)
                self.is_leader.set()
                RELAY_LEADER.set(1)
                return token
            await _wait_any(self._poll_interval, stop)
        return None

    async def _lead(self, conn: asyncpg.Connection, token: int, stop: asyncio.Event) -> None:
        lease = _Lease(conn, self.name, token, self._lease_seconds)
        await conn.add_listener(self._channel, lambda *_: self._wake.set())
        saved = await relay_state.load(conn, self.name)
        checkpoint, mark = await self._check_stream(conn, saved.checkpoint, saved.mark)
        checked = time.monotonic()
        while not stop.is_set():
            if conn.is_closed():
                return
            await lease.keep()
            if time.monotonic() - checked >= self._stream_check_interval:
                checkpoint, mark = await self._check_stream(conn, checkpoint, mark)
                checked = time.monotonic()
            self._wake.clear()
            page = await self._store.read_all(checkpoint, limit=self._batch_size)
            if page.events:
                await lease.keep()  # never publish on a lease that may have lapsed
                batch = await self._publish(page.events)
                if 0 < batch.lowest_new <= mark.sequence:
                    # The stream handed out a sequence it had given before: it lost events
                    # (recreated, or restarted with an older store) before this batch.
                    checkpoint, mark = await self._stream_lost(
                        conn, batch.lowest_new - 1, mark, "lost messages"
                    )
                    await relay_state.save(
                        conn, self.name, token, self._lease_seconds, checkpoint, mark, batch.refused
                    )
                    lease.renewed_now()
                    checked = time.monotonic()
                    continue
                mark = StreamMark(mark.created, max(mark.sequence, batch.sequence))
                await relay_state.save(
                    conn,
                    self.name,
                    token,
                    self._lease_seconds,
                    page.checkpoint,
                    mark,
                    batch.refused,
                )
                lease.renewed_now()  # the save renewed the lease in the database
                checkpoint = page.checkpoint
                self._count(page.events, batch.refused)
                RELAY_LAG.set(await relay_state.lag(conn, checkpoint))
                continue
            # Events committed behind an older transaction still running are not readable
            # yet, and the commit that frees them may send no wake-up: look again soon.
            held_back = await self._store.held_back(checkpoint)
            RELAY_LAG.set(await relay_state.lag(conn, checkpoint) if held_back else 0)
            await _wait_any(
                self._held_back_interval if held_back else self._poll_interval, self._wake, stop
            )

    def _count(self, events: list[StoredEvent], refused: list[Refused]) -> None:
        refused_ids = {r.event_id for r in refused}
        for event in events:
            if event.event_id in refused_ids:
                RELAY_QUARANTINED.labels(event.type).inc()
            else:
                EVENTS_PUBLISHED.labels(event.type).inc()
        self.published += len(events) - len(refused_ids)
        self.quarantined += len(refused_ids)

    async def _check_stream(
        self, conn: asyncpg.Connection, checkpoint: Checkpoint, mark: StreamMark
    ) -> tuple[Checkpoint, StreamMark]:
        """Re-publish from the store when the stream lost what this relay published."""
        try:
            info = await self._js.stream_info(self._topology.stream)
        except nats.js.errors.NotFoundError:
            log.warning(
                "relay %s: stream %s is gone; recreating it", self.name, self._topology.stream
            )
            await ensure_streams(self._js, self._topology)
            info = await self._js.stream_info(self._topology.stream)
        # The services' durables are the relay's to keep (a service may create none): one
        # deleted, or lost with the stream, is recreated and its service picks up again.
        await ensure_durables(self._js, self._topology)
        recreated = mark.created is not None and not _same_instant(mark.created, info.created)
        behind = info.state.last_seq < mark.sequence
        if not (recreated or behind):
            return checkpoint, StreamMark(info.created, max(mark.sequence, info.state.last_seq))
        # Recreated: nothing the stream holds predates the loss. Behind: it holds a prefix.
        kept = 0 if recreated else info.state.last_seq
        return await self._stream_lost(
            conn, kept, mark, "was recreated" if recreated else "lost messages"
        )

    async def _stream_lost(
        self, conn: asyncpg.Connection, kept: int, mark: StreamMark, what: str
    ) -> tuple[Checkpoint, StreamMark]:
        """Rewind to just after the stream's message `kept` (0: to the start)."""
        resume = await self._resume_point(conn, kept)
        info = await self._js.stream_info(self._topology.stream)
        log.warning(
            "relay %s: stream %s %s (it holds %d messages up to sequence %d, the relay had"
            " seen %d): re-publishing from the store after position %d",
            self.name,
            self._topology.stream,
            what,
            info.state.messages,
            info.state.last_seq,
            mark.sequence,
            resume.global_position,
        )
        RELAY_REPUBLISHES.inc()
        return resume, StreamMark(info.created, info.state.last_seq)

    async def _resume_point(self, conn: asyncpg.Connection, last_seq: int) -> Checkpoint:
        """The checkpoint after the last event the stream still holds (the start if none)."""
        if last_seq == 0:
            return Checkpoint()
        with contextlib.suppress(nats.errors.Error):
            msg = await self._js.get_msg(self._topology.stream, last_seq)
            event_id = (msg.headers or {}).get("Nats-Msg-Id")
            if event_id:
                with contextlib.suppress(ValueError):
                    found = await relay_state.checkpoint_of(conn, UUID(event_id))
                    if found is not None:
                        return found
        return Checkpoint()

    async def _publish(self, events: list[StoredEvent]) -> _Batch:
        """Publish a page with every publish in flight; wait for every ack."""
        tracing = telemetry.tracing_active()
        spans: list[Span] = []
        pending: list[tuple[StoredEvent, asyncio.Future[PubAck]]] = []
        refused: list[Refused] = []
        max_payload = self._js._nc.max_payload  # the server's limit, as it told us
        try:
            for event in events:
                subject = self._topology.subject(event.type)
                headers = {"Nats-Msg-Id": str(event.event_id)}
                if tracing:
                    span = _producer_span(event, subject)
                    spans.append(span)
                    telemetry.inject_into(headers, trace.set_span_in_context(span))
                elif event.traceparent:
                    headers["traceparent"] = event.traceparent
                payload = event.to_json()
                # Checked here: nats-py raising MaxPayloadError inside publish_async would
                # leave that publish's slot and future behind.
                if len(payload) + _header_size(headers) > max_payload:
                    refused.append(
                        _refused(
                            event,
                            f"MaxPayloadError: {len(payload)} bytes"
                            f" exceed the server's max_payload {max_payload}",
                        )
                    )
                    continue
                try:
                    future = await self._js.publish_async(subject, payload, headers=headers)
                except _REFUSED as error:
                    refused.append(_refused(event, f"{type(error).__name__}: {error}"))
                    continue
                pending.append((event, future))
            # A lost ack would otherwise hang the leader forever, holding the lease.
            results = await asyncio.wait_for(
                asyncio.gather(*(f for _, f in pending), return_exceptions=True),
                self._ack_timeout,
            )
            sequence, lowest_new = 0, 0
            for (event, _), result in zip(pending, results, strict=True):
                if isinstance(result, PubAck):
                    sequence = max(sequence, result.seq)
                    if not result.duplicate:
                        lowest_new = min(lowest_new or result.seq, result.seq)
                elif _refused_for_good(result):
                    refused.append(_refused(event, f"{type(result).__name__}: {result}"))
                else:
                    raise result
        except BaseException as error:
            for span in spans:
                telemetry.record_error(span, error)
            raise
        finally:
            for span in spans:
                span.end()
        for item in refused:
            log.error(
                "relay %s: quarantined event %s (%s, position %d): %s",
                self.name,
                item.event_id,
                item.type,
                item.global_position,
                item.error,
            )
        return _Batch(sequence, refused, lowest_new)

    async def _watch_lag(self, stop: asyncio.Event) -> None:
        """Set the lag gauge from the stored checkpoint every `lag_interval`, whatever the
        relay is doing: leading, standing by, stalled in a NATS call or cut off."""
        failing = False
        while not stop.is_set():
            try:
                async with self._store.pool.acquire(timeout=self._lag_interval) as conn:
                    saved = await relay_state.load(conn, self.name)
                    RELAY_LAG.set(await relay_state.lag(conn, saved.checkpoint))
                failing = False
            except Exception as error:
                if not failing:  # once per stretch of failures: an outage repeats it
                    log.warning("relay %s: lag not measured: %r", self.name, error)
                failing = True
            await _wait_any(self._lag_interval, stop)


class _Lease:
    """The lease as the leader sees it: renewed before it could have lapsed."""

    def __init__(self, conn: asyncpg.Connection, name: str, token: int, seconds: float) -> None:
        self._conn = conn
        self._name = name
        self._token = token
        self._seconds = seconds
        self._renewed = time.monotonic()

    def renewed_now(self) -> None:
        self._renewed = time.monotonic()

    async def keep(self) -> None:
        """Renew once a third of the lease has passed; raise LeaseLost when it is gone.

        A process stopped for longer than the lease finds, on waking, that its monotonic
        clock moved on: it renews before publishing anything, and that renewal fails.
        """
        started = time.monotonic()
        if started - self._renewed < self._seconds / 3:
            return
        await relay_state.renew(self._conn, self._name, self._token, self._seconds)
        self._renewed = started


def _producer_span(event: StoredEvent, subject: str) -> Span:
    """A span per published event, child of the event's stored trace context."""
    return telemetry.tracer().start_span(
        f"publish {subject}",
        context=telemetry.context_from_traceparent(event.traceparent),
        kind=SpanKind.PRODUCER,
        attributes=telemetry.message_attributes(event, subject, "send"),
    )


def _refused(event: StoredEvent, error: str) -> Refused:
    return Refused(event.event_id, event.global_position, event.type, event.stream_id, error)


def _header_size(headers: dict[str, str]) -> int:
    """The size of the headers block nats-py sends (NATS/1.0 line, `k: v` lines, blank)."""
    return len("NATS/1.0\r\n\r\n") + sum(len(k) + len(v) + 4 for k, v in headers.items())


def _same_instant(a: datetime, b: datetime | None) -> bool:
    """Compare two stream creation times at microsecond precision (what PostgreSQL keeps)."""
    if b is None:
        return False
    return abs(a.timestamp() - b.timestamp()) < 1e-5


async def _wait_any(seconds: float, *events: asyncio.Event) -> None:
    """Wait until one of `events` is set, or for `seconds` at most."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
