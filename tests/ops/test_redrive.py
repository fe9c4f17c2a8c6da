"""The re-drive worker: exactly once, whoever races for a request, whatever happened before."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import pytest
from prokopim_events.db import Connection, create_pool
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_events.redrive import EventHandler, RedriveWorker

pytestmark = pytest.mark.integration

CONSUMER = "ops-review"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=6)
    await pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")
    yield pool
    await pool.close()


async def requested_dead_letter(pool: asyncpg.Pool) -> StoredEvent:
    """A dead letter of CONSUMER that an operator asked to re-drive."""
    now = datetime.now(UTC)
    event = StoredEvent(
        event_id=uuid.uuid4(),
        stream_id="production-1",
        stream_version=1,
        global_position=1,
        type="prokopim.production.draft-produced.v1",
        occurred_at=now,
        recorded_at=now,
        actor=Actor(id="p-1", role="penata-liputan"),
        correlation_id=uuid.uuid4(),
        data={"case_id": str(uuid.uuid4()), "step": 7},
    )
    await pool.execute(
        "INSERT INTO dead_letters (consumer, event_id, type, subject, payload, error, attempts,"
        " redrive_requested_at) VALUES ($1, $2, $3, $3, $4, 'LookupError: x', 5, now())",
        CONSUMER,
        event.event_id,
        event.type,
        {"raw": event.to_json().decode()},
    )
    return event


def slow_handler(calls: Counter[UUID]) -> EventHandler:
    async def handle(event: StoredEvent, conn: Connection) -> None:
        calls[event.event_id] += 1
        await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", event.event_id)
        await asyncio.sleep(0.2)  # hold the row while the other worker looks for it

    return handle


async def test_two_workers_racing_for_one_request_apply_it_once(pool: asyncpg.Pool) -> None:
    event = await requested_dead_letter(pool)
    calls: Counter[UUID] = Counter()
    workers = [
        RedriveWorker(consumer=CONSUMER, pool=pool, handler=slow_handler(calls)) for _ in range(2)
    ]
    driven = await asyncio.gather(*(worker.drive_requested() for worker in workers))
    assert sorted(driven) == [0, 1]
    assert calls == {event.event_id: 1}
    assert await pool.fetchval("SELECT count(*) FROM effects") == 1
    row = await pool.fetchrow("SELECT redrive_outcome, redriven_at FROM dead_letters")
    assert row is not None and row["redrive_outcome"] == "processed" and row["redriven_at"]
    assert await workers[0].drive_requested() == 0  # done is done


async def test_an_event_applied_meanwhile_is_redriven_as_duplicate_without_its_handler(
    pool: asyncpg.Pool,
) -> None:
    event = await requested_dead_letter(pool)
    await pool.execute(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)",
        CONSUMER,
        event.event_id,
    )
    calls: Counter[UUID] = Counter()
    worker = RedriveWorker(consumer=CONSUMER, pool=pool, handler=slow_handler(calls))
    assert await worker.drive_requested() == 1
    assert calls == {}
    outcome = await pool.fetchval("SELECT redrive_outcome FROM dead_letters")
    assert outcome == "duplicate"


async def test_another_consumers_request_is_not_taken(pool: asyncpg.Pool) -> None:
    await requested_dead_letter(pool)
    calls: Counter[UUID] = Counter()
    worker = RedriveWorker(consumer="ops-scheduling", pool=pool, handler=slow_handler(calls))
    assert await worker.drive_requested() == 0 and calls == {}
