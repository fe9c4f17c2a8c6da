"""Re-drive dead letters: run a consumer's handler once more on what it gave up on.

An operator marks dead letters as requested (`prokopim dlq redrive`, a row update); the
process that owns the consumer picks its own requested rows up and, for each, in ONE
transaction: inserts the event's `processed_events` row, runs the handler if that row is
new, and marks the dead letter re-driven. A re-driven message therefore takes effect at
most once, exactly like a delivery: when the event was applied meanwhile (a relay
re-publish after the dead letter, say) the outcome is `duplicate` and nothing happens.
Two replicas of a service never re-drive the same row: it is locked `FOR UPDATE SKIP LOCKED`.

Nothing goes through NATS: only the relay publishes events, and a republished copy would be
dropped by JetStream's duplicate window anyway.

A handler that fails again leaves the dead letter waiting (not requested any more) with the
re-drive's error, for the operator to look at: `prokopim dlq show`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg

from .db import Connection
from .envelope import StoredEvent

log = logging.getLogger(__name__)

EventHandler = Callable[[StoredEvent, Connection], Awaitable[None]]

_PICK = (
    "SELECT event_id, payload FROM dead_letters WHERE consumer = $1"
    " AND redrive_requested_at IS NOT NULL AND redriven_at IS NULL"
    " ORDER BY redrive_requested_at LIMIT 1 FOR UPDATE SKIP LOCKED"
)
_DONE = (
    "UPDATE dead_letters SET redriven_at = now(), redrive_outcome = $3, redrive_error = NULL"
    " WHERE consumer = $1 AND event_id = $2"
)
_FAILED = (
    "UPDATE dead_letters SET redrive_requested_at = NULL, redrive_outcome = 'failed',"
    " redrive_error = $3 WHERE consumer = $1 AND event_id = $2 AND redriven_at IS NULL"
)


class RedriveWorker:
    """Re-drives one consumer's requested dead letters, exactly once each."""

    def __init__(
        self,
        *,
        consumer: str,
        pool: asyncpg.Pool,
        handler: EventHandler,
        poll_seconds: float = 5.0,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self._pool = pool
        self._handler = handler
        self._poll_seconds = poll_seconds
        self._after_commit = after_commit

    async def drive_requested(self) -> int:
        """Re-drive every requested dead letter of this consumer now; return how many."""
        count = 0
        while await self._drive_one():
            count += 1
        return count

    async def _drive_one(self) -> bool:
        async with self._pool.acquire() as conn:
            picked: UUID | None = None
            try:
                async with conn.transaction():
                    row = await conn.fetchrow(_PICK, self.consumer)
                    if row is None:
                        return False
                    picked = row["event_id"]
                    event = StoredEvent.from_json(row["payload"]["raw"].encode())
                    first = await conn.fetchval(
                        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        self.consumer,
                        event.event_id,
                    )
                    if first:
                        await self._handler(event, conn)
                    outcome = "processed" if first else "duplicate"
                    await conn.execute(_DONE, self.consumer, picked, outcome)
            except Exception as error:
                if picked is None:
                    raise  # the pick itself failed: the database, not the message
                reason = f"{type(error).__name__}: {error}"
                log.warning("%s: re-drive of %s failed: %s", self.consumer, picked, reason)
                await conn.execute(_FAILED, self.consumer, picked, reason)
                return True
        log.info("%s: re-drove dead letter %s: %s", self.consumer, picked, outcome)
        if first and self._after_commit is not None:
            self._after_commit()
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Re-drive requests every `poll_seconds` until `stop` is set.

        Polling (an indexed look-up of a few rows) rather than LISTEN: a listener would hold
        one of the service's pooled connections for good.
        """
        while not stop.is_set():
            try:
                await self.drive_requested()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                # A database away is a reason to wait, never to give a request up.
                log.warning("%s: re-drive paused: %s", self.consumer, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_seconds)


def start_redrive(
    *,
    consumer: str,
    pool: asyncpg.Pool,
    handler: EventHandler,
    poll_seconds: float,
    after_commit: Callable[[], None] | None = None,
) -> Callable[[], Awaitable[None]]:
    """Start a consumer's re-drive worker as a task; return the coroutine that stops it."""
    stop = asyncio.Event()
    worker = RedriveWorker(
        consumer=consumer,
        pool=pool,
        handler=handler,
        poll_seconds=poll_seconds,
        after_commit=after_commit,
    )
    task = asyncio.create_task(worker.run(stop), name=f"redrive {consumer}")

    async def stopping() -> None:
        stop.set()
        with contextlib.suppress(Exception):
            await task

    return stopping
