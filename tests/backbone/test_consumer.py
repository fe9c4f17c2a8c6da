"""Exactly-once consumers on a real FastStream NatsBroker and a real JetStream."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

import asyncpg
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from prokopim_events.consumer import ExactlyOnceConsumer, RetryPolicy
from prokopim_events.db import Connection, create_pool
from prokopim_events.envelope import NewEvent, StoredEvent
from prokopim_events.pull_guard import guard_pull_loops
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology

pytestmark = pytest.mark.integration

NewEventFactory = Callable[..., NewEvent]
WaitUntil = Callable[..., Awaitable[None]]
FAST_RETRY = RetryPolicy(
    max_deliver=3, backoff=(0.05,), ack_wait=10.0, transient_base=0.01, transient_cap=0.05
)


@pytest.fixture
async def effects(pool: asyncpg.Pool) -> asyncpg.Pool:
    """A table a handler writes its effect to; no unique key, so a repeat would show."""
    await pool.execute("CREATE TABLE effects (consumer text NOT NULL, event_id uuid NOT NULL)")
    return pool


@pytest.fixture
async def broker(nats_url: str, nats_client: NatsClient) -> AsyncIterator[NatsBroker]:
    """A FastStream broker on the test NATS (the streams exist); started by the test."""
    broker = NatsBroker(nats_url)
    yield broker
    await broker.stop()


async def stored(store: EventStore, new_event: NewEventFactory, stream: str) -> StoredEvent:
    """Append one event and return it as the store recorded it."""
    version = await store.stream_version(stream)
    await store.append(stream, version, [new_event({"stream": stream})])
    return (await store.read_stream(stream, after_version=version))[0]


async def publish(
    js: JetStreamContext, topology: Topology, event: StoredEvent, msg_id: str | None = None
) -> None:
    """Publish as the relay does; another Nats-Msg-Id passes JetStream's dedup window."""
    await js.publish(
        topology.subject(event.type),
        event.to_json(),
        headers={"Nats-Msg-Id": msg_id or str(event.event_id)},
    )


def settled(
    js: JetStreamContext, topology: Topology, name: str, messages: int
) -> Callable[[], Awaitable[bool]]:
    """A condition: the consumer was handed all `messages` and acked every one."""

    async def check() -> bool:
        info = await js.consumer_info(topology.stream, name)
        return bool(info.delivered.stream_seq >= messages and info.num_ack_pending == 0)

    return check


async def effect_count(pool: asyncpg.Pool, name: str) -> dict[UUID, int]:
    rows = await pool.fetch(
        "SELECT event_id, count(*) AS n FROM effects WHERE consumer = $1 GROUP BY event_id", name
    )
    return {row["event_id"]: row["n"] for row in rows}


def recording_handler(
    name: str, calls: Counter[UUID], fail: Callable[[StoredEvent, int], bool]
) -> Callable[[StoredEvent, Connection], Awaitable[None]]:
    """A handler that writes its effect, then raises when `fail(event, attempt)` says so."""

    async def handle(event: StoredEvent, conn: Connection) -> None:
        calls[event.event_id] += 1
        await conn.execute(
            "INSERT INTO effects (consumer, event_id) VALUES ($1, $2)", name, event.event_id
        )
        if fail(event, calls[event.event_id]):
            raise ValueError(f"cannot handle {event.event_id}")

    return handle


async def test_a_handler_that_fails_twice_then_succeeds_takes_effect_once(
    store: EventStore,
    effects: asyncpg.Pool,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    name = f"flaky-{uuid.uuid4().hex[:8]}"
    calls: Counter[UUID] = Counter()
    handler = recording_handler(name, calls, lambda _, attempt: attempt <= 2)
    ExactlyOnceConsumer(
        name=name, pool=effects, handler=handler, topology=topology, broker=broker, retry=FAST_RETRY
    ).register()
    await broker.start()
    event = await stored(store, new_event, "meeting-1")

    await publish(js, topology, event)
    await wait_until(settled(js, topology, name, 1), "the event was acked", 30)

    assert calls == {event.event_id: 3}
    assert await effect_count(effects, name) == {event.event_id: 1}  # failed attempts rolled back
    assert await effects.fetchval("SELECT count(*) FROM dead_letters") == 0
    info = await js.consumer_info(topology.stream, name)
    # unlimited on the server: the helper itself decides when to give up (never, for a
    # database that is away)
    assert info.config.max_deliver == -1


async def test_an_event_published_twice_takes_effect_once(
    store: EventStore,
    effects: asyncpg.Pool,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    names = [f"twice-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    calls: dict[str, Counter[UUID]] = {name: Counter() for name in names}
    for name in names:
        handler = recording_handler(name, calls[name], lambda *_: False)
        ExactlyOnceConsumer(
            name=name, pool=effects, handler=handler, topology=topology, broker=broker
        ).register()
    await broker.start()
    repeated = await stored(store, new_event, "meeting-1")
    other = await stored(store, new_event, "meeting-2")

    # A relay restarted after the duplicate window re-publishes: a new Nats-Msg-Id each time.
    await publish(js, topology, repeated, msg_id=f"{repeated.event_id}/1")
    await publish(js, topology, repeated, msg_id=f"{repeated.event_id}/2")
    await publish(js, topology, other)
    await publish(js, topology, repeated, msg_id=f"{repeated.event_id}/3")
    assert (await js.stream_info(topology.stream)).state.messages == 4
    for name in names:
        await wait_until(settled(js, topology, name, 4), f"{name} acked all four", 30)

    for name in names:  # each consumer takes each event's effect once, independently
        assert calls[name] == {repeated.event_id: 1, other.event_id: 1}
        assert await effect_count(effects, name) == {repeated.event_id: 1, other.event_id: 1}
    processed = await effects.fetchval("SELECT count(*) FROM processed_events")
    assert processed == 4


async def test_a_poison_message_is_dead_lettered_and_does_not_block_the_rest(
    store: EventStore,
    effects: asyncpg.Pool,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    name = f"poison-{uuid.uuid4().hex[:8]}"
    poison = await stored(store, new_event, "meeting-1")
    healthy = await stored(store, new_event, "meeting-2")
    calls: Counter[UUID] = Counter()
    handler = recording_handler(name, calls, lambda event, _: event.event_id == poison.event_id)
    ExactlyOnceConsumer(
        name=name, pool=effects, handler=handler, topology=topology, broker=broker, retry=FAST_RETRY
    ).register()
    await broker.start()

    await publish(js, topology, poison)
    await publish(js, topology, healthy)
    await wait_until(settled(js, topology, name, 2), "both messages were acked", 30)

    assert calls == {poison.event_id: FAST_RETRY.max_deliver, healthy.event_id: 1}
    assert await effect_count(effects, name) == {healthy.event_id: 1}
    row = await effects.fetchrow("SELECT * FROM dead_letters")
    assert row is not None
    assert (row["consumer"], row["event_id"], row["type"]) == (name, poison.event_id, poison.type)
    assert row["subject"] == topology.subject(poison.type)
    assert row["attempts"] == FAST_RETRY.max_deliver
    assert row["error"] == f"ValueError: cannot handle {poison.event_id}"
    assert StoredEvent.from_json(row["payload"]["raw"].encode()) == poison

    dead = await js.get_msg(topology.dead_letter_stream, 1)
    assert dead.subject == topology.dead_letter_subject(name)
    assert dead.data is not None and StoredEvent.from_json(dead.data) == poison
    assert dead.headers is not None
    assert dead.headers["Prokopim-Error"] == row["error"]
    assert dead.headers["Prokopim-Attempts"] == str(FAST_RETRY.max_deliver)
    assert (await js.stream_info(topology.dead_letter_stream)).state.messages == 1


async def test_unparseable_messages_are_each_dead_lettered_at_once(
    effects: asyncpg.Pool,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    name = f"garbage-{uuid.uuid4().hex[:8]}"
    calls: Counter[UUID] = Counter()
    handler = recording_handler(name, calls, lambda *_: False)
    ExactlyOnceConsumer(
        name=name, pool=effects, handler=handler, topology=topology, broker=broker, retry=FAST_RETRY
    ).register()
    await broker.start()
    subject = topology.subject("prokopim.backbone.thing-happened.v1")
    garbage = [b"not json", b'{"id": "half an envelope"}', b"\x00\xff binary"]

    for n, payload in enumerate(garbage):
        await js.publish(subject, payload, headers={"Nats-Msg-Id": f"garbage-{n}"})
    await wait_until(settled(js, topology, name, len(garbage)), "all were acked", 30)

    assert calls == {}
    # The pull batch is handled concurrently: the three dead letters come in any order.
    rows = await effects.fetch("SELECT * FROM dead_letters")
    assert len(rows) == len(garbage)
    assert all(row["attempts"] == 1 for row in rows)  # retrying cannot help
    assert {row["type"] for row in rows} == {"prokopim.backbone.thing-happened.v1"}
    by_raw = {row["payload"].get("raw", ""): row for row in rows}
    assert by_raw["not json"]["error"].startswith("JSONDecodeError")
    assert any(raw.endswith(" binary") for raw in by_raw)
    assert (await js.stream_info(topology.dead_letter_stream)).state.messages == len(garbage)
    dead = [await js.get_msg(topology.dead_letter_stream, seq) for seq in (1, 2, 3)]
    # (a message without data is left out, and then the lengths differ)
    assert sorted(msg.data for msg in dead if msg.data is not None) == sorted(garbage)


TRANSIENT = [
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    ConnectionRefusedError(111, "Connect call failed"),
    TimeoutError(),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
async def test_a_transient_failure_is_retried_past_max_deliver_and_never_dead_lettered(
    store: EventStore,
    effects: asyncpg.Pool,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
    error: Exception,
) -> None:
    js = nats_client.jetstream()
    name = f"waits-{uuid.uuid4().hex[:8]}"
    calls: Counter[UUID] = Counter()
    failing_attempts = 3 * FAST_RETRY.max_deliver  # the database is away for a long while

    async def handle(event: StoredEvent, conn: Connection) -> None:
        calls[event.event_id] += 1
        if calls[event.event_id] <= failing_attempts:
            raise error
        await conn.execute(
            "INSERT INTO effects (consumer, event_id) VALUES ($1, $2)", name, event.event_id
        )

    ExactlyOnceConsumer(
        name=name, pool=effects, handler=handle, topology=topology, broker=broker, retry=FAST_RETRY
    ).register()
    await broker.start()
    event = await stored(store, new_event, "meeting-1")

    await publish(js, topology, event)
    await wait_until(settled(js, topology, name, 1), "the event took effect", 60)

    assert calls == {event.event_id: failing_attempts + 1}
    assert await effect_count(effects, name) == {event.event_id: 1}
    assert await effects.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_a_dead_letter_that_cannot_be_recorded_is_retried_not_dropped(
    store: EventStore,
    effects: asyncpg.Pool,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    name = f"dlfail-{uuid.uuid4().hex[:8]}"
    poison = await stored(store, new_event, "meeting-1")
    calls: Counter[UUID] = Counter()
    handler = recording_handler(name, calls, lambda *_: True)
    # The dead-letter table refuses writes for a while (a full disk, a lock, a revoked grant).
    await effects.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'dead letters refused'; END $$;"
        " CREATE TRIGGER refuse BEFORE INSERT ON dead_letters"
        " FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    ExactlyOnceConsumer(
        name=name, pool=effects, handler=handler, topology=topology, broker=broker, retry=FAST_RETRY
    ).register()
    await broker.start()
    await publish(js, topology, poison)

    async def refused_a_few_times() -> bool:
        return calls[poison.event_id] >= FAST_RETRY.max_deliver + 2

    await wait_until(refused_a_few_times, "the dead letter was tried again", 30)
    info = await js.consumer_info(topology.stream, name)
    assert info.num_ack_pending == 1  # still JetStream's to redeliver: nothing dropped
    await effects.execute("DROP TRIGGER refuse ON dead_letters")
    await wait_until(settled(js, topology, name, 1), "the dead letter was recorded", 30)

    row = await effects.fetchrow("SELECT consumer, event_id FROM dead_letters")
    assert row is not None and tuple(row) == (name, poison.event_id)
    assert await effect_count(effects, name) == {}


async def test_a_pull_loop_whose_connection_closed_pauses_instead_of_spinning(
    effects: asyncpg.Pool, nats_url: str, nats_client: NatsClient, topology: Topology
) -> None:
    broker = NatsBroker(nats_url)  # its own: stopping it after the close would fail
    name = f"closed-{uuid.uuid4().hex[:8]}"
    handler = recording_handler(name, Counter(), lambda *_: False)
    ExactlyOnceConsumer(
        name=name, pool=effects, handler=handler, topology=topology, broker=broker
    ).register()
    await broker.start()
    assert guard_pull_loops(broker, pause=0.2) == 1
    # Closed for good under the subscriber: FastStream's loop swallows ConnectionClosedError
    # and fetches again at once, never yielding: 100 % CPU and an event loop that answers
    # nothing else (the old code hangs right here).
    await broker.config.connection_state.connection.close()
    cpu_before, wall_before = time.process_time(), time.monotonic()
    await asyncio.sleep(2.0)

    cpu = time.process_time() - cpu_before
    assert cpu < (time.monotonic() - wall_before) / 4, f"{cpu:.2f} s CPU in a closed pull loop"


async def test_a_burst_of_handlers_that_take_a_second_connection_never_starves_the_pool(
    store: EventStore,
    database_url: str,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    # An effect's handler records its delivery on a connection of its own, from the pool
    # the consumer's transaction came from: a batch handled at once must leave one for it.
    pool = await create_pool(database_url, min_size=1, max_size=2)
    js = nats_client.jetstream()
    name = f"burst-{uuid.uuid4().hex[:8]}"
    handled: Counter[UUID] = Counter()

    async def handle(event: StoredEvent, conn: Connection) -> None:
        async with pool.acquire() as own:
            await own.execute("SELECT pg_sleep(0.05)")
        handled[event.event_id] += 1

    try:
        ExactlyOnceConsumer(
            name=name, pool=pool, handler=handle, topology=topology, broker=broker
        ).register()
        await broker.start()
        events = [await stored(store, new_event, f"burst-{n}") for n in range(10)]
        for event in events:
            await publish(js, topology, event)

        await wait_until(settled(js, topology, name, 10), "every event was handled", 30)
        assert handled == dict.fromkeys((e.event_id for e in events), 1)
    finally:
        await broker.stop()
        await pool.close()


async def test_an_event_the_handler_does_not_want_is_acked_without_a_transaction(
    store: EventStore,
    effects: asyncpg.Pool,
    broker: NatsBroker,
    nats_client: NatsClient,
    topology: Topology,
    new_event: NewEventFactory,
    wait_until: WaitUntil,
) -> None:
    js = nats_client.jetstream()
    name = f"picky-{uuid.uuid4().hex[:8]}"
    wanted = await stored(store, new_event, "meeting-1")
    unwanted = await stored(store, new_event, "meeting-2")
    undecided = await stored(store, new_event, "meeting-3")

    def wants(event: StoredEvent) -> bool:
        if event.event_id == undecided.event_id:
            raise ValueError("cannot tell")  # the handler is asked, as without a filter
        return event.event_id == wanted.event_id

    calls: Counter[UUID] = Counter()
    handler = recording_handler(name, calls, lambda *_: False)
    ExactlyOnceConsumer(
        name=name, pool=effects, handler=handler, topology=topology, broker=broker, wants=wants
    ).register()
    await broker.start()

    for event in (wanted, unwanted, undecided):
        await publish(js, topology, event)
    await wait_until(settled(js, topology, name, 3), "all three were acked", 30)

    assert calls == {wanted.event_id: 1, undecided.event_id: 1}
    processed = await effects.fetch(
        "SELECT event_id FROM processed_events WHERE consumer = $1", name
    )
    assert {row["event_id"] for row in processed} == {wanted.event_id, undecided.event_id}
