"""Consumers act only on what the store holds: a message with no stored twin is forged.

Whoever gets a message onto an event subject (a leaked relay credential, a test that
bypasses permissions: here, the operator) still cannot move anything: the consumer matches
each delivery against the store before its handler runs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.consumer import ExactlyOnceConsumer
from prokopim_events.db import Connection, create_pool
from prokopim_events.envelope import Actor, NewEvent, StoredEvent
from prokopim_events.provenance import FORGED_MESSAGES
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology

pytestmark = pytest.mark.integration

EVENT_TYPE = "prokopim.review.draft-approved.v1"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    store = await EventStore.connect(database_url, max_size=2)
    yield store
    await store.close()


@pytest.fixture
async def broker(infra: Infra, nats_client: NatsClient) -> AsyncIterator[NatsBroker]:
    """A broker as the operator: it may publish anything, as a leaked credential could."""
    broker = NatsBroker(infra.nats_url)
    yield broker
    await broker.stop()


async def settled(nats_client: NatsClient, topology: Topology, name: str, n: int) -> None:
    """Wait until the consumer was handed `n` messages and acked every one."""
    js = nats_client.jetstream()
    for _ in range(3000):
        info = await js.consumer_info(topology.stream, name)
        if info.delivered.stream_seq >= n and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name} did not ack {n} messages")


async def test_a_message_without_a_stored_twin_has_no_effect(
    pool: asyncpg.Pool,
    store: EventStore,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
) -> None:
    name = f"prokopim-probe-{uuid.uuid4().hex[:6]}"
    handled: list[UUID] = []

    async def handler(event: StoredEvent, conn: Connection) -> None:
        handled.append(event.event_id)

    ExactlyOnceConsumer(
        name=name, pool=pool, handler=handler, topology=topology, broker=broker
    ).register()
    await broker.start()
    case_id = str(uuid4())
    await store.append(
        f"review-{case_id}",
        0,
        [
            NewEvent(
                event_id=uuid4(),
                type=EVENT_TYPE,
                data={"case_id": case_id, "step": 6},
                occurred_at=datetime.now(UTC),
            )
        ],
    )
    (real,) = await store.read_stream(f"review-{case_id}")
    altered = real.model_copy(update={"data": {**real.data, "step": 7}})
    invented = real.model_copy(update={"event_id": uuid4(), "stream_id": "review-nobody"})
    forged_before = FORGED_MESSAGES.labels(name)._value.get()

    js = nats_client.jetstream()
    subject = topology.subject(EVENT_TYPE)
    for n, event in enumerate((real, altered, invented)):
        await js.publish(subject, event.to_json(), headers={"Nats-Msg-Id": f"m{n}"})
    await settled(nats_client, topology, name, 3)

    assert handled == [real.event_id]  # only the stored event was acted on
    rows = await pool.fetch(
        "SELECT event_id, subject, error, attempts FROM dead_letters WHERE consumer = $1"
        " ORDER BY failed_at",
        name,
    )
    assert [row["event_id"] for row in rows] == [real.event_id, invented.event_id]
    assert all(row["error"].startswith("ForgedEvent: forged") for row in rows)
    assert {row["subject"] for row in rows} == {subject} and {r["attempts"] for r in rows} == {1}
    assert FORGED_MESSAGES.labels(name)._value.get() == forged_before + 2
    processed = await pool.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer = $1", name
    )
    assert processed == 1
    assert await pool.fetchval("SELECT count(*) FROM events") == 1  # nothing was appended


async def test_a_forgery_the_consumer_would_not_act_on_is_acked_unread(
    pool: asyncpg.Pool,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
) -> None:
    """No store look-up for an event the consumer's `wants` test passes over: it moves
    nothing there, forged or not (the ledger, which wants every event, counts forgeries)."""
    name = f"prokopim-probe-{uuid.uuid4().hex[:6]}"
    handled: list[UUID] = []

    async def handler(event: StoredEvent, conn: Connection) -> None:
        handled.append(event.event_id)

    ExactlyOnceConsumer(
        name=name,
        pool=pool,
        handler=handler,
        topology=topology,
        broker=broker,
        wants=lambda event: event.type != EVENT_TYPE,
    ).register()
    await broker.start()
    case_id = str(uuid4())
    forged = StoredEvent(
        event_id=uuid4(),
        stream_id=f"review-{case_id}",
        stream_version=1,
        global_position=1,
        type=EVENT_TYPE,
        data={"case_id": case_id, "step": 6},
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        actor=Actor(id="review", role="system"),
        correlation_id=uuid4(),
    )
    forged_before = FORGED_MESSAGES.labels(name)._value.get()

    js = nats_client.jetstream()
    await js.publish(topology.subject(EVENT_TYPE), forged.to_json())
    await settled(nats_client, topology, name, 1)

    assert handled == []
    assert await pool.fetchval("SELECT count(*) FROM dead_letters WHERE consumer = $1", name) == 0
    assert FORGED_MESSAGES.labels(name)._value.get() == forged_before
